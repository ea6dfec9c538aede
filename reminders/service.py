"""Delivery: APScheduler fires each planned reminder; a sender drains the outbox through the transports.

Jobs are rebuilt from the plan at every start (and every night, so admin-added holidays take
effect); nothing about them is persisted except the outbox claims, which make delivery exactly once.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Mapping

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.app import App
from bot.transport import Transport
from handlers.messages import Reply
from reminders.dispatch import enqueue_planned, notify_admins, useful_until, work_calendar
from reminders.plan import Planned, build_plan
from store import outbox

log = logging.getLogger(__name__)
SEND_INTERVAL = dt.timedelta(seconds=5)


class ReminderService:
    """Schedules the plan and sends queued messages; safe to run in several instances at once."""

    def __init__(self, app: App, transports: Mapping[str, Transport]) -> None:
        self.app = app
        self.transports = dict(transports)
        # APScheduler's default grace of 1 s would drop a reminder that fires a little late (a busy
        # loop, a suspended VM); the configured grace decides, and useful_until() has the last word.
        self.grace_seconds = max(60, app.campaign.reminders.grace_hours * 3600)
        self.scheduler = AsyncIOScheduler(
            timezone=app.campaign.tz,
            job_defaults={"misfire_grace_time": self.grace_seconds, "coalesce": True, "max_instances": 1},
        )
        self._sending = asyncio.Lock()

    def plan(self) -> list[Planned]:
        with self.app.db.session() as s:
            calendar = work_calendar(self.app.campaign, s, on_unknown_year=self._unknown_year)
        return build_plan(self.app.campaign, calendar)

    def _unknown_year(self, year: int) -> None:
        text = (f"提醒日历：{year}年的法定节假日还不知道，提醒暂按周一至周五安排。"
                f"请在 config.toml 的 [calendar] 中补充，或发“节假日 {year}-01-01”逐日添加。")
        with self.app.db.session() as s:
            notify_admins(s, self.app.campaign, key=f"calendar:{year}", text=text, now=self.app.now(),
                          transports=set(self.transports))

    def schedule(self) -> list[Planned]:
        """(Re)build the jobs from the plan; return the reminders that are late but still useful."""
        now = self.app.now()
        late: list[Planned] = []
        for item in self.plan():
            if item.at > now:
                self.scheduler.add_job(
                    self.fire, DateTrigger(run_date=item.at), args=[item], id=item.id, name=item.kind,
                    replace_existing=True, coalesce=True, misfire_grace_time=self.grace_seconds,
                )
            elif now <= useful_until(self.app.campaign, item):
                late.append(item)
        return late

    async def start(self) -> None:
        late = self.schedule()
        self.scheduler.add_job(self._replan, CronTrigger(hour=0, minute=5), id="replan", replace_existing=True)
        self.scheduler.add_job(self.send_due, IntervalTrigger(seconds=SEND_INTERVAL.total_seconds()), id="outbox",
                               replace_existing=True)
        self.scheduler.start()
        for item in late:
            log.info("sending late reminder %s", item.id)
            await self.fire(item)

    async def stop(self) -> None:
        self.scheduler.shutdown(wait=False)

    async def _replan(self) -> None:
        await asyncio.to_thread(self.schedule)

    async def fire(self, item: Planned) -> None:
        """Queue one reminder for its recipients, then send what is due."""
        now = self.app.now()
        if now > useful_until(self.app.campaign, item):
            log.warning("reminder %s skipped: too late (planned %s)", item.id, item.at.isoformat())
            return
        queued = await asyncio.to_thread(
            enqueue_planned, self.app.db, self.app.campaign, item, now, set(self.transports),
            {name: getattr(t, "push_spread", dt.timedelta(0)) for name, t in self.transports.items()},
        )
        log.info("reminder %s queued for %d contacts", item.id, len(queued.sent_to))
        await self.send_due()

    async def send_due(self) -> int:
        """Send every due outbox message through its transport; failures are retried with backoff."""
        async with self._sending:
            now = self.app.now()
            with self.app.db.session() as s:
                items = outbox.claim_due(s, now, set(self.transports))
            for item in items:
                try:
                    await self.transports[item.transport].send(item.chat_id, Reply(item.text))
                except Exception as exc:
                    log.warning("outbox %s: send failed (attempt %d): %s", item.key, item.attempts, exc)
                    with self.app.db.session() as s:
                        outbox.mark_failed(s, item, self.app.now(), repr(exc))
                    continue
                with self.app.db.session() as s:
                    outbox.mark_sent(s, item.id, self.app.now())
            return len(items)


def reminder_service() -> Callable[[App, dict[str, Transport]], Awaitable[Callable[[], Awaitable[None]]]]:
    """The runner's service hook: start reminders beside the transports, return the stopper."""

    async def start(app: App, transports: dict[str, Transport]) -> Callable[[], Awaitable[None]]:
        service = ReminderService(app, transports)
        await service.start()
        return service.stop

    return start

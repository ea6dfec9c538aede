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
from sqlalchemy.orm import Session

from bot.app import App
from bot.delivery import Courier, Undeliverable
from bot.transport import Transport
from handlers.messages import Reply
from reminders.dispatch import enqueue_planned, notify_admins, useful_until, work_calendar
from reminders.plan import Planned, build_plan
from store import directory, outbox, reach

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
        self.courier = Courier(app)

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
        late = await asyncio.to_thread(self.schedule)
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
        """Send every due outbox message through its transport, a few claims at a time.

        Each claim carries a lease (store/outbox.py): a crash strands only the few rows in hand, and another
        instance (or the restart) takes them again once the lease runs out. The transports retry transient
        failures themselves (bot/delivery.py); what still fails is put back with backoff, and a recipient the
        platform refuses for good is reported to the admins once. The database work runs off the event loop.
        """
        sent = 0
        async with self._sending:
            while True:
                items = await asyncio.to_thread(self._claim)
                if not items:
                    return sent
                for item in items:
                    sent += await self._send_one(item)

    def _claim(self) -> list[outbox.Outgoing]:
        now = self.app.now()
        with self.app.db.session() as s:
            dropped = outbox.expire_stale(s, now)
            if dropped:
                self._report_dropped(s, dropped, now)
            lease = dt.timedelta(seconds=self.app.campaign.reminders.lease_seconds)
            return outbox.claim_due(s, now, set(self.transports), lease=lease)

    def _report_dropped(self, session: Session, dropped: list[outbox.Outgoing], now: dt.datetime) -> None:
        """Tell the admins which broadcasts went stale before they could be sent, once per broadcast."""
        by_broadcast: dict[str, list[outbox.Outgoing]] = {}
        for item in dropped:
            if item.key.startswith("notify:"):
                by_broadcast.setdefault(item.key.partition("#")[0], []).append(item)
        for key, items in by_broadcast.items():
            names = []
            for item in items:
                person = directory.person(session, item.contact_id) if item.contact_id is not None else None
                names.append(person.name if person else item.chat_id)
            first = items[0].text.splitlines()[0]
            note = f"{first}：到期前没能送达，已不再发送（{len(names)}人）：{'、'.join(names)}。"
            log.warning("broadcast %s expired for %d recipients", key, len(names))
            notify_admins(session, self.app.campaign, key=f"expired:{key}", text=note, now=now,
                          transports=set(self.transports))

    async def _send_one(self, claimed: outbox.Outgoing) -> int:
        item = await asyncio.to_thread(self._renew, claimed)
        if item is None:
            log.info("outbox %s: taken by another sender while this one waited", claimed.key)
            return 0
        try:
            await self.transports[item.transport].send(item.chat_id, Reply(item.text))
        except Undeliverable as exc:
            log.warning("outbox %s: %s refuses %s: %s", item.key, item.transport, item.chat_id, exc.reason)
            await asyncio.to_thread(self._refused, item, exc.reason)
            return 0
        except Exception as exc:
            log.warning("outbox %s: send failed (attempt %d): %s", item.key, item.attempts, exc)
            await asyncio.to_thread(self._failed, item, repr(exc))
            return 0
        await asyncio.to_thread(self._sent, item)
        return 1

    def _renew(self, item: outbox.Outgoing) -> outbox.Outgoing | None:
        lease = dt.timedelta(seconds=self.app.campaign.reminders.lease_seconds)
        with self.app.db.session() as s:
            return outbox.renew(s, item, self.app.now() + lease)

    def _sent(self, item: outbox.Outgoing) -> None:
        with self.app.db.session() as s:
            outbox.mark_sent(s, item.id, self.app.now())
            reach.clear(s, item.transport, item.chat_id)

    def _failed(self, item: outbox.Outgoing, error: str) -> None:
        with self.app.db.session() as s:
            outbox.mark_failed(s, item, self.app.now(), error)

    def _refused(self, item: outbox.Outgoing, reason: str) -> None:
        with self.app.db.session() as s:
            outbox.mark_refused(s, item.id, self.app.now(), reason)
        self.courier.refused(item.transport, item.chat_id, reason)


def reminder_service() -> Callable[[App, dict[str, Transport]], Awaitable[Callable[[], Awaitable[None]]]]:
    """The runner's service hook: start reminders beside the transports, return the stopper."""

    async def start(app: App, transports: dict[str, Transport]) -> Callable[[], Awaitable[None]]:
        service = ReminderService(app, transports)
        await service.start()
        return service.stop

    return start

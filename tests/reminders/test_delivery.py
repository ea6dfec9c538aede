"""Delivery across the whole 2023 campaign with a controlled clock: every message, once, on working days."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
from collections import Counter

import pytest
from sqlalchemy import select

from bot.app import App, build_app
from handlers.messages import Capabilities, Reply
from reminders.dispatch import enqueue_planned, useful_until
from reminders.plan import Planned
from reminders.service import ReminderService
from store import directory, outbox
from store.models import OutboxRow
from tests.support import SHANGHAI, Chat, FakeClock


class FakeTransport:
    """Records what would have been sent; can be told to fail."""

    def __init__(self, name: str = "telegram", failures: int = 0) -> None:
        self.name = name
        self.caps = Capabilities()
        self.sent: list[tuple[str, str, dt.datetime]] = []
        self.failures = failures
        self.clock: FakeClock | None = None
        self.event = asyncio.Event()

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def send(self, chat_id: str, reply: Reply) -> None:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("network down")
        assert self.clock is not None
        self.sent.append((chat_id, reply.text, self.clock.now))
        self.event.set()


def bind_everyone(app: App, transport: str = "telegram", skip: tuple[str, ...] = ()) -> dict[str, str]:
    """Bind every contact to a chat named after them; return chat id -> name."""
    chats = {}
    with app.db.session() as s:
        for p in directory.people(s):
            if p.name in skip:
                continue
            directory.bind(s, transport=transport, user_id=p.name, chat_id=f"chat-{p.name}", contact_id=p.id,
                           now=app.now())
            chats[f"chat-{p.name}"] = p.name
    return chats


def walk(app: App, service: ReminderService, clock: FakeClock, end: dt.datetime) -> None:
    """Play the scheduler: fire every planned reminder at its time, the clock jumping from one to the next."""
    async def run() -> None:
        for item in service.plan():
            if item.at > end:
                break
            clock.now = max(clock.now, item.at)
            await service.fire(item)
    asyncio.run(run())


@pytest.fixture
def started(app: App, clock: FakeClock) -> tuple[App, ReminderService, FakeTransport, dict[str, str]]:
    clock.now = dt.datetime(2023, 8, 9, 8, 0, tzinfo=SHANGHAI)
    transport = FakeTransport()
    transport.clock = clock
    chats = bind_everyone(app)
    return app, ReminderService(app, {"telegram": transport}), transport, chats


def test_the_whole_campaign(started: tuple[App, ReminderService, FakeTransport, dict[str, str]],
                            clock: FakeClock) -> None:
    app, service, transport, chats = started
    clock.now = dt.datetime(2023, 8, 15, 10, 0, tzinfo=SHANGHAI)
    Chat(app, "方广成").say("查处网络违法案件 3")  # 市公安局 reports before the mid-term deadline
    clock.now = dt.datetime(2023, 8, 9, 8, 0, tzinfo=SHANGHAI)
    walk(app, service, clock, dt.datetime(2023, 11, 30, 23, 0, tzinfo=SHANGHAI))
    days = {sent_at.date() for _, _, sent_at in transport.sent}
    holiday = {dt.date(2023, 9, 29) + dt.timedelta(days=n) for n in range(8)}
    assert not days & holiday
    assert all(d.weekday() < 5 or d in (dt.date(2023, 10, 7), dt.date(2023, 10, 8)) for d in days)
    assert all(sent_at.time() == dt.time(9, 0) for _, _, sent_at in transport.sent)

    by_day = Counter(sent_at.date() for _, _, sent_at in transport.sent)
    assert dt.date(2023, 8, 20) not in by_day  # a Sunday deadline: reminded on Friday 8-18 instead
    texts_0818 = [t for _, t, at in transport.sent if at.date() == dt.date(2023, 8, 18)]
    assert any("8月20日是休息日" in t for t in texts_0818)

    # Deadline reminders reach all 12 contacts; each (reminder, contact) exactly once.
    keys = [(chat, text) for chat, text, _ in transport.sent]
    assert len(keys) == len(set(keys))
    mid7 = [chat for chat, text, at in transport.sent
            if text.startswith("【报送提醒】中期行动总结报告和统计表") and at.date() == dt.date(2023, 8, 11)]
    assert sorted(chats[c] for c in mid7) == sorted(chats.values())

    # The mid-term nudge skips 市公安局 (it booked) and the three departments without table rows.
    nudged = {chats[c] for c, text, at in transport.sent
              if text.startswith("【催报】中期行动总结报告和统计表") and at.date() == dt.date(2023, 8, 18)}
    assert "方广成" not in nudged and "戴超颖" not in nudged
    assert {"李勤额", "王晓芳", "陈彬", "陈明栋", "伊贤琦", "肖方侃", "王永辉", "张秀齐"} == nudged
    progress = [(chats[c], text) for c, text, at in transport.sent
                if text.startswith("【报送进度】中期行动") and at.date() == dt.date(2023, 8, 18)]
    city_wide = [(n, t) for n, t in progress if "县级单位中" not in t]
    assert sorted(n for n, _ in city_wide) == ["张秀齐", "王永辉"]
    listed = city_wide[0][1].split("尚未登记数据的单位：")[1].split("\n")[0].split("、")
    assert "市公安局" not in listed and "三明海关" in listed and "三元区公安局" in listed
    # Each city department with county units hears about its system's county units.
    systems = {n for n, t in progress if "县级单位中" in t}
    assert systems == {"李勤额", "方广成", "陈彬", "陈明栋", "肖方侃"}

    # 每月一周查网红 goes to market regulation only, start and end of each campaign month.
    wanghong = [(chats[c], at.date()) for c, text, at in transport.sent if "网红" in text.splitlines()[0]]
    assert {name for name, _ in wanghong} == {"王永辉", "张秀齐"}
    assert dt.date(2023, 10, 8) in {d for _, d in wanghong}  # a Sunday that is a make-up working day


def test_exactly_once_across_restart_and_two_instances(started: tuple[App, ReminderService, FakeTransport,
                                                                      dict[str, str]], clock: FakeClock) -> None:
    app, first, transport, _ = started
    other = FakeTransport()
    other.clock = clock
    second = ReminderService(app, {"telegram": other})
    item = next(p for p in first.plan() if p.id == "deadline:final:7")
    clock.now = item.at

    async def both() -> None:
        await asyncio.gather(first.fire(item), second.fire(item), first.fire(item))

    asyncio.run(both())
    restarted = ReminderService(app, {"telegram": transport})
    asyncio.run(restarted.fire(item))
    assert len(transport.sent) + len(other.sent) == 12
    assert len({c for c, _, _ in transport.sent + other.sent}) == 12


def test_late_reminders_are_sent_while_useful_and_skipped_after(started: tuple[App, ReminderService,
                                                                               FakeTransport, dict[str, str]],
                                                                clock: FakeClock) -> None:
    app, service, transport, _ = started
    item = next(p for p in service.plan() if p.id == "deadline:final:1")  # Friday 11-17 09:00
    clock.now = item.at + dt.timedelta(hours=30)  # down over night
    assert item in service.schedule()
    clock.now = dt.datetime(2023, 11, 21, 9, 0, tzinfo=SHANGHAI)  # after the deadline day
    assert item not in service.schedule()
    asyncio.run(service.fire(item))
    assert transport.sent == []
    assert useful_until(app.campaign, item) == dt.datetime(2023, 11, 19, 9, 0, tzinfo=SHANGHAI)


def test_jobs_are_rebuilt_from_the_plan_with_explicit_grace(started: tuple[App, ReminderService, FakeTransport,
                                                                           dict[str, str]], clock: FakeClock) -> None:
    app, service, _, _ = started
    clock.now = dt.datetime(2023, 11, 1, 12, 0, tzinfo=SHANGHAI)
    service.schedule()
    jobs = {job.id: job for job in service.scheduler.get_jobs()}
    future = [p for p in service.plan() if p.at > clock.now]
    assert set(jobs) == {p.id for p in future}
    for item in future:
        assert jobs[item.id].trigger.run_date == item.at
        assert jobs[item.id].misfire_grace_time == 48 * 3600 and jobs[item.id].coalesce


def test_a_failed_send_is_retried_with_backoff(started: tuple[App, ReminderService, FakeTransport, dict[str, str]],
                                               clock: FakeClock) -> None:
    app, service, transport, _ = started
    transport.failures = 2
    item = next(p for p in service.plan() if p.id == "progress:final")
    clock.now = item.at
    asyncio.run(service.fire(item))
    assert transport.sent == []  # both admins failed once (2 failures)
    clock.advance(seconds=29)
    assert asyncio.run(service.send_due()) == 0  # backoff: not yet
    clock.advance(seconds=2)
    assert asyncio.run(service.send_due()) == 2
    assert sorted(c for c, _, _ in transport.sent) == ["chat-张秀齐", "chat-王永辉"]
    with app.db.session() as s:
        assert outbox.sent_keys(s, "progress:final") and s.scalars(
            select(OutboxRow.attempts).where(OutboxRow.key.startswith("progress:final"))).all() == [2, 2]


def test_unbound_recipients_are_reported_to_admins(app: App, clock: FakeClock) -> None:
    transport = FakeTransport()
    transport.clock = clock
    bind_everyone(app, skip=("陈彬",))
    service = ReminderService(app, {"telegram": transport})
    item = next(p for p in service.plan() if p.id == "deadline:final:7")
    clock.now = item.at
    asyncio.run(service.fire(item))
    notes = [(c, t) for c, t, _ in transport.sent if "无法送达" in t]
    assert sorted(c for c, _ in notes) == ["chat-张秀齐", "chat-王永辉"]
    assert "陈彬（市林业局）" in notes[0][1]


def test_unknown_year_falls_back_to_weekdays_and_tells_admins(db_url: str, clock: FakeClock) -> None:
    app = build_app(url=db_url, clock=clock)
    shifted = dataclasses.replace(
        app.campaign,
        start=dt.date(2031, 8, 9), end=dt.date(2031, 11, 30),
        deadlines=tuple(dataclasses.replace(d, date=d.date.replace(year=2031)) for d in app.campaign.deadlines),
    )
    app.campaign = shifted
    transport = FakeTransport()
    transport.clock = clock
    bind_everyone(app)
    service = ReminderService(app, {"telegram": transport})
    plan = service.plan()
    assert plan and all(p.day.weekday() < 5 for p in plan)
    clock.now = plan[0].at
    asyncio.run(service.send_due())
    notes = [c for c, t, _ in transport.sent if "2031年的法定节假日还不知道" in t]
    assert sorted(notes) == ["chat-张秀齐", "chat-王永辉"]
    service.plan()
    asyncio.run(service.send_due())
    assert len([t for _, t, _ in transport.sent if "2031年" in t]) == 2  # told once, not at every replan
    app.close()


def test_apscheduler_fires_a_reminder_job(started: tuple[App, ReminderService, FakeTransport, dict[str, str]],
                                          clock: FakeClock) -> None:
    app, service, transport, _ = started
    item = next(p for p in service.plan() if p.id == "deadline:midterm:7")
    clock.now = item.at
    real_now = dt.datetime.now(dt.UTC)

    async def run() -> None:
        transport.event = asyncio.Event()
        service.scheduler.start()
        from apscheduler.triggers.date import DateTrigger

        service.scheduler.add_job(service.fire, DateTrigger(run_date=real_now), args=[item], id="now")
        await asyncio.wait_for(transport.event.wait(), timeout=10)
        await service.stop()

    asyncio.run(run())
    assert transport.sent


def test_enqueue_is_a_unique_claim(app: App, clock: FakeClock) -> None:
    bind_everyone(app)
    item = Planned("test:1", clock.now, "deadline", ("gaj",), False, "测试", None, None)
    first = enqueue_planned(app.db, app.campaign, item, clock.now, {"telegram"})
    again = enqueue_planned(app.db, app.campaign, item, clock.now, {"telegram"})
    assert first.sent_to == ("方广成",) and again.sent_to == ()

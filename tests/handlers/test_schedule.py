"""进度, 日程, 通知 and 节假日 in chat."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from bot.app import App
from reminders.dispatch import work_calendar
from store import directory
from store.models import OutboxRow
from tests.support import SHANGHAI, Chat, FakeClock


def test_progress_lists_who_has_not_reported(app: App, clock: FakeClock) -> None:
    Chat(app, "方广成").say("1 3")
    reply = Chat(app, "王永辉").say("进度")
    assert "自8月9日以来" in reply and "尚未登记（62/63）" in reply and "市公安局" not in reply
    assert "下一个截止：2023年8月20日（星期日）" in reply
    clock.now = dt.datetime(2023, 8, 21, 9, 0, tzinfo=SHANGHAI)  # after the mid-term deadline: counted anew
    assert "尚未登记（63/63）" in Chat(app, "王永辉").say("/progress")
    assert "只有管理员" in Chat(app, "方广成").say("进度")


def test_deadlines_show_what_is_coming(app: App, clock: FakeClock) -> None:
    police = Chat(app, "方广成").say("日程")
    assert "2023年8月20日（星期日）前：中期行动总结报告和统计表" in police
    assert "网红" not in police
    market = Chat(app, "王永辉").say("/deadlines")
    assert "每月一周查网红：9月8日至9月14日" in market
    clock.now = dt.datetime(2023, 12, 1, 9, 0, tzinfo=SHANGHAI)
    assert "都已过去" in Chat(app, "方广成").say("日程")


def test_notify_queues_once_for_everyone_or_one_department(app: App) -> None:
    app.core.transports = frozenset({"telegram"})
    for name in ("方广成", "王晓芳"):
        Chat(app, name, transport="telegram")
    admin = Chat(app, "王永辉")
    reply = admin.say("通知 公安局 请今天登记数据", message_id="n1")
    assert "已通知市公安局：1人" in reply
    admin.say("通知 公安局 请今天登记数据", message_id="n1")  # redelivered: nothing new is queued
    reply = admin.say("通知 大家辛苦了", message_id="n2")
    assert "已通知所有联系人：2人" in reply and "收不到的" in reply and "陈彬" in reply
    with app.db.session() as s:
        rows = s.scalars(select(OutboxRow).order_by(OutboxRow.id)).all()
        firsts = [r.text.splitlines()[0] for r in rows]
        assert firsts == ["【通知】请今天登记数据", "【通知】大家辛苦了", "【通知】大家辛苦了"]
        assert rows[0].chat_id == f"user-{next(p.id for p in directory.people(s) if p.name == '方广成')}"
    assert "格式：通知" in admin.say("通知")


def test_admins_add_holidays_and_workdays(app: App) -> None:
    admin = Chat(app, "王永辉")
    assert "已记为节假日：1月1日、1月2日" in admin.say("节假日 2031-01-01 2031年1月2日")
    assert "已记为调休上班日：1月4日" in admin.say("调休上班 2031-01-04")
    with app.db.session() as s:
        calendar = work_calendar(app.campaign, s)
    assert not calendar.is_workday(dt.date(2031, 1, 1)) and calendar.is_workday(dt.date(2031, 1, 4))
    assert "不存在" in admin.say("节假日 2031-02-30")
    assert "只有管理员" in Chat(app, "方广成").say("节假日 2031-01-01")


def test_notify_without_a_running_transport_says_so_and_queues_nothing(app: App) -> None:
    """The console (no transport running) used to answer 已通知所有联系人：N人 and queue rows that went out, stale,
    whenever `run` next started."""
    Chat(app, "方广成", transport="telegram")
    reply = Chat(app, "王永辉").say("通知 大家辛苦了")
    assert "已通知" not in reply and "发不出去" in reply
    with app.db.session() as s:
        assert s.scalars(select(OutboxRow)).all() == []


def test_notify_counts_only_contacts_on_a_running_transport_and_expires_at_the_end_of_the_day(
    app: App, clock: FakeClock
) -> None:
    app.core.transports = frozenset({"wecom"})
    Chat(app, "方广成", transport="telegram")  # bound on Telegram only, which is not running
    reply = Chat(app, "王永辉").say("通知 公安局 请今天登记数据")
    assert "已通知市公安局：0人" in reply and "方广成" in reply
    app.core.transports = frozenset({"telegram"})
    Chat(app, "王永辉").say("通知 公安局 请今天登记数据", message_id="again")
    with app.db.session() as s:
        (row,) = s.scalars(select(OutboxRow)).all()
        local = clock.now.astimezone(SHANGHAI)
        assert row.expires_at == dt.datetime.combine(local.date() + dt.timedelta(days=1), dt.time(0), SHANGHAI)

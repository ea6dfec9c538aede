"""Dates and nudges in chat: what is coming (日程), who has not reported (进度), broadcasts (通知), holidays."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from campaign import Department
from campaign.model import County
from campaign.names import choices_text, match_unit
from campaign.scopes import Scope, county_scope, unit_scope
from handlers import scoping, texts
from handlers.context import Context
from handlers.dates import DateError, find_dates
from handlers.messages import Reply
from reminders.dispatch import missing_departments, route, work_calendar
from reminders.plan import build_plan, wanghong_week
from store import directory, outbox, reach
from store.models import CalendarDay


def _today(ctx: Context) -> dt.date:
    return ctx.now.astimezone(ctx.campaign.tz).date()


def _since(ctx: Context) -> dt.date:
    """Reporting counts from the last deadline that has passed, or from the campaign start."""
    passed = [d.date for d in ctx.campaign.deadlines if d.date < _today(ctx)]
    return max(passed, default=ctx.campaign.start)


def progress(ctx: Context) -> list[Reply]:
    """List the units of the sender's scope (网监科: the city; a county's 市场监管局: its county) that have
    booked nothing since the last deadline."""
    since = _since(ctx)
    scope = scoping.own_scope(ctx)
    reporting = scope.reporting(ctx.campaign)
    with ctx.db.read() as s:
        missing = missing_departments(s, ctx.campaign, since, among=[d.key for d in reporting])
        refused = _refused_names(ctx, s, set(scope.members))
    lines = [f"{'' if scope.kind == 'city' else scope.label}报数进度（自{since.month}月{since.day}日以来）："]
    if missing:
        lines.append(f"尚未登记（{len(missing)}/{len(reporting)}）：")
        lines += _by_county(ctx, missing)
    else:
        lines.append(f"{len(reporting)}个有统计表项目的单位都已登记。")
    upcoming = [d for d in ctx.campaign.deadlines if d.date >= _today(ctx)]
    if upcoming:
        lines.append(f"下一个截止：{texts.day(upcoming[0].date)} {upcoming[0].title}")
    if refused:
        lines.append("收不到机器人消息的（已屏蔽机器人或不在应用可见范围）：" + "、".join(refused))
    lines.append("发“催报”提醒尚未登记的单位，或“通知 单位 内容”，例如：通知 公安局 请今天登记数据。")
    return [Reply("\n".join(lines))]


def _by_county(ctx: Context, missing: list[Department]) -> list[str]:
    """市直 first, then each county, its units without the county's name: short enough for a phone."""
    city = [d.short for d in missing if d.county is None]
    lines = [f"· 市直：{'、'.join(city)}"] if city else []
    for county in ctx.campaign.counties:
        names = [d.short.removeprefix(county.name) for d in missing if d.county == county.key]
        if names:
            lines.append(f"· {county.name}：{'、'.join(names)}")
    return lines


def nudge(ctx: Context) -> list[Reply]:
    """催报: remind the units of the sender's scope that have booked nothing since the last deadline."""
    since = _since(ctx)
    scope = scoping.own_scope(ctx)
    wanted = [d.key for d in scope.reporting(ctx.campaign)]
    if not ctx.transports:
        return [Reply(texts.NO_TRANSPORT)]
    with ctx.db.session() as s:
        missing = missing_departments(s, ctx.campaign, since, among=wanted)
        if not missing:
            return [Reply(f"{scope.label}有统计表项目的单位自{since.month}月{since.day}日以来都已登记，不用催报。")]
        keys = {d.key for d in missing}
        text = (f"【催报】贵单位自{since.month}月{since.day}日以来尚未登记数据，请尽快登记："
                "发“指标”看本单位的项目和序号，再发“序号 数量”，例如：1 3。"
                f"\n——{ctx.person.name}（{ctx.department.short}）")
        sent, unreachable = _queue(ctx, s, [p for p in directory.people(s) if p.department in keys], text)
    reply = f"已催报{len(missing)}个单位，{sent}人：" + "、".join(d.short for d in missing[:30])
    if len(missing) > 30:
        reply += f"等{len(missing)}个"
    if unreachable:
        reply += "\n" + texts.unreachable(unreachable)
    return [Reply(reply)]


def _queue(ctx: Context, s: Session, people: list[directory.Person], text: str,
           expires: dt.datetime | None = None) -> tuple[int, list[str]]:
    sent, unreachable = 0, []
    for person in people:
        if person.id == ctx.person.id:
            continue
        chat = route(s, person, ctx.transports)
        if chat is None or reach.is_refused(s, *chat):
            unreachable.append(person.name)
            continue
        key = f"{ctx.msg.transport}:{ctx.msg.chat_id}:{ctx.msg.message_id}#{person.id}"
        sent += outbox.enqueue(s, key=f"notify:{key}", contact_id=person.id, transport=chat[0], chat_id=chat[1],
                               text=text, now=ctx.now, expires_at=expires)
    return sent, unreachable


def _refused_names(ctx: Context, session: Session, members: set[str]) -> list[str]:
    """Contacts of the scope whose chat the platform refuses for good (blocked the bot, outside the app's range)."""
    people = {p.id: p for p in directory.people(session)}
    names: list[str] = []
    for _transport, _chat_id, contact_id in reach.refused(session):
        person = people.get(contact_id) if contact_id is not None else None
        if person is None or person.department not in members:
            continue
        label = f"{person.name}（{ctx.campaign.department(person.department).short}）"
        if label not in names:
            names.append(label)
    return names


def deadlines(ctx: Context) -> list[Reply]:
    """Show the contact's coming deadlines and 网红 weeks."""
    today = _today(ctx)
    dep = ctx.person.department
    city = ctx.department.parent is None
    lines = ["接下来的安排："]
    for d in ctx.campaign.deadlines:
        if d.date >= today and (d.audience == "all" or city):
            lines.append(f"· {texts.day(d.date)}前：{d.title}，报{d.recipient}")
    if dep in ctx.campaign.wanghong.departments:
        with ctx.db.read() as s:
            calendar = work_calendar(ctx.campaign, s)
        weeks = [p for p in build_plan(ctx.campaign, calendar) if p.kind == "wanghong-start" and p.day >= today]
        for p in weeks[:2]:
            first, last = wanghong_week(p.day.year, p.day.month, ctx.campaign.wanghong.week)
            lines.append(f"· 每月一周查网红：{first.month}月{first.day}日至{last.month}月{last.day}日")
    if len(lines) == 1:
        return [Reply("专项行动的报送截止日期都已过去，没有新的安排。")]
    lines.append("截止前会提前提醒（遇节假日提前到上一个工作日）。发“导出”获取统计表。")
    return [Reply("\n".join(lines))]


def notify(ctx: Context) -> list[Reply]:
    """Send a message to everyone in the sender's scope, or to one unit or county in it: 通知 [单位] 内容."""
    first, _, rest = ctx.args.partition(" ")
    own = scoping.own_scope(ctx)
    found = match_unit(ctx.campaign, first, near=ctx.person.department, partial=False) if first else []
    target: Scope | None = None
    if isinstance(found, County):
        target = county_scope(ctx.campaign, found.key)
    elif len(found) == 1:
        target = unit_scope(ctx.campaign, found[0].key)
    elif len(found) > 1:
        return [Reply(choices_text(first, found))]
    body = rest.strip() if target is not None else ctx.args.strip()
    if not body:
        return [Reply("格式：通知 内容（发给所有联系人），或 通知 单位 内容，例如：通知 公安局 请今天登记数据。")]
    if target is not None and not own.covers(target):
        return [Reply(f"您只能通知{own.label}的单位。")]
    if not ctx.transports:
        # The console, or `run` with no platform configured: nothing would carry the message.
        return [Reply(texts.NO_TRANSPORT)]
    members = set((target or own).members)
    text = f"【通知】{body}\n——{ctx.person.name}（{ctx.department.short}）"
    local = ctx.now.astimezone(ctx.campaign.tz)
    # A broadcast is news of the day: one that could not go out today is dropped (and reported), never stale.
    expires = dt.datetime.combine(local.date() + dt.timedelta(days=1), dt.time(0), ctx.campaign.tz)
    with ctx.db.session() as s:
        sent, unreachable = _queue(ctx, s, [p for p in directory.people(s) if p.department in members], text,
                                   expires)
    who = target.label if target is not None else ("所有联系人" if own.kind == "city" else f"{own.label}所有联系人")
    reply = f"已通知{who}：{sent}人（今天内送达，过期不再发送）。"
    if unreachable:
        reply += "\n" + texts.unreachable(unreachable)
    return [Reply(reply)]


def holiday(ctx: Context) -> list[Reply]:
    """Add days off: 节假日 2027-01-01 2027-01-02."""
    return _calendar_days(ctx, "holiday", "节假日")


def workday(ctx: Context) -> list[Reply]:
    """Add make-up working days: 调休上班 2027-02-07."""
    return _calendar_days(ctx, "workday", "调休上班日")


def _calendar_days(ctx: Context, kind: str, label: str) -> list[Reply]:
    try:
        days, _ = find_dates(ctx.args, _today(ctx).year)
    except DateError as exc:
        return [Reply(str(exc))]
    if not days:
        return [Reply(f"格式：{'节假日' if kind == 'holiday' else '调休上班'} 2027-01-01 [2027-01-02 …]")]
    with ctx.db.session() as s:
        for day in days:
            _save_day(s, day, kind, ctx)
    listed = "、".join(f"{d.month}月{d.day}日" for d in days)
    return [Reply(f"已记为{label}：{listed}。之后的提醒会按新日历安排（每天凌晨重排）。")]


def _save_day(session: Session, day: dt.date, kind: str, ctx: Context) -> None:
    row = session.get(CalendarDay, day)
    if row is None:
        session.add(CalendarDay(day=day, kind=kind, added_by=ctx.person.id, added_at=ctx.now))
    else:
        row.kind, row.added_by, row.added_at = kind, ctx.person.id, ctx.now

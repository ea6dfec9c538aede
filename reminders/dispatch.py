"""From a planned reminder to queued messages: who gets it, over which chat, with which text.

Everything here takes `now` as an argument, so tests walk the whole campaign with a fake clock.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from campaign import Campaign, Department
from reminders.calendar import WorkCalendar, calendar_from_config
from reminders.plan import Planned, audience_of
from store import directory, materials, outbox, queries
from store.database import Database
from store.directory import Person
from store.models import CalendarDay

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Queued:
    sent_to: tuple[str, ...]  # contact names whose message was newly queued
    unreachable: tuple[str, ...]  # contact names with no chat the bot can reach


def work_calendar(campaign: Campaign, session: Session, on_unknown_year: object = None) -> WorkCalendar:
    """The campaign's calendar: config [calendar] plus the days admins added in chat (which win)."""
    section = dict(campaign.sections.get("calendar", {}))
    added = {row.day: row.kind for row in session.scalars(select(CalendarDay))}
    holidays = [d for d in section.get("holidays", []) if added.get(d, "holiday") == "holiday"]
    workdays = [d for d in section.get("workdays", []) if added.get(d, "workday") == "workday"]
    holidays += [d for d, kind in added.items() if kind == "holiday" and d not in holidays]
    workdays += [d for d, kind in added.items() if kind == "workday" and d not in workdays]
    callback = on_unknown_year if callable(on_unknown_year) else None
    return calendar_from_config({"holidays": holidays, "workdays": workdays}, campaign.path,
                                on_unknown_year=callback)


def day_start(campaign: Campaign, day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0), campaign.tz)


def missing_departments(session: Session, campaign: Campaign, since: dt.date,
                        among: Iterable[str] | None = None) -> list[Department]:
    """Departments with rows in 附件2 that have booked nothing since the start of `since`."""
    ids = directory.department_ids(session)
    active = queries.last_bookings(session, since=day_start(campaign, since))
    wanted = set(among) if among is not None else None
    return [
        d for d in campaign.departments
        if d.group is not None and ids[d.key] not in active and (wanted is None or d.key in wanted)
    ]


def useful_until(campaign: Campaign, item: Planned) -> dt.datetime:
    """A late reminder still helps until its grace runs out, and never after its deadline day."""
    limit = item.at + dt.timedelta(hours=campaign.reminders.grace_hours)
    if item.due is not None:
        limit = min(limit, day_start(campaign, item.due + dt.timedelta(days=1)))
    return limit


def route(session: Session, person: Person, transports: AbstractSet[str] | None) -> tuple[str, str] | None:
    """The chat to reach a contact on: the newest binding on a running transport (None: on any transport).

    A chat refused before is still chosen: deadline reminders keep trying it, and the first one that goes
    through clears the mark (reminders/service.py). Broadcasts and 催报 skip refused chats themselves.
    """
    usable = [c for c in directory.chats_of(session, person.id) if transports is None or c[0] in transports]
    # Directory ids known in advance (WeCom, DingTalk) are identities too: reachable without a first message.
    return usable[-1] if usable else None


def enqueue_planned(db: Database, campaign: Campaign, item: Planned, now: dt.datetime,
                    transports: AbstractSet[str], spreads: Mapping[str, dt.timedelta] | None = None) -> Queued:
    """Queue one planned reminder for each recipient, once per (reminder, recipient).

    spreads: per transport, over how long after the planned time its recipients' reminders are spread.
    """
    with db.session() as s:
        everyone = directory.people(s)
        departments = set(item.departments)
        text = item.text
        if item.kind in ("nudge", "progress"):
            since = item.since or campaign.start
            # Progress goes to the coordinator but is about the deadline's whole audience.
            audience = item.scope or next(
                (audience_of(campaign, d) for d in campaign.deadlines if d.key == item.deadline), item.departments
            )
            laggards = missing_departments(s, campaign, since, among=audience)
            text = item.fill("、".join(d.short for d in laggards) or "无，全部已登记")
            if item.kind == "nudge":
                departments = {d.key for d in laggards}
        recipients = [p for p in everyone if p.department in departments and (p.is_admin or not item.admins_only)]
        sent, unreachable = [], []
        expires = useful_until(campaign, item)
        for person in recipients:
            chat = route(s, person, transports)
            if chat is None:
                unreachable.append(person)
                continue
            # Each department's reminder names the materials it still misses for that deadline.
            note = materials.missing_note(s, campaign, item.deadline, person.department) \
                if item.kind in ("deadline", "nudge") else ""
            if outbox.enqueue(s, key=f"{item.id}#{person.id}", contact_id=person.id, transport=chat[0],
                              chat_id=chat[1], text=text + note, now=now, expires_at=expires,
                              not_before=max(now, item.at + spread(person.id, (spreads or {}).get(chat[0])))):
                sent.append(person.name)
        if unreachable:
            names = "、".join(f"{p.name}（{campaign.department(p.department).short}）" for p in unreachable)
            note = (f"提醒「{item.text.splitlines()[0]}」无法送达：{names}还没有绑定聊天。"
                    "请让他们用手机号验证，或发“邀请 姓名”生成绑定码。")
            notify_admins(s, campaign, key=f"unreachable:{item.id}", text=note, now=now, transports=transports)
            log.warning("reminder %s: no chat for %s", item.id, names)
    return Queued(tuple(sent), tuple(p.name for p in unreachable))


def spread(contact_id: int, over: dt.timedelta | None) -> dt.timedelta:
    """How long after the planned time a contact's reminder goes out: fixed per contact, within `over`.

    WeCom asks senders not to push everything at :00 or :30 (W-90236): with over = 5 minutes the reminders
    of a 09:00 plan leave between 09:01 and 09:05. A late reminder goes out at once (not_before is now).
    """
    seconds = int(over.total_seconds()) if over else 0
    if seconds < 120:
        return dt.timedelta(0)
    return dt.timedelta(seconds=60 + (contact_id * 97) % (seconds - 60))


def notify_admins(session: Session, campaign: Campaign, *, key: str, text: str, now: dt.datetime,
                  transports: AbstractSet[str] | None) -> int:
    """Queue a note to every reachable admin, once per key and admin."""
    queued = 0
    for admin in (p for p in directory.people(session) if p.is_admin):
        chat = route(session, admin, transports)
        if chat is not None and outbox.enqueue(session, key=f"{key}#{admin.id}", contact_id=admin.id,
                                               transport=chat[0], chat_id=chat[1], text=text, now=now):
            queued += 1
    return queued

"""The append-only ledger: book a message once, reverse a booking, and read totals back."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import cast

from sqlalchemy import Table, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from store.errors import Duplicate, NothingToUndo, WouldGoNegative
from store.models import Booking, DepartmentRow, Entry, Total


@dataclass(frozen=True)
class MessageKey:
    """Where a message came from; the same key is booked at most once."""

    transport: str
    chat_id: str
    message_id: str


@dataclass(frozen=True)
class Line:
    indicator: str
    amount: Decimal


@dataclass(frozen=True)
class Booked:
    booking_id: int
    lines: tuple[Line, ...]
    totals: dict[str, Decimal]  # indicator -> department total after this booking


def book(
    session: Session,
    *,
    key: MessageKey,
    contact_id: int,
    department_id: int,
    kind: str,
    text: str,
    lines: Sequence[Line],
    now: dt.datetime,
    reverses_id: int | None = None,
) -> Booked:
    """Book all lines of one message, or none; raise Duplicate if the message was booked before."""
    booking = Booking(
        transport=key.transport, chat_id=key.chat_id, message_id=key.message_id, contact_id=contact_id,
        department_id=department_id, kind=kind, text=text, booked_at=now, reverses_id=reverses_id,
    )
    try:
        # The unique key decides: a concurrent or repeated delivery fails here, not in an if-check.
        with session.begin_nested():
            session.add(booking)
            session.flush()
    except IntegrityError:
        existing = find_booking(session, key)
        if existing is None:  # the conflict was the reverses_id: that booking is already undone
            raise NothingToUndo() from None
        raise Duplicate(existing) from None
    lock_department(session, department_id)
    indicators = sorted({line.indicator for line in lines})
    before = totals(session, [department_id], indicators)
    after: dict[str, Decimal] = {}
    changes: dict[str, Decimal] = {}
    for indicator in indicators:
        current = before.get((department_id, indicator), Decimal(0))
        changes[indicator] = sum((line.amount for line in lines if line.indicator == indicator), Decimal(0))
        if current + changes[indicator] < 0:
            raise WouldGoNegative(indicator, current, changes[indicator])
        after[indicator] = current + changes[indicator]
    session.add_all(
        Entry(booking_id=booking.id, department_id=department_id, indicator=line.indicator, amount=line.amount,
              booked_at=now)
        for line in lines
    )
    _add_to_totals(session, department_id, changes, known={ind for _, ind in before})
    session.flush()
    return Booked(booking.id, tuple(lines), after)


def _add_to_totals(session: Session, department_id: int, changes: dict[str, Decimal], known: set[str]) -> None:
    """Keep the maintained totals equal to the ledger's sums, in the booking's own transaction.

    No upsert is needed: every writer holds the department's lock (lock_department; on SQLite the
    BEGIN IMMEDIATE write lock), so the rows read as `known` cannot appear or change under us.
    """
    for indicator, change in changes.items():
        if indicator in known:
            # A Core UPDATE on the session's connection: the ORM's bulk-update path would first look for
            # loaded Total objects to synchronise, which cost more than the rest of the booking.
            totals_table = cast(Table, Total.__table__)
            session.connection().execute(
                update(totals_table)
                .where(Total.department_id == department_id, Total.indicator == indicator)
                .values(amount=Total.amount + change)
            )
        else:
            session.add(Total(department_id=department_id, indicator=indicator, amount=change))


def lock_department(session: Session, department_id: int) -> None:
    # PostgreSQL: serialise bookings of one department so the "never below zero" check holds.
    # SQLite already holds the write lock (BEGIN IMMEDIATE), so the query would lock nothing: skip it.
    if session.get_bind().dialect.name == "sqlite":
        return
    # FOR NO KEY UPDATE (key_share=True), not FOR UPDATE: the booking row inserted just before already holds a
    # KEY SHARE lock on this department through its foreign key. FOR UPDATE conflicts with KEY SHARE, so two
    # concurrent bookings of one department each waited for the other's foreign-key lock: a deadlock, and one
    # report answered with an apology. NO KEY UPDATE ignores KEY SHARE but still excludes other bookers.
    session.execute(
        select(DepartmentRow.id).where(DepartmentRow.id == department_id).with_for_update(key_share=True)
    )


def find_booking(session: Session, key: MessageKey) -> int | None:
    return session.scalar(
        select(Booking.id).where(
            Booking.transport == key.transport, Booking.chat_id == key.chat_id, Booking.message_id == key.message_id
        )
    )


def booking_lines(session: Session, booking_id: int) -> tuple[Line, ...]:
    rows = session.execute(
        select(Entry.indicator, Entry.amount).where(Entry.booking_id == booking_id).order_by(Entry.id)
    )
    return tuple(Line(indicator, amount) for indicator, amount in rows)


def last_open_booking(session: Session, contact_id: int) -> Booking | None:
    """Return the contact's newest booking that is neither an undo nor undone."""
    undo = aliased(Booking)
    return session.scalar(
        select(Booking)
        .outerjoin(undo, undo.reverses_id == Booking.id)
        .where(Booking.contact_id == contact_id, Booking.kind != "undo", undo.id.is_(None))
        .order_by(Booking.id.desc())
        .limit(1)
    )


def undo_last(
    session: Session, *, key: MessageKey, contact_id: int, text: str, now: dt.datetime
) -> tuple[Booking, Booked]:
    """Reverse the contact's last booking with a compensating booking; the ledger keeps both."""
    target = last_open_booking(session, contact_id)
    if target is None:
        existing = find_booking(session, key)
        if existing is not None:
            raise Duplicate(existing)
        raise NothingToUndo()
    lines = [Line(line.indicator, -line.amount) for line in booking_lines(session, target.id)]
    booked = book(
        session, key=key, contact_id=contact_id, department_id=target.department_id, kind="undo", text=text,
        lines=lines, now=now, reverses_id=target.id,
    )
    return target, booked


def totals(
    session: Session,
    department_ids: Iterable[int] | None = None,
    indicators: Iterable[str] | None = None,
    as_of: dt.datetime | None = None,
) -> dict[tuple[int, str], Decimal]:
    """The ledger's sums per (department id, indicator), optionally up to a moment.

    The current totals come from the maintained table (a primary-key read, whatever the ledger's size);
    totals as of a moment are summed from the entries, which keep every booking's time.
    """
    if as_of is None:
        current = select(Total.department_id, Total.indicator, Total.amount)
        if department_ids is not None:
            current = current.where(Total.department_id.in_(list(department_ids)))
        if indicators is not None:
            current = current.where(Total.indicator.in_(list(indicators)))
        return {(dep, ind): amount for dep, ind, amount in session.execute(current)}
    query = select(Entry.department_id, Entry.indicator, func.sum(Entry.amount)).group_by(
        Entry.department_id, Entry.indicator
    )
    if department_ids is not None:
        query = query.where(Entry.department_id.in_(list(department_ids)))
    if indicators is not None:
        query = query.where(Entry.indicator.in_(list(indicators)))
    query = query.where(Entry.booked_at <= as_of)
    # SUM keeps the Amount type, so the scaled integers come back as exact Decimals.
    return {(dep, ind): total or Decimal(0) for dep, ind, total in session.execute(query)}

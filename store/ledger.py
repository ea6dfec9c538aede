"""The append-only ledger: book a message once, reverse a booking, and read totals back."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import cast

from sqlalchemy import Integer, Table, bindparam, func, insert, select, text
from sqlalchemy.orm import Session, aliased

from store.columns import Amount, UTCDateTime, to_amount
from store.errors import Duplicate, NothingToUndo, WouldGoNegative
from store.models import Booking, DepartmentRow, Entry, Total
from store.statements import Prepared


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


# The booking transaction in SQLAlchemy Core, its statements built once at import and compiled once per
# dialect (store/statements.py): a booking runs three of them (four on PostgreSQL, which also locks the
# department) and no ORM unit of work. The two upserts are text(): plain SQL that SQLite (3.35+) and
# PostgreSQL both understand, where the dialects' insert().on_conflict_*() would need one construct each.
_BOOKINGS = cast(Table, Booking.__table__)
_ENTRIES = cast(Table, Entry.__table__)
# ON CONFLICT DO NOTHING ... RETURNING: a redelivered message (the unique key) or a second undo of one booking
# (UNIQUE reverses_id) returns no row. No exception, so no SAVEPOINT is needed around it, and on PostgreSQL the
# transaction stays usable for the look-up that names the existing booking.
INSERT_BOOKING = Prepared(text(
    "INSERT INTO bookings (transport, chat_id, message_id, contact_id, department_id, kind, text, booked_at,"
    " reverses_id) VALUES (:transport, :chat_id, :message_id, :contact_id, :department_id, :kind, :text,"
    " :booked_at, :reverses_id) ON CONFLICT DO NOTHING RETURNING id"
).bindparams(bindparam("booked_at", type_=UTCDateTime()), bindparam("reverses_id", type_=Integer())))
_ENTRY_COLUMNS = ("booking_id", "department_id", "indicator", "amount", "booked_at")
INSERT_ENTRIES = Prepared(insert(_ENTRIES), column_keys=_ENTRY_COLUMNS)
# The maintained total and the "never below zero" check in one statement: the new value comes back and a
# negative one makes the booking roll back. Its row lock (PostgreSQL) or the write lock (SQLite) keeps the
# value true until COMMIT.
ADD_TO_TOTAL = Prepared(text(
    "INSERT INTO totals (department_id, indicator, amount) VALUES (:department_id, :indicator, :amount)"
    " ON CONFLICT (department_id, indicator) DO UPDATE SET amount = totals.amount + excluded.amount"
    " RETURNING amount"
).bindparams(bindparam("amount", type_=Amount())))
FIND_BOOKING = Prepared(select(_BOOKINGS.c.id).where(
    _BOOKINGS.c.transport == bindparam("transport"), _BOOKINGS.c.chat_id == bindparam("chat_id"),
    _BOOKINGS.c.message_id == bindparam("message_id"),
))
LOCK_DEPARTMENT = Prepared(
    select(DepartmentRow.id).where(DepartmentRow.id == bindparam("department_id")).with_for_update(key_share=True)
)
BOOKING_STATEMENTS = (INSERT_BOOKING, INSERT_ENTRIES, ADD_TO_TOTAL, FIND_BOOKING, LOCK_DEPARTMENT)


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
    """Book all lines of one message, or none; raise Duplicate if the message was booked before.

    On a refusal (Duplicate, NothingToUndo, WouldGoNegative) the caller rolls back: the transaction, or the
    report's SAVEPOINT in a group commit (store/writer.py), so nothing of the message is left behind.
    """
    for line in lines:  # before any SQL: a float must never reach the ledger, not even half-way
        if not isinstance(line.amount, Decimal):
            raise TypeError(f"amounts must be Decimal, not {type(line.amount).__name__}")
    conn = session.connection()
    inserted = INSERT_BOOKING.execute(conn, {
        "transport": key.transport, "chat_id": key.chat_id, "message_id": key.message_id,
        "contact_id": contact_id, "department_id": department_id, "kind": kind, "text": text, "booked_at": now,
        "reverses_id": reverses_id,
    })
    if not inserted:
        existing = find_booking(session, key)
        if existing is None:  # the conflict was the reverses_id: that booking is already undone
            raise NothingToUndo()
        raise Duplicate(existing)
    booking_id = int(inserted[0][0])
    lock_department(session, department_id)
    rows = [
        {"booking_id": booking_id, "department_id": department_id, "indicator": line.indicator,
         "amount": line.amount, "booked_at": now}
        for line in lines
    ]
    if len(rows) == 1:
        INSERT_ENTRIES.execute(conn, rows[0])
    elif rows:
        INSERT_ENTRIES.execute_many(conn, rows)
    changes: dict[str, Decimal] = {}
    for line in lines:
        changes[line.indicator] = changes.get(line.indicator, Decimal(0)) + line.amount
    after: dict[str, Decimal] = {}
    # Sorted: two bookings of one department lock its total rows in one order (no deadlock on PostgreSQL).
    for indicator in sorted(changes):
        change = changes[indicator]
        (raw,), = ADD_TO_TOTAL.execute(conn, {"department_id": department_id, "indicator": indicator,
                                               "amount": change})
        total = to_amount(raw)
        if total < 0:
            raise WouldGoNegative(indicator, total - change, change)
        after[indicator] = total
    return Booked(booking_id, tuple(lines), after)


def lock_department(session: Session, department_id: int) -> None:
    # PostgreSQL: serialise bookings of one department so the "never below zero" check holds and a correction's
    # "read the total, book the difference" cannot interleave with a report.
    # SQLite already holds the write lock (BEGIN IMMEDIATE), so the query would lock nothing: skip it.
    conn = session.connection()
    if conn.dialect.name == "sqlite":
        return
    # FOR NO KEY UPDATE (key_share=True), not FOR UPDATE: the booking row inserted just before already holds a
    # KEY SHARE lock on this department through its foreign key. FOR UPDATE conflicts with KEY SHARE, so two
    # concurrent bookings of one department each waited for the other's foreign-key lock: a deadlock, and one
    # report answered with an apology. NO KEY UPDATE ignores KEY SHARE but still excludes other bookers.
    LOCK_DEPARTMENT.execute(conn, {"department_id": department_id})


def find_booking(session: Session, key: MessageKey) -> int | None:
    found = FIND_BOOKING.execute(
        session.connection(), {"transport": key.transport, "chat_id": key.chat_id, "message_id": key.message_id}
    )
    return int(found[0][0]) if found else None


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

"""The append-only ledger: book a message once, reverse a booking, and read totals back."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import Connection, Integer, Table, bindparam, func, insert, select, text
from sqlalchemy.exc import StatementError
from sqlalchemy.orm import Session, aliased

from store.columns import Amount, UTCDateTime, to_amount, to_scaled
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
# dialect (store/statements.py): on SQLite a booking runs three of them, on PostgreSQL one (BOOK_POSTGRESQL, the
# same three steps in one round trip) after the department's lock, and no ORM unit of work. The two upserts are
# text(): plain SQL that SQLite (3.35+) and PostgreSQL both understand, where the dialects'
# insert().on_conflict_*() would need one construct each.
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
# The lines of the booking `booking` (a CTE returning its id) into entries and totals, for one statement.
LINES_INTO_ENTRIES_AND_TOTALS = (
    " line AS (SELECT l.indicator, l.amount, l.n FROM unnest(CAST(:indicators AS varchar[]),"
    " CAST(:amounts AS bigint[])) WITH ORDINALITY AS l(indicator, amount, n)),"
    " entry AS (INSERT INTO entries (booking_id, department_id, indicator, amount, booked_at)"
    " SELECT booking.id, :department_id, line.indicator, line.amount, :booked_at FROM booking, line"
    " ORDER BY line.n),"
    " added AS (INSERT INTO totals (department_id, indicator, amount)"
    " SELECT :department_id, line.indicator, SUM(line.amount) FROM booking, line GROUP BY line.indicator"
    " ORDER BY line.indicator"
    " ON CONFLICT (department_id, indicator) DO UPDATE SET amount = totals.amount + excluded.amount"
    " RETURNING indicator, amount)"
)
# PostgreSQL: the three steps above as data-modifying CTEs of one statement, so a booking costs one round trip
# to the server instead of one per statement. A redelivery (ON CONFLICT DO NOTHING) returns no row and
# inserts nothing else, since every later step joins the booking it did not make.
BOOK_POSTGRESQL = Prepared(text(
    "WITH booking AS (INSERT INTO bookings (transport, chat_id, message_id, contact_id, department_id, kind,"
    " text, booked_at, reverses_id) VALUES (:transport, :chat_id, :message_id, :contact_id, :department_id,"
    " :kind, :text, :booked_at, :reverses_id) ON CONFLICT DO NOTHING RETURNING id),"
    + LINES_INTO_ENTRIES_AND_TOTALS +
    " SELECT booking.id, added.indicator, added.amount FROM booking LEFT JOIN added ON true"
).bindparams(bindparam("booked_at", type_=UTCDateTime()), bindparam("reverses_id", type_=Integer())))
FIND_BOOKING = Prepared(select(_BOOKINGS.c.id).where(
    _BOOKINGS.c.transport == bindparam("transport"), _BOOKINGS.c.chat_id == bindparam("chat_id"),
    _BOOKINGS.c.message_id == bindparam("message_id"),
))
LOCK_DEPARTMENT = Prepared(
    select(DepartmentRow.id).where(DepartmentRow.id == bindparam("department_id")).with_for_update(key_share=True)
)
BOOKING_STATEMENTS = {  # what a booking runs, per dialect (a test holds each compiled once)
    "sqlite": (INSERT_BOOKING, INSERT_ENTRIES, ADD_TO_TOTAL, FIND_BOOKING),
    "postgresql": (BOOK_POSTGRESQL, FIND_BOOKING, LOCK_DEPARTMENT),
}


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
    locked: bool = False,
) -> Booked:
    """Book all lines of one message, or none; raise Duplicate if the message was booked before.

    On a refusal (Duplicate, NothingToUndo, WouldGoNegative) the caller rolls back: the transaction, or the
    report's SAVEPOINT in a group commit (store/writer.py), so nothing of the message is left behind.
    locked: the caller holds the department's lock already (lock_department, store/reporting.py).
    """
    refuse_floats(lines)
    conn = session.connection()
    values = {"transport": key.transport, "chat_id": key.chat_id, "message_id": key.message_id,
              "contact_id": contact_id, "department_id": department_id, "kind": kind, "text": text,
              "booked_at": now, "reverses_id": reverses_id}
    changes = changes_of(lines)
    if conn.dialect.name == "postgresql":
        if not locked:
            lock_department(session, department_id)
        booking_id, after = _book_in_one_statement(conn, values, lines)
    else:
        booking_id, after = _book_statement_by_statement(conn, values, lines, changes)
    if booking_id is None:
        existing = find_booking(session, key)
        if existing is None:  # the conflict was the reverses_id: that booking is already undone
            raise NothingToUndo()
        raise Duplicate(existing)
    refuse_negative(changes, after)
    return Booked(booking_id, tuple(lines), after)


def _book_statement_by_statement(conn: Connection, values: dict[str, Any], lines: Sequence[Line],
                                 changes: dict[str, Decimal]) -> tuple[int | None, dict[str, Decimal]]:
    """SQLite, in-process: three short statements under the write lock BEGIN IMMEDIATE took."""
    inserted = INSERT_BOOKING.execute(conn, values)
    if not inserted:
        return None, {}
    booking_id = int(inserted[0][0])
    return booking_id, add_lines(conn, booking_id, values["department_id"], values["booked_at"], lines, changes)


def add_lines(conn: Connection, booking_id: int, department_id: int, booked_at: dt.datetime,
              lines: Sequence[Line], changes: dict[str, Decimal]) -> dict[str, Decimal]:
    """SQLite: the entries of a booking just inserted, and the totals they change; returns the new totals."""
    rows = [
        {"booking_id": booking_id, "department_id": department_id, "indicator": line.indicator,
         "amount": line.amount, "booked_at": booked_at}
        for line in lines
    ]
    if len(rows) == 1:
        INSERT_ENTRIES.execute(conn, rows[0])
    elif rows:
        INSERT_ENTRIES.execute_many(conn, rows)
    after: dict[str, Decimal] = {}
    for indicator in sorted(changes):  # sorted: one order of row locks for every booking
        (raw,), = ADD_TO_TOTAL.execute(conn, {"department_id": department_id, "indicator": indicator,
                                               "amount": changes[indicator]})
        after[indicator] = to_amount(raw)
    return after


def _book_in_one_statement(conn: Connection, values: dict[str, Any], lines: Sequence[Line],
                           ) -> tuple[int | None, dict[str, Decimal]]:
    """PostgreSQL: the booking, its entries and the totals in one statement, one round trip to the server."""
    rows = BOOK_POSTGRESQL.execute(conn, {**values, **line_arrays(lines)})
    if not rows:
        return None, {}
    return int(rows[0][0]), totals_of(rows)


def line_arrays(lines: Sequence[Line]) -> dict[str, list[str] | list[int]]:
    """The :indicators and :amounts parameters of LINES_INTO_ENTRIES_AND_TOTALS."""
    try:
        amounts = [to_scaled(line.amount) for line in lines]
    except ValueError as exc:  # as the Amount column type refuses it on SQLite: a StatementError, nothing sent
        raise StatementError(str(exc), "LINES_INTO_ENTRIES_AND_TOTALS", {}, exc) from exc
    return {"indicators": [line.indicator for line in lines], "amounts": amounts}


def totals_of(rows: Sequence[tuple[Any, ...]]) -> dict[str, Decimal]:
    """The new totals from rows ending in (indicator, raw amount) (added's RETURNING)."""
    return {str(row[-2]): to_amount(row[-1]) for row in rows if row[-2] is not None}


def refuse_floats(lines: Sequence[Line]) -> None:
    """Before any SQL: a float must never reach the ledger, not even half-way."""
    for line in lines:
        if not isinstance(line.amount, Decimal):
            raise TypeError(f"amounts must be Decimal, not {type(line.amount).__name__}")


def refuse_negative(changes: dict[str, Decimal], after: dict[str, Decimal]) -> None:
    for indicator in sorted(changes):
        if after[indicator] < 0:
            raise WouldGoNegative(indicator, after[indicator] - changes[indicator], changes[indicator])


def changes_of(lines: Sequence[Line]) -> dict[str, Decimal]:
    """Each indicator's change: the sum of its lines (a message may name one row twice)."""
    changes: dict[str, Decimal] = {}
    for line in lines:
        changes[line.indicator] = changes.get(line.indicator, Decimal(0)) + line.amount
    return changes


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

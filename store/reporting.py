"""An exact report's whole booking step: redelivery, the same text moments ago, a waiting proposal, the booking.

Before a report is booked the database answers three questions: was this very message booked already
(a redelivery), did the contact book the same text in this chat moments ago (asked about, not booked
again), and is a proposal waiting in this chat (a new report drops it). Each is answered from an index:
- this message: the unique key (transport, chat_id, message_id);
- the same text: ix_bookings_department_time, the department's bookings of the last minutes only
  (a contact books for their own department), however long the ledger has grown;
- a waiting proposal: ix_proposals_chat.

SQLite (in-process, but each statement costs Python): the booking's INSERT asks the two questions about
the text itself (nothing is inserted for a redelivery or the same text, and RETURNING says whether a
proposal waits), then the entries and totals (store/ledger.add_lines), all under the write lock BEGIN
IMMEDIATE took. Only when nothing was inserted does one SELECT of three subqueries (BEFORE_REPORT) say why.

PostgreSQL (a statement costs a round trip): the department's lock (store/ledger.lock_department) and one
statement that asks and books together, sent in one round trip (pipeline mode). The statement runs after
the lock is granted, so under READ COMMITTED it sees whatever the booking that held the lock committed,
and "the same text" and the booking stay one step.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import bindparam, text
from sqlalchemy.orm import Session

from store import ledger, proposals
from store.columns import UTCDateTime
from store.errors import Duplicate
from store.ledger import LINES_INTO_ENTRIES_AND_TOTALS, LOCK_DEPARTMENT, Booked, Line, MessageKey
from store.statements import Prepared, together

# The same text: `b.message_id <> :message_id` so that a redelivery is a duplicate, never "the same text
# again" (it is its own first booking). The plan is the point: SQLite must read the department's last minutes
# (ix_bookings_department_time), never every booking the contact ever made (ix_bookings_contact) or the chat
# ever had (the unique key), or the whole table backwards (for an ORDER BY id), all of which it chose once
# ANALYZE had run. So `+b.contact_id` and `|| ''` make those columns unindexable, and MAX replaces ORDER BY.
# PostgreSQL reads them as the same values.
_SAME_TEXT = (
    "SELECT MAX(b.booked_at) AS booked_at FROM bookings b"
    " WHERE b.department_id = :department_id AND b.booked_at >= :since AND +b.contact_id = :contact_id"
    " AND b.transport || '' = :transport AND b.chat_id || '' = :chat_id"
    " AND b.message_id <> :message_id AND b.kind IN ('report', 'correction') AND b.text = :text"
)
_OPEN_PROPOSAL = "SELECT 1 FROM proposals WHERE transport = :transport AND chat_id = :chat_id AND status = 'open'"
BEFORE_REPORT = Prepared(text(
    "SELECT (SELECT id FROM bookings WHERE transport = :transport AND chat_id = :chat_id"
    f" AND message_id = :message_id), ({_SAME_TEXT}), EXISTS ({_OPEN_PROPOSAL})"
).bindparams(bindparam("since", type_=UTCDateTime())))
# PostgreSQL: the questions and the booking in one statement. Nothing is inserted when the same text was booked
# moments ago (`same`, one row: NULL when it was not) or this message was booked before (ON CONFLICT); a waiting
# proposal is dropped only by a booking. One row always comes back: the new booking's id (or NULL), the same
# text's time (or NULL), and a total per indicator.
BOOK_REPORT_POSTGRESQL = Prepared(text(
    f"WITH same AS ({_SAME_TEXT}),"
    " booking AS (INSERT INTO bookings (transport, chat_id, message_id, contact_id, department_id, kind, text,"
    " booked_at) SELECT :transport, :chat_id, :message_id, :contact_id, :department_id, 'report', :text,"
    " :booked_at WHERE (SELECT booked_at FROM same) IS NULL ON CONFLICT DO NOTHING RETURNING id),"
    " dropped AS (UPDATE proposals SET status = 'dropped' WHERE transport = :transport AND chat_id = :chat_id"
    " AND status = 'open' AND EXISTS (SELECT 1 FROM booking)),"
    + LINES_INTO_ENTRIES_AND_TOTALS +
    " SELECT (SELECT id FROM booking), (SELECT booked_at FROM same), added.indicator, added.amount"
    " FROM (SELECT 1) AS one LEFT JOIN added ON true"
).bindparams(bindparam("since", type_=UTCDateTime()), bindparam("booked_at", type_=UTCDateTime())))
# SQLite: the same-text check and the booking in one statement, whose RETURNING also says whether a proposal
# waits. No row comes back for a redelivery (the unique key) or the same text again; BEFORE_REPORT then tells
# which. One statement fewer per report than asking first (a statement is about 25 µs of a report's ~200 µs CPU).
BOOK_REPORT_SQLITE = Prepared(text(
    "INSERT INTO bookings (transport, chat_id, message_id, contact_id, department_id, kind, text, booked_at)"
    " SELECT :transport, :chat_id, :message_id, :contact_id, :department_id, 'report', :text, :booked_at"
    f" WHERE ({_SAME_TEXT}) IS NULL ON CONFLICT DO NOTHING RETURNING id, EXISTS ({_OPEN_PROPOSAL})"
).bindparams(bindparam("since", type_=UTCDateTime()), bindparam("booked_at", type_=UTCDateTime())))
STATEMENTS = {"sqlite": (BEFORE_REPORT, BOOK_REPORT_SQLITE),
              "postgresql": (LOCK_DEPARTMENT, BOOK_REPORT_POSTGRESQL)}


@dataclass(frozen=True)
class Before:
    booked: int | None  # the booking this message already made
    same_at: dt.datetime | None  # when the same text was last booked within the window
    proposal_open: bool  # a proposal waits for 确认 in this chat


def before_report(session: Session, *, key: MessageKey, contact_id: int, department_id: int, text: str,
                  since: dt.datetime) -> Before:
    """Lock the department (PostgreSQL) and answer the three questions, in one round trip."""
    conn = session.connection()
    steps = [(BEFORE_REPORT, _values(key, contact_id, department_id, text, since))]
    if conn.dialect.name != "sqlite":  # SQLite holds the write lock already (BEGIN IMMEDIATE)
        steps.insert(0, (LOCK_DEPARTMENT, {"department_id": department_id}))
    (booked, same_at, proposal_open), = together(conn, steps)[-1]
    return Before(None if booked is None else int(booked), None if same_at is None else _time(session, same_at),
                  bool(proposal_open))


def clear_for(session: Session, *, key: MessageKey, contact_id: int, department_id: int, text: str,
              since: dt.datetime) -> dt.datetime | None:
    """Before a booking: raise Duplicate for a redelivery, return when the same text came since `since`, else
    drop the chat's waiting proposal and return None (the department locked on PostgreSQL)."""
    seen = before_report(session, key=key, contact_id=contact_id, department_id=department_id, text=text,
                         since=since)
    if seen.booked is not None:
        raise Duplicate(seen.booked)
    if seen.same_at is not None:
        return seen.same_at
    if seen.proposal_open:
        proposals.drop_open(session, key.transport, key.chat_id)
    return None


def book_report(session: Session, *, key: MessageKey, contact_id: int, department_id: int, text: str,
                lines: Sequence[Line], now: dt.datetime, since: dt.datetime) -> Booked | dt.datetime:
    """Book a report, or return when the same text was booked since `since`.

    Raises Duplicate (this message was booked before) and WouldGoNegative, as store/ledger.book does.
    """
    conn = session.connection()
    ledger.refuse_floats(lines)
    values = {**_values(key, contact_id, department_id, text, since), "booked_at": now}
    if conn.dialect.name == "sqlite":
        return _book_report_sqlite(session, values, key=key, contact_id=contact_id, department_id=department_id,
                                   text=text, lines=lines, now=now, since=since)
    values.update(ledger.line_arrays(lines))
    rows = together(conn, [(LOCK_DEPARTMENT, {"department_id": department_id}),
                           (BOOK_REPORT_POSTGRESQL, values)])[-1]
    booking_id, same_at = rows[0][0], rows[0][1]
    if booking_id is None:
        if same_at is not None:
            return _time(session, same_at)
        existing = ledger.find_booking(session, key)
        assert existing is not None, "no booking made and none found: the unique key is the only conflict"
        raise Duplicate(existing)
    after = ledger.totals_of(rows)
    ledger.refuse_negative(ledger.changes_of(lines), after)
    return Booked(int(booking_id), tuple(lines), after)


def _book_report_sqlite(session: Session, values: dict[str, object], *, key: MessageKey, contact_id: int,
                        department_id: int, text: str, lines: Sequence[Line], now: dt.datetime,
                        since: dt.datetime) -> Booked | dt.datetime:
    conn = session.connection()
    rows = BOOK_REPORT_SQLITE.execute(conn, values)
    if not rows:  # a redelivery (Duplicate) or the same text again: BEFORE_REPORT tells which
        same_at = clear_for(session, key=key, contact_id=contact_id, department_id=department_id, text=text,
                            since=since)
        if same_at is not None:
            return same_at
        raise AssertionError("no booking made, yet neither a redelivery nor the same text")
    booking_id, proposal_open = int(rows[0][0]), bool(rows[0][1])
    if proposal_open:  # a new report drops the proposal waiting in this chat
        proposals.drop_open(session, key.transport, key.chat_id)
    changes = ledger.changes_of(lines)
    after = ledger.add_lines(conn, booking_id, department_id, now, lines, changes)
    ledger.refuse_negative(changes, after)
    return Booked(booking_id, tuple(lines), after)


def _values(key: MessageKey, contact_id: int, department_id: int, text: str, since: dt.datetime,
            ) -> dict[str, object]:
    return {"transport": key.transport, "chat_id": key.chat_id, "message_id": key.message_id,
            "contact_id": contact_id, "department_id": department_id, "since": since, "text": text}


def _time(session: Session, raw: object) -> dt.datetime:
    dialect = session.connection().dialect
    read = UTCDateTime().dialect_impl(dialect).result_processor(dialect, None)
    value = read(raw) if read is not None else raw
    assert isinstance(value, dt.datetime)
    return value

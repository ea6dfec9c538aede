"""Proposals: what a loosely read report would book, kept until the sender answers 确认 or 取消."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from decimal import Decimal

from sqlalchemy import bindparam, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from store.columns import UTCDateTime
from store.ledger import Line, MessageKey
from store.models import Proposal
from store.statements import Prepared

# Every exact report runs these two beside its booking (store/ledger.py): compiled once and run on the driver's
# cursor, as the booking's own statements are, since through the ORM they cost more than the booking itself.
DROP_OPEN = Prepared(text(
    "UPDATE proposals SET status = 'dropped' WHERE transport = :transport AND chat_id = :chat_id"
    " AND status = 'open'"
))
SAME_TEXT = Prepared(text(
    "SELECT booked_at FROM bookings WHERE contact_id = :contact_id AND transport = :transport"
    " AND chat_id = :chat_id AND booked_at >= :since AND kind IN ('report', 'correction') AND text = :text"
    " ORDER BY id DESC LIMIT 1"
).bindparams(bindparam("since", type_=UTCDateTime())))

TTL = dt.timedelta(minutes=10)  # a proposal not confirmed within this is dropped
SAME_TEXT_WINDOW = dt.timedelta(minutes=10)  # the same report again this soon is asked about, not booked


def encode(lines: Sequence[Line]) -> str:
    return json.dumps([[line.indicator, str(line.amount)] for line in lines], ensure_ascii=False)


def decode(raw: str) -> tuple[Line, ...]:
    return tuple(Line(str(key), Decimal(str(amount))) for key, amount in json.loads(raw))


def for_message(session: Session, key: MessageKey) -> Proposal | None:
    """The proposal a message made before: a redelivery shows it again instead of making another."""
    return session.scalar(select(Proposal).where(
        Proposal.transport == key.transport, Proposal.chat_id == key.chat_id, Proposal.message_id == key.message_id))


def latest(session: Session, transport: str, chat_id: str) -> Proposal | None:
    return session.scalar(
        select(Proposal).where(Proposal.transport == transport, Proposal.chat_id == chat_id)
        .order_by(Proposal.id.desc()).limit(1)
    )


def drop_open(session: Session, transport: str, chat_id: str) -> None:
    """A new report or 取消 drops whatever was waiting for 确认 in this chat."""
    DROP_OPEN.execute(session.connection(), {"transport": transport, "chat_id": chat_id})


def create(
    session: Session, *, key: MessageKey, contact_id: int, department_id: int, kind: str, text: str,
    lines: Sequence[Line], note: str, now: dt.datetime,
) -> Proposal | None:
    """Keep a new open proposal; None if this message already made one (a concurrent redelivery)."""
    proposal = Proposal(
        transport=key.transport, chat_id=key.chat_id, message_id=key.message_id, contact_id=contact_id,
        department_id=department_id, kind=kind, text=text, lines=encode(lines), note=note, created_at=now,
        expires_at=now + TTL, status="open",
    )
    try:
        with session.begin_nested():
            session.add(proposal)
            session.flush()
    except IntegrityError:
        return None
    return proposal


def booking_key(proposal: Proposal) -> MessageKey:
    """The ledger's unique key for booking this proposal: a second 确认 finds it taken."""
    return MessageKey(proposal.transport, proposal.chat_id, f"proposal:{proposal.id}")


def mark_booked(session: Session, proposal: Proposal, booking_id: int) -> None:
    proposal.status = "booked"
    proposal.booking_id = booking_id
    session.flush()


def recent_same_text(session: Session, contact_id: int, key: MessageKey, text: str, since: dt.datetime,
                     ) -> dt.datetime | None:
    """When the contact last booked a report or correction with exactly this text in this chat since a moment.

    In this chat: a person who got no answer sends again where they sent before. One contact may also
    speak through several accounts (tests and benchmarks bind many to one), each its own stream.
    """
    conn = session.connection()
    rows = SAME_TEXT.execute(conn, {"contact_id": contact_id, "transport": key.transport, "chat_id": key.chat_id,
                                    "since": since, "text": text})
    if not rows:
        return None
    read = UTCDateTime().dialect_impl(conn.dialect).result_processor(conn.dialect, None)
    value = read(rows[0][0]) if read is not None else rows[0][0]
    assert isinstance(value, dt.datetime)
    return value

"""Proposals: what a loosely read report would book, kept until the sender answers 确认 or 取消."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from decimal import Decimal

from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from store.ledger import Line, MessageKey
from store.models import Proposal
from store.statements import Prepared

# A report that finds a proposal waiting (store/checks.py) runs this beside its booking: compiled once and run on
# the driver's cursor, as the booking's own statements are, since through the ORM it cost more than the booking.
DROP_OPEN = Prepared(text(
    "UPDATE proposals SET status = 'dropped' WHERE transport = :transport AND chat_id = :chat_id"
    " AND status = 'open'"
))
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

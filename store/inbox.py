"""The inbox of a push transport: accept a message durably before answering, mark it when handled.

With WeCom the 200 answer is the acknowledgement: WeCom never sends that message again. Writing the
message first and marking it handled last gives at-least-once handling across a crash, and the
ledger's unique key turns that into exactly-once booking.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from store.models import InboxRow


@dataclass(frozen=True)
class Accepted:
    id: int
    chat_id: str
    sender_id: str
    message_id: str
    text: str
    received_at: dt.datetime | None = None  # when it was accepted: a late reply says that time


def accept(session: Session, *, transport: str, chat_id: str, sender_id: str, message_id: str, text: str,
           now: dt.datetime) -> int | None:
    """Keep the message; its row id, or None if it was accepted before (a retry)."""
    row = InboxRow(transport=transport, chat_id=chat_id, sender_id=sender_id, message_id=message_id, text=text,
                   received_at=now)
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        return None
    return row.id


def mark_handled(session: Session, row_id: int, now: dt.datetime) -> None:
    session.execute(update(InboxRow).where(InboxRow.id == row_id).values(handled_at=now))


def unhandled(session: Session, transport: str, received_before: dt.datetime) -> list[Accepted]:
    """Messages accepted before a moment and never marked handled, oldest first."""
    rows = session.scalars(
        select(InboxRow)
        .where(InboxRow.transport == transport, InboxRow.handled_at.is_(None), InboxRow.received_at < received_before)
        .order_by(InboxRow.id)
    )
    return [Accepted(r.id, r.chat_id, r.sender_id, r.message_id, r.text, r.received_at) for r in rows]

"""The outbox: messages the bot starts itself, each claimed once under a unique key.

A reminder is claimed by inserting its row (key = reminder id + recipient) before it is sent, so
a restart, a second instance on the same database or a retry never sends it twice. Senders take
rows with a conditional UPDATE (pending -> sending), so two instances never send the same row.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from store.models import OutboxRow

MAX_ATTEMPTS = 5


@dataclass(frozen=True)
class Outgoing:
    id: int
    key: str
    transport: str
    chat_id: str
    text: str
    attempts: int


def enqueue(
    session: Session, *, key: str, contact_id: int | None, transport: str, chat_id: str, text: str,
    now: dt.datetime, not_before: dt.datetime | None = None, expires_at: dt.datetime | None = None,
) -> bool:
    """Claim and queue one message; False if this key was claimed before."""
    row = OutboxRow(key=key, contact_id=contact_id, transport=transport, chat_id=chat_id, text=text, created_at=now,
                    not_before=not_before or now, expires_at=expires_at, status="pending", attempts=0, last_error="")
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        return False
    return True


def claim_due(session: Session, now: dt.datetime, transports: set[str], limit: int = 50) -> list[Outgoing]:
    """Take due rows for the given transports; each row is taken by exactly one sender."""
    expired = session.scalars(
        select(OutboxRow.id).where(OutboxRow.status == "pending", OutboxRow.expires_at < now)
    ).all()
    if expired:
        session.execute(update(OutboxRow).where(OutboxRow.id.in_(expired)).values(status="expired"))
    candidates = session.scalars(
        select(OutboxRow)
        .where(OutboxRow.status == "pending", OutboxRow.not_before <= now, OutboxRow.transport.in_(transports))
        .order_by(OutboxRow.not_before, OutboxRow.id)
        .limit(limit)
    ).all()
    taken: list[Outgoing] = []
    for row in candidates:
        result = session.execute(
            update(OutboxRow)
            .where(OutboxRow.id == row.id, OutboxRow.status == "pending")
            .values(status="sending", attempts=OutboxRow.attempts + 1)
            .execution_options(synchronize_session=False)
        )
        if getattr(result, "rowcount", 0) == 1:
            taken.append(Outgoing(row.id, row.key, row.transport, row.chat_id, row.text, row.attempts + 1))
    return taken


def mark_sent(session: Session, row_id: int, now: dt.datetime) -> None:
    session.execute(update(OutboxRow).where(OutboxRow.id == row_id).values(status="sent", sent_at=now))


def mark_failed(session: Session, item: Outgoing, now: dt.datetime, error: str) -> bool:
    """Put a failed row back with exponential backoff; True if it will be retried."""
    retry = item.attempts < MAX_ATTEMPTS
    delay = dt.timedelta(seconds=30 * 2 ** (item.attempts - 1))
    session.execute(
        update(OutboxRow)
        .where(OutboxRow.id == item.id)
        .values(status="pending" if retry else "failed", not_before=now + delay, last_error=error[:500])
    )
    return retry


def sent_keys(session: Session, prefix: str = "") -> list[str]:
    """Keys of rows that went out, for checks and tests."""
    query = select(OutboxRow.key).where(OutboxRow.status == "sent")
    if prefix:
        query = query.where(OutboxRow.key.startswith(prefix))
    return list(session.scalars(query.order_by(OutboxRow.id)))

"""The outbox: messages the bot starts itself, each claimed once under a unique key.

A reminder is claimed by inserting its row (key = reminder id + recipient) before it is sent, so
a restart, a second instance on the same database or a retry never sends it twice. Senders take
a few rows at a time with a conditional UPDATE (pending -> sending, with a lease), so two instances never send
the same row, and a row whose sender died is taken again once its lease has run out.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass

from sqlalchemy import and_, or_, select, update
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
    contact_id: int | None = None
    lease_until: dt.datetime | None = None  # the claim this sender holds (None: not claimed)


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


CLAIM_BATCH = 5  # rows taken per claim: a crash strands at most these until their lease runs out
LEASE = dt.timedelta(minutes=5)  # how long a claim holds: far longer than one send with its retries


def claim_due(session: Session, now: dt.datetime, transports: set[str], limit: int = CLAIM_BATCH,
              lease: dt.timedelta = LEASE) -> list[Outgoing]:
    """Take a few due rows for the given transports; each row is taken by exactly one sender.

    A row is due when pending and past not_before, or when an earlier claim's lease ran out (that sender
    crashed or hung): then it is taken again. The claim is a conditional UPDATE on the row's status and
    lease as read, so of two instances racing for a row exactly one wins it.
    """
    due = or_(
        and_(OutboxRow.status == "pending", OutboxRow.not_before <= now),
        and_(OutboxRow.status == "sending", OutboxRow.lease_until < now),
    )
    fresh = or_(OutboxRow.expires_at.is_(None), OutboxRow.expires_at > now)  # stale ones: expire_stale() drops them
    candidates = session.scalars(
        select(OutboxRow).where(due, fresh, OutboxRow.transport.in_(transports))
        .order_by(OutboxRow.not_before, OutboxRow.id).limit(limit)
    ).all()
    taken: list[Outgoing] = []
    for row in candidates:
        same = OutboxRow.lease_until.is_(None) if row.lease_until is None else OutboxRow.lease_until == row.lease_until
        result = session.execute(
            update(OutboxRow)
            .where(OutboxRow.id == row.id, OutboxRow.status == row.status, same)
            .values(status="sending", attempts=OutboxRow.attempts + 1, lease_until=now + lease)
            .execution_options(synchronize_session=False)
        )
        if getattr(result, "rowcount", 0) == 1:
            taken.append(Outgoing(row.id, row.key, row.transport, row.chat_id, row.text, row.attempts + 1,
                                  row.contact_id, now + lease))
    return taken


def renew(session: Session, item: Outgoing, until: dt.datetime) -> Outgoing | None:
    """Extend the claim on one row just before it is sent; None when its lease ran out and another sender took it.

    A claim covers a few rows sent one after another: each one gets a fresh lease of its own before its send, so
    a slow send of an earlier row never lets another instance take (and send again) a later one.
    """
    held = OutboxRow.lease_until.is_(None) if item.lease_until is None else OutboxRow.lease_until == item.lease_until
    result = session.execute(
        update(OutboxRow).where(OutboxRow.id == item.id, OutboxRow.status == "sending", held)
        .values(lease_until=until).execution_options(synchronize_session=False)
    )
    return dataclasses.replace(item, lease_until=until) if getattr(result, "rowcount", 0) == 1 else None


def expire_stale(session: Session, now: dt.datetime) -> list[Outgoing]:
    """Drop rows past their expiry that are not out (a claim in hand is left to its sender); return them, so
    that the caller can report what was dropped: a stale message is never sent."""
    rows = session.scalars(
        select(OutboxRow).where(OutboxRow.status.in_(("pending", "sending")), OutboxRow.expires_at < now,
                                or_(OutboxRow.status == "pending", OutboxRow.lease_until < now))
    ).all()
    if rows:
        session.execute(update(OutboxRow).where(OutboxRow.id.in_([r.id for r in rows])).values(status="expired"))
    return [Outgoing(r.id, r.key, r.transport, r.chat_id, r.text, r.attempts, r.contact_id) for r in rows]


def mark_sent(session: Session, row_id: int, now: dt.datetime) -> None:
    session.execute(update(OutboxRow).where(OutboxRow.id == row_id)
                    .values(status="sent", sent_at=now, lease_until=None))


def mark_refused(session: Session, row_id: int, now: dt.datetime, error: str) -> None:
    """The platform refuses this recipient for good: never tried again."""
    session.execute(update(OutboxRow).where(OutboxRow.id == row_id)
                    .values(status="failed", lease_until=None, last_error=error[:500]))


def mark_failed(session: Session, item: Outgoing, now: dt.datetime, error: str) -> bool:
    """Put a failed row back with exponential backoff; True if it will be retried."""
    retry = item.attempts < MAX_ATTEMPTS
    delay = dt.timedelta(seconds=30 * 2 ** (item.attempts - 1))
    session.execute(
        update(OutboxRow)
        .where(OutboxRow.id == item.id)
        .values(status="pending" if retry else "failed", not_before=now + delay, last_error=error[:500],
                lease_until=None)
    )
    return retry


def sent_keys(session: Session, prefix: str = "") -> list[str]:
    """Keys of rows that went out, for checks and tests."""
    query = select(OutboxRow.key).where(OutboxRow.status == "sent")
    if prefix:
        query = query.where(OutboxRow.key.startswith(prefix))
    return list(session.scalars(query.order_by(OutboxRow.id)))

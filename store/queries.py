"""Read-only questions about the ledger: recent history, audit trail, who has reported."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from store.models import Booking, ContactRow, DepartmentRow, Entry


@dataclass(frozen=True)
class HistoryItem:
    booking_id: int
    booked_at: dt.datetime
    contact: str
    department: str  # department key
    kind: str
    lines: tuple[tuple[str, Decimal], ...]
    text: str


def history(session: Session, department_id: int | None = None, limit: int = 10) -> list[HistoryItem]:
    """The newest bookings, newest first, with who booked them and what."""
    query = (
        select(Booking, ContactRow.name, DepartmentRow.key)
        .join(ContactRow, ContactRow.id == Booking.contact_id)
        .join(DepartmentRow, DepartmentRow.id == Booking.department_id)
        .order_by(Booking.id.desc())
        .limit(limit)
    )
    if department_id is not None:
        query = query.where(Booking.department_id == department_id)
    found = session.execute(query).all()
    ids = [b.id for b, _, _ in found]
    lines: dict[int, list[tuple[str, Decimal]]] = {i: [] for i in ids}
    if ids:
        for booking_id, indicator, amount in session.execute(
            select(Entry.booking_id, Entry.indicator, Entry.amount).where(Entry.booking_id.in_(ids)).order_by(Entry.id)
        ):
            lines[booking_id].append((indicator, amount))
    return [
        HistoryItem(b.id, b.booked_at, name, key, b.kind, tuple(lines[b.id]), b.text) for b, name, key in found
    ]


@dataclass(frozen=True)
class AuditEntry:
    booked_at: dt.datetime
    department: str  # department key
    contact: str
    indicator: str
    amount: Decimal
    text: str


def audit(
    session: Session, department_ids: list[int] | None = None, as_of: dt.datetime | None = None
) -> Iterator[AuditEntry]:
    """Every ledger entry in booking order, streamed so a large ledger is never held in memory."""
    query = (
        select(Entry.booked_at, DepartmentRow.key, ContactRow.name, Entry.indicator, Entry.amount, Booking.text)
        .join(Booking, Booking.id == Entry.booking_id)
        .join(ContactRow, ContactRow.id == Booking.contact_id)
        .join(DepartmentRow, DepartmentRow.id == Entry.department_id)
        .order_by(Entry.id)
        .execution_options(yield_per=2000)
    )
    if department_ids is not None:
        query = query.where(Entry.department_id.in_(department_ids))
    if as_of is not None:
        query = query.where(Entry.booked_at <= as_of)
    for row in session.execute(query):
        yield AuditEntry(*row)


def last_bookings(session: Session, since: dt.datetime | None = None) -> dict[int, dt.datetime]:
    """Department id -> time of its newest booking (after `since`, if given)."""
    # One index lookup per department (ix_bookings_department_time), not a GROUP BY over every booking:
    # with a year of bookings the scan alone took longer than the whole 汇总 may.
    newest = select(func.max(Booking.booked_at)).where(Booking.department_id == DepartmentRow.id)
    if since is not None:
        newest = newest.where(Booking.booked_at > since)
    query = select(DepartmentRow.id, newest.scalar_subquery())
    return {dep: when for dep, when in session.execute(query) if when is not None}

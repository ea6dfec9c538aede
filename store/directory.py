"""Departments, contacts and chat bindings: seeded from config, then kept in the database."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from campaign import Campaign
from campaign.phones import normalize_phone
from store.models import Binding, ContactRow, DepartmentRow


@dataclass(frozen=True)
class Person:
    """A contact as handlers see it: plain values, no session attached."""

    id: int
    name: str
    department_id: int
    department: str  # department key
    section: str
    mobile: str
    office: str
    fax: str
    email: str
    role: str
    active: bool
    wecom_userid: str | None = None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def is_county_admin(self) -> bool:
        """A county market regulation contact who oversees the county's departments (campaign.scopes)."""
        return self.role == "county_admin"


def _person(row: ContactRow, department_key: str) -> Person:
    return Person(
        id=row.id, name=row.name, department_id=row.department_id, department=department_key,
        section=row.section, mobile=row.mobile, office=row.office, fax=row.fax, email=row.email, role=row.role,
        active=row.active, wecom_userid=row.wecom_userid,
    )


def sync_campaign(session: Session, campaign: Campaign, now: dt.datetime) -> None:
    """Make the departments match config and add config contacts the database has never seen.

    Contacts that admins changed or removed in chat keep those changes: the database wins.
    """
    rows = {row.key: row for row in session.scalars(select(DepartmentRow))}
    for dep in campaign.departments:
        row = rows.get(dep.key)
        if row is None:
            row = DepartmentRow(key=dep.key)
            session.add(row)
            rows[dep.key] = row
        row.name, row.short, row.group_name, row.county = dep.name, dep.short, dep.group, dep.county
    session.flush()
    for dep in campaign.departments:
        rows[dep.key].parent_id = rows[dep.parent].id if dep.parent else None
    known = {(c.department_id, c.name) for c in session.scalars(select(ContactRow))}
    for contact in campaign.contacts:
        dep_id = rows[contact.department].id
        if (dep_id, contact.name) in known:
            continue
        session.add(ContactRow(
            name=contact.name, department_id=dep_id, section=contact.section, mobile=contact.mobile,
            office=contact.office, fax=contact.fax, email=contact.email, role=contact.role,
            wecom_userid=contact.wecom_userid or None, active=True, origin="config", updated_at=now,
        ))
    session.flush()


def department_ids(session: Session) -> dict[str, int]:
    return {key: id_ for key, id_ in session.execute(select(DepartmentRow.key, DepartmentRow.id))}


def people(session: Session, *, include_inactive: bool = False) -> list[Person]:
    query = select(ContactRow, DepartmentRow.key).join(DepartmentRow).order_by(DepartmentRow.id, ContactRow.id)
    if not include_inactive:
        query = query.where(ContactRow.active.is_(True))
    return [_person(row, key) for row, key in session.execute(query)]


def person(session: Session, contact_id: int) -> Person | None:
    found = session.execute(
        select(ContactRow, DepartmentRow.key).join(DepartmentRow).where(ContactRow.id == contact_id)
    ).first()
    return _person(*found) if found else None


def find_people(session: Session, name: str) -> list[Person]:
    """Active contacts with exactly this name (two departments may share a name)."""
    return [p for p in people(session) if p.name == name.strip()]


def people_by_mobile(session: Session, phone: str) -> list[Person]:
    wanted = normalize_phone(phone)
    if not wanted:
        return []
    return [p for p in people(session) if p.mobile == wanted]


def person_by_wecom(session: Session, userid: str) -> Person | None:
    found = session.execute(
        select(ContactRow, DepartmentRow.key).join(DepartmentRow)
        .where(ContactRow.wecom_userid == userid, ContactRow.active.is_(True))
    ).first()
    return _person(*found) if found else None


def bound_person(session: Session, transport: str, user_id: str) -> Person | None:
    """The active contact this messaging account speaks for, if any."""
    # One query: this runs before every message is answered.
    found = session.execute(
        select(ContactRow, DepartmentRow.key).join(DepartmentRow)
        .join(Binding, Binding.contact_id == ContactRow.id)
        .where(Binding.transport == transport, Binding.user_id == user_id)
    ).first()
    if found is None:
        return None
    bound = _person(*found)
    return bound if bound.active else None


def bind(session: Session, *, transport: str, user_id: str, chat_id: str, contact_id: int, now: dt.datetime) -> None:
    """Bind a messaging account to a contact, replacing an earlier binding of that account."""
    query = select(Binding).where(Binding.transport == transport, Binding.user_id == user_id)
    row = session.scalar(query)
    if row is None:
        try:
            # Two first messages of one user may arrive at two instances at once: the unique key lets one
            # insert, and the other updates the row it finds, instead of failing the user's message.
            with session.begin_nested():
                session.add(Binding(transport=transport, user_id=user_id, chat_id=chat_id, contact_id=contact_id,
                                    bound_at=now))
                session.flush()
            return
        except IntegrityError:
            row = session.scalars(query).one()
    row.chat_id, row.contact_id, row.bound_at = chat_id, contact_id, now
    session.flush()


def chats_of(session: Session, contact_id: int) -> list[tuple[str, str]]:
    """(transport, chat id) pairs where this contact can be reached."""
    rows = session.execute(
        select(Binding.transport, Binding.chat_id).where(Binding.contact_id == contact_id).order_by(Binding.id)
    )
    return [(t, c) for t, c in rows]


def save_contact(
    session: Session, *, department_id: int, name: str, now: dt.datetime, origin: str = "chat", **fields: str
) -> tuple[Person, bool]:
    """Add a contact, or change and reactivate the one of that name; return it and whether it is new."""
    row = session.scalar(
        select(ContactRow).where(ContactRow.department_id == department_id, ContactRow.name == name)
    )
    created = row is None
    if row is None:
        row = ContactRow(name=name, department_id=department_id, section="", mobile="", office="", fax="",
                         email="", role="member", origin=origin)
        session.add(row)
    for field, value in fields.items():
        if field == "mobile":
            value = normalize_phone(value)
        if field == "wecom_userid":
            row.wecom_userid = value or None
            continue
        setattr(row, field, value)
    row.active, row.updated_at = True, now
    session.flush()
    key = session.scalar(select(DepartmentRow.key).where(DepartmentRow.id == department_id)) or ""
    return _person(row, key), created


def deactivate_contact(session: Session, contact_id: int, now: dt.datetime) -> None:
    """Remove a contact from service; their past bookings stay in the ledger under their name."""
    row = session.get(ContactRow, contact_id)
    if row is not None:
        row.active, row.updated_at = False, now
        session.flush()

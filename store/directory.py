"""Departments, contacts and chat identities: seeded from config, then kept in the database.

A chat identity (table `identities`) says which account on which transport speaks for a contact. It is
made when an account proves who it is (a shared phone card, a binding code, the console), or in advance
for transports whose enterprise directory vouches for its userids (WeCom, DingTalk: config, an admin's
修改联系人, the lookup by mobile). External ids are compared case-folded: directory userids are.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from campaign import Campaign
from campaign.phones import normalize_phone
from store.errors import AccountTaken
from store.models import ContactRow, DepartmentRow, Identity

log = logging.getLogger(__name__)

# Contact fields that are really chat identities on a directory transport.
DIRECTORY_FIELDS = {"wecom_userid": "wecom", "dingtalk_userid": "dingtalk"}


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
        active=row.active,
    )


def sync_campaign(session: Session, campaign: Campaign, now: dt.datetime) -> None:
    """Make the departments match config and add config contacts the database has never seen.

    Contacts that admins changed or removed in chat keep those changes: the database wins. A directory userid
    that config gave and config now changes follows config (_follow_config_ids).
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
    known = {(c.department_id, c.name): c.id for c in session.scalars(select(ContactRow))}
    for contact in campaign.contacts:
        dep_id = rows[contact.department].id
        if (dep_id, contact.name) in known:
            _follow_config_ids(session, known[(dep_id, contact.name)], contact.directory_ids(), now)
            continue
        new = ContactRow(
            name=contact.name, department_id=dep_id, section=contact.section, mobile=contact.mobile,
            office=contact.office, fax=contact.fax, email=contact.email, role=contact.role,
            active=True, origin="config", updated_at=now,
        )
        session.add(new)
        session.flush()
        for transport, userid in contact.directory_ids().items():
            set_directory_id(session, new.id, transport, userid, now, source="config")
    session.flush()


def _follow_config_ids(session: Session, contact_id: int, wanted: dict[str, str], now: dt.datetime) -> None:
    """A userid config.toml gives replaces the one config gave before; one an admin, the directory lookup or a
    first message set stays (the database wins, as for the other fields)."""
    for transport, userid in wanted.items():
        rows = list(session.scalars(select(Identity).where(Identity.contact_id == contact_id,
                                                           Identity.transport == transport)))
        if any(row.external_id == external_key(userid) for row in rows) or any(r.source != "config" for r in rows):
            continue
        try:
            set_directory_id(session, contact_id, transport, userid, now, source="config")
        except AccountTaken as exc:  # config names a colleague's account: start anyway, and say so
            log.warning("config.toml gives contact %d the %s account %s, which is contact %d's: not changed",
                        contact_id, transport, exc.userid, exc.holder_id)


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


def external_key(external_id: str) -> str:
    """How an account id is compared: case-folded, since directory userids compare case-insensitively."""
    return external_id.strip().lower()


def bound_person(session: Session, transport: str, sender_id: str) -> Person | None:
    """The active contact this messaging account speaks for, if any."""
    # One query: this runs before every message is answered.
    found = session.execute(
        select(ContactRow, DepartmentRow.key).join(DepartmentRow)
        .join(Identity, Identity.contact_id == ContactRow.id)
        .where(Identity.transport == transport, Identity.external_id == external_key(sender_id))
    ).first()
    if found is None:
        return None
    bound = _person(*found)
    return bound if bound.active else None


def bind(session: Session, *, transport: str, user_id: str, chat_id: str, contact_id: int, now: dt.datetime,
         source: str = "chat") -> None:
    """Bind a messaging account to a contact, replacing an earlier binding of that account."""
    key = external_key(user_id)
    query = select(Identity).where(Identity.transport == transport, Identity.external_id == key)
    row = session.scalar(query)
    if row is None:
        try:
            # Two first messages of one user may arrive at two instances at once: the unique key lets one
            # insert, and the other updates the row it finds, instead of failing the user's message.
            with session.begin_nested():
                session.add(Identity(transport=transport, external_id=key, chat_id=chat_id, contact_id=contact_id,
                                     source=source, bound_at=now))
                session.flush()
            return
        except IntegrityError:
            row = session.scalars(query).one()
    row.chat_id, row.contact_id, row.bound_at, row.source = chat_id, contact_id, now, source
    session.flush()


def set_directory_id(session: Session, contact_id: int, transport: str, userid: str, now: dt.datetime,
                     source: str = "admin") -> None:
    """Make `userid` the contact's one account on a directory transport (WeCom, DingTalk); "" removes it.

    Raises AccountTaken when the account is another contact's: a typo must not take a colleague's account.
    """
    if userid.strip():
        holder = session.scalar(select(Identity.contact_id).where(Identity.transport == transport,
                                                                  Identity.external_id == external_key(userid)))
        if holder is not None and holder != contact_id:
            raise AccountTaken(userid.strip(), holder)
    for row in session.scalars(select(Identity).where(Identity.contact_id == contact_id,
                                                      Identity.transport == transport)):
        if row.external_id != external_key(userid):
            session.delete(row)
    session.flush()
    if userid.strip():
        bind(session, transport=transport, user_id=userid, chat_id=userid.strip(), contact_id=contact_id, now=now,
             source=source)


def directory_ids(session: Session, transport: str) -> dict[int, str]:
    """contact id -> the chat id of their account on one transport (the newest, if several)."""
    rows = session.execute(select(Identity.contact_id, Identity.chat_id).where(Identity.transport == transport)
                           .order_by(Identity.id))
    return {contact_id: chat_id for contact_id, chat_id in rows}


def chats_of(session: Session, contact_id: int) -> list[tuple[str, str]]:
    """(transport, chat id) pairs where this contact can be reached, oldest first."""
    rows = session.execute(
        select(Identity.transport, Identity.chat_id).where(Identity.contact_id == contact_id)
        .order_by(Identity.bound_at, Identity.id)
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
        if field in DIRECTORY_FIELDS:
            continue
        setattr(row, field, value)
    row.active, row.updated_at = True, now
    session.flush()
    for field, transport in DIRECTORY_FIELDS.items():
        if field in fields:
            set_directory_id(session, row.id, transport, fields[field], now)
    key = session.scalar(select(DepartmentRow.key).where(DepartmentRow.id == department_id)) or ""
    return _person(row, key), created


def deactivate_contact(session: Session, contact_id: int, now: dt.datetime) -> None:
    """Remove a contact from service; their past bookings stay in the ledger under their name."""
    row = session.get(ContactRow, contact_id)
    if row is not None:
        row.active, row.updated_at = False, now
        session.flush()

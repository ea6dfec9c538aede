"""Sign-in to the desk without passwords: a single-use link from the chat opens a browser session.

Only SHA-256 hashes of the link token and of the session id are stored, so a copy of the database opens
nothing. A link is spent by a conditional UPDATE (used_at IS NULL), so two clicks never make two sessions.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from store import directory
from store.directory import Person
from store.material_models import DeskLink, DeskSession

LINK_TTL = dt.timedelta(minutes=15)
SESSION_TTL = dt.timedelta(hours=12)


@dataclass(frozen=True)
class Signed:
    person: Person
    csrf: str


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_link(session: Session, contact_id: int, now: dt.datetime, ttl: dt.timedelta = LINK_TTL) -> str:
    """A new sign-in token for this contact (the link's last part)."""
    token = secrets.token_urlsafe(24)
    session.add(DeskLink(token_hash=_hash(token), contact_id=contact_id, created_at=now, expires_at=now + ttl))
    session.flush()
    return token


def redeem_link(session: Session, token: str, now: dt.datetime) -> tuple[str, str] | None:
    """Spend a link: (session id for the cookie, csrf token), or None if unknown, expired or used."""
    row = session.scalar(select(DeskLink).where(DeskLink.token_hash == _hash(token)))
    if row is None or row.used_at is not None or row.expires_at <= now:
        return None
    taken = session.execute(update(DeskLink).where(DeskLink.id == row.id, DeskLink.used_at.is_(None))
                            .values(used_at=now).execution_options(synchronize_session=False))
    if _rowcount(taken) != 1:
        return None
    person = directory.person(session, row.contact_id)
    if person is None or not person.active:
        return None
    return open_session(session, row.contact_id, now)


def open_session(session: Session, contact_id: int, now: dt.datetime) -> tuple[str, str]:
    """A new browser session for a contact (after a link, or after the platform's OAuth vouched for them)."""
    sid, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
    session.add(DeskSession(id_hash=_hash(sid), contact_id=contact_id, csrf=csrf, created_at=now,
                            expires_at=now + SESSION_TTL))
    session.execute(delete(DeskSession).where(DeskSession.expires_at < now))
    session.flush()
    return sid, csrf


def signed_in(session: Session, sid: str, now: dt.datetime) -> Signed | None:
    """Who this session cookie belongs to, if it is valid and the contact is still on the list."""
    if not sid:
        return None
    row = session.scalar(select(DeskSession).where(DeskSession.id_hash == _hash(sid)))
    if row is None or row.expires_at <= now:
        return None
    person = directory.person(session, row.contact_id)
    if person is None or not person.active:
        return None
    return Signed(person, row.csrf)


def sign_out(session: Session, sid: str) -> None:
    session.execute(delete(DeskSession).where(DeskSession.id_hash == _hash(sid)))


def _rowcount(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)

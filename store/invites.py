"""Binding codes: an admin makes a one-time code for a contact; a stranger who sends it is bound to that contact.

A code is 8 characters from a 31-letter alphabet without look-alikes (0/O, 1/I/L), so it is easy to read out
and type on a phone: 31^8 ≈ 8.5·10^11 codes. With at most MAX_WRONG wrong guesses per account per hour,
guessing a live code is hopeless; and with more than GLOBAL_MAX_WRONG wrong codes from all accounts
together within the hour (many accounts guessing), redemption pauses for everyone and the admins are told.
Only an HMAC-SHA-256 of a code, keyed with the server secret (store/secret.py: BOT_SECRET), is stored, so
neither the database nor a backup of it lets anyone find a code; a code is used at most once (a conditional
UPDATE decides) and expires. Codes made before the HMAC (hashing "sha256") still work until they expire.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
import re
import secrets
import unicodedata
from dataclasses import dataclass
from typing import Any, Literal, cast

from sqlalchemy import CursorResult, and_, delete, func, or_, select, update
from sqlalchemy.orm import Session

from store.models import Invite, InviteAttempt
from store.secret import server_secret

ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 8
DEFAULT_TTL = dt.timedelta(hours=72)
MAX_WRONG = 5
GLOBAL_MAX_WRONG = 50  # wrong codes from all accounts together per WRONG_WINDOW: then nobody may redeem
WRONG_WINDOW = dt.timedelta(hours=1)
# What a user might type: letters and digits, with spaces or dashes between the two halves.
_TYPED = re.compile(r"^[A-Z0-9]{8}$")

Status = Literal["ok", "wrong", "expired", "used", "limited", "paused"]


@dataclass(frozen=True)
class Issued:
    code: str  # the plain code: shown once, never stored
    expires_at: dt.datetime
    revoked: int  # earlier unused codes of the same contact that this one replaced


@dataclass(frozen=True)
class Redeemed:
    status: Status
    contact_id: int | None = None  # set when status == "ok"
    retry_at: dt.datetime | None = None  # set when status == "limited"


def canonical(text: str) -> str | None:
    """The code a message spells, in upper case without separators; None if it cannot be a code."""
    squeezed = re.sub(r"[\s\-_]", "", unicodedata.normalize("NFKC", text)).upper()
    return squeezed if _TYPED.match(squeezed) else None


def display(code: str) -> str:
    """ABCD-EFGH: two halves are easier to read out and copy."""
    return f"{code[:4]}-{code[4:]}"


@functools.cache
def _key() -> bytes:
    return server_secret()


def code_hash(code: str, key: bytes | None = None) -> str:
    """HMAC-SHA-256 of the code under the server secret, hex (64 characters, as the column holds)."""
    return hmac.new(key if key is not None else _key(), code.encode("ascii"), hashlib.sha256).hexdigest()


def legacy_hash(code: str) -> str:
    """The bare SHA-256 that codes made before the HMAC were stored as."""
    return hashlib.sha256(code.encode("ascii")).hexdigest()


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def issue(
    session: Session, *, contact_id: int, now: dt.datetime, created_by: int | None = None,
    ttl: dt.timedelta = DEFAULT_TTL,
) -> Issued:
    """Make a new code for a contact and revoke their earlier unused ones: one live code per contact."""
    revoked = _rowcount(session.execute(
        update(Invite)
        .where(Invite.contact_id == contact_id, Invite.used_at.is_(None), Invite.revoked_at.is_(None),
               Invite.expires_at > now)
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    ))
    code = new_code()
    expires_at = now + ttl
    session.add(Invite(code_hash=code_hash(code), hashing="hmac", contact_id=contact_id, created_by=created_by,
                       created_at=now, expires_at=expires_at))
    session.flush()
    return Issued(code, expires_at, revoked)


def redeem(session: Session, *, code: str, transport: str, user_id: str, now: dt.datetime) -> Redeemed:
    """Use a code once for this account, or say why not. Every failure counts as a wrong guess."""
    retry_at = limited_until(session, transport, user_id, now)
    if retry_at is not None:
        # Refused without looking at the code: otherwise guessing would go on behind the refusal.
        return Redeemed("limited", retry_at=retry_at)
    paused = paused_until(session, now)
    if paused is not None:
        return Redeemed("paused", retry_at=paused)
    matches = or_(and_(Invite.hashing == "hmac", Invite.code_hash == code_hash(code)),
                  and_(Invite.hashing == "sha256", Invite.code_hash == legacy_hash(code)))
    # The WHERE clause decides atomically: of two accounts sending the same code at once, one wins.
    won = _rowcount(session.execute(
        update(Invite)
        .where(matches, Invite.used_at.is_(None), Invite.revoked_at.is_(None), Invite.expires_at > now)
        .values(used_at=now, used_by=f"{transport}:{user_id}")
        .execution_options(synchronize_session=False)
    ))
    row = session.scalar(select(Invite).where(matches))
    if won == 1 and row is not None:
        return Redeemed("ok", contact_id=row.contact_id)
    _record_wrong(session, transport, user_id, now)
    if row is None or row.revoked_at is not None:
        return Redeemed("wrong")
    return Redeemed("used" if row.used_at is not None else "expired")


def limited_until(session: Session, transport: str, user_id: str, now: dt.datetime) -> dt.datetime | None:
    """When this account may guess again, if it used up its wrong guesses of the last hour."""
    since = now - WRONG_WINDOW
    count, oldest = session.execute(
        select(func.count(InviteAttempt.id), func.min(InviteAttempt.attempted_at)).where(
            InviteAttempt.transport == transport, InviteAttempt.user_id == user_id,
            InviteAttempt.attempted_at > since,
        )
    ).one()
    if count < MAX_WRONG or oldest is None:
        return None
    return cast(dt.datetime, oldest) + WRONG_WINDOW  # min() keeps the column type: an aware UTC time


def paused_until(session: Session, now: dt.datetime) -> dt.datetime | None:
    """When redemption resumes, if all accounts together sent GLOBAL_MAX_WRONG wrong codes in the last hour."""
    count, oldest = session.execute(
        select(func.count(InviteAttempt.id), func.min(InviteAttempt.attempted_at))
        .where(InviteAttempt.attempted_at > now - WRONG_WINDOW)
    ).one()
    if count < GLOBAL_MAX_WRONG or oldest is None:
        return None
    return cast(dt.datetime, oldest) + WRONG_WINDOW


def _record_wrong(session: Session, transport: str, user_id: str, now: dt.datetime) -> None:
    # Old guesses no longer count, so they are dropped: the table stays small.
    session.execute(
        delete(InviteAttempt)
        .where(InviteAttempt.attempted_at <= now - WRONG_WINDOW)
        .execution_options(synchronize_session=False)
    )
    session.add(InviteAttempt(transport=transport, user_id=user_id, attempted_at=now))
    session.flush()


def _rowcount(result: Any) -> int:
    return cast(CursorResult[Any], result).rowcount

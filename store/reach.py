"""Chats the platforms refuse for good: a member who blocked the bot, a userid outside the app's visible range.

Marked when a send is refused permanently (bot/delivery.py), cleared when a send to the chat gets through again.
进度 lists them; broadcasts (通知) and 催报 skip them, while deadline reminders keep trying (the first one
through clears the mark).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from store.models import UnreachableChat


def mark(session: Session, *, transport: str, chat_id: str, contact_id: int | None, reason: str,
         now: dt.datetime) -> bool:
    """Record a refused chat; False if it was recorded before (the admins were told then)."""
    row = UnreachableChat(transport=transport, chat_id=chat_id, contact_id=contact_id, reason=reason[:500], since=now)
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        return False
    return True


def clear(session: Session, transport: str, chat_id: str) -> None:
    session.execute(delete(UnreachableChat).where(UnreachableChat.transport == transport,
                                                  UnreachableChat.chat_id == chat_id))


def refused(session: Session) -> list[tuple[str, str, int | None]]:
    """(transport, chat id, contact id) of every refused chat, oldest first."""
    rows = session.scalars(select(UnreachableChat).order_by(UnreachableChat.since))
    return [(r.transport, r.chat_id, r.contact_id) for r in rows]


def is_refused(session: Session, transport: str, chat_id: str) -> bool:
    return session.get(UnreachableChat, (transport, chat_id)) is not None

"""Test doubles for the whole bot: a settable clock and a chat that talks to the real core."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from bot.app import App
from handlers.messages import Capabilities, Incoming, Reply
from store import directory, ledger
from store.models import Booking

SHANGHAI = ZoneInfo("Asia/Shanghai")


class FakeClock:
    """A clock the test moves by hand; always aware."""

    def __init__(self, start: dt.datetime | None = None) -> None:
        self.now = start or dt.datetime(2023, 8, 15, 10, 0, tzinfo=SHANGHAI)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


_ids = itertools.count(1)
# What the Telegram transport declares: a contact card and buttons (bot/telegram.py CAPS).
TELEGRAM_CAPS = Capabilities(contact_card=True, buttons=True, receive_files=True, send_files=True)


class Chat:
    """One contact's private chat with the core, over a test transport."""

    def __init__(self, app: App, name: str, transport: str = "test") -> None:
        self.app = app
        self.transport = transport
        with app.db.session() as s:
            found = [p for p in directory.people(s) if p.name == name]
            assert len(found) == 1, f"no single contact {name}"
            self.person = found[0]
            self.user = f"user-{self.person.id}"
            directory.bind(s, transport=transport, user_id=self.user, chat_id=self.user, contact_id=self.person.id,
                           now=app.now())

    def message(self, text: str, message_id: str | None = None) -> Incoming:
        return Incoming(self.transport, self.user, self.user, message_id or f"m{next(_ids)}", text,
                        caps=TELEGRAM_CAPS)

    def send(self, text: str, message_id: str | None = None) -> list[Reply]:
        return self.app.core.handle(self.message(text, message_id))

    def say(self, text: str, message_id: str | None = None) -> str:
        """Send a message and return all reply texts joined by newlines."""
        return "\n".join(r.text for r in self.send(text, message_id))


def booked_sum(app: App) -> Decimal:
    """Every maintained total added up: what all bookings so far came to."""
    with app.db.read() as s:
        return sum(ledger.totals(s).values(), Decimal(0))


def booking_count(app: App) -> int:
    with app.db.read() as s:
        return s.scalar(select(func.count(Booking.id))) or 0

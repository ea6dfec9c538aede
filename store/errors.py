"""What the store raises. Handlers turn each into a short Chinese reply.

StoreError
├── StoreUnavailable   the database cannot be reached now: nothing was booked, try again
├── Duplicate          this message was booked before: nothing more was booked
├── NothingToUndo      the sender has no booking left to reverse
├── WouldGoNegative    the booking would take a total below zero
└── AccountTaken       a directory account (WeCom, DingTalk userid) belongs to another contact
"""

from __future__ import annotations

from decimal import Decimal


class StoreError(Exception):
    """Base of every error the store reports to handlers."""


class StoreUnavailable(StoreError):
    """The database is down or locked for too long; the transaction was rolled back."""


class Duplicate(StoreError):
    """The same transport, chat and message id was booked before."""

    def __init__(self, booking_id: int) -> None:
        super().__init__(f"booking {booking_id} exists")
        self.booking_id = booking_id


class NothingToUndo(StoreError):
    """The sender has no booking that is not reversed yet."""


class WouldGoNegative(StoreError):
    """A total may never go below zero."""

    def __init__(self, indicator: str, total: Decimal, change: Decimal) -> None:
        super().__init__(f"{indicator}: {total} + {change} < 0")
        self.indicator = indicator
        self.total = total
        self.change = change


class AccountTaken(StoreError):
    """A directory userid is another contact's: giving it to a second one would take that person's account."""

    def __init__(self, userid: str, holder_id: int) -> None:
        super().__init__(f"{userid} belongs to contact {holder_id}")
        self.userid = userid
        self.holder_id = holder_id

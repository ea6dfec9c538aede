"""The tables. Bookings and their entries form the append-only ledger: rows are only added."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from store.columns import Amount, UTCDateTime


class Base(DeclarativeBase):
    pass


class DepartmentRow(Base):
    """A reporting unit. County units point at their city department through parent_id."""

    __tablename__ = "departments"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    short: Mapped[str] = mapped_column(String(100))
    group_name: Mapped[str | None] = mapped_column(String(100))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    county: Mapped[str | None] = mapped_column(String(50))  # county key of a county unit (migration 0009)


class ContactRow(Base):
    """A contact person of 附件1, or one an admin added. Removal deactivates, never deletes."""

    __tablename__ = "contacts"
    __table_args__ = (UniqueConstraint("department_id", "name", name="uq_contacts_department_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50))
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    section: Mapped[str] = mapped_column(String(100), default="")
    mobile: Mapped[str] = mapped_column(String(20), default="", index=True)
    office: Mapped[str] = mapped_column(String(40), default="")
    fax: Mapped[str] = mapped_column(String(40), default="")
    email: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(20), default="member")  # admin | county_admin | member
    # Legacy, always NULL since migration 0008 moved WeCom userids to `identities`. SQLite cannot drop a
    # UNIQUE column in place (and recreating the table would fight the ledger's foreign keys), so it stays.
    wecom_userid: Mapped[str | None] = mapped_column(String(64), unique=True)
    active: Mapped[bool] = mapped_column(default=True)
    origin: Mapped[str] = mapped_column(String(10), default="config")
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class Identity(Base):
    """Which chat account speaks for which contact: one table for every transport.

    external_id is the platform's id of the account, case-folded (WeCom and DingTalk userids compare
    case-insensitively); chat_id is where replies go, as the platform spelt it. A directory id known
    before any message (config, an admin, the mobile lookup) is a row too, so the enterprise directory
    and a first message meet in the same place.
    """

    __tablename__ = "identities"
    __table_args__ = (UniqueConstraint("transport", "external_id", name="uq_identities_transport_external"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), index=True)
    transport: Mapped[str] = mapped_column(String(20))
    external_id: Mapped[str] = mapped_column(String(100))
    chat_id: Mapped[str] = mapped_column(String(100))
    source: Mapped[str] = mapped_column(String(12), default="chat")  # chat | config | admin | directory
    bound_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class Booking(Base):
    """One incoming message that changed counts. Its unique key makes redelivery harmless."""

    __tablename__ = "bookings"
    __table_args__ = (
        UniqueConstraint("transport", "chat_id", "message_id", name="uq_bookings_message"),
        Index("ix_bookings_contact", "contact_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    transport: Mapped[str] = mapped_column(String(20))
    chat_id: Mapped[str] = mapped_column(String(100))
    message_id: Mapped[str] = mapped_column(String(100))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"))
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    kind: Mapped[str] = mapped_column(String(12))  # report | correction | undo
    text: Mapped[str] = mapped_column(Text)
    booked_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    # An undo points at the booking it reverses; unique, so nothing is reversed twice.
    reverses_id: Mapped[int | None] = mapped_column(ForeignKey("bookings.id"), unique=True)


class Entry(Base):
    """One signed amount of one indicator. Totals are sums of these rows."""

    __tablename__ = "entries"
    __table_args__ = (Index("ix_entries_department_indicator", "department_id", "indicator", "booked_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    booking_id: Mapped[int] = mapped_column(ForeignKey("bookings.id"), index=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    indicator: Mapped[str] = mapped_column(String(32))
    amount: Mapped[Decimal] = mapped_column(Amount())
    booked_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class Invite(Base):
    """A one-time binding code an admin made for a contact. Only the code's HMAC (keyed by BOT_SECRET) is kept."""

    __tablename__ = "invites"

    id: Mapped[int] = mapped_column(primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hashing: Mapped[str] = mapped_column(String(10), default="hmac")  # "sha256": made before the HMAC
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"))  # None: made on the command line
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    used_by: Mapped[str | None] = mapped_column(String(130))  # "telegram:123456789"
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())  # a newer code replaced it


class InviteAttempt(Base):
    """One wrong binding code, kept for an hour so that guessing is rate-limited across restarts."""

    __tablename__ = "invite_attempts"
    __table_args__ = (Index("ix_invite_attempts_user", "transport", "user_id", "attempted_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    transport: Mapped[str] = mapped_column(String(20))
    user_id: Mapped[str] = mapped_column(String(100))
    attempted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class OutboxRow(Base):
    """A message the bot starts (reminder, nudge, broadcast). Its unique key is the exactly-once claim."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_status_due", "status", "not_before"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"))
    transport: Mapped[str] = mapped_column(String(20))
    chat_id: Mapped[str] = mapped_column(String(100))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    not_before: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(10))  # pending | sending | sent | failed | expired
    attempts: Mapped[int] = mapped_column(default=0)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str] = mapped_column(Text, default="")
    # A claim (status sending) holds until this moment; after it any instance may take the row again.
    lease_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class CalendarDay(Base):
    """A holiday or make-up working day an admin added in chat; wins over chinese_calendar."""

    __tablename__ = "calendar_days"

    day: Mapped[dt.date] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))  # holiday | workday
    added_by: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"))
    added_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class Total(Base):
    """The running sum of one department's indicator: a cache of the ledger's sums, never the record.

    book() (the only write path: reports, corrections and undo) adds each entry's amount here in the
    same transaction as the entry, so 汇总 reads a few hundred rows instead of summing the whole ledger.
    Totals as of a past moment are still summed from the entries.
    """

    __tablename__ = "totals"

    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), primary_key=True)
    indicator: Mapped[str] = mapped_column(String(32), primary_key=True)
    amount: Mapped[Decimal] = mapped_column(Amount())


class InboxRow(Base):
    """A message a push transport (WeCom) accepted: written before the 200 answer, marked when handled.

    WeCom does not send a message again once it got its answer, so a crash between the answer and the
    handling would lose it; at start the bot handles every row that was accepted but not marked.
    """

    __tablename__ = "inbox"
    __table_args__ = (UniqueConstraint("transport", "chat_id", "message_id", name="uq_inbox_message"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    transport: Mapped[str] = mapped_column(String(20))
    chat_id: Mapped[str] = mapped_column(String(100))
    sender_id: Mapped[str] = mapped_column(String(100))
    message_id: Mapped[str] = mapped_column(String(100))
    text: Mapped[str] = mapped_column(Text)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    handled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), index=True)


class UnreachableChat(Base):
    """A chat the platform refused for good (bot blocked, outside the app's visible range): admins were told."""

    __tablename__ = "unreachable_chats"

    transport: Mapped[str] = mapped_column(String(20), primary_key=True)
    chat_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"))
    reason: Mapped[str] = mapped_column(Text, default="")
    since: Mapped[dt.datetime] = mapped_column(UTCDateTime())


# "Who reported last" (汇总, reminders) asks for each department's newest booking: this index answers
# that with one lookup per department instead of a scan of every booking.
Index("ix_bookings_department_time", Booking.department_id, Booking.booked_at)


class Proposal(Base):
    """A report read loosely (or unusual), shown to the sender and booked only when they answer 确认.

    UNIQUE(transport, chat_id, message_id): a redelivered message makes no second proposal. Booking it uses
    the message key (transport, chat_id, "proposal:<id>"), so confirming twice books once.
    """

    __tablename__ = "proposals"
    __table_args__ = (
        UniqueConstraint("transport", "chat_id", "message_id", name="uq_proposals_message"),
        Index("ix_proposals_chat", "transport", "chat_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    transport: Mapped[str] = mapped_column(String(20))
    chat_id: Mapped[str] = mapped_column(String(100))
    message_id: Mapped[str] = mapped_column(String(100))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"))
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    kind: Mapped[str] = mapped_column(String(12))  # report | correction | cumulative (asks 新增 or 累计)
    text: Mapped[str] = mapped_column(Text)
    lines: Mapped[str] = mapped_column(Text)  # JSON [[indicator, "amount"], …] in the indicators' units
    note: Mapped[str] = mapped_column(Text, default="")  # what the reply said besides the lines
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(10))  # open | booked | dropped
    booking_id: Mapped[int | None] = mapped_column(ForeignKey("bookings.id"))

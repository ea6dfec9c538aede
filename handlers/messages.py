"""The transport-neutral message types: what comes in and what goes out."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class SharedContact:
    """A contact card the user shared (Telegram's request_contact button)."""

    phone: str
    user_id: str | None  # whose card it is; a forwarded card belongs to someone else
    name: str = ""


@dataclass(frozen=True)
class Attachment:
    filename: str
    data: bytes
    caption: str = ""


@dataclass(frozen=True)
class Incoming:
    """One message as every transport hands it to the core."""

    transport: str  # "console" | "telegram" | "wecom" | …
    chat_id: str
    sender_id: str
    message_id: str
    text: str = ""
    contact: SharedContact | None = None
    private: bool = True  # False in group chats: there the bot shows and accepts no counts
    sender_name: str = ""
    document: Attachment | None = None  # a file the user sent (an admin's contact list)


@dataclass(frozen=True)
class Choice:
    """A button: its label, and the text that pressing it sends back as a message."""

    label: str
    text: str


@dataclass(frozen=True)
class Reply:
    """One answer. Transports show text, buttons, a contact request or a file as they can."""

    text: str = ""
    choices: tuple[Choice, ...] = ()
    request_contact: bool = False
    file: Attachment | None = None
    chat_id: str | None = None  # None: the chat the message came from
    meta: dict[str, str] = field(default_factory=dict)

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
    kind: str = "document"  # "document" | "image" | "video": what the sender's client called it


@dataclass(frozen=True)
class Capabilities:
    """What the sender's transport can do. Handlers ask this; they never name a platform."""

    directory_identity: bool = False  # the platform's enterprise directory vouches for the sender
    contact_card: bool = False  # the user can share their own phone number as a card
    buttons: bool = False  # replies can carry choices the user presses
    receive_files: bool = False  # documents can arrive in chat
    receive_media: bool = False  # pictures and videos can arrive in chat
    send_files: bool = False  # replies can carry a file


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
    caps: Capabilities = field(default_factory=Capabilities)  # what the sender's transport can do


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

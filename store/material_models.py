"""Tables of report materials and of the desk's sign-in (migration 0010). Kept apart from models.py."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from store.columns import UTCDateTime
from store.models import Base


class MaterialRow(Base):
    """One file a department sent for a deadline. The same bytes twice are one row (the unique key)."""

    __tablename__ = "materials"
    __table_args__ = (
        UniqueConstraint("collection", "department_id", "sha256", name="uq_materials_file"),
        UniqueConstraint("collection", "department_id", "stored_name", name="uq_materials_name"),
        Index("ix_materials_collection_department", "collection", "department_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    collection: Mapped[str] = mapped_column(String(64))  # the deadline key it is filed under
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    kind: Mapped[str] = mapped_column(String(20))  # a material key; "" until the sender says which
    seq: Mapped[int] = mapped_column()  # 序号 among the department's files of this kind
    stored_name: Mapped[str] = mapped_column(String(255))  # 单位-材料-日期-序号.ext, under folder/collection/dep
    original_name: Mapped[str] = mapped_column(String(255))
    media: Mapped[str] = mapped_column(String(10))  # document | image | video: what the client sent it as
    size: Mapped[int] = mapped_column()
    sha256: Mapped[str] = mapped_column(String(64))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"))  # None: the command line
    source: Mapped[str] = mapped_column(String(130))  # "telegram:123:45" (transport:chat:message) or "cli", "desk"
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    withdrawn_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class MaterialEvent(Base):
    """The audit trail of materials: every receipt, choice of kind, withdrawal and resubmission."""

    __tablename__ = "material_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    material_id: Mapped[int] = mapped_column(ForeignKey("materials.id"), index=True)
    action: Mapped[str] = mapped_column(String(20))  # received | kind | withdrawn | resubmitted
    detail: Mapped[str] = mapped_column(Text, default="")
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class DeskLink(Base):
    """A single-use sign-in link for the desk, sent in chat. Only the token's SHA-256 is kept."""

    __tablename__ = "desk_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class DeskSession(Base):
    """A signed-in browser. The cookie holds the id; only its SHA-256 is kept, with the CSRF token."""

    __tablename__ = "desk_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    id_hash: Mapped[str] = mapped_column(String(64), unique=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"))
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())

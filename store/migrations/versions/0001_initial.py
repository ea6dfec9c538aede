"""Departments, contacts, bindings and the ledger (bookings + entries).

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from store.columns import Amount, UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "departments",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("key", sa.String(64), nullable=False, unique=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("short", sa.String(100), nullable=False),
        sa.Column("group_name", sa.String(100), nullable=True),
        sa.Column("parent_id", sa.Integer(), sa.ForeignKey("departments.id"), nullable=True),
    )
    op.create_table(
        "contacts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(50), nullable=False),
        sa.Column("department_id", sa.Integer(), sa.ForeignKey("departments.id"), nullable=False),
        sa.Column("section", sa.String(100), nullable=False),
        sa.Column("mobile", sa.String(20), nullable=False),
        sa.Column("office", sa.String(40), nullable=False),
        sa.Column("fax", sa.String(40), nullable=False),
        sa.Column("email", sa.String(200), nullable=False),
        sa.Column("role", sa.String(10), nullable=False),
        sa.Column("wecom_userid", sa.String(64), nullable=True, unique=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("origin", sa.String(10), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("department_id", "name", name="uq_contacts_department_name"),
    )
    op.create_index("ix_contacts_mobile", "contacts", ["mobile"])
    op.create_table(
        "bindings",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("transport", sa.String(20), nullable=False),
        sa.Column("user_id", sa.String(100), nullable=False),
        sa.Column("chat_id", sa.String(100), nullable=False),
        sa.Column("contact_id", sa.Integer(), sa.ForeignKey("contacts.id"), nullable=False),
        sa.Column("bound_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("transport", "user_id", name="uq_bindings_transport_user"),
    )
    op.create_table(
        "bookings",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("transport", sa.String(20), nullable=False),
        sa.Column("chat_id", sa.String(100), nullable=False),
        sa.Column("message_id", sa.String(100), nullable=False),
        sa.Column("contact_id", sa.Integer(), sa.ForeignKey("contacts.id"), nullable=False),
        sa.Column("department_id", sa.Integer(), sa.ForeignKey("departments.id"), nullable=False),
        sa.Column("kind", sa.String(12), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("booked_at", UTCDateTime(), nullable=False),
        sa.Column("reverses_id", sa.Integer(), sa.ForeignKey("bookings.id"), nullable=True, unique=True),
        sa.UniqueConstraint("transport", "chat_id", "message_id", name="uq_bookings_message"),
    )
    op.create_index("ix_bookings_contact", "bookings", ["contact_id", "id"])
    op.create_table(
        "entries",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("booking_id", sa.Integer(), sa.ForeignKey("bookings.id"), nullable=False),
        sa.Column("department_id", sa.Integer(), sa.ForeignKey("departments.id"), nullable=False),
        sa.Column("indicator", sa.String(32), nullable=False),
        sa.Column("amount", Amount(), nullable=False),
        sa.Column("booked_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_entries_booking_id", "entries", ["booking_id"])
    op.create_index("ix_entries_department_indicator", "entries", ["department_id", "indicator", "booked_at"])


def downgrade() -> None:
    for table in ("entries", "bookings", "bindings", "contacts", "departments"):
        op.drop_table(table)

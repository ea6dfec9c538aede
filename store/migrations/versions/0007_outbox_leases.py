"""Outbox leases (a claim holds until lease_until, then any instance may take the row again), the chats the
platforms refused for good, and binding codes hashed with an HMAC.

Existing codes were stored as a bare SHA-256; the code itself is not kept, so they cannot be re-hashed. They are
marked hashing = "sha256" and keep working until they expire (72 hours by default); new codes are HMACs.

Revision ID: 0007
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from store.columns import UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("lease_until", UTCDateTime(), nullable=True))
    # Rows an earlier version left as `sending` were lost for good; with an expired lease they go out now.
    op.execute("UPDATE outbox SET lease_until = created_at WHERE status = 'sending'")
    with op.batch_alter_table("invites") as batch:
        batch.add_column(sa.Column("hashing", sa.String(10), nullable=False, server_default="sha256"))
    op.create_table(
        "unreachable_chats",
        sa.Column("transport", sa.String(20), primary_key=True),
        sa.Column("chat_id", sa.String(100), primary_key=True),
        sa.Column("contact_id", sa.Integer(), sa.ForeignKey("contacts.id"), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("since", UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("unreachable_chats")
    with op.batch_alter_table("invites") as batch:
        batch.drop_column("hashing")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("lease_until")

"""Chat identities: one table (contact, transport, external id) for every transport.

It replaces both the `bindings` table (accounts that wrote to the bot) and the per-transport column
`contacts.wecom_userid` (directory ids known in advance). Every binding is kept; every WeCom userid
becomes an identity row unless that account was already bound. External ids are stored case-folded:
WeCom and DingTalk userids compare case-insensitively.

SQLite cannot drop a UNIQUE column in place, so the old column stays (on both databases, so the schema
is one), emptied and unused.

Revision ID: 0008
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from store.columns import UTCDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "identities",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("contact_id", sa.Integer(), sa.ForeignKey("contacts.id"), nullable=False),
        sa.Column("transport", sa.String(20), nullable=False),
        sa.Column("external_id", sa.String(100), nullable=False),
        sa.Column("chat_id", sa.String(100), nullable=False),
        sa.Column("source", sa.String(12), nullable=False),
        sa.Column("bound_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("transport", "external_id", name="uq_identities_transport_external"),
    )
    op.create_index("ix_identities_contact_id", "identities", ["contact_id"])
    bind = op.get_bind()
    # Every binding, its external id lower-cased; of two accounts that differ only in case, the newest wins.
    bind.execute(sa.text(
        "INSERT INTO identities (contact_id, transport, external_id, chat_id, source, bound_at) "
        "SELECT b.contact_id, b.transport, lower(b.user_id), b.chat_id, 'chat', b.bound_at FROM bindings b "
        "WHERE b.id = (SELECT max(b2.id) FROM bindings b2 "
        "WHERE b2.transport = b.transport AND lower(b2.user_id) = lower(b.user_id))"
    ))
    # WeCom userids known in advance (config, 修改联系人): an identity each, unless that account is bound already.
    bind.execute(sa.text(
        "INSERT INTO identities (contact_id, transport, external_id, chat_id, source, bound_at) "
        "SELECT c.id, 'wecom', lower(c.wecom_userid), c.wecom_userid, 'config', c.updated_at FROM contacts c "
        "WHERE c.wecom_userid IS NOT NULL AND c.wecom_userid <> '' AND NOT EXISTS (SELECT 1 FROM identities i "
        "WHERE i.transport = 'wecom' AND i.external_id = lower(c.wecom_userid))"
    ))
    op.drop_table("bindings")
    bind.execute(sa.text("UPDATE contacts SET wecom_userid = NULL"))


def downgrade() -> None:
    bind = op.get_bind()
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
    bind.execute(sa.text(
        "INSERT INTO bindings (transport, user_id, chat_id, contact_id, bound_at) "
        "SELECT transport, external_id, chat_id, contact_id, bound_at FROM identities WHERE source = 'chat'"
    ))
    bind.execute(sa.text(
        "UPDATE contacts SET wecom_userid = (SELECT i.chat_id FROM identities i WHERE i.contact_id = contacts.id "
        "AND i.transport = 'wecom' AND i.source <> 'chat' ORDER BY i.id LIMIT 1)"
    ))
    op.drop_index("ix_identities_contact_id", table_name="identities")
    op.drop_table("identities")

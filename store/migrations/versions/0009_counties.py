"""Counties: departments know their county; contact roles have room for county_admin.

Revision ID: 0009
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The county units themselves are rows like any department (sync_campaign adds them from config);
    # parent_id already links them to their city department.
    op.add_column("departments", sa.Column("county", sa.String(50), nullable=True))
    if op.get_bind().dialect.name != "sqlite":
        op.alter_column("contacts", "role", existing_type=sa.String(10), type_=sa.String(20),
                        existing_nullable=False)
        return
    # SQLite cannot change a column's type, and a batch copy of `contacts` would drop a table that bindings,
    # bookings and invites reference (foreign keys are on). A new column, the values, then the old one
    # dropped and the new one renamed keeps every row and reference (SQLite 3.35+).
    op.execute("ALTER TABLE contacts ADD COLUMN role_wide VARCHAR(20) NOT NULL DEFAULT 'member'")
    op.execute("UPDATE contacts SET role_wide = role")
    op.execute("ALTER TABLE contacts DROP COLUMN role")
    op.execute("ALTER TABLE contacts RENAME COLUMN role_wide TO role")


def downgrade() -> None:
    op.execute("UPDATE contacts SET role = 'member' WHERE role = 'county_admin'")
    if op.get_bind().dialect.name != "sqlite":
        op.alter_column("contacts", "role", existing_type=sa.String(20), type_=sa.String(10),
                        existing_nullable=False)
    with op.batch_alter_table("departments") as batch:
        batch.drop_column("county")

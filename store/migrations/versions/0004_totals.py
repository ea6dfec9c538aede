"""Maintained totals: the ledger's sums per department and indicator, kept by book(); back-filled here.
Also an index for each department's newest booking (汇总 and the reminders ask for it).

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from store.columns import Amount

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "totals",
        sa.Column("department_id", sa.Integer(), sa.ForeignKey("departments.id"), primary_key=True),
        sa.Column("indicator", sa.String(32), primary_key=True),
        sa.Column("amount", Amount(), nullable=False),
    )
    # The ledger is the record: whatever it holds at upgrade time becomes the starting totals.
    op.execute(
        "INSERT INTO totals (department_id, indicator, amount) "
        "SELECT department_id, indicator, SUM(amount) FROM entries GROUP BY department_id, indicator"
    )
    op.create_index("ix_bookings_department_time", "bookings", ["department_id", "booked_at"])


def downgrade() -> None:
    op.drop_index("ix_bookings_department_time", table_name="bookings")
    op.drop_table("totals")

"""The customer report's rollup: calls per business month and customer (or number nobody is linked to),
filled from the rows already stored; the index of the calls' dialled numbers

Revision ID: stats_0004
Revises: stats_0003
Create Date: 2026-12-04 14:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "stats_0004"
down_revision: str | None = "stats_0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "stats_customer_rollup",
        sa.Column("grain", sa.Integer(), nullable=False),
        sa.Column("slot", sa.Integer(), nullable=False),
        sa.Column("customer", sa.String(length=20), nullable=False),
        sa.Column("number", sa.String(length=40), nullable=False),
        sa.Column("calls", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("grain", "slot", "customer", "number", name=op.f("pk_stats_customer_rollup")),
    )
    op.create_index("ix_stats_customer_rollup_rank", "stats_customer_rollup", ["grain", "slot", "calls"])
    op.create_index("ix_stats_calls_dialed", "stats_calls", ["dialed"])

    from stats import rollup

    bind = op.get_bind()
    rollup.forget_settings(bind.engine)
    rollup.refill(bind, rollup.NEW_IN_0004)


def downgrade() -> None:
    op.drop_index("ix_stats_calls_dialed", table_name="stats_calls")
    op.drop_index("ix_stats_customer_rollup_rank", table_name="stats_customer_rollup")
    op.drop_table("stats_customer_rollup")

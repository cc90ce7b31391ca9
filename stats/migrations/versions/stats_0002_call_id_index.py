"""Index of the call rows by call id alone: the screen-pop's recent calls join call links to their rows

Revision ID: stats_0002
Revises: stats_0001
Create Date: 2026-12-03 16:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "stats_0002"
down_revision: str | None = "stats_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_stats_calls_call_id", "stats_calls", ["call_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_stats_calls_call_id", table_name="stats_calls")

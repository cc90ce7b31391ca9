"""Retention rules per department: a department's supervisors keep its recordings their own way

Revision ID: rec_0002
Revises: rec_0001
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "rec_0002"
down_revision: str | None = "rec_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("recording_retention_rules", schema=None) as batch_op:
        batch_op.add_column(sa.Column("department_id", sa.Integer(), nullable=True))
        batch_op.drop_constraint("uq_recording_retention_rules_queue", type_="unique")
        batch_op.create_unique_constraint(
            batch_op.f("uq_recording_retention_rules_department_id"), ["department_id", "queue"]
        )
        batch_op.create_index(
            batch_op.f("ix_recording_retention_rules_department_id"), ["department_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("recording_retention_rules", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_recording_retention_rules_department_id"))
        batch_op.drop_constraint(batch_op.f("uq_recording_retention_rules_department_id"), type_="unique")
        batch_op.create_unique_constraint("uq_recording_retention_rules_queue", ["queue"])
        batch_op.drop_column("department_id")

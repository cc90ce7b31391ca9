"""Callbacks belong to a department (their owner's, or for a queue's callback its scheduler's), so that
data scope reaches them as it reaches customers and tickets.

Revision ID: outbound_0002
Revises: outbound_0001
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "outbound_0002"
down_revision: str | None = "outbound_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbound_callbacks") as batch:
        batch.add_column(sa.Column("department_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_outbound_callbacks_department_id_departments"),
            "departments",
            ["department_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch.create_index(op.f("ix_outbound_callbacks_department_id"), ["department_id"])
    op.execute(
        "UPDATE outbound_callbacks SET department_id = (SELECT users.department_id FROM users"
        " WHERE users.id = COALESCE(outbound_callbacks.owner_id, outbound_callbacks.created_by))"
    )


def downgrade() -> None:
    with op.batch_alter_table("outbound_callbacks") as batch:
        batch.drop_index(op.f("ix_outbound_callbacks_department_id"))
        batch.drop_constraint(op.f("fk_outbound_callbacks_department_id_departments"), type_="foreignkey")
        batch.drop_column("department_id")

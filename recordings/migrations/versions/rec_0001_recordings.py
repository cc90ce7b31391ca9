"""Recording index and retention rules

Revision ID: rec_0001
Revises:
Depends on: crm_0001
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "rec_0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = ("recordings",)
depends_on: str | Sequence[str] | None = "crm_0001"


def upgrade() -> None:
    op.create_table(
        "recordings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("file_name", sa.String(length=300), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("call_id", sa.String(length=64), nullable=True),
        sa.Column("uniqueid", sa.String(length=64), nullable=True),
        sa.Column("channel", sa.String(length=200), nullable=True),
        sa.Column("pbx", sa.String(length=50), nullable=True),
        sa.Column("direction", sa.String(length=10), nullable=True),
        sa.Column("agent", sa.String(length=80), nullable=True),
        sa.Column("agent_user_id", sa.Integer(), nullable=True),
        sa.Column("department_id", sa.Integer(), nullable=True),
        sa.Column("queue", sa.String(length=80), nullable=True),
        sa.Column("caller_number", sa.String(length=40), nullable=True),
        sa.Column("callee_number", sa.String(length=40), nullable=True),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("satisfaction", sa.Integer(), nullable=True),
        sa.Column("started_at", sa.DateTime(), nullable=True),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.Column("call_ended_at", sa.DateTime(), nullable=True),
        sa.Column("duration_s", sa.Float(), nullable=True),
        sa.Column("size_bytes", sa.BigInteger(), nullable=True),
        sa.Column("mtime_ns", sa.BigInteger(), nullable=True),
        sa.Column("format", sa.String(length=10), nullable=True),
        sa.Column("sample_rate", sa.Integer(), nullable=True),
        sa.Column("channels", sa.Integer(), nullable=True),
        sa.Column("problem", sa.String(length=200), nullable=True),
        sa.Column("deleted_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recordings")),
        sa.UniqueConstraint("file_name", name=op.f("uq_recordings_file_name")),
    )
    for column in (
        "call_id",
        "uniqueid",
        "agent",
        "agent_user_id",
        "department_id",
        "queue",
        "caller_number",
        "customer_id",
    ):
        op.create_index(op.f(f"ix_recordings_{column}"), "recordings", [column])
    op.create_index("ix_recordings_started_at", "recordings", ["started_at"])
    op.create_index("ix_recordings_status", "recordings", ["status"])
    op.create_table(
        "recording_retention_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("queue", sa.String(length=80), nullable=False),
        sa.Column("keep_days", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recording_retention_rules")),
        sa.UniqueConstraint("queue", name=op.f("uq_recording_retention_rules_queue")),
    )


def downgrade() -> None:
    op.drop_table("recording_retention_rules")
    op.drop_table("recordings")

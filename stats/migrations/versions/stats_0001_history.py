"""Statistics history tables: calls, legs, queue calls, agent states, IVR steps, surveys, hourly rollup

Revision ID: stats_0001
Revises:
Create Date: 2026-11-23 18:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "stats_0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = ("stats",)
depends_on: str | Sequence[str] | None = "crm_0001"


def upgrade() -> None:
    op.create_table(
        "stats_agent_states",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("pbx", sa.String(length=40), nullable=False),
        sa.Column("agent", sa.String(length=40), nullable=False),
        sa.Column("extension", sa.String(length=40), nullable=False),
        sa.Column("department", sa.String(length=40), nullable=True),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("reason", sa.String(length=60), nullable=False),
        sa.Column("queues", sa.String(length=400), nullable=False),
        sa.Column("started_at", sa.Float(), nullable=False),
        sa.Column("hour", sa.Integer(), nullable=False),
        sa.Column("ended_at", sa.Float(), nullable=True),
        sa.Column("duration_s", sa.Float(), nullable=True),
        sa.Column("is_open", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stats_agent_states")),
        sa.UniqueConstraint("pbx", "agent", "started_at", name=op.f("uq_stats_agent_states_pbx")),
    )
    op.create_index("ix_stats_agent_states_hour_agent", "stats_agent_states", ["hour", "agent"], unique=False)
    op.create_table(
        "stats_call_legs",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("pbx", sa.String(length=40), nullable=False),
        sa.Column("call_id", sa.String(length=80), nullable=False),
        sa.Column("channel", sa.String(length=120), nullable=False),
        sa.Column("number", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("extension", sa.String(length=40), nullable=False),
        sa.Column("agent", sa.String(length=40), nullable=True),
        sa.Column("queue", sa.String(length=40), nullable=True),
        sa.Column("ring_at", sa.Float(), nullable=False),
        sa.Column("answered_at", sa.Float(), nullable=True),
        sa.Column("ended_at", sa.Float(), nullable=True),
        sa.Column("hangup_cause", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stats_call_legs")),
        sa.UniqueConstraint("pbx", "call_id", "channel", name=op.f("uq_stats_call_legs_pbx")),
    )
    op.create_index("ix_stats_call_legs_agent_answered", "stats_call_legs", ["agent", "answered_at"], unique=False)
    op.create_table(
        "stats_call_rollup",
        sa.Column("hour", sa.Integer(), nullable=False),
        sa.Column("queue", sa.String(length=40), nullable=False),
        sa.Column("agent", sa.String(length=40), nullable=False),
        sa.Column("department", sa.String(length=40), nullable=False),
        sa.Column("direction", sa.String(length=10), nullable=False),
        sa.Column("disposition", sa.String(length=20), nullable=False),
        sa.Column("calls", sa.Integer(), nullable=False),
        sa.Column("answered", sa.Integer(), nullable=False),
        sa.Column("wait_ms", sa.BigInteger(), nullable=False),
        sa.Column("ring_ms", sa.BigInteger(), nullable=False),
        sa.Column("talk_ms", sa.BigInteger(), nullable=False),
        sa.Column("hold_ms", sa.BigInteger(), nullable=False),
        sa.Column("wrapup_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "hour", "queue", "agent", "department", "direction", "disposition", name=op.f("pk_stats_call_rollup")
        ),
    )
    op.create_table(
        "stats_calls",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("pbx", sa.String(length=40), nullable=False),
        sa.Column("call_id", sa.String(length=80), nullable=False),
        sa.Column("direction", sa.String(length=10), nullable=False),
        sa.Column("caller_number", sa.String(length=40), nullable=False),
        sa.Column("caller_name", sa.String(length=100), nullable=False),
        sa.Column("dialed", sa.String(length=40), nullable=False),
        sa.Column("queue", sa.String(length=40), nullable=True),
        sa.Column("agent", sa.String(length=40), nullable=True),
        sa.Column("department", sa.String(length=40), nullable=True),
        sa.Column("started_at", sa.Float(), nullable=False),
        sa.Column("hour", sa.Integer(), nullable=False),
        sa.Column("wait_s", sa.Float(), nullable=True),
        sa.Column("ring_s", sa.Float(), nullable=True),
        sa.Column("duration_s", sa.Float(), nullable=True),
        sa.Column("disposition", sa.String(length=20), nullable=True),
        sa.Column("hangup_cause", sa.Integer(), nullable=True),
        sa.Column("hangup_cause_text", sa.String(length=80), nullable=False),
        sa.Column("hangup_by", sa.String(length=10), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column("order_id", sa.Integer(), nullable=True),
        sa.Column("recording_id", sa.String(length=80), nullable=True),
        sa.Column("answered_at", sa.Float(), nullable=True),
        sa.Column("ended_at", sa.Float(), nullable=True),
        sa.Column("talk_s", sa.Float(), nullable=True),
        sa.Column("hold_s", sa.Float(), nullable=False),
        sa.Column("wrapup_s", sa.Float(), nullable=False),
        sa.Column("hold_since", sa.Float(), nullable=True),
        sa.Column("hold_mark", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stats_calls")),
        sa.UniqueConstraint("pbx", "call_id", name=op.f("uq_stats_calls_pbx")),
    )
    op.create_index("ix_stats_calls_agent_started", "stats_calls", ["agent", "started_at"], unique=False)
    op.create_index(op.f("ix_stats_calls_caller_number"), "stats_calls", ["caller_number"], unique=False)
    op.create_index(op.f("ix_stats_calls_customer_id"), "stats_calls", ["customer_id"], unique=False)
    op.create_index(op.f("ix_stats_calls_hour"), "stats_calls", ["hour"], unique=False)
    op.create_index(op.f("ix_stats_calls_order_id"), "stats_calls", ["order_id"], unique=False)
    op.create_index("ix_stats_calls_queue_started", "stats_calls", ["queue", "started_at"], unique=False)
    op.create_index(op.f("ix_stats_calls_started_at"), "stats_calls", ["started_at"], unique=False)
    op.create_index(op.f("ix_stats_calls_ticket_id"), "stats_calls", ["ticket_id"], unique=False)
    op.create_table(
        "stats_center_rollup",
        sa.Column("hour", sa.Integer(), nullable=False),
        sa.Column("queue", sa.String(length=40), nullable=False),
        sa.Column("direction", sa.String(length=10), nullable=False),
        sa.Column("disposition", sa.String(length=20), nullable=False),
        sa.Column("calls", sa.Integer(), nullable=False),
        sa.Column("answered", sa.Integer(), nullable=False),
        sa.Column("wait_ms", sa.BigInteger(), nullable=False),
        sa.Column("ring_ms", sa.BigInteger(), nullable=False),
        sa.Column("talk_ms", sa.BigInteger(), nullable=False),
        sa.Column("hold_ms", sa.BigInteger(), nullable=False),
        sa.Column("wrapup_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("hour", "queue", "direction", "disposition", name=op.f("pk_stats_center_rollup")),
    )
    op.create_table(
        "stats_ivr_steps",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("pbx", sa.String(length=40), nullable=False),
        sa.Column("call_id", sa.String(length=80), nullable=False),
        sa.Column("flow", sa.String(length=60), nullable=False),
        sa.Column("node", sa.String(length=60), nullable=False),
        sa.Column("input", sa.String(length=60), nullable=False),
        sa.Column("result", sa.String(length=60), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.Column("hour", sa.Integer(), nullable=False),
        sa.Column("dwell_s", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stats_ivr_steps")),
        sa.UniqueConstraint("pbx", "call_id", "at", "node", name=op.f("uq_stats_ivr_steps_pbx")),
    )
    op.create_index(op.f("ix_stats_ivr_steps_call_id"), "stats_ivr_steps", ["call_id"], unique=False)
    op.create_index("ix_stats_ivr_steps_hour_node", "stats_ivr_steps", ["hour", "flow", "node"], unique=False)
    op.create_table(
        "stats_queue_calls",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("pbx", sa.String(length=40), nullable=False),
        sa.Column("call_id", sa.String(length=80), nullable=False),
        sa.Column("queue", sa.String(length=40), nullable=False),
        sa.Column("joined_at", sa.Float(), nullable=False),
        sa.Column("hour", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=True),
        sa.Column("outcome", sa.String(length=10), nullable=False),
        sa.Column("wait_s", sa.Float(), nullable=True),
        sa.Column("agent", sa.String(length=40), nullable=True),
        sa.Column("department", sa.String(length=40), nullable=True),
        sa.Column("left_at", sa.Float(), nullable=True),
        sa.Column("answered_at", sa.Float(), nullable=True),
        sa.Column("ended_at", sa.Float(), nullable=True),
        sa.Column("talk_s", sa.Float(), nullable=True),
        sa.Column("hold_s", sa.Float(), nullable=False),
        sa.Column("wrapup_s", sa.Float(), nullable=False),
        sa.Column("hold_since", sa.Float(), nullable=True),
        sa.Column("hold_mark", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stats_queue_calls")),
        sa.UniqueConstraint("pbx", "call_id", "queue", "joined_at", name=op.f("uq_stats_queue_calls_pbx")),
    )
    op.create_index("ix_stats_queue_calls_agent_answered", "stats_queue_calls", ["agent", "answered_at"], unique=False)
    op.create_index(op.f("ix_stats_queue_calls_call_id"), "stats_queue_calls", ["call_id"], unique=False)
    op.create_index("ix_stats_queue_calls_hour_queue", "stats_queue_calls", ["hour", "queue"], unique=False)
    op.create_table(
        "stats_surveys",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("pbx", sa.String(length=40), nullable=False),
        sa.Column("call_id", sa.String(length=80), nullable=False),
        sa.Column("agent", sa.String(length=40), nullable=False),
        sa.Column("department", sa.String(length=40), nullable=True),
        sa.Column("queue", sa.String(length=40), nullable=True),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("scale", sa.Integer(), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.Column("hour", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stats_surveys")),
        sa.UniqueConstraint("pbx", "call_id", "agent", name=op.f("uq_stats_surveys_pbx")),
    )
    op.create_index("ix_stats_surveys_hour", "stats_surveys", ["hour"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_stats_surveys_hour", table_name="stats_surveys")
    op.drop_table("stats_surveys")
    op.drop_index("ix_stats_queue_calls_hour_queue", table_name="stats_queue_calls")
    op.drop_index(op.f("ix_stats_queue_calls_call_id"), table_name="stats_queue_calls")
    op.drop_index("ix_stats_queue_calls_agent_answered", table_name="stats_queue_calls")
    op.drop_table("stats_queue_calls")
    op.drop_index("ix_stats_ivr_steps_hour_node", table_name="stats_ivr_steps")
    op.drop_index(op.f("ix_stats_ivr_steps_call_id"), table_name="stats_ivr_steps")
    op.drop_table("stats_ivr_steps")
    op.drop_table("stats_center_rollup")
    op.drop_index(op.f("ix_stats_calls_ticket_id"), table_name="stats_calls")
    op.drop_index(op.f("ix_stats_calls_started_at"), table_name="stats_calls")
    op.drop_index("ix_stats_calls_queue_started", table_name="stats_calls")
    op.drop_index(op.f("ix_stats_calls_order_id"), table_name="stats_calls")
    op.drop_index(op.f("ix_stats_calls_hour"), table_name="stats_calls")
    op.drop_index(op.f("ix_stats_calls_customer_id"), table_name="stats_calls")
    op.drop_index(op.f("ix_stats_calls_caller_number"), table_name="stats_calls")
    op.drop_index("ix_stats_calls_agent_started", table_name="stats_calls")
    op.drop_table("stats_calls")
    op.drop_table("stats_call_rollup")
    op.drop_index("ix_stats_call_legs_agent_answered", table_name="stats_call_legs")
    op.drop_table("stats_call_legs")
    op.drop_index("ix_stats_agent_states_hour_agent", table_name="stats_agent_states")
    op.drop_table("stats_agent_states")

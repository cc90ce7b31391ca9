"""Rollups for every report (agents, queue stays, surveys, seat states, IVR steps) by hour and business day,
filled from the rows already stored; the IVR steps' first visits; the index of the calls still up

Revision ID: stats_0003
Revises: stats_0002
Create Date: 2026-12-03 19:30:00
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

revision: str = "stats_0003"
down_revision: str | None = "stats_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _keys(*names: tuple[str, int]) -> list[sa.Column]:
    return [
        sa.Column("grain", sa.Integer(), nullable=False),
        sa.Column("slot", sa.Integer(), nullable=False),
        *(sa.Column(name, sa.String(length=size), nullable=False) for name, size in names),
    ]


def _counts(*names: str) -> list[sa.Column]:
    return [sa.Column(name, sa.Integer(), nullable=False) for name in names]


def _millis(*names: str) -> list[sa.Column]:
    return [sa.Column(name, sa.BigInteger(), nullable=False) for name in names]


def _pk(table: str, *names: str) -> sa.PrimaryKeyConstraint:
    return sa.PrimaryKeyConstraint("grain", "slot", *names, name=op.f(f"pk_{table}"))


def _day_offset_h(zone: str) -> int | None:
    """The business zone's whole-hour UTC offset now (None for a zone with a half-hour offset)."""
    offset = datetime.now(UTC).astimezone(ZoneInfo(zone)).utcoffset()
    seconds = offset.total_seconds() if offset is not None else 0.0
    return int(seconds // 3600) if seconds % 3600 == 0 else None


def upgrade() -> None:
    op.create_table(
        "stats_rollup_settings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("day_offset_h", sa.Integer(), nullable=True),
        sa.Column("sl_threshold_s", sa.Float(), nullable=False),
        sa.Column("short_abandon_s", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stats_rollup_settings")),
    )
    op.create_table(
        "stats_agent_rollup",
        *_keys(("agent", 40), ("department", 40), ("direction", 10)),
        *_counts("calls", "answered"),
        *_millis("wait_ms", "ring_ms", "talk_ms", "hold_ms", "wrapup_ms"),
        _pk("stats_agent_rollup", "agent", "department", "direction"),
    )
    op.create_table(
        "stats_queue_rollup",
        *_keys(("queue", 40), ("agent", 40), ("department", 40)),
        *_counts("offered", "waiting", "answered"),
        *_millis("answered_wait_ms"),
        *_counts("answered_within", "handled"),
        *_millis("handle_ms"),
        *_counts("abandoned", "short_abandons", "abandoned_within", "overflow"),
        *_millis("longest_wait_ms", "abandon_wait_ms"),
        *_counts(*(f"wait_{i}" for i in range(6))),
        _pk("stats_queue_rollup", "queue", "agent", "department"),
    )
    op.create_table(
        "stats_survey_rollup",
        *_keys(("agent", 40), ("department", 40), ("queue", 40)),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("scale", sa.Integer(), nullable=False),
        *_counts("surveys"),
        _pk("stats_survey_rollup", "agent", "department", "queue", "score", "scale"),
    )
    op.create_table(
        "stats_seat_rollup",
        *_keys(("agent", 40), ("department", 40), ("state", 12)),
        *_counts("changes"),
        *_millis("duration_ms"),
        _pk("stats_seat_rollup", "agent", "department", "state"),
    )
    op.create_table(
        "stats_ivr_rollup",
        *_keys(("flow", 60), ("node", 60)),
        *_counts("visits", "first_visits"),
        *_millis("dwell_ms"),
        *_counts("dwells", "exits"),
        _pk("stats_ivr_rollup", "flow", "node"),
    )
    op.add_column("stats_ivr_steps", sa.Column("first_visit", sa.Boolean(), nullable=False, server_default=sa.true()))
    op.execute(
        "UPDATE stats_ivr_steps SET first_visit = NOT EXISTS (SELECT 1 FROM stats_ivr_steps e"
        " WHERE e.pbx = stats_ivr_steps.pbx AND e.call_id = stats_ivr_steps.call_id"
        " AND e.flow = stats_ivr_steps.flow AND e.node = stats_ivr_steps.node AND e.at < stats_ivr_steps.at)"
    )
    op.create_index(
        "ix_stats_calls_open_started",
        "stats_calls",
        ["started_at"],
        unique=False,
        sqlite_where=sa.text("ended_at IS NULL"),
        postgresql_where=sa.text("ended_at IS NULL"),
    )

    from config.settings import get_settings
    from stats import rollup

    settings = get_settings()
    op.bulk_insert(
        sa.table(
            "stats_rollup_settings",
            sa.column("id", sa.Integer),
            sa.column("day_offset_h", sa.Integer),
            sa.column("sl_threshold_s", sa.Float),
            sa.column("short_abandon_s", sa.Float),
        ),
        [
            {
                "id": 1,
                "day_offset_h": _day_offset_h(settings.timezone),
                "sl_threshold_s": float(settings.sl_threshold_s),
                "short_abandon_s": float(settings.short_abandon_s),
            }
        ],
    )
    bind = op.get_bind()
    rollup.forget_settings(bind.engine)
    rollup.refill(bind, rollup.NEW_IN_0003)


def downgrade() -> None:
    op.drop_index("ix_stats_calls_open_started", table_name="stats_calls")
    with op.batch_alter_table("stats_ivr_steps") as batch:
        batch.drop_column("first_visit")
    for table in (
        "stats_ivr_rollup",
        "stats_seat_rollup",
        "stats_survey_rollup",
        "stats_queue_rollup",
        "stats_agent_rollup",
        "stats_rollup_settings",
    ):
        op.drop_table(table)

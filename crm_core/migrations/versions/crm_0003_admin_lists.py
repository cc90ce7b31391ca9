"""Users' phone, mobile and job title; pause reasons and customer-field dictionaries as data.

Revision ID: crm_0003
Revises: crm_0002
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "crm_0003"
down_revision: str | None = "crm_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The four reasons the desk offered before they were data; after_call_work is the desk's wrap-up pause.
PAUSE_REASONS = [
    ("lunch", "午餐 Lunch"),
    ("meeting", "会议 Meeting"),
    ("training", "培训 Training"),
    ("after_call_work", "话后处理 After-call work"),
]
DICTIONARY = {
    "category": ["企业客户", "个人客户", "代理商", "政府机构"],
    "region": ["北京", "上海", "广州", "深圳", "杭州", "成都", "武汉", "南京", "西安", "天津"],
    "source": ["电话呼入", "官网", "展会", "转介绍", "广告"],
    "level": ["A", "B", "C", "D"],
}


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("phone", sa.String(length=30), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("mobile", sa.String(length=30), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("position", sa.String(length=50), nullable=False, server_default=""))
    reasons = op.create_table(
        "pause_reasons",
        sa.Column("code", sa.String(length=30), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pause_reasons")),
        sa.UniqueConstraint("code", name=op.f("uq_pause_reasons_code")),
    )
    items = op.create_table(
        "dictionary_items",
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("value", sa.String(length=100), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dictionary_items")),
        sa.UniqueConstraint("kind", "value", name=op.f("uq_dictionary_items_kind")),
    )
    with op.batch_alter_table("dictionary_items", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_dictionary_items_kind"), ["kind"], unique=False)
    op.bulk_insert(
        reasons,
        [{"code": c, "name": n, "position": i, "is_active": True} for i, (c, n) in enumerate(PAUSE_REASONS)],
    )
    op.bulk_insert(
        items,
        [
            {"kind": kind, "value": value, "position": i, "is_active": True}
            for kind, values in DICTIONARY.items()
            for i, value in enumerate(values)
        ],
    )


def downgrade() -> None:
    op.drop_table("dictionary_items")
    op.drop_table("pause_reasons")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("position")
        batch_op.drop_column("mobile")
        batch_op.drop_column("phone")

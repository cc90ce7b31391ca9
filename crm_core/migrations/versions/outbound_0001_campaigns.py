"""Outbound calling: campaigns, leads, attempts, do-not-call numbers, callbacks, disposition codes and
call dispositions, agent scripts (a branch of its own: ``outbound``)

Revision ID: outbound_0001
Revises:
Depends on: crm_0003
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "outbound_0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = ("outbound",)
depends_on: str | Sequence[str] | None = "crm_0003"

# Supervisors run campaigns (administrators have every permission); agents read them on the desk.
PERMISSIONS = {"supervisor": ("read", "create", "update", "delete"), "agent": ("read",)}
# The codes every call may be wrapped up with until an administrator defines a queue's or a campaign's.
DEFAULT_CODES = [
    ("sale", "成交 Sale", True, False),
    ("interested", "有意向 Interested", False, True),
    ("not_interested", "无意向 Not interested", False, False),
    ("callback", "预约回拨 Call back", False, True),
    ("wrong_number", "号码错误 Wrong number", False, False),
    ("do_not_call", "拒绝来电 Do not call", False, False),
]

TABLES = (
    "outbound_call_dispositions",
    "outbound_attempts",
    "outbound_leads",
    "outbound_dnc",
    "outbound_disposition_codes",
    "outbound_callbacks",
    "outbound_campaigns",
    "outbound_scripts",
)


def upgrade() -> None:
    op.create_table(
        "outbound_scripts",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("queue", sa.String(length=64), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("questions", sa.JSON(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbound_scripts")),
    )
    op.create_table(
        "outbound_campaigns",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("mode", sa.String(length=12), nullable=False),
        sa.Column("caller_id", sa.String(length=40), nullable=False),
        sa.Column("queue", sa.String(length=64), nullable=False),
        sa.Column("agents", sa.JSON(), nullable=False),
        sa.Column("schedule", sa.JSON(), nullable=False),
        sa.Column("retry", sa.JSON(), nullable=False),
        sa.Column("abandon_cap_pct", sa.Float(), nullable=False),
        sa.Column("max_ratio", sa.Float(), nullable=False),
        sa.Column("amd", sa.Boolean(), nullable=False),
        sa.Column("script_id", sa.Integer(), nullable=True),
        sa.Column("disposition_required", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_outbound_campaigns_created_by_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["script_id"],
            ["outbound_scripts.id"],
            name=op.f("fk_outbound_campaigns_script_id_outbound_scripts"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbound_campaigns")),
        sa.UniqueConstraint("name", name=op.f("uq_outbound_campaigns_name")),
    )
    op.create_table(
        "outbound_callbacks",
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("phone", sa.String(length=50), nullable=False),
        sa.Column("phone_key", sa.String(length=32), nullable=False),
        sa.Column("due_at", sa.DateTime(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("queue", sa.String(length=64), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=False),
        sa.Column("source", sa.String(length=10), nullable=False),
        sa.Column("call_id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("done_call_id", sa.String(length=64), nullable=False),
        sa.Column("done_at", sa.DateTime(), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_outbound_callbacks_created_by_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_outbound_callbacks_customer_id_customers"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_outbound_callbacks_owner_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbound_callbacks")),
    )
    op.create_index("ix_outbound_callbacks_due", "outbound_callbacks", ["status", "due_at"], unique=False)
    op.create_table(
        "outbound_disposition_codes",
        sa.Column("code", sa.String(length=30), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("queue", sa.String(length=64), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=True),
        sa.Column("is_success", sa.Boolean(), nullable=False),
        sa.Column("retry", sa.Boolean(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["outbound_campaigns.id"],
            name=op.f("fk_outbound_disposition_codes_campaign_id_outbound_campaigns"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbound_disposition_codes")),
        sa.UniqueConstraint("code", "queue", "campaign_id", name="uq_outbound_disposition_code"),
    )
    op.create_table(
        "outbound_dnc",
        sa.Column("phone_key", sa.String(length=32), nullable=False),
        sa.Column("raw", sa.String(length=50), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=True),
        sa.Column("note", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["outbound_campaigns.id"],
            name=op.f("fk_outbound_dnc_campaign_id_outbound_campaigns"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbound_dnc")),
        sa.UniqueConstraint("phone_key", "campaign_id", name="uq_outbound_dnc_key"),
    )
    op.create_index("ix_outbound_dnc_key", "outbound_dnc", ["phone_key"], unique=False)
    op.create_table(
        "outbound_leads",
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("phone", sa.String(length=50), nullable=False),
        sa.Column("phone_key", sa.String(length=32), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_at", sa.DateTime(), nullable=True),
        sa.Column("last_outcome", sa.String(length=12), nullable=False),
        sa.Column("last_call_id", sa.String(length=64), nullable=False),
        sa.Column("agent", sa.String(length=20), nullable=False),
        sa.Column("disposition", sa.String(length=30), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["outbound_campaigns.id"],
            name=op.f("fk_outbound_leads_campaign_id_outbound_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_outbound_leads_customer_id_customers"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbound_leads")),
    )
    op.create_index("ix_outbound_leads_call", "outbound_leads", ["last_call_id"], unique=False)
    op.create_index(
        "ix_outbound_leads_due", "outbound_leads", ["campaign_id", "state", "next_at", "position"], unique=False
    )
    op.create_table(
        "outbound_attempts",
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("lead_id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.String(length=64), nullable=False),
        sa.Column("number", sa.String(length=50), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("answered_at", sa.DateTime(), nullable=True),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.Column("outcome", sa.String(length=12), nullable=False),
        sa.Column("agent", sa.String(length=20), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["outbound_campaigns.id"],
            name=op.f("fk_outbound_attempts_campaign_id_outbound_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["lead_id"],
            ["outbound_leads.id"],
            name=op.f("fk_outbound_attempts_lead_id_outbound_leads"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbound_attempts")),
    )
    op.create_index("ix_outbound_attempts_call", "outbound_attempts", ["call_id"], unique=False)
    op.create_index("ix_outbound_attempts_campaign", "outbound_attempts", ["campaign_id", "started_at"], unique=False)
    op.create_table(
        "outbound_call_dispositions",
        sa.Column("call_id", sa.String(length=64), nullable=False),
        sa.Column("code", sa.String(length=30), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=True),
        sa.Column("lead_id", sa.Integer(), nullable=True),
        sa.Column("queue", sa.String(length=64), nullable=False),
        sa.Column("agent", sa.String(length=20), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("note", sa.String(length=1000), nullable=False),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["outbound_campaigns.id"],
            name=op.f("fk_outbound_call_dispositions_campaign_id_outbound_campaigns"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["lead_id"],
            ["outbound_leads.id"],
            name=op.f("fk_outbound_call_dispositions_lead_id_outbound_leads"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_outbound_call_dispositions_user_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbound_call_dispositions")),
    )
    op.create_index("ix_outbound_call_dispositions_call", "outbound_call_dispositions", ["call_id"], unique=False)
    op.create_index(
        "ix_outbound_call_dispositions_campaign",
        "outbound_call_dispositions",
        ["campaign_id", "created_at"],
        unique=False,
    )

    seed()


def seed() -> None:
    conn = op.get_bind()
    meta = sa.MetaData()
    roles = sa.Table("roles", meta, autoload_with=conn)
    perms = sa.Table("permissions", meta, autoload_with=conn)
    codes = sa.Table("outbound_disposition_codes", meta, autoload_with=conn)
    for role, actions in PERMISSIONS.items():
        role_id = conn.scalar(sa.select(roles.c.id).where(roles.c.name == role))
        if role_id is not None:
            conn.execute(perms.insert(), [{"role_id": role_id, "resource": "campaign", "action": a} for a in actions])
    conn.execute(
        codes.insert(),
        [
            {"code": c, "name": n, "queue": "", "campaign_id": None, "is_success": ok, "retry": again,
             "position": i, "is_active": True}
            for i, (c, n, ok, again) in enumerate(DEFAULT_CODES)
        ],
    )


def downgrade() -> None:
    op.execute("DELETE FROM permissions WHERE resource = 'campaign'")
    for table in TABLES:
        op.drop_table(table)

"""Messaging: templates, messages with their delivery status, opt-outs, bulk sends; grants to the roles
(a branch of its own: ``messaging``)

Revision ID: messaging_0001
Revises:
Depends on: crm_0003
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "messaging_0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = ("messaging",)
depends_on: str | Sequence[str] | None = "crm_0003"

# role -> {resource: actions}, frozen as the state of this revision (administrators change them later).
GRANTS: dict[str, dict[str, tuple[str, ...]]] = {
    "supervisor": {
        "message_template": ("read", "create", "update", "delete"),
        "message": ("read", "create", "bulk"),
    },
    "agent": {"message_template": ("read",), "message": ("read", "create")},
    "quality": {"message_template": ("read",), "message": ("read",)},
}


def upgrade() -> None:
    op.create_table(
        "message_templates",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("trigger", sa.String(length=50), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_message_templates_created_by_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_message_templates")),
        sa.UniqueConstraint("name", name=op.f("uq_message_templates_name")),
    )
    op.create_index(op.f("ix_message_templates_trigger"), "message_templates", ["trigger"], unique=False)
    op.create_table(
        "message_batches",
        sa.Column("template_id", sa.Integer(), nullable=True),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("search", sa.Text(), nullable=False),
        sa.Column("matched", sa.Integer(), nullable=False),
        sa.Column("queued", sa.Integer(), nullable=False),
        sa.Column("opted_out", sa.Integer(), nullable=False),
        sa.Column("no_address", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["template_id"], ["message_templates.id"], name=op.f("fk_message_batches_template_id_message_templates"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_message_batches_created_by_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_message_batches")),
    )
    op.create_table(
        "messages",
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column("order_id", sa.Integer(), nullable=True),
        sa.Column("template_id", sa.Integer(), nullable=True),
        sa.Column("batch_id", sa.Integer(), nullable=True),
        sa.Column("trigger", sa.String(length=50), nullable=False),
        sa.Column("to_address", sa.String(length=200), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("error", sa.String(length=500), nullable=False),
        sa.Column("provider_id", sa.String(length=100), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_messages_customer_id_customers"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contacts.id"], name=op.f("fk_messages_contact_id_contacts"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_messages_ticket_id_tickets"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_messages_order_id_orders"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["template_id"], ["message_templates.id"], name=op.f("fk_messages_template_id_message_templates"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["message_batches.id"], name=op.f("fk_messages_batch_id_message_batches"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_messages_created_by_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_messages")),
    )
    op.create_index("ix_messages_customer_created", "messages", ["customer_id", "created_at"], unique=False)
    op.create_index("ix_messages_status_due", "messages", ["status", "next_attempt_at"], unique=False)
    op.create_index("ix_messages_created", "messages", ["created_at"], unique=False)
    op.create_index(op.f("ix_messages_ticket_id"), "messages", ["ticket_id"], unique=False)
    op.create_index(op.f("ix_messages_order_id"), "messages", ["order_id"], unique=False)
    op.create_index(op.f("ix_messages_batch_id"), "messages", ["batch_id"], unique=False)
    op.create_index(op.f("ix_messages_provider_id"), "messages", ["provider_id"], unique=False)
    op.create_table(
        "message_opt_outs",
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("note", sa.String(length=300), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_message_opt_outs_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contacts.id"], name=op.f("fk_message_opt_outs_contact_id_contacts"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_message_opt_outs_created_by_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_message_opt_outs")),
        sa.UniqueConstraint("customer_id", "contact_id", "channel", name=op.f("uq_message_opt_outs_customer_id")),
    )
    op.create_index(op.f("ix_message_opt_outs_customer_id"), "message_opt_outs", ["customer_id"], unique=False)
    _grant()


def _grant() -> None:
    conn = op.get_bind()
    meta = sa.MetaData()
    roles = sa.Table("roles", meta, autoload_with=conn)
    perms = sa.Table("permissions", meta, autoload_with=conn)
    role_ids = {name: role_id for name, role_id in conn.execute(sa.select(roles.c.name, roles.c.id))}
    rows = [
        {"role_id": role_ids[role], "resource": resource, "action": action}
        for role, grants in GRANTS.items()
        if role in role_ids
        for resource, actions in grants.items()
        for action in actions
    ]
    if rows:
        conn.execute(perms.insert(), rows)


def downgrade() -> None:
    conn = op.get_bind()
    meta = sa.MetaData()
    perms = sa.Table("permissions", meta, autoload_with=conn)
    conn.execute(perms.delete().where(perms.c.resource.in_(("message_template", "message"))))
    op.drop_table("message_opt_outs")
    op.drop_table("messages")
    op.drop_table("message_batches")
    op.drop_table("message_templates")

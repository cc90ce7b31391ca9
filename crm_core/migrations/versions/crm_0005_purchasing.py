"""Purchasing and stock: supplier documents (purchase, return to supplier, exchange) with lines, price schemes
per product, stock alert thresholds; grants.

Revision ID: crm_0005
Revises: crm_0004
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "crm_0005"
down_revision: str | None = "crm_0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("supplier_document_lines", "supplier_documents", "stock_thresholds", "product_prices")
# role -> {resource: actions} added by this revision (frozen; administrators change them later). Documents
# are stock.create (draft) and stock.approve (post: the stock moves); the money ledger is ledger.read.
GRANTS: dict[str, dict[str, tuple[str, ...]]] = {
    "supervisor": {"stock": ("update", "approve"), "ledger": ("read", "export")},
    "quality": {"ledger": ("read",)},
}


def upgrade() -> None:
    op.create_table(
        "product_prices",
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("scheme", sa.String(length=20), nullable=False),
        sa.Column("price", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_product_prices_product_id_products"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_product_prices")),
        sa.UniqueConstraint("product_id", "scheme", name=op.f("uq_product_prices_product_id")),
    )
    with op.batch_alter_table("product_prices", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_product_prices_product_id"), ["product_id"], unique=False)

    op.create_table(
        "stock_thresholds",
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("minimum", sa.Integer(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_stock_thresholds_product_id_products"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock_thresholds")),
        sa.UniqueConstraint("product_id", name=op.f("uq_stock_thresholds_product_id")),
    )
    op.create_table(
        "supplier_documents",
        sa.Column("number", sa.String(length=30), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("supplier_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("total", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("posted_by", sa.Integer(), nullable=True),
        sa.Column("posted_at", sa.DateTime(), nullable=True),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_supplier_documents_created_by_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["posted_by"], ["users.id"], name=op.f("fk_supplier_documents_posted_by_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["supplier_id"], ["suppliers.id"], name=op.f("fk_supplier_documents_supplier_id_suppliers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_supplier_documents")),
        sa.UniqueConstraint("number", name=op.f("uq_supplier_documents_number")),
    )
    with op.batch_alter_table("supplier_documents", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_supplier_documents_supplier_id"), ["supplier_id"], unique=False)

    op.create_table(
        "supplier_document_lines",
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("unit_cost", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("amount", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("replacement_product_id", sa.Integer(), nullable=True),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["supplier_documents.id"],
            name=op.f("fk_supplier_document_lines_document_id_supplier_documents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_supplier_document_lines_product_id_products")
        ),
        sa.ForeignKeyConstraint(
            ["replacement_product_id"],
            ["products.id"],
            name=op.f("fk_supplier_document_lines_replacement_product_id_products"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_supplier_document_lines")),
    )
    with op.batch_alter_table("supplier_document_lines", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_supplier_document_lines_document_id"), ["document_id"], unique=False)
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
    perms = sa.Table("permissions", sa.MetaData(), autoload_with=conn)
    roles = sa.Table("roles", sa.MetaData(), autoload_with=conn)
    for role, grants in GRANTS.items():
        role_id = sa.select(roles.c.id).where(roles.c.name == role).scalar_subquery()
        for resource, actions in grants.items():
            conn.execute(
                perms.delete().where(
                    perms.c.role_id == role_id, perms.c.resource == resource, perms.c.action.in_(actions)
                )
            )
    for table in TABLES:
        op.drop_table(table)

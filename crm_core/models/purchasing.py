"""Purchasing and stock: supplier documents that move stock, price schemes per product, stock alert thresholds."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import DateTime, ForeignKey, Integer, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm_core.db import Base
from crm_core.models.base import IdMixin, TimestampMixin

Money = Numeric(14, 2)


class SupplierDocument(IdMixin, TimestampMixin, Base):
    """进货单 (purchase: goods in), 退货单 (supplier_return: goods back out) or 换货单 (exchange: goods out and
    their replacement in). A draft moves nothing; posting it moves the stock once."""

    __tablename__ = "supplier_documents"

    number: Mapped[str] = mapped_column(String(30), unique=True)
    kind: Mapped[str] = mapped_column(String(20))  # purchase | supplier_return | exchange
    supplier_id: Mapped[int] = mapped_column(ForeignKey("suppliers.id"), index=True)
    status: Mapped[str] = mapped_column(String(20), default="draft")  # draft | posted | void
    total: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    note: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    posted_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    posted_at: Mapped[datetime | None] = mapped_column(DateTime)

    lines: Mapped[list[SupplierDocumentLine]] = relationship(
        lazy="selectin", cascade="all, delete-orphan", order_by="SupplierDocumentLine.id"
    )


class SupplierDocumentLine(IdMixin, Base):
    __tablename__ = "supplier_document_lines"

    document_id: Mapped[int] = mapped_column(ForeignKey("supplier_documents.id", ondelete="CASCADE"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    quantity: Mapped[int] = mapped_column(Integer)
    unit_cost: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    amount: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    # An exchange: what comes back in place of ``product_id`` (the same product when not given).
    replacement_product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id"))


class ProductPrice(IdMixin, Base):
    """A product's price in one scheme: retail (零售价), dealer (代理价), floor (最低价)."""

    __tablename__ = "product_prices"
    __table_args__ = (UniqueConstraint("product_id", "scheme"),)

    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"), index=True)
    scheme: Mapped[str] = mapped_column(String(20))
    price: Mapped[Decimal] = mapped_column(Money)


class StockThreshold(IdMixin, Base):
    """Alert when a product's stock falls to ``minimum`` or below."""

    __tablename__ = "stock_thresholds"

    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"), unique=True)
    minimum: Mapped[int] = mapped_column(Integer)

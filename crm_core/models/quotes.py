"""Quotes (报价) with priced lines, and contracts (合同); both tie an opportunity to the order it became."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import Date, ForeignKey, Index, Integer, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm_core.db import Base
from crm_core.models.base import IdMixin, TimestampMixin

Money = Numeric(14, 2)


class Quote(IdMixin, TimestampMixin, Base):
    """draft -> sent -> accepted | rejected; an accepted quote becomes an order (``order_id``) once."""

    __tablename__ = "quotes"
    __table_args__ = (
        Index("ix_quotes_customer", "customer_id"),
        Index("ix_quotes_owner", "owner_id"),
        Index("ix_quotes_department", "department_id"),
    )

    number: Mapped[str] = mapped_column(String(30), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    opportunity_id: Mapped[int | None] = mapped_column(ForeignKey("opportunities.id", ondelete="SET NULL"))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    status: Mapped[str] = mapped_column(String(20), default="draft")
    valid_until: Mapped[date | None] = mapped_column(Date)
    total: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id", ondelete="SET NULL"))
    notes: Mapped[str] = mapped_column(Text, default="")

    lines: Mapped[list[QuoteLine]] = relationship(
        lazy="selectin", cascade="all, delete-orphan", order_by="QuoteLine.id"
    )


class QuoteLine(IdMixin, Base):
    __tablename__ = "quote_lines"

    quote_id: Mapped[int] = mapped_column(ForeignKey("quotes.id", ondelete="CASCADE"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price: Mapped[Decimal] = mapped_column(Money)
    amount: Mapped[Decimal] = mapped_column(Money)


class Contract(IdMixin, TimestampMixin, Base):
    """draft -> signed -> (terminated); the amount is the quote's or the order's when one is named."""

    __tablename__ = "contracts"
    __table_args__ = (
        Index("ix_contracts_customer", "customer_id"),
        Index("ix_contracts_owner", "owner_id"),
        Index("ix_contracts_department", "department_id"),
    )

    number: Mapped[str] = mapped_column(String(30), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    opportunity_id: Mapped[int | None] = mapped_column(ForeignKey("opportunities.id", ondelete="SET NULL"))
    quote_id: Mapped[int | None] = mapped_column(ForeignKey("quotes.id", ondelete="SET NULL"))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id", ondelete="SET NULL"))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    status: Mapped[str] = mapped_column(String(20), default="draft")
    amount: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    signed_on: Mapped[date | None] = mapped_column(Date)
    starts_on: Mapped[date | None] = mapped_column(Date)
    ends_on: Mapped[date | None] = mapped_column(Date)
    terms: Mapped[str] = mapped_column(Text, default="")

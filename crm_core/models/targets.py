"""Sales targets: what a person or a department should reach in a period (calls, new customers, orders, amount)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, Integer, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column

from crm_core.db import Base
from crm_core.models.base import IdMixin, TimestampMixin


class SalesTarget(IdMixin, TimestampMixin, Base):
    """A target for one person (``user_id``) or, without a person, for a whole department.

    The period is a range of days in the business time zone, both ends included. A measure left at 0 is
    not part of the target (it is neither reached nor missed).
    """

    __tablename__ = "sales_targets"
    __table_args__ = (
        Index("ix_sales_targets_user", "user_id"),
        Index("ix_sales_targets_department", "department_id"),
        CheckConstraint("period_end >= period_start", name="period_order"),
    )

    title: Mapped[str] = mapped_column(String(100), default="")
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    calls: Mapped[int] = mapped_column(Integer, default=0)
    new_customers: Mapped[int] = mapped_column(Integer, default=0)
    orders: Mapped[int] = mapped_column(Integer, default=0)
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=Decimal("0"))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

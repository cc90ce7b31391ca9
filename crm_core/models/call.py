"""Links between calls (by Linkedid) and CRM records; the call history itself belongs to stats."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from crm_core.db import Base
from crm_core.models.base import IdMixin, utcnow


class CallLink(IdMixin, Base):
    __tablename__ = "call_links"
    __table_args__ = (
        Index("ix_call_links_call", "call_id"),
        Index("ix_call_links_customer", "customer_id", "created_at"),
        Index("ix_call_links_ticket", "ticket_id"),
        Index("ix_call_links_order", "order_id"),
    )

    call_id: Mapped[str] = mapped_column(String(64))
    pbx: Mapped[str] = mapped_column(String(50), default="")
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="SET NULL"))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id", ondelete="SET NULL"))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

"""Message templates, messages (the outbox and the history in one table), opt-outs and bulk sends."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from crm_core.db import Base
from crm_core.models.base import IdMixin, TimestampMixin, utcnow

EMAIL, SMS = "email", "sms"
CHANNELS = (EMAIL, SMS)

# Delivery status of a message: queued -> sending -> sent (-> delivered, when a gateway reports it)
# or failed; a message that was never sent says why: opted_out (the customer said no on this channel)
# or no_address (no e-mail address or mobile number to send to).
QUEUED, SENDING, SENT, DELIVERED, FAILED = "queued", "sending", "sent", "delivered", "failed"
OPTED_OUT, NO_ADDRESS = "opted_out", "no_address"
STATUSES = (QUEUED, SENDING, SENT, DELIVERED, FAILED, OPTED_OUT, NO_ADDRESS)
SKIPPED = (OPTED_OUT, NO_ADDRESS)


class MessageTemplate(IdMixin, TimestampMixin, Base):
    """A text with ``{{ field }}`` placeholders; with a ``trigger`` it is sent on that workflow step."""

    __tablename__ = "message_templates"

    name: Mapped[str] = mapped_column(String(100), unique=True)
    channel: Mapped[str] = mapped_column(String(10))  # email | sms
    subject: Mapped[str] = mapped_column(String(200), default="")  # e-mail only
    body: Mapped[str] = mapped_column(Text)
    # "" = sent by hand or in bulk; "order.shipping", "ticket.resolve", ... = a service message.
    trigger: Mapped[str] = mapped_column(String(50), default="", index=True)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class MessageBatch(IdMixin, Base):
    """One bulk send: a template to the customers of a CRM search."""

    __tablename__ = "message_batches"

    template_id: Mapped[int | None] = mapped_column(ForeignKey("message_templates.id", ondelete="SET NULL"))
    channel: Mapped[str] = mapped_column(String(10))
    search: Mapped[str] = mapped_column(Text, default="")  # the search as JSON, for the record
    matched: Mapped[int] = mapped_column(Integer, default=0)
    queued: Mapped[int] = mapped_column(Integer, default=0)
    opted_out: Mapped[int] = mapped_column(Integer, default=0)
    no_address: Mapped[int] = mapped_column(Integer, default=0)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Message(IdMixin, Base):
    """One e-mail or SMS to one customer: what was sent, to where, why, and what became of it."""

    __tablename__ = "messages"
    __table_args__ = (
        Index("ix_messages_customer_created", "customer_id", "created_at"),
        Index("ix_messages_status_due", "status", "next_attempt_at"),
        Index("ix_messages_created", "created_at"),
    )

    channel: Mapped[str] = mapped_column(String(10))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="SET NULL"), index=True)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id", ondelete="SET NULL"), index=True)
    template_id: Mapped[int | None] = mapped_column(ForeignKey("message_templates.id", ondelete="SET NULL"))
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("message_batches.id", ondelete="SET NULL"), index=True)
    trigger: Mapped[str] = mapped_column(String(50), default="")
    to_address: Mapped[str] = mapped_column(String(200), default="")
    subject: Mapped[str] = mapped_column(String(300), default="")
    body: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(12), default=QUEUED)
    error: Mapped[str] = mapped_column(String(500), default="")
    provider_id: Mapped[str] = mapped_column(String(100), default="", index=True)  # the gateway's message id
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime)


class MessageOptOut(IdMixin, Base):
    """The customer (``contact_id`` None) or one of its contacts wants no messages on ``channel``."""

    __tablename__ = "message_opt_outs"
    __table_args__ = (UniqueConstraint("customer_id", "contact_id", "channel"),)

    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(10))
    note: Mapped[str] = mapped_column(String(300), default="")
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

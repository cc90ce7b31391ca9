"""Customers, contacts, the phone index, custom field definitions and follow-ups."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Date, DateTime, ForeignKey, Index, Integer, String, Text, func, select
from sqlalchemy.orm import Mapped, column_property, mapped_column, relationship

from crm_core.db import Base
from crm_core.models.base import IdMixin, TimestampMixin, utcnow
from crm_core.models.org import User


class CustomFieldDef(IdMixin, TimestampMixin, Base):
    """An administrator-defined field; values live in ``Customer.custom`` under ``key``."""

    __tablename__ = "custom_field_defs"

    entity: Mapped[str] = mapped_column(String(30), default="customer")
    key: Mapped[str] = mapped_column(String(50))
    label: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(10))  # text | number | date | choice
    choices: Mapped[list[str]] = mapped_column(JSON, default=list)
    required: Mapped[bool] = mapped_column(Boolean, default=False)
    position: Mapped[int] = mapped_column(Integer, default=0)


class Customer(IdMixin, TimestampMixin, Base):
    __tablename__ = "customers"
    __table_args__ = (
        Index("ix_customers_owner_status", "owner_id", "status"),
        Index("ix_customers_department", "department_id"),
        Index("ix_customers_name", "name"),
    )

    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20), default="company")  # company | person
    category: Mapped[str] = mapped_column(String(50), default="")
    region: Mapped[str] = mapped_column(String(100), default="")
    source: Mapped[str] = mapped_column(String(50), default="")
    level: Mapped[str] = mapped_column(String(20), default="")
    status: Mapped[str] = mapped_column(String(20), default="active")  # active | pool | merged
    address: Mapped[str] = mapped_column(String(300), default="")
    notes: Mapped[str] = mapped_column(Text, default="")
    # None = in the public pool, claimable by agents.
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    custom: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime)
    last_followup_at: Mapped[datetime | None] = mapped_column(DateTime)
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    # The owner's name read with the row itself (one SELECT for a whole list page): whoever sees a customer
    # sees who owns it, without needing to read the user list.
    owner_name: Mapped[str | None] = column_property(
        select(func.coalesce(func.nullif(User.display_name, ""), User.username))
        .where(User.id == owner_id)
        .correlate_except(User)
        .scalar_subquery()
    )

    contacts: Mapped[list[Contact]] = relationship(back_populates="customer", lazy="raise_on_sql")
    phones: Mapped[list[Phone]] = relationship(
        back_populates="customer", lazy="raise_on_sql", foreign_keys="Phone.customer_id"
    )


class Contact(IdMixin, TimestampMixin, Base):
    __tablename__ = "contacts"

    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    position: Mapped[str] = mapped_column(String(100), default="")
    gender: Mapped[str] = mapped_column(String(10), default="")
    birthday: Mapped[date | None] = mapped_column(Date)
    email: Mapped[str] = mapped_column(String(200), default="")
    notes: Mapped[str] = mapped_column(Text, default="")
    is_primary: Mapped[bool] = mapped_column(Boolean, default=False)

    customer: Mapped[Customer] = relationship(back_populates="contacts", lazy="raise_on_sql")


class Phone(IdMixin, Base):
    """One number of a customer or of one of its contacts, indexed by its normalised key."""

    __tablename__ = "phones"
    __table_args__ = (Index("ix_phones_key", "key", "customer_id"),)

    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    raw: Mapped[str] = mapped_column(String(50))
    key: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(12), default="")  # mobile | landline | tollfree | other
    extension: Mapped[str] = mapped_column(String(10), default="")
    label: Mapped[str] = mapped_column(String(30), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    customer: Mapped[Customer] = relationship(back_populates="phones", lazy="raise_on_sql", foreign_keys=[customer_id])


class FollowUp(IdMixin, Base):
    """A contact made with a customer; it keeps a claimed customer out of the pool."""

    __tablename__ = "followups"

    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    channel: Mapped[str] = mapped_column(String(20), default="phone")
    note: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

"""Outbound calling: campaigns and their leads and attempts, do-not-call numbers, callbacks, disposition
codes and the disposition of each call, agent scripts.

Times are naive UTC (``crm_core.models.base.utcnow``). A lead's ``state`` moves
``new -> dialing -> (retry -> dialing)* -> done | exhausted`` or to ``dnc`` / ``invalid`` before any dial;
its ``next_at`` is when it may be dialled (again), so a paused or restarted campaign resumes where it was.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from crm_core.db import Base
from crm_core.models.base import IdMixin, TimestampMixin, utcnow


class AgentScript(IdMixin, TimestampMixin, Base):
    """What the agent reads, with ``{field}`` placeholders, and the questions whose answers are kept."""

    __tablename__ = "outbound_scripts"

    name: Mapped[str] = mapped_column(String(100))
    queue: Mapped[str] = mapped_column(String(64), default="")  # the queue's script when no campaign names one
    body: Mapped[str] = mapped_column(Text, default="")
    # [{"key": "interested", "label": "...", "kind": "choice" | "text", "options": [...]}]
    questions: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)


class Campaign(IdMixin, TimestampMixin, Base):
    __tablename__ = "outbound_campaigns"

    name: Mapped[str] = mapped_column(String(100), unique=True)
    status: Mapped[str] = mapped_column(String(12), default="draft")  # draft | running | paused | finished
    mode: Mapped[str] = mapped_column(String(12), default="progressive")  # preview | progressive | predictive
    caller_id: Mapped[str] = mapped_column(String(40), default="")
    queue: Mapped[str] = mapped_column(String(64), default="")
    agents: Mapped[list[str]] = mapped_column(JSON, default=list)  # extensions; empty = the queue's members
    # {"days": [0..6 Monday first], "start": "09:00", "end": "18:00", "calendar": true}
    schedule: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # {"busy": {"max": 3, "delay_s": 600}, "no_answer": ..., "failed": ..., "machine": ..., "dropped": ...}
    retry: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    abandon_cap_pct: Mapped[float] = mapped_column(Float, default=3.0)
    max_ratio: Mapped[float] = mapped_column(Float, default=3.0)
    amd: Mapped[bool] = mapped_column(Boolean, default=False)
    script_id: Mapped[int | None] = mapped_column(ForeignKey("outbound_scripts.id", ondelete="SET NULL"))
    disposition_required: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class Lead(IdMixin, Base):
    __tablename__ = "outbound_leads"
    __table_args__ = (
        Index("ix_outbound_leads_due", "campaign_id", "state", "next_at", "position"),
        Index("ix_outbound_leads_call", "last_call_id"),
    )

    campaign_id: Mapped[int] = mapped_column(ForeignKey("outbound_campaigns.id", ondelete="CASCADE"))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"))
    position: Mapped[int] = mapped_column(Integer, default=0)
    name: Mapped[str] = mapped_column(String(200), default="")
    phone: Mapped[str] = mapped_column(String(50))
    phone_key: Mapped[str] = mapped_column(String(32), default="")
    fields: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    state: Mapped[str] = mapped_column(String(12), default="new")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_at: Mapped[datetime | None] = mapped_column(DateTime)
    last_outcome: Mapped[str] = mapped_column(String(12), default="")
    last_call_id: Mapped[str] = mapped_column(String(64), default="")
    agent: Mapped[str] = mapped_column(String(20), default="")  # preview: the agent it is offered to
    disposition: Mapped[str] = mapped_column(String(30), default="")
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


class Attempt(IdMixin, Base):
    __tablename__ = "outbound_attempts"
    __table_args__ = (
        Index("ix_outbound_attempts_campaign", "campaign_id", "started_at"),
        Index("ix_outbound_attempts_call", "call_id"),
    )

    campaign_id: Mapped[int] = mapped_column(ForeignKey("outbound_campaigns.id", ondelete="CASCADE"))
    lead_id: Mapped[int] = mapped_column(ForeignKey("outbound_leads.id", ondelete="CASCADE"))
    call_id: Mapped[str] = mapped_column(String(64), default="")
    number: Mapped[str] = mapped_column(String(50), default="")
    started_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    answered_at: Mapped[datetime | None] = mapped_column(DateTime)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime)
    # pending | connected | dropped | busy | no_answer | failed | machine
    outcome: Mapped[str] = mapped_column(String(12), default="pending")
    agent: Mapped[str] = mapped_column(String(20), default="")


class DncNumber(IdMixin, Base):
    """A number that must not be called: for every campaign (``campaign_id`` None) or for one."""

    __tablename__ = "outbound_dnc"
    __table_args__ = (
        UniqueConstraint("phone_key", "campaign_id", name="uq_outbound_dnc_key"),
        Index("ix_outbound_dnc_key", "phone_key"),
    )

    phone_key: Mapped[str] = mapped_column(String(32))
    raw: Mapped[str] = mapped_column(String(50), default="")
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("outbound_campaigns.id", ondelete="CASCADE"))
    note: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Callback(IdMixin, Base):
    """A call promised to a customer at ``due_at``: for one agent (``owner_id``) or for a queue."""

    __tablename__ = "outbound_callbacks"
    __table_args__ = (Index("ix_outbound_callbacks_due", "status", "due_at"),)

    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"))
    phone: Mapped[str] = mapped_column(String(50))
    phone_key: Mapped[str] = mapped_column(String(32), default="")
    due_at: Mapped[datetime] = mapped_column(DateTime)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # the owner's department, or (a queue's callback) its scheduler's: data scope (crm_core.permissions)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id", ondelete="SET NULL"), index=True)
    queue: Mapped[str] = mapped_column(String(64), default="")
    note: Mapped[str] = mapped_column(String(500), default="")
    source: Mapped[str] = mapped_column(String(10), default="agent")  # agent | ivr
    call_id: Mapped[str] = mapped_column(String(64), default="")  # the call it was promised on
    status: Mapped[str] = mapped_column(String(10), default="scheduled")  # scheduled | done | missed | cancelled
    done_call_id: Mapped[str] = mapped_column(String(64), default="")
    done_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class DispositionCode(IdMixin, Base):
    """An administrator's wrap-up code, for a queue, a campaign, or everywhere (both empty)."""

    __tablename__ = "outbound_disposition_codes"
    __table_args__ = (UniqueConstraint("code", "queue", "campaign_id", name="uq_outbound_disposition_code"),)

    code: Mapped[str] = mapped_column(String(30))
    name: Mapped[str] = mapped_column(String(100))
    queue: Mapped[str] = mapped_column(String(64), default="")
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("outbound_campaigns.id", ondelete="CASCADE"))
    is_success: Mapped[bool] = mapped_column(Boolean, default=False)  # counts as a conversion
    retry: Mapped[bool] = mapped_column(Boolean, default=False)  # the lead is dialled again later
    position: Mapped[int] = mapped_column(Integer, default=0)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)


class CallDisposition(IdMixin, Base):
    """The agent's wrap-up of one call: the code, a note and the script's answers."""

    __tablename__ = "outbound_call_dispositions"
    __table_args__ = (
        Index("ix_outbound_call_dispositions_call", "call_id"),
        Index("ix_outbound_call_dispositions_campaign", "campaign_id", "created_at"),
    )

    call_id: Mapped[str] = mapped_column(String(64))
    code: Mapped[str] = mapped_column(String(30))
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("outbound_campaigns.id", ondelete="SET NULL"))
    lead_id: Mapped[int | None] = mapped_column(ForeignKey("outbound_leads.id", ondelete="SET NULL"))
    queue: Mapped[str] = mapped_column(String(64), default="")
    agent: Mapped[str] = mapped_column(String(20), default="")
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    note: Mapped[str] = mapped_column(String(1000), default="")
    answers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

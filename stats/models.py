"""History tables fed from the bus (ARCHITECTURE section 7).

Times are epoch seconds (UTC) in double precision, so that SQLite and PostgreSQL group and subtract
them the same way; ``hour`` is ``floor(time / 3600)`` of the row's start, the grouping key of every
report. Links to CRM rows (customer, ticket, order) are plain indexed ids, not foreign keys: history
outlives the rows it mentions.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Float, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from crm_core.db import Base


class RollupMeasures:
    calls: Mapped[int] = mapped_column(Integer, default=0)
    answered: Mapped[int] = mapped_column(Integer, default=0)
    # Durations in whole milliseconds, so that taking a contribution out and in again is exact.
    wait_ms: Mapped[int] = mapped_column(BigInteger, default=0)
    ring_ms: Mapped[int] = mapped_column(BigInteger, default=0)
    talk_ms: Mapped[int] = mapped_column(BigInteger, default=0)
    hold_ms: Mapped[int] = mapped_column(BigInteger, default=0)
    wrapup_ms: Mapped[int] = mapped_column(BigInteger, default=0)


class TalkTimes:
    """When an agent's part began and ended, and how the time between was spent."""

    answered_at: Mapped[float | None] = mapped_column(Float)
    ended_at: Mapped[float | None] = mapped_column(Float)
    talk_s: Mapped[float | None] = mapped_column(Float)
    hold_s: Mapped[float] = mapped_column(Float, default=0.0)
    wrapup_s: Mapped[float] = mapped_column(Float, default=0.0)
    hold_since: Mapped[float | None] = mapped_column(Float)
    hold_mark: Mapped[float | None] = mapped_column(Float)  # time of the last hold/unhold applied


class CallRow(TalkTimes, Base):
    """One row per call (Linkedid) and PBX, CDR-like; ring-all losers and transfers live in legs."""

    __tablename__ = "stats_calls"
    __table_args__ = (
        UniqueConstraint("pbx", "call_id"),
        Index("ix_stats_calls_agent_started", "agent", "started_at"),
        Index("ix_stats_calls_queue_started", "queue", "started_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    pbx: Mapped[str] = mapped_column(String(40))
    call_id: Mapped[str] = mapped_column(String(80))
    direction: Mapped[str] = mapped_column(String(10), default="inbound")
    caller_number: Mapped[str] = mapped_column(String(40), default="", index=True)
    caller_name: Mapped[str] = mapped_column(String(100), default="")
    dialed: Mapped[str] = mapped_column(String(40), default="")
    queue: Mapped[str | None] = mapped_column(String(40))
    agent: Mapped[str | None] = mapped_column(String(40))
    department: Mapped[str | None] = mapped_column(String(40))
    started_at: Mapped[float] = mapped_column(Float, index=True)
    hour: Mapped[int] = mapped_column(Integer, index=True)
    wait_s: Mapped[float | None] = mapped_column(Float)
    ring_s: Mapped[float | None] = mapped_column(Float)
    duration_s: Mapped[float | None] = mapped_column(Float)
    disposition: Mapped[str | None] = mapped_column(String(20))
    hangup_cause: Mapped[int | None] = mapped_column(Integer)
    hangup_cause_text: Mapped[str] = mapped_column(String(80), default="")
    hangup_by: Mapped[str] = mapped_column(String(10), default="")
    customer_id: Mapped[int | None] = mapped_column(Integer, index=True)
    ticket_id: Mapped[int | None] = mapped_column(Integer, index=True)
    order_id: Mapped[int | None] = mapped_column(Integer, index=True)
    recording_id: Mapped[str | None] = mapped_column(String(80))


class CallLegRow(Base):
    """One channel of a call: who rang, who answered, from which queue."""

    __tablename__ = "stats_call_legs"
    __table_args__ = (
        UniqueConstraint("pbx", "call_id", "channel"),
        Index("ix_stats_call_legs_agent_answered", "agent", "answered_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    pbx: Mapped[str] = mapped_column(String(40))
    call_id: Mapped[str] = mapped_column(String(80))
    channel: Mapped[str] = mapped_column(String(120))
    number: Mapped[str] = mapped_column(String(40), default="")
    name: Mapped[str] = mapped_column(String(100), default="")
    extension: Mapped[str] = mapped_column(String(40), default="")
    agent: Mapped[str | None] = mapped_column(String(40))
    queue: Mapped[str | None] = mapped_column(String(40))
    ring_at: Mapped[float] = mapped_column(Float)
    answered_at: Mapped[float | None] = mapped_column(Float)
    ended_at: Mapped[float | None] = mapped_column(Float)
    hangup_cause: Mapped[int | None] = mapped_column(Integer)


class QueueCallRow(TalkTimes, Base):
    """One stay of one call in one queue; fields as :class:`stats.kpi.QueueCallRecord`."""

    __tablename__ = "stats_queue_calls"
    __table_args__ = (
        UniqueConstraint("pbx", "call_id", "queue", "joined_at"),
        Index("ix_stats_queue_calls_hour_queue", "hour", "queue"),
        Index("ix_stats_queue_calls_agent_answered", "agent", "answered_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    pbx: Mapped[str] = mapped_column(String(40))
    call_id: Mapped[str] = mapped_column(String(80), index=True)
    queue: Mapped[str] = mapped_column(String(40))
    joined_at: Mapped[float] = mapped_column(Float)
    hour: Mapped[int] = mapped_column(Integer)
    position: Mapped[int | None] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(String(10), default="waiting")
    wait_s: Mapped[float | None] = mapped_column(Float)
    agent: Mapped[str | None] = mapped_column(String(40))
    department: Mapped[str | None] = mapped_column(String(40))
    left_at: Mapped[float | None] = mapped_column(Float)


class AgentStateRow(Base):
    """Every agent state change, with its reason; duration is filled when the next change comes."""

    __tablename__ = "stats_agent_states"
    __table_args__ = (
        UniqueConstraint("pbx", "agent", "started_at"),
        Index("ix_stats_agent_states_hour_agent", "hour", "agent"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    pbx: Mapped[str] = mapped_column(String(40))
    agent: Mapped[str] = mapped_column(String(40))
    extension: Mapped[str] = mapped_column(String(40), default="")
    department: Mapped[str | None] = mapped_column(String(40))
    state: Mapped[str] = mapped_column(String(12))
    reason: Mapped[str] = mapped_column(String(60), default="")
    queues: Mapped[str] = mapped_column(String(400), default="")  # comma-separated
    started_at: Mapped[float] = mapped_column(Float)
    hour: Mapped[int] = mapped_column(Integer)
    ended_at: Mapped[float | None] = mapped_column(Float)
    duration_s: Mapped[float | None] = mapped_column(Float)
    is_open: Mapped[bool] = mapped_column(Boolean, default=True)


class IvrStepRow(Base):
    """One IVR node visited by a call; dwell is the time until the call's next step."""

    __tablename__ = "stats_ivr_steps"
    __table_args__ = (
        UniqueConstraint("pbx", "call_id", "at", "node"),
        Index("ix_stats_ivr_steps_hour_node", "hour", "flow", "node"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    pbx: Mapped[str] = mapped_column(String(40))
    call_id: Mapped[str] = mapped_column(String(80), index=True)
    flow: Mapped[str] = mapped_column(String(60))
    node: Mapped[str] = mapped_column(String(60))
    input: Mapped[str] = mapped_column(String(60), default="")
    result: Mapped[str] = mapped_column(String(60), default="")
    at: Mapped[float] = mapped_column(Float)
    hour: Mapped[int] = mapped_column(Integer)
    dwell_s: Mapped[float | None] = mapped_column(Float)


class SurveyRow(Base):
    """A post-call satisfaction score, bound to the call and the agent."""

    __tablename__ = "stats_surveys"
    __table_args__ = (UniqueConstraint("pbx", "call_id", "agent"), Index("ix_stats_surveys_hour", "hour"))

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    pbx: Mapped[str] = mapped_column(String(40))
    call_id: Mapped[str] = mapped_column(String(80))
    agent: Mapped[str] = mapped_column(String(40), default="")
    department: Mapped[str | None] = mapped_column(String(40))
    queue: Mapped[str | None] = mapped_column(String(40))
    score: Mapped[int] = mapped_column(Integer)
    scale: Mapped[int] = mapped_column(Integer, default=5)
    at: Mapped[float] = mapped_column(Float)
    hour: Mapped[int] = mapped_column(Integer)


class CallRollupRow(RollupMeasures, Base):
    """Finished calls summed per hour x queue x agent x department x direction x disposition.

    Kept exact by the writer: whenever a finished call row changes, its old contribution is taken out
    and its new one put in, in the same transaction as the change. Empty keys are '' (not NULL).
    """

    __tablename__ = "stats_call_rollup"

    hour: Mapped[int] = mapped_column(Integer, primary_key=True)
    queue: Mapped[str] = mapped_column(String(40), primary_key=True)
    agent: Mapped[str] = mapped_column(String(40), primary_key=True)
    department: Mapped[str] = mapped_column(String(40), primary_key=True)
    direction: Mapped[str] = mapped_column(String(10), primary_key=True)
    disposition: Mapped[str] = mapped_column(String(20), primary_key=True)


class CenterRollupRow(RollupMeasures, Base):
    """The same finished calls summed per hour x queue x direction x disposition (no agent dimension).

    A few hundred rows a day whatever the number of seats, for the service-center report; kept exact
    by the writer in the same transaction as ``stats_call_rollup``.
    """

    __tablename__ = "stats_center_rollup"

    hour: Mapped[int] = mapped_column(Integer, primary_key=True)
    queue: Mapped[str] = mapped_column(String(40), primary_key=True)
    direction: Mapped[str] = mapped_column(String(10), primary_key=True)
    disposition: Mapped[str] = mapped_column(String(20), primary_key=True)

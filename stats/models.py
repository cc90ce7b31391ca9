"""History tables fed from the bus (ARCHITECTURE section 7).

Times are epoch seconds (UTC) in double precision, so that SQLite and PostgreSQL group and subtract
them the same way; ``hour`` is ``floor(time / 3600)`` of the row's start, the grouping key of every
report. Links to CRM rows (customer, ticket, order) are plain indexed ids, not foreign keys: history
outlives the rows it mentions.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Float, Index, Integer, String, UniqueConstraint, text
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
        Index("ix_stats_calls_call_id", "call_id"),  # call links name a call without its PBX
        Index("ix_stats_calls_agent_started", "agent", "started_at"),
        Index("ix_stats_calls_queue_started", "queue", "started_at"),
        # calls still up: the CDR's count takes the finished ones from the rollups
        Index(
            "ix_stats_calls_open_started",
            "started_at",
            sqlite_where=text("ended_at IS NULL"),
            postgresql_where=text("ended_at IS NULL"),
        ),
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
    # the call's first visit of this flow's node: the IVR report's calls, summable over hours
    first_visit: Mapped[bool] = mapped_column(Boolean, default=True)


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


# --- rollups by hour and by business day -------------------------------------------------------------
#
# ``grain`` 0: ``slot`` is the UTC hour; grain 1: ``slot`` is the business day, ``(hour + offset) // 24``
# with the whole-hour offset recorded in ``stats_rollup_settings`` (the reports' own day bucket). Each is
# kept exact by the writer (``stats.rollup``) in the same transaction as the rows it sums; empty keys are
# '' (not NULL); durations are whole milliseconds.


class GrainSlot:
    grain: Mapped[int] = mapped_column(Integer, primary_key=True)
    slot: Mapped[int] = mapped_column(Integer, primary_key=True)


class RollupSettingsRow(Base):
    """What the rollups were built for: the business day's UTC offset and the queue thresholds."""

    __tablename__ = "stats_rollup_settings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day_offset_h: Mapped[int | None] = mapped_column(Integer)
    sl_threshold_s: Mapped[float] = mapped_column(Float, default=20.0)
    short_abandon_s: Mapped[float] = mapped_column(Float, default=5.0)


class AgentRollupRow(RollupMeasures, GrainSlot, Base):
    """Finished calls per slot x agent x department x direction (the agent report)."""

    __tablename__ = "stats_agent_rollup"

    agent: Mapped[str] = mapped_column(String(40), primary_key=True)
    department: Mapped[str] = mapped_column(String(40), primary_key=True)
    direction: Mapped[str] = mapped_column(String(10), primary_key=True)


class QueueRollupRow(GrainSlot, Base):
    """Queue stays per slot x queue x agent x department: the fields of :class:`stats.kpi.QueueCounts`."""

    __tablename__ = "stats_queue_rollup"

    queue: Mapped[str] = mapped_column(String(40), primary_key=True)
    agent: Mapped[str] = mapped_column(String(40), primary_key=True)
    department: Mapped[str] = mapped_column(String(40), primary_key=True)
    offered: Mapped[int] = mapped_column(Integer, default=0)
    waiting: Mapped[int] = mapped_column(Integer, default=0)
    answered: Mapped[int] = mapped_column(Integer, default=0)
    answered_wait_ms: Mapped[int] = mapped_column(BigInteger, default=0)
    answered_within: Mapped[int] = mapped_column(Integer, default=0)
    handled: Mapped[int] = mapped_column(Integer, default=0)
    handle_ms: Mapped[int] = mapped_column(BigInteger, default=0)
    abandoned: Mapped[int] = mapped_column(Integer, default=0)
    short_abandons: Mapped[int] = mapped_column(Integer, default=0)
    abandoned_within: Mapped[int] = mapped_column(Integer, default=0)
    overflow: Mapped[int] = mapped_column(Integer, default=0)
    longest_wait_ms: Mapped[int] = mapped_column(BigInteger, default=0)
    abandon_wait_ms: Mapped[int] = mapped_column(BigInteger, default=0)
    wait_0: Mapped[int] = mapped_column(Integer, default=0)
    wait_1: Mapped[int] = mapped_column(Integer, default=0)
    wait_2: Mapped[int] = mapped_column(Integer, default=0)
    wait_3: Mapped[int] = mapped_column(Integer, default=0)
    wait_4: Mapped[int] = mapped_column(Integer, default=0)
    wait_5: Mapped[int] = mapped_column(Integer, default=0)


class SurveyRollupRow(GrainSlot, Base):
    """Survey answers per slot x agent x department x queue x score x scale."""

    __tablename__ = "stats_survey_rollup"

    agent: Mapped[str] = mapped_column(String(40), primary_key=True)
    department: Mapped[str] = mapped_column(String(40), primary_key=True)
    queue: Mapped[str] = mapped_column(String(40), primary_key=True)
    score: Mapped[int] = mapped_column(Integer, primary_key=True)
    scale: Mapped[int] = mapped_column(Integer, primary_key=True)
    surveys: Mapped[int] = mapped_column(Integer, default=0)


class SeatRollupRow(GrainSlot, Base):
    """Agent state changes per slot (of their start) x agent x department x state, with their time."""

    __tablename__ = "stats_seat_rollup"

    agent: Mapped[str] = mapped_column(String(40), primary_key=True)
    department: Mapped[str] = mapped_column(String(40), primary_key=True)
    state: Mapped[str] = mapped_column(String(12), primary_key=True)
    changes: Mapped[int] = mapped_column(Integer, default=0)
    duration_ms: Mapped[int] = mapped_column(BigInteger, default=0)


class IvrRollupRow(GrainSlot, Base):
    """IVR steps per slot x flow x node."""

    __tablename__ = "stats_ivr_rollup"

    flow: Mapped[str] = mapped_column(String(60), primary_key=True)
    node: Mapped[str] = mapped_column(String(60), primary_key=True)
    visits: Mapped[int] = mapped_column(Integer, default=0)
    first_visits: Mapped[int] = mapped_column(Integer, default=0)
    dwell_ms: Mapped[int] = mapped_column(BigInteger, default=0)
    dwells: Mapped[int] = mapped_column(Integer, default=0)
    exits: Mapped[int] = mapped_column(Integer, default=0)

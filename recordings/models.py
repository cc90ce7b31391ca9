"""Tables of the recording index: one row per audio file, and the retention rules per queue.

A recording is linked to its call by ``call_id`` (the Linkedid) and to the channel that recorded by
``uniqueid``; the stats ``calls`` table is reached through those keys only, never by a foreign key.
Retention deletes the audio and keeps the row (``status = deleted``), so call history stays whole.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, DateTime, Float, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from crm_core.db import Base
from crm_core.models.base import utcnow


class RecordingStatus(StrEnum):
    """Life of a recording row."""

    RECORDING = "recording"  # MixMonitor started, not stopped yet
    PENDING = "pending"  # stopped, the file has not been seen in the folder yet
    READY = "ready"  # the file is there, probed, and linked to its call
    UNLINKED = "unlinked"  # the file is there but no call has named it yet
    MISSING = "missing"  # the call ended and the file never appeared
    INVALID = "invalid"  # the file is not audio or is truncated
    DELETED = "deleted"  # audio removed by retention; the row stays


class Recording(Base):
    __tablename__ = "recordings"
    __table_args__ = (
        Index("ix_recordings_started_at", "started_at"),
        Index("ix_recordings_status", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Path relative to settings.recordings_dir, always with "/" separators and never "..".
    file_name: Mapped[str] = mapped_column(String(300), unique=True)
    status: Mapped[str] = mapped_column(String(12), default=RecordingStatus.PENDING.value)
    call_id: Mapped[str | None] = mapped_column(String(64), index=True)
    uniqueid: Mapped[str | None] = mapped_column(String(64), index=True)
    channel: Mapped[str | None] = mapped_column(String(200))
    pbx: Mapped[str | None] = mapped_column(String(50))
    direction: Mapped[str | None] = mapped_column(String(10))
    agent: Mapped[str | None] = mapped_column(String(80), index=True)
    agent_user_id: Mapped[int | None] = mapped_column(Integer, index=True)
    department_id: Mapped[int | None] = mapped_column(Integer, index=True)
    queue: Mapped[str | None] = mapped_column(String(80), index=True)
    caller_number: Mapped[str | None] = mapped_column(String(40), index=True)
    callee_number: Mapped[str | None] = mapped_column(String(40))
    customer_id: Mapped[int | None] = mapped_column(Integer, index=True)
    satisfaction: Mapped[int | None] = mapped_column(Integer)
    started_at: Mapped[datetime | None] = mapped_column(DateTime)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime)
    call_ended_at: Mapped[datetime | None] = mapped_column(DateTime)
    duration_s: Mapped[float | None] = mapped_column(Float)
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    mtime_ns: Mapped[int | None] = mapped_column(BigInteger)
    format: Mapped[str | None] = mapped_column(String(10))
    sample_rate: Mapped[int | None] = mapped_column(Integer)
    channels: Mapped[int | None] = mapped_column(Integer)
    problem: Mapped[str | None] = mapped_column(String(200))
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


class RetentionRule(Base):
    """Keep the audio of one queue's recordings ``keep_days`` days. Queue ``*`` is the default rule.

    A rule with a ``department_id`` applies to that department's recordings (set by its supervisors) and
    comes before the center-wide rules (no department, set by administrators).
    """

    __tablename__ = "recording_retention_rules"
    __table_args__ = (UniqueConstraint("department_id", "queue"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    department_id: Mapped[int | None] = mapped_column(Integer, index=True)
    queue: Mapped[str] = mapped_column(String(80))
    keep_days: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

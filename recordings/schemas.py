"""Shapes of recordings on the API, kept apart from the ORM rows."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from recordings.models import Recording, RecordingStatus

PLAYABLE = frozenset({RecordingStatus.READY.value, RecordingStatus.UNLINKED.value})


class RecordingOut(BaseModel):
    id: int
    call_id: str | None
    status: str
    direction: str | None
    agent: str | None
    queue: str | None
    caller_number: str | None
    callee_number: str | None
    customer_id: int | None
    satisfaction: int | None
    started_at: datetime | None
    duration_s: float | None
    size_bytes: int | None
    format: str | None
    problem: str | None
    playable: bool
    audio_url: str
    download_url: str

    @classmethod
    def of(cls, row: Recording) -> RecordingOut:
        return cls(
            id=row.id,
            call_id=row.call_id,
            status=row.status,
            direction=row.direction,
            agent=row.agent,
            queue=row.queue,
            caller_number=row.caller_number,
            callee_number=row.callee_number,
            customer_id=row.customer_id,
            satisfaction=row.satisfaction,
            started_at=row.started_at,
            duration_s=row.duration_s,
            size_bytes=row.size_bytes,
            format=row.format,
            problem=row.problem,
            playable=row.status in PLAYABLE,
            audio_url=f"/api/recordings/{row.id}/audio",
            download_url=f"/api/recordings/{row.id}/download",
        )


class RecordingPage(BaseModel):
    items: list[RecordingOut]
    total: int


class RetentionRuleIn(BaseModel):
    queue: str = Field(min_length=1, max_length=80, pattern=r"^(\*|[A-Za-z0-9_.@-]{1,80})$")
    keep_days: int = Field(ge=0, le=36500, description="0 keeps the audio forever")
    department_id: int | None = Field(None, description="A department's own rule; none: center-wide")


class RetentionRules(BaseModel):
    rules: list[RetentionRuleIn] = Field(max_length=500)

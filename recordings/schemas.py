"""Shapes of recordings on the API, kept apart from the ORM rows."""

from __future__ import annotations

from collections.abc import Callable, Sequence
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


class RecordingFileOut(BaseModel):
    """One file of a recorded call: ``queue`` (the dialplan's, whole call) or ``agent`` (the CTI's)."""

    id: int
    kind: str
    status: str
    started_at: datetime | None
    duration_s: float | None
    playable: bool
    audio_url: str
    download_url: str


class RecordedCallOut(RecordingOut):
    """A list row: one recorded call. Its own fields are those of its best file (playable, the queue
    recording before the agent's), details missing there taken from the call's other files."""

    files: list[RecordingFileOut]

    @classmethod
    def of_call(cls, files: Sequence[Recording], kind_of: Callable[[Recording], str]) -> RecordedCallOut:
        base = RecordingOut.of(files[0]).model_dump()
        for field_name in (
            "direction",
            "agent",
            "queue",
            "caller_number",
            "callee_number",
            "customer_id",
            "satisfaction",
        ):
            if base[field_name] is None:
                base[field_name] = next(
                    (getattr(f, field_name) for f in files if getattr(f, field_name) is not None), None
                )
        starts = [f.started_at for f in files if f.started_at is not None]
        base["started_at"] = min(starts) if starts else None
        out = [
            RecordingFileOut(
                id=f.id,
                kind=kind_of(f),
                status=f.status,
                started_at=f.started_at,
                duration_s=f.duration_s,
                playable=f.status in PLAYABLE,
                audio_url=f"/api/recordings/{f.id}/audio",
                download_url=f"/api/recordings/{f.id}/download",
            )
            for f in files
        ]
        return cls(**base, files=out)


class RecordingPage(BaseModel):
    """One row per recorded call; ``counts`` (calls per status and ``total``) from the same query."""

    items: list[RecordedCallOut]
    total: int
    counts: dict[str, int] = Field(default_factory=dict)


class RetentionRuleIn(BaseModel):
    queue: str = Field(min_length=1, max_length=80, pattern=r"^(\*|[A-Za-z0-9_.@-]{1,80})$")
    keep_days: int = Field(ge=0, le=36500, description="0 keeps the audio forever")
    department_id: int | None = Field(None, description="A department's own rule; none: center-wide")


class RetentionRules(BaseModel):
    rules: list[RetentionRuleIn] = Field(max_length=500)

"""The bus events the IVR publishes (ARCHITECTURE §3): ``ivr.step``, ``survey.scored``, ``voicemail.new``.

Pure builders: the time is passed in. ``seq`` is added by the bus.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ivr.engine import ScoreSurvey, Step


def iso_utc(moment: datetime) -> str:
    """ISO-8601 in UTC with milliseconds, e.g. ``2026-11-23T16:15:37.120Z``."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def envelope(event_type: str, ts: datetime, pbx: str, **fields: Any) -> dict[str, Any]:
    return {"type": event_type, "ts": iso_utc(ts), "pbx": pbx, **fields}


def ivr_step(step: Step, call_id: str, flow: str, ts: datetime, pbx: str) -> dict[str, Any]:
    return envelope(
        "ivr.step", ts, pbx, call_id=call_id, flow=flow, node=step.node, input=step.input, result=step.result
    )


def survey_scored(score: ScoreSurvey, call_id: str, ts: datetime, pbx: str) -> dict[str, Any]:
    return envelope(
        "survey.scored",
        ts,
        pbx,
        call_id=call_id,
        agent=score.agent,
        extension=score.extension,
        score=score.score,
        scale=score.scale,
    )

"""Reading bus events (ARCHITECTURE section 3): the fields every consumer in ``stats`` needs the same way."""

from __future__ import annotations

from datetime import datetime
from typing import Any


class EventError(ValueError):
    """An event lacks a field a consumer needs; the message names the event type and the field."""


def event_time(event: dict[str, Any]) -> float:
    """Epoch seconds of the event's ``ts`` (ISO-8601 from the PBX event time, or a number)."""
    ts = event.get("ts")
    if isinstance(ts, int | float) and not isinstance(ts, bool):
        return float(ts)
    if isinstance(ts, str):
        try:
            return datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()
        except ValueError:
            pass
    raise EventError(f"{event.get('type')}: missing or unreadable 'ts' ({ts!r})")


def number(value: Any) -> float | None:
    """A numeric field as a float, or None when absent or not a number."""
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None

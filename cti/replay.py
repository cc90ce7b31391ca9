"""Replay recorded AMI traffic through a fresh call tracker (``callcenter replay FILE``).

Three input forms are recognised from the bytes: a JSON array of event dicts, JSONL (one message
per line, as in the recorded transcripts: ``_kind``/``_t_rel`` are used, other ``_`` keys are
dropped) and a raw AMI byte capture (banner optional; it carries no time, so times are None).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cti.ami.parser import parse_capture
from cti.events import Event
from cti.tracker import CallTracker

TimedMessage = tuple[dict[str, Any], float | None]


class ReplayFormatError(ValueError):
    """The file is neither a JSON array, JSONL of AMI messages nor a raw AMI capture."""


def load_messages(path: Path) -> list[TimedMessage]:
    """The AMI event messages of a recording, in order, each with its time in seconds (or None)."""
    data = Path(path).read_bytes()
    head = data.lstrip()[:1]
    if head == b"[":
        try:
            items = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ReplayFormatError(f"{path}: not a valid JSON array of AMI events: {exc}") from exc
        if not isinstance(items, list):
            raise ReplayFormatError(f"{path}: a JSON file must hold an array of AMI events")
        return [timed for item in items if (timed := _timed(item)) is not None]
    if head == b"{":
        return _load_jsonl(path, data)
    return [(msg, None) for msg in parse_capture(data) if "Event" in msg]


def _load_jsonl(path: Path, data: bytes) -> list[TimedMessage]:
    out: list[TimedMessage] = []
    for number, line in enumerate(data.decode("utf-8", "replace").splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("_"):
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ReplayFormatError(f"{path}:{number}: not a JSON object: {exc.msg}") from exc
        timed = _timed(item)
        if timed is not None:
            out.append(timed)
    return out


def _timed(item: Any) -> TimedMessage | None:
    """An event dict without its ``_`` keys, and its ``_t_rel`` time; None for anything else."""
    if not isinstance(item, dict):
        return None
    kind = item.get("_kind")
    if kind is not None and kind != "event":
        return None
    if kind is None and "Event" not in item:
        return None
    t_rel = item.get("_t_rel")
    when = float(t_rel) if isinstance(t_rel, int | float) and not isinstance(t_rel, bool) else None
    return {k: v for k, v in item.items() if not (isinstance(k, str) and k.startswith("_"))}, when


def replay_file(path: Path, pbx: str = "pbx1") -> Iterator[Event]:
    """Feed a fresh tracker with the recording; yield its domain events numbered ``seq`` 1, 2, 3…"""
    tracker = CallTracker(pbx=pbx)
    seq = 0
    for msg, when in load_messages(path):
        for event in tracker.feed(msg, now=when):
            seq += 1
            event["seq"] = seq
            yield event

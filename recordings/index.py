"""The pure core of the recording index: AMI and bus events in, recording facts out.

No sockets, no database, no clock: time comes in with every call. The shell (``indexer.py``) applies
the facts to the ``recordings`` table and scans the folder.

What Asterisk 22 tells us (scenario 04 of the recorded AMI traffic):
- ``MixMonitorStart`` carries no file name. The file is named by ``VarSet Variable=MIXMONITOR_FILENAME``
  on the same channel, in the same millisecond, in either order; both carry ``Uniqueid`` and ``Linkedid``.
- ``MixMonitorStop`` comes only for ``StopMixMonitor``; a recording started by the dialplan ends with the
  channel's ``Hangup``.
- The dialplan names files ``q-<queue>-<YYYYMMDD>-<HHMMSS>-<uniqueid>.wav``, the CTI ``cti-<uniqueid>.wav``.
"""

from __future__ import annotations

import posixpath
import re
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from recordings.models import RecordingStatus

DEFAULT_PBX_DIR = "/var/spool/asterisk/monitor"
AUDIO_EXTENSIONS = frozenset({"wav", "wav49", "gsm", "mp3", "ogg", "opus", "flac", "sln", "ulaw", "alaw"})
_CALL_MEMORY = 20_000  # calls whose details are kept until call.ended; bounds memory on lost hangups

_NAME_RE = re.compile(r"(?:^|[-_])(?P<uniqueid>\d+\.\d+)\.(?P<ext>[A-Za-z0-9]+)$")
_QUEUE_RE = re.compile(r"^q-(?P<queue>.+)-(?P<date>\d{8})-(?P<time>\d{6})-")
_SAFE_PART_RE = re.compile(r"^[A-Za-z0-9@+=,._ -]+$")


class UnsafeFileName(ValueError):
    """A file name that would leave the recording folder or is not a plain relative path."""


@dataclass(frozen=True, slots=True)
class NameFacts:
    uniqueid: str | None
    queue: str | None
    extension: str


@dataclass(frozen=True, slots=True)
class FileStat:
    """One file found in the recording folder."""

    file_name: str  # relative, "/"-separated
    size: int
    mtime_ns: int


@dataclass(frozen=True, slots=True)
class ScanPlan:
    new: list[FileStat]
    changed: list[FileStat]
    vanished: list[str]


@dataclass(frozen=True, slots=True)
class RowFacts:
    """What the status of a recording row is derived from."""

    status: str
    has_file: bool
    call_id: str | None
    stopped_at: float | None  # epoch seconds the recording (or its call) ended
    started_at: float | None


def safe_relative_name(name: str) -> str:
    """Return ``name`` as a clean relative path inside the recording folder, or raise UnsafeFileName."""
    if not name or "\x00" in name or "\\" in name or name.startswith("/") or len(name) > 300:
        raise UnsafeFileName(f"not a relative file name: {name!r}")
    parts = name.split("/")
    for part in parts:
        if part in ("", ".", "..") or not _SAFE_PART_RE.match(part) or part.startswith("."):
            raise UnsafeFileName(f"not a relative file name: {name!r}")
    return "/".join(parts)


def relative_file_name(value: str, pbx_dir: str = DEFAULT_PBX_DIR) -> str:
    """Map MIXMONITOR_FILENAME (as Asterisk sees the path) to a name relative to our recording folder."""
    root = pbx_dir.rstrip("/") + "/"
    if value.startswith(root):
        candidate = value[len(root) :]
    elif not value.startswith("/"):
        candidate = value  # MixMonitor puts relative names in its monitor folder
    else:
        candidate = posixpath.basename(value)
    try:
        return safe_relative_name(posixpath.normpath(candidate))
    except UnsafeFileName:
        return safe_relative_name(posixpath.basename(value))


def parse_recording_name(file_name: str) -> NameFacts:
    """What the file name tells: the recording channel's Uniqueid and, for queue files, the queue."""
    base = posixpath.basename(file_name)
    ext = base.rsplit(".", 1)[-1].lower() if "." in base else ""
    match = _NAME_RE.search(base)
    queue_match = _QUEUE_RE.match(base)
    return NameFacts(
        uniqueid=match.group("uniqueid") if match else None,
        queue=queue_match.group("queue") if queue_match else None,
        extension=ext,
    )


def is_audio_name(file_name: str) -> bool:
    return "." in file_name and file_name.rsplit(".", 1)[1].lower() in AUDIO_EXTENSIONS


def plan_scan(known: Mapping[str, tuple[int | None, int | None]], found: Iterable[FileStat]) -> ScanPlan:
    """Compare the folder with the index: files to add, files that changed, indexed files now gone.

    ``known`` maps file names of rows that should have audio to their recorded (size, mtime_ns).
    Scanning twice without a change in the folder yields an empty plan (idempotent).
    """
    new: list[FileStat] = []
    changed: list[FileStat] = []
    seen: set[str] = set()
    for stat in found:
        seen.add(stat.file_name)
        if stat.file_name not in known:
            new.append(stat)
        elif known[stat.file_name] != (stat.size, stat.mtime_ns):
            changed.append(stat)
    vanished = [name for name, (size, _m) in known.items() if name not in seen and size is not None]
    return ScanPlan(new=new, changed=changed, vanished=sorted(vanished))


def derive_status(row: RowFacts, now: float, grace_s: float, max_recording_s: float) -> RecordingStatus:
    """The status a row should have now. ``invalid`` and ``deleted`` are final and kept."""
    current = RecordingStatus(row.status)
    if current in (RecordingStatus.INVALID, RecordingStatus.DELETED):
        return current
    if row.has_file:
        if row.call_id is None:
            return RecordingStatus.UNLINKED
        if row.stopped_at is None and current is RecordingStatus.RECORDING:
            return RecordingStatus.RECORDING
        return RecordingStatus.READY
    if row.stopped_at is None:
        started = row.started_at if row.started_at is not None else now
        return RecordingStatus.MISSING if now - started > max_recording_s else RecordingStatus.RECORDING
    return RecordingStatus.MISSING if now - row.stopped_at > grace_s else RecordingStatus.PENDING


# --------------------------------------------------------------------------------------------------
# AMI + bus -> facts


@dataclass(slots=True)
class _Channel:
    call_id: str | None
    channel: str | None
    pending_file: str | None = None  # named by VarSet, MixMonitorStart not seen yet
    started_without_file: bool = False  # MixMonitorStart seen, VarSet not yet
    active: list[str] = field(default_factory=list)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, dict):
        for key in ("number", "extension", "username", "name"):
            if value.get(key):
                return str(value[key])
        return None
    text = str(value).strip()
    return text or None


def _agent_key(value: Any) -> str | None:
    """An agent as the tracker names it: an extension, an agent number, or a Local/10XX@... interface."""
    if isinstance(value, dict):
        for key in ("agent_number", "extension", "username", "number", "name", "interface"):
            if value.get(key):
                return _agent_key(value[key])
        return None
    text = _text(value)
    if text and "/" in text:
        match = re.match(r"^[A-Za-z]+/([^@/;]+)", text)
        return match.group(1) if match else text
    return text


def _customer_id(value: Any) -> int | None:
    if isinstance(value, dict):
        value = value.get("id", value.get("customer_id"))
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


class RecordingIndexer:
    """Turns AMI messages and domain events into recording facts (plain dicts).

    Facts (key ``fact``):
    - ``started``: {call_id, uniqueid, channel, file_name, ts, queue?, ...call details known so far}
    - ``stopped``: {call_id, uniqueid, file_name, ts}
    - ``call``: {call_id, ...details} details of a call to copy onto its recordings
    - ``call_ended``: {call_id, ts}
    """

    def __init__(self, pbx_dir: str = DEFAULT_PBX_DIR) -> None:
        self.pbx_dir = pbx_dir
        self._channels: dict[str, _Channel] = {}
        self._calls: OrderedDict[str, dict[str, Any]] = OrderedDict()

    # -- AMI ------------------------------------------------------------------------------------
    def on_ami(self, msg: Mapping[str, Any], now: float) -> list[dict[str, Any]]:
        name = msg.get("Event")
        if name == "VarSet" and msg.get("Variable") == "MIXMONITOR_FILENAME":
            return self._on_filename(msg, now)
        if name == "MixMonitorStart":
            return self._on_start(msg, now)
        if name == "MixMonitorStop":
            return self._stop(str(msg.get("Uniqueid", "")), now, keep_channel=True)
        if name == "Hangup":
            return self._stop(str(msg.get("Uniqueid", "")), now, keep_channel=False)
        return []

    def _channel(self, msg: Mapping[str, Any]) -> _Channel:
        uniqueid = str(msg.get("Uniqueid", ""))
        state = self._channels.get(uniqueid)
        if state is None:
            state = _Channel(call_id=_text(msg.get("Linkedid")), channel=_text(msg.get("Channel")))
            self._channels[uniqueid] = state
        return state

    def _on_filename(self, msg: Mapping[str, Any], now: float) -> list[dict[str, Any]]:
        value = _text(msg.get("Value"))
        if not value or not msg.get("Uniqueid"):
            return []
        try:
            file_name = relative_file_name(value, self.pbx_dir)
        except UnsafeFileName:
            return []
        state = self._channel(msg)
        if state.started_without_file:
            state.started_without_file = False
            return [self._started(str(msg["Uniqueid"]), state, file_name, now)]
        state.pending_file = file_name
        return []

    def _on_start(self, msg: Mapping[str, Any], now: float) -> list[dict[str, Any]]:
        if not msg.get("Uniqueid"):
            return []
        state = self._channel(msg)
        if state.pending_file is None:
            state.started_without_file = True
            return []
        file_name, state.pending_file = state.pending_file, None
        return [self._started(str(msg["Uniqueid"]), state, file_name, now)]

    def _started(self, uniqueid: str, state: _Channel, file_name: str, now: float) -> dict[str, Any]:
        state.active.append(file_name)
        fact: dict[str, Any] = {
            "fact": "started",
            "call_id": state.call_id,
            "uniqueid": uniqueid,
            "channel": state.channel,
            "file_name": file_name,
            "ts": now,
        }
        queue = parse_recording_name(file_name).queue
        if queue:
            fact["queue"] = queue
        if state.call_id and state.call_id in self._calls:
            for key, value in self._calls[state.call_id].items():
                fact.setdefault(key, value)
        return fact

    def _stop(self, uniqueid: str, now: float, keep_channel: bool) -> list[dict[str, Any]]:
        state = self._channels.get(uniqueid)
        if state is None:
            return []
        facts = [
            {"fact": "stopped", "call_id": state.call_id, "uniqueid": uniqueid, "file_name": f, "ts": now}
            for f in state.active
        ]
        state.active = []
        if not keep_channel:
            del self._channels[uniqueid]
        return facts

    # -- bus ------------------------------------------------------------------------------------
    def on_event(self, event: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Details of calls from domain events (call.new/answered/ended, screen.pop, survey.scored)."""
        kind = event.get("type")
        call_id = _text(event.get("call_id"))
        if not call_id:
            return []
        details: dict[str, Any] = {}
        if kind == "call.new":
            details["direction"] = _text(event.get("direction"))
            details["caller_number"] = _text(event.get("caller"))
            details["callee_number"] = _text(event.get("dialed"))
        elif kind in ("call.answered", "call.ringing"):
            details["agent"] = _agent_key(event.get("agent"))
            details["queue"] = _text(event.get("queue"))
            details["caller_number"] = _text(event.get("caller"))
            details["callee_number"] = _text(event.get("callee"))
        elif kind == "screen.pop":
            details["agent"] = _agent_key(event.get("agent"))
            details["customer_id"] = _customer_id(event.get("customer"))
        elif kind == "survey.scored":
            score = event.get("score")
            details["satisfaction"] = int(score) if isinstance(score, int | float) else None
        elif kind == "call.ended":
            return self._call_ended(call_id, event.get("ts"))
        else:
            return []
        details = {k: v for k, v in details.items() if v is not None}
        if not details:
            return []
        if kind != "survey.scored":  # surveys come after call.ended: nothing to remember
            known = self._calls.setdefault(call_id, {})
            known.update(details)
            self._calls.move_to_end(call_id)
            while len(self._calls) > _CALL_MEMORY:
                self._calls.popitem(last=False)
        return [{"fact": "call", "call_id": call_id, **details}]

    def _call_ended(self, call_id: str, ts: Any) -> list[dict[str, Any]]:
        """Forget the call; recordings of channels whose Hangup was not seen stop with it."""
        self._calls.pop(call_id, None)
        facts: list[dict[str, Any]] = []
        for uniqueid in [u for u, state in self._channels.items() if state.call_id == call_id]:
            facts.extend(
                {**fact, "ts": ts if ts is not None else fact["ts"]}
                for fact in self._stop(uniqueid, 0.0, keep_channel=False)
            )
        facts.append({"fact": "call_ended", "call_id": call_id, "ts": ts})
        return facts

"""Recorded Asterisk 22 AMI transcripts turned into replayable call templates.

A template is a slice of one real transcript (``templates/NN_name.jsonl``, copied from the
recordings) with every call-specific literal replaced by a *role* placeholder ``⟦role⟧``:

- Uniqueids/Linkedids (``1795451209.3``) become ``u0``, ``u1``, ... in order of first appearance,
  Local channel suffixes (``00000001``) ``s0``, ``s1``, ..., bridge UUIDs ``b0``, ``b1``, ...
  Because roles follow the order of appearance, two transcripts of the same call shape give the
  same roles to the same parties, so a head from one and a tail from another can be spliced.
- Caller numbers and names, agent extensions and names, queue names: the literals a
  ``TemplateSpec`` lists (``"5551234" -> "caller"``).
- Wall-clock values (Cdr/CEL times, MixMonitor file dates, epoch seconds) become offsets from the
  event that carries them (``⟦dt:-9.0⟧``), rendered against the emission time.

Everything here is pure: loading reads package data, nothing else.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from typing import Any

RawMessage = dict[str, Any]
Headers = tuple[tuple[str, str], ...]

OPEN, CLOSE = "⟦", "⟧"
_PLACEHOLDER = re.compile(r"⟦([^⟧]+)⟧")
_UNIQUEID = re.compile(r"(?<![\d.])(\d{10}\.\d+)(?!\d)")
_EPOCH = re.compile(r"(?<![\d.⟦:])(\d{10})(?![\d.])")
_SUFFIX = re.compile(r"(?<=-)([0-9a-f]{8})(?=;[12])")
_BRIDGE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_DATETIME = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")
_FILEDATE = re.compile(r"(?<!\d)\d{8}-\d{6}(?!\d)")
_TIME_FORMATS = {"dt": "%Y-%m-%d %H:%M:%S", "fd": "%Y%m%d-%H%M%S"}


class TemplateError(Exception):
    """A template file is missing or does not contain what its spec says."""


@dataclass(frozen=True, slots=True)
class TemplateEvent:
    """One recorded event: its recorded time, its transcript number and its compiled headers."""

    t: float
    seq: int
    headers: Headers

    @property
    def name(self) -> str:
        return dict(self.headers).get("Event", "")


@dataclass(frozen=True, slots=True)
class TemplateSpec:
    """Which transcript, which call-specific literals map to which role."""

    file: str
    literals: tuple[tuple[str, str], ...] = ()


def load_template(name: str) -> list[RawMessage]:
    """The messages of a shipped transcript (``02_inbound_answered_agent_hangup``), as recorded."""
    return list(_load(name))


@cache
def _load(name: str) -> tuple[RawMessage, ...]:
    path = resources.files("cti.simulator").joinpath("templates", f"{name}.jsonl")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise TemplateError(f"no transcript template named {name!r}") from exc
    return tuple(json.loads(line) for line in text.splitlines() if line.strip())


def load_actions(name: str) -> list[RawMessage]:
    """The actions that were sent while the transcript was recorded."""
    return load_template(f"{name}.actions")


def recorded_wall_zero(messages: list[RawMessage] | tuple[RawMessage, ...]) -> float:
    """Epoch seconds of the transcript's ``_t_rel`` zero, from the SuccessfulAuth EventTV."""
    for msg in messages:
        if msg.get("Event") == "SuccessfulAuth":
            tv = datetime.strptime(str(msg["EventTV"]), "%Y-%m-%dT%H:%M:%S.%f%z")
            return tv.timestamp() - float(msg["_t_rel"])
    raise TemplateError("transcript has no SuccessfulAuth event to anchor its clock")


class _RoleNamer:
    """Gives each distinct id literal a role name in order of first appearance."""

    def __init__(self) -> None:
        self.roles: dict[str, str] = {}
        self._counts: dict[str, int] = {}

    def role(self, prefix: str, literal: str) -> str:
        key = f"{prefix}:{literal}"
        found = self.roles.get(key)
        if found is None:
            n = self._counts.get(prefix, 0)
            self._counts[prefix] = n + 1
            found = self.roles[key] = f"{prefix}{n}"
        return found


@dataclass(slots=True)
class _Compiler:
    spec: TemplateSpec
    wall_zero: float
    namer: _RoleNamer = field(default_factory=_RoleNamer)

    def value(self, text: str, event_wall: float) -> str:
        text = text.replace(OPEN, "").replace(CLOSE, "")
        text = _BRIDGE.sub(lambda m: _ph(self.namer.role("b", m.group(0))), text)
        text = _UNIQUEID.sub(lambda m: _ph(self.namer.role("u", m.group(1))), text)
        text = _SUFFIX.sub(lambda m: _ph(self.namer.role("s", m.group(1))), text)
        text = _DATETIME.sub(lambda m: self._time("dt", m.group(0), event_wall), text)
        text = _FILEDATE.sub(lambda m: self._time("fd", m.group(0), event_wall), text)
        text = _EPOCH.sub(lambda m: _ph(f"ep:{int(m.group(1)) - round(event_wall)}"), text)
        for literal, role in self._ordered_literals():
            text = _literal_pattern(literal).sub(_ph(role), text)
        return text

    def _time(self, kind: str, literal: str, event_wall: float) -> str:
        value = datetime.strptime(literal, _TIME_FORMATS[kind]).replace(tzinfo=UTC).timestamp()
        return _ph(f"{kind}:{round(value - event_wall)}")

    def _ordered_literals(self) -> list[tuple[str, str]]:
        return sorted(self.spec.literals, key=lambda kv: -len(kv[0]))


@cache
def _literal_pattern(literal: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![A-Za-z0-9.]){re.escape(literal)}(?![A-Za-z0-9])")


def _ph(role: str) -> str:
    return f"{OPEN}{role}{CLOSE}"


# Left out of the templates: the transcripts 09 and up were recorded with ``timestampevents = yes``
# (the server stamps each event it sends with its own clock instead) on Debian's build, which also
# emits the test framework's TestEvent (a production build does not, nor did the PBX of 01-08).
UNSENT_KEYS = frozenset({"Timestamp"})
UNSENT_EVENTS = frozenset({"TestEvent"})


def is_sent(msg: RawMessage) -> bool:
    """Whether a recorded message is one the simulator replays (an event it would send)."""
    return msg.get("_kind") == "event" and msg.get("Event") not in UNSENT_EVENTS


@cache
def compile_template(spec: TemplateSpec) -> tuple[TemplateEvent, ...]:
    """Every event of the transcript (responses, the login and unsent events left out), roles
    compiled in."""
    messages = _load(spec.file)
    compiler = _Compiler(spec, recorded_wall_zero(messages))
    out: list[TemplateEvent] = []
    for msg in messages:
        if not is_sent(msg):
            continue
        wall = compiler.wall_zero + float(msg["_t_rel"])
        headers: list[tuple[str, str]] = []
        for key, value in msg.items():
            if key.startswith("_") or key in UNSENT_KEYS:
                continue
            values = value if isinstance(value, list) else [value]
            headers.extend((key, compiler.value(str(v), wall)) for v in values)
        out.append(TemplateEvent(t=float(msg["_t_rel"]), seq=int(msg["_seq"]), headers=tuple(headers)))
    return tuple(out)


def roles_of(text: str) -> list[str]:
    """The role names a compiled value refers to."""
    return _PLACEHOLDER.findall(text)


@cache
def _parts(text: str) -> tuple[str, ...]:
    """A compiled value split into literal text (even places) and role names (odd places)."""
    return tuple(_PLACEHOLDER.split(text))


def render(text: str, binding: dict[str, str], now: float) -> str:
    """Fill a compiled value: roles from ``binding``, times against ``now`` (epoch seconds)."""
    if OPEN not in text:
        return text
    parts = _parts(text)
    out = list(parts)
    for i in range(1, len(parts), 2):
        role = parts[i]
        kind, sep, offset = role.partition(":")
        if sep:
            when = now + float(offset)
            out[i] = str(int(when)) if kind == "ep" else datetime.fromtimestamp(when, UTC).strftime(_TIME_FORMATS[kind])
            continue
        try:
            out[i] = binding[role]
        except KeyError as exc:
            raise TemplateError(f"no value bound for role {role!r}") from exc
    return "".join(out)

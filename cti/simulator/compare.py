"""Comparing two AMI streams: a recorded transcript and what the simulator (or a PBX) sent.

Two streams (a recorded transcript and the simulator's output) are equal when they have the
same events in the same order with the same header keys, and the same values once each
stream's ids are renamed by order of first appearance (Uniqueids, Local channel suffixes,
bridge UUIDs), the scenario's parameters are renamed to their role (caller number and name,
agent extensions, queue) and clock values are reduced to their format.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

IGNORED_KEYS = {"Timestamp"}
_ID_PATTERNS = (
    ("bridge", re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")),
    ("uid", re.compile(r"(?<![\d.])\d{10}\.\d+(?!\d)")),
    ("sfx", re.compile(r"(?<=-)[0-9a-f]{8}(?=;[12])")),
)
_CLOCKS = (
    re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d"),
    re.compile(r"(?<!\d)\d{8}-\d{6}(?!\d)"),
    re.compile(r"(?<![\d.<])\d{10}(?![\d.])"),
)


class Normaliser:
    """Renames one stream's ids and parameters to canonical tokens."""

    def __init__(self, params: Mapping[str, str]) -> None:
        self.ids: dict[str, str] = {}
        self.params = sorted(((v, k) for k, v in params.items() if v), key=lambda vk: -len(vk[0]))

    def value(self, text: str) -> str:
        for kind, pattern in _ID_PATTERNS:
            text = pattern.sub(self._renamer(kind), text)
        for literal, role in self.params:
            text = re.sub(rf"(?<![A-Za-z0-9.]){re.escape(literal)}(?![A-Za-z0-9])", f"<{role}>", text)
        for pattern in _CLOCKS:
            text = pattern.sub("<clock>", text)
        return text

    def _renamer(self, kind: str) -> Callable[[re.Match[str]], str]:
        return lambda match: self._id(kind, match.group(0))

    def _id(self, kind: str, literal: str) -> str:
        if literal not in self.ids:
            self.ids[literal] = f"<{kind}{sum(1 for v in self.ids.values() if v.startswith('<' + kind))}>"
        return self.ids[literal]


def normalise(messages: Iterable[Mapping[str, Any]], params: Mapping[str, str]) -> list[list[tuple[str, str]]]:
    norm = Normaliser(params)
    out = []
    for msg in messages:
        row: list[tuple[str, str]] = []
        for key, value in msg.items():
            if key.startswith("_") or key in IGNORED_KEYS:
                continue
            values = value if isinstance(value, list) else [value]
            row.extend((key, norm.value(str(v))) for v in values)
        out.append(row)
    return out


def first_difference(a: list[list[tuple[str, str]]], b: list[list[tuple[str, str]]]) -> str:
    """A readable description of where two normalised streams part, or '' when equal."""
    for i, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            dx, dy = dict(x), dict(y)
            keys = [k for k in dict.fromkeys([*dx, *dy]) if dx.get(k) != dy.get(k)]
            return f"message {i} ({dx.get('Event')}/{dy.get('Event')}) differs in {keys}: {x} != {y}"
    if len(a) != len(b):
        return f"lengths differ: {len(a)} != {len(b)}"
    return ""


def events_only(messages: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [m for m in messages if "Event" in m and m.get("_kind", "event") == "event"]


def names(messages: Iterable[Mapping[str, Any]]) -> list[str]:
    return [str(m.get("Event") or "Response:" + str(m.get("Response"))) for m in messages]

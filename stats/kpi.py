"""The KPI calculator: plain records in, numbers out (ARCHITECTURE section 7).

No I/O and no clock reads. The live board, the reports and the tests all count through
:class:`QueueCounts` and turn counts into figures with :func:`queue_kpis`, so the wallboard's
"today" and a report for today cannot disagree.

Definitions (thresholds from :class:`KpiSettings`):

- offered: queue calls that joined the queue; answered: connected to an agent from the queue;
  abandoned: the caller left while waiting; short abandon: abandoned within ``short_abandon_s``
  (inclusive), left out of service level and abandon rate.
- overflow: the caller left the queue unanswered for another reason (timeout, exit-empty,
  exit-with-key); never an abandon.
- service level % = answered within ``sl_threshold_s`` (inclusive) / (offered - short abandons).
  Asterisk's service level = answered within / answered. SL2 = (answered within + abandoned within)
  / (answered + abandoned).
- longest wait: of answered and abandoned calls (overflowed callers left on a queue rule).
- ASA = mean wait of answered calls. AHT = mean of talk + hold + wrap-up of answered calls whose
  talk has ended (talk here excludes hold).
- abandon rate % = (abandoned - short abandons) / (offered - short abandons).
- occupancy % = (on call + wrap-up) / logged-in unpaused time, from the agent state log.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, field, fields
from enum import StrEnum
from typing import TypeVar


@dataclass(frozen=True, slots=True)
class KpiSettings:
    sl_threshold_s: float = 20
    short_abandon_s: float = 5


class Outcome(StrEnum):
    """What became of one queue call."""

    WAITING = "waiting"
    ANSWERED = "answered"
    ABANDONED = "abandoned"
    OVERFLOW = "overflow"


class AgentState(StrEnum):
    LOGGED_OUT = "logged_out"
    AVAILABLE = "available"
    RINGING = "ringing"
    ON_CALL = "on_call"
    WRAP_UP = "wrap_up"
    PAUSED = "paused"


@dataclass(slots=True)
class QueueCallRecord:
    """One stay of one call in one queue (a call moved between queues has one record per queue)."""

    call_id: str
    queue: str
    joined_at: float  # epoch seconds
    outcome: Outcome = Outcome.WAITING
    wait_s: float | None = None
    agent: str | None = None
    department: str | None = None
    talk_s: float | None = None  # None until the agent's part of the call has ended
    hold_s: float = 0.0
    wrapup_s: float = 0.0
    left_at: float | None = None
    answered_at: float | None = None
    ended_at: float | None = None
    hold_since: float | None = None
    hold_mark: float | None = None  # time of the last hold/unhold applied (replays are ignored)


@dataclass(frozen=True, slots=True)
class AgentStateRecord:
    agent: str
    state: AgentState
    started_at: float
    duration_s: float  # of the finished interval (or up to "now" for the open one)
    reason: str = ""
    department: str | None = None


@dataclass(slots=True)
class QueueCounts:
    """Additive counters from which every queue KPI follows. Counts add and subtract exactly."""

    offered: int = 0
    answered: int = 0
    abandoned: int = 0
    short_abandons: int = 0
    overflow: int = 0
    waiting: int = 0
    answered_within: int = 0
    abandoned_within: int = 0
    answered_wait_s: float = 0.0
    handled: int = 0
    handle_s: float = 0.0
    longest_wait_s: float = 0.0  # longest wait of an answered or abandoned call (a max: only grows)

    def add(self, record: QueueCallRecord, settings: KpiSettings, sign: int = 1) -> None:
        """Count ``record`` in (``sign=1``) or take it back out (``sign=-1``)."""
        self.offered += sign
        wait = record.wait_s or 0.0
        if record.outcome == Outcome.WAITING:
            self.waiting += sign
            return
        if sign > 0 and record.outcome != Outcome.OVERFLOW:
            self.longest_wait_s = max(self.longest_wait_s, wait)
        if record.outcome == Outcome.ANSWERED:
            self.answered += sign
            self.answered_wait_s += sign * wait
            if wait <= settings.sl_threshold_s:
                self.answered_within += sign
            if record.talk_s is not None:
                self.handled += sign
                self.handle_s += sign * (record.talk_s + record.hold_s + record.wrapup_s)
        elif record.outcome == Outcome.ABANDONED:
            self.abandoned += sign
            if wait <= settings.short_abandon_s:
                self.short_abandons += sign
            if wait <= settings.sl_threshold_s:
                self.abandoned_within += sign
        else:
            self.overflow += sign

    def merge(self, other: QueueCounts) -> None:
        for f in fields(self):
            if f.name == "longest_wait_s":
                self.longest_wait_s = max(self.longest_wait_s, other.longest_wait_s)
            else:
                setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))


@dataclass(frozen=True, slots=True)
class QueueKpis:
    offered: int
    answered: int
    abandoned: int
    short_abandons: int
    overflow: int
    waiting: int
    sl_pct: float | None
    sl_asterisk_pct: float | None
    sl2_pct: float | None
    asa_s: float | None
    aht_s: float | None
    abandon_pct: float | None
    longest_wait_s: float


def _pct(numerator: float, denominator: float) -> float | None:
    return round(100.0 * numerator / denominator, 2) if denominator > 0 else None


def _mean(total: float, count: int) -> float | None:
    return round(total / count, 2) if count > 0 else None


def queue_kpis(counts: QueueCounts) -> QueueKpis:
    """Figures from counters; a ratio with nothing to divide by is ``None`` (shown as a dash)."""
    base = counts.offered - counts.short_abandons
    return QueueKpis(
        offered=counts.offered,
        answered=counts.answered,
        abandoned=counts.abandoned,
        short_abandons=counts.short_abandons,
        overflow=counts.overflow,
        waiting=counts.waiting,
        sl_pct=_pct(counts.answered_within, base),
        sl_asterisk_pct=_pct(counts.answered_within, counts.answered),
        sl2_pct=_pct(counts.answered_within + counts.abandoned_within, counts.answered + counts.abandoned),
        asa_s=_mean(counts.answered_wait_s, counts.answered),
        aht_s=_mean(counts.handle_s, counts.handled),
        abandon_pct=_pct(counts.abandoned - counts.short_abandons, base),
        longest_wait_s=round(counts.longest_wait_s, 2),
    )


def count_calls(records: Iterable[QueueCallRecord], settings: KpiSettings) -> QueueCounts:
    counts = QueueCounts()
    for record in records:
        counts.add(record, settings)
    return counts


K = TypeVar("K", bound=Hashable)


def kpis_by(
    records: Iterable[QueueCallRecord], key: Callable[[QueueCallRecord], K], settings: KpiSettings
) -> dict[K, QueueKpis]:
    """KPIs per group: per queue (``lambda r: r.queue``), agent, department or period."""
    groups: dict[K, QueueCounts] = {}
    for record in records:
        groups.setdefault(key(record), QueueCounts()).add(record, settings)
    return {k: queue_kpis(c) for k, c in groups.items()}


def period_key(bucket_seconds: float, offset_s: float = 0.0) -> Callable[[QueueCallRecord], int]:
    """Group key for fixed periods (e.g. 3600 for hours); ``offset_s`` shifts UTC to local time."""
    return lambda r: int((r.joined_at + offset_s) // bucket_seconds)


# --- agents ----------------------------------------------------------------------------------------

_BUSY = frozenset({AgentState.ON_CALL, AgentState.WRAP_UP})
_NOT_STAFFED = frozenset({AgentState.LOGGED_OUT, AgentState.PAUSED})


@dataclass(slots=True)
class AgentTimes:
    """Seconds per state, from the agent state log."""

    seconds: dict[AgentState, float] = field(default_factory=dict)

    def add(self, record: AgentStateRecord) -> None:
        self.seconds[record.state] = self.seconds.get(record.state, 0.0) + record.duration_s

    @property
    def busy_s(self) -> float:
        return sum(v for s, v in self.seconds.items() if s in _BUSY)

    @property
    def staffed_s(self) -> float:
        """Logged in and not paused."""
        return sum(v for s, v in self.seconds.items() if s not in _NOT_STAFFED)

    @property
    def logged_in_s(self) -> float:
        return sum(v for s, v in self.seconds.items() if s is not AgentState.LOGGED_OUT)


def occupancy_pct(times: AgentTimes) -> float | None:
    return _pct(times.busy_s, times.staffed_s)


def agent_times_by(records: Iterable[AgentStateRecord], key: Callable[[AgentStateRecord], K]) -> dict[K, AgentTimes]:
    groups: dict[K, AgentTimes] = {}
    for record in records:
        groups.setdefault(key(record), AgentTimes()).add(record)
    return groups


def occupancy_by(records: Iterable[AgentStateRecord], key: Callable[[AgentStateRecord], K]) -> dict[K, float | None]:
    """Occupancy per agent (``lambda r: r.agent``), department or period."""
    return {k: occupancy_pct(t) for k, t in agent_times_by(records, key).items()}


def agent_state_counts(states: Mapping[str, AgentState]) -> dict[str, int]:
    """The ``agents`` block of ``queue.stats`` for the given agents' current states."""
    out = {s: 0 for s in ("available", "on_call", "paused", "ringing", "wrap_up", "logged_in")}
    for state in states.values():
        if state is AgentState.LOGGED_OUT:
            continue
        out["logged_in"] += 1
        out[state.value] += 1
    return out


def today_block(kpis: QueueKpis) -> dict[str, float | int | None]:
    """The ``today`` block of ``queue.stats``."""
    return {
        "offered": kpis.offered,
        "answered": kpis.answered,
        "abandoned": kpis.abandoned,
        "sl_pct": kpis.sl_pct,
        "asa_s": kpis.asa_s,
        "aht_s": kpis.aht_s,
        "abandon_pct": kpis.abandon_pct,
    }

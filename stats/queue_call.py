"""The life of one queue call: how bus events move it between waiting, answered, abandoned and overflow.

Shared by the history writer (on table rows) and the live board (on :class:`~stats.kpi.QueueCallRecord`),
so both classify every call the same way. Every transition is safe to apply twice.

Asterisk sends QueueCallerLeave before AgentConnect, and QueueCallerAbandon before QueueCallerLeave,
and events of the same millisecond come in any order: so a queue leave only marks the call as
overflow provisionally, and a later answer or abandon for the same stay wins.
"""

from __future__ import annotations

from typing import Any, Protocol

from stats.kpi import Outcome, QueueCallRecord

# Reasons a tracker may put on queue.left / queue.abandoned for leaving by a queue rule.
OVERFLOW_REASONS = frozenset(
    {"timeout", "full", "joinempty", "exitempty", "exitwithkey", "withdraw", "exit_empty", "exit_with_key"}
)


class QueueCallLike(Protocol):
    outcome: Any
    joined_at: float
    wait_s: float | None
    agent: str | None
    talk_s: float | None
    hold_s: float
    wrapup_s: float
    left_at: float | None
    answered_at: float | None
    ended_at: float | None
    hold_since: float | None
    hold_mark: float | None


# QueueStatus gives a caller's wait to the second: a stay reported again may seem to have begun that much later.
SAME_STAY_SLACK_S = 1.0


def same_stay(joined_at: float, outcome: Any, began: float) -> bool:
    """Is a queue.joined whose caller began waiting at ``began`` (its time less its ``wait_s``; same call,
    same queue) the stay that joined at ``joined_at``, reported again? Yes while that stay still waits, or
    when the new one began no later than it (a takeover's resync reports the calls it finds in their
    queues, answered ones included, with the wait so far); a call back in the queue after it left joins later."""
    return outcome in (Outcome.WAITING, Outcome.WAITING.value) or began <= joined_at + SAME_STAY_SLACK_S


def _wait(rec: QueueCallLike, ts: float, wait_s: Any) -> float:
    if isinstance(wait_s, int | float):
        return float(wait_s)
    return max(0.0, ts - rec.joined_at)


def left(rec: QueueCallLike, ts: float, wait_s: Any = None) -> None:
    if rec.left_at is None:
        rec.left_at = ts
    if rec.outcome == Outcome.WAITING:
        rec.outcome = Outcome.OVERFLOW
        rec.wait_s = _wait(rec, ts, wait_s)


def abandoned(rec: QueueCallLike, ts: float, wait_s: Any = None, reason: str = "") -> None:
    if rec.left_at is None:
        rec.left_at = ts
    if rec.outcome not in (Outcome.WAITING, Outcome.OVERFLOW):
        return
    rec.outcome = Outcome.OVERFLOW if reason.lower() in OVERFLOW_REASONS else Outcome.ABANDONED
    rec.wait_s = _wait(rec, ts, wait_s)


def answered(rec: QueueCallLike, ts: float, agent: str | None, wait_s: Any = None) -> None:
    if rec.outcome not in (Outcome.WAITING, Outcome.OVERFLOW):
        return
    rec.outcome = Outcome.ANSWERED
    rec.answered_at = ts
    rec.agent = agent
    rec.wait_s = _wait(rec, ts, wait_s)


def is_talking(rec: QueueCallLike) -> bool:
    return rec.outcome == Outcome.ANSWERED and rec.ended_at is None


def hold(rec: QueueCallLike, ts: float) -> None:
    if not is_talking(rec) or rec.answered_at is None or ts < rec.answered_at:
        return
    if rec.hold_mark is not None and ts <= rec.hold_mark:
        return
    rec.hold_mark = ts
    if rec.hold_since is None:
        rec.hold_since = ts


def unhold(rec: QueueCallLike, ts: float) -> None:
    if rec.hold_since is None or (rec.hold_mark is not None and ts <= rec.hold_mark):
        return
    rec.hold_mark = ts
    rec.hold_s += max(0.0, ts - rec.hold_since)
    rec.hold_since = None


def talk_ended(rec: QueueCallLike, ts: float) -> None:
    """The agent's part ends: the call ended, was transferred away, or joined another queue."""
    if not is_talking(rec):
        return
    if rec.hold_since is not None:
        rec.hold_s += max(0.0, ts - rec.hold_since)
        rec.hold_since = None
    rec.ended_at = ts
    assert rec.answered_at is not None
    rec.talk_s = max(0.0, ts - rec.answered_at - rec.hold_s)


def add_wrapup(rec: QueueCallLike, seconds: float) -> None:
    rec.wrapup_s += max(0.0, seconds)


def as_record(row: QueueCallLike, call_id: str, queue: str, department: str | None = None) -> QueueCallRecord:
    """A KPI record from any queue-call-like object (a table row or a record)."""
    return QueueCallRecord(
        call_id=call_id,
        queue=queue,
        joined_at=row.joined_at,
        outcome=Outcome(row.outcome),
        wait_s=row.wait_s,
        agent=row.agent,
        department=department,
        talk_s=row.talk_s,
        hold_s=row.hold_s or 0.0,
        wrapup_s=row.wrapup_s or 0.0,
        left_at=row.left_at,
        answered_at=row.answered_at,
        ended_at=row.ended_at,
        hold_since=row.hold_since,
        hold_mark=row.hold_mark,
    )

"""The live queue board: bus events in, ``queue.stats`` events out (pure: time comes in as ``now``).

Today's numbers are counted with :class:`stats.kpi.QueueCounts` over the same queue-call life
(:mod:`stats.queue_call`) that the history writer stores, so the board's "today" equals a report for
today. A record is kept only while it can still change (waiting, talking, or its agent's wrap-up still
to come); its counts stay. Updates are coalesced: at most one ``queue.stats`` per queue per
``min_interval_s`` (``CC_WALLBOARD_UPDATES_PER_S``), and only when the numbers changed; ``flush(now)`` sends
what was held back, computed at that moment (the latest numbers win). Coalescing here rather than in the
websocket hub gives each update a fresh bus ``seq``, which a tab's resume (``?since=``) relies on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from stats import queue_call
from stats.events import EventError, event_time, number
from stats.kpi import (
    AgentState,
    KpiSettings,
    Outcome,
    QueueCallRecord,
    QueueCounts,
    agent_state_counts,
    queue_kpis,
    today_block,
)

RecordKey = tuple[str, str, float]  # call_id, queue, joined_at


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(slots=True)
class AgentLive:
    agent: str
    name: str = ""
    extension: str = ""
    state: AgentState = AgentState.LOGGED_OUT
    reason: str = ""
    since: float = 0.0
    queues: tuple[str, ...] = ()
    calls_today: int = 0
    current_caller: str = ""
    current_call: str = ""
    last_record: RecordKey | None = None
    answered_calls: set[str] = field(default_factory=set)


class LiveBoard:
    def __init__(
        self,
        kpi_settings: KpiSettings,
        queues: Iterable[str],
        *,
        tz: str = "UTC",
        min_interval_s: float = 0.5,
        agent_names: Mapping[str, str] | None = None,
        auto_day: bool = True,
    ) -> None:
        self.settings = kpi_settings
        self._auto_day = auto_day
        self._day: date | None = None
        self._tz = ZoneInfo(tz)
        self._min_interval_s = min_interval_s
        self._agent_names = dict(agent_names or {})
        self._day_start: float | None = None
        self._counts: dict[str, QueueCounts] = {q: QueueCounts() for q in queues}
        self._records: dict[RecordKey, QueueCallRecord] = {}
        self._counted: set[RecordKey] = set()
        self._by_call: dict[str, list[RecordKey]] = {}
        self._agents: dict[str, AgentLive] = {}
        self._dirty: set[str] = set()
        self._last_sent: dict[str, dict[str, Any]] = {}
        self._last_sent_at: dict[str, float] = {}
        self._last_seq: dict[str, int] = {}
        self._pbx = ""
        self._handlers: dict[str, Callable[[dict[str, Any], float], None]] = {
            "queue.joined": self._joined,
            "queue.left": self._left,
            "queue.abandoned": self._left,
            "call.answered": self._answered,
            "call.hold": self._hold,
            "call.unhold": self._hold,
            "call.transferred": self._transferred,
            "call.ended": self._ended,
            "agent.state": self._agent_state,
        }

    # --- public ------------------------------------------------------------------------------------

    @property
    def min_interval_s(self) -> float:
        """The shortest time between two ``queue.stats`` of one queue; ``flush`` at least this often."""
        return self._min_interval_s

    def apply(self, event: dict[str, Any], now: float) -> list[dict[str, Any]]:
        """Take one bus event; return the ``queue.stats`` events due now."""
        self._roll_day(now)
        handler = self._handlers.get(str(event.get("type")))
        if handler is not None and not self._replayed(event):
            try:
                ts = event_time(event)
            except EventError:
                return self.flush(now)  # an event without a time cannot be placed in the day
            self._pbx = str(event.get("pbx") or self._pbx)
            handler(event, ts)
        return self.flush(now)

    def flush(self, now: float) -> list[dict[str, Any]]:
        """``queue.stats`` for changed queues whose last update is at least ``min_interval_s`` old."""
        self._roll_day(now)
        out: list[dict[str, Any]] = []
        for queue in sorted(self._dirty):
            if now - self._last_sent_at.get(queue, float("-inf")) < self._min_interval_s:
                continue
            self._dirty.discard(queue)
            payload = self._queue_stats(queue, now)
            comparable = {k: v for k, v in payload.items() if k != "ts"}
            if comparable == self._last_sent.get(queue):
                continue
            self._last_sent[queue] = comparable
            self._last_sent_at[queue] = now
            out.append(payload)
        return out

    def _roll_day(self, now: float) -> None:
        if self._auto_day:
            today = datetime.fromtimestamp(now, self._tz).date()
            if today != self._day:
                self.reset_day(today)

    def reset_day(self, day: date) -> None:
        """Start counting ``day`` (local midnight in the board's time zone); calls in progress stay live.

        With ``auto_day`` (the default) the board does this itself when ``now`` enters a new local day.
        """
        if self._day_start is not None:
            self._dirty.update(self._counts)  # everyone sees the new day's zeros
        self._day = day
        self._day_start = datetime.combine(day, time(0), self._tz).timestamp()
        self._counts = {q: QueueCounts() for q in self._counts}
        self._counted.clear()
        for agent in self._agents.values():
            agent.calls_today = 0
            agent.answered_calls.clear()

    def prime(self, records: Iterable[QueueCallRecord], agents: Iterable[AgentLive]) -> None:
        """Resume after a restart: today's queue calls and the agents' current states, from history.

        Call after ``reset_day`` and before live events (``stats.resume.resume_board`` does both); records
        of calls that can still change stay live, so their next events count as if the board never stopped.
        """
        for record in records:
            key = (record.call_id, record.queue, record.joined_at)
            if key in self._records or (self._day_start is not None and record.joined_at < self._day_start):
                continue
            self._records[key] = record
            self._by_call.setdefault(record.call_id, []).append(key)
            self._counted.add(key)
            self.queue_counts(record.queue).add(record, self.settings)
        for agent in agents:
            self._agents[agent.agent] = agent
        for key, record in list(self._records.items()):
            holder = self._agents.get(record.agent or "")
            if record.outcome == Outcome.ANSWERED and holder is not None:
                last = holder.last_record
                if last is None or (self._records[last].answered_at or 0) < (record.answered_at or 0):
                    holder.last_record = key
        for key in list(self._records):
            if self._settled(key):
                self._drop(key)
        self._dirty.update(self._counts)

    def queue_counts(self, queue: str) -> QueueCounts:
        return self._counts.setdefault(queue, QueueCounts())

    def snapshot(self, now: float) -> dict[str, Any]:
        """Everything a wallboard needs for its first paint."""
        return {
            "queues": [self._queue_stats(q, now) for q in sorted(self._counts)],
            "agents": self.agent_grid(now),
            "settings": {
                "sl_threshold_s": self.settings.sl_threshold_s,
                "short_abandon_s": self.settings.short_abandon_s,
            },
        }

    def agent_grid(self, now: float) -> list[dict[str, Any]]:
        return [
            {
                "agent": a.agent,
                "name": a.name or self._agent_names.get(a.agent, a.agent),
                "extension": a.extension,
                "state": a.state.value,
                "reason": a.reason,
                "since": _iso(a.since) if a.since else None,
                "time_in_state_s": round(max(0.0, now - a.since), 1) if a.since else None,
                "calls_today": a.calls_today,
                "current_caller": a.current_caller,
                "queues": list(a.queues),
            }
            for a in sorted(self._agents.values(), key=lambda a: a.agent)
        ]

    # --- bookkeeping -------------------------------------------------------------------------------

    def _replayed(self, event: dict[str, Any]) -> bool:
        seq = event.get("seq")
        if not isinstance(seq, int):
            return False
        pbx = str(event.get("pbx") or "")
        if seq <= self._last_seq.get(pbx, -1):
            return True
        self._last_seq[pbx] = seq
        return False

    def _change(self, key: RecordKey, change: Callable[[QueueCallRecord], None]) -> None:
        record = self._records[key]
        counted = key in self._counted
        counts = self.queue_counts(record.queue)
        if counted:
            counts.add(record, self.settings, -1)
        change(record)
        if counted:
            counts.add(record, self.settings, 1)
        self._dirty.add(record.queue)

    def _stays(self, call_id: str) -> list[RecordKey]:
        return list(self._by_call.get(call_id, ()))

    def _stay(self, call_id: str, queue: str, ts: float) -> RecordKey | None:
        keys = [k for k in self._stays(call_id) if k[1] == queue and k[2] <= ts]
        return max(keys, key=lambda k: k[2]) if keys else None

    def _drop(self, key: RecordKey) -> None:
        self._records.pop(key, None)
        self._counted.discard(key)
        keys = self._by_call.get(key[0])
        if keys is not None:
            if key in keys:
                keys.remove(key)
            if not keys:
                del self._by_call[key[0]]

    def _settled(self, key: RecordKey) -> bool:
        """No event can change this record any more."""
        record = self._records[key]
        if record.outcome == Outcome.ANSWERED:
            if record.ended_at is None:
                return False
            agent = self._agents.get(record.agent or "")
            return agent is None or agent.last_record != key
        return record.outcome == Outcome.ABANDONED or record.left_at is not None

    # --- events ------------------------------------------------------------------------------------

    def _joined(self, event: dict[str, Any], ts: float) -> None:
        call_id, queue = str(event.get("call_id")), str(event.get("queue"))
        key = (call_id, queue, ts)
        if key in self._records:
            return
        stays, began = self._stays(call_id), ts - (number(event.get("wait_s")) or 0.0)
        if any(k[1] == queue and queue_call.same_stay(k[2], self._records[k].outcome, began) for k in stays):
            return  # that stay again (a takeover's resync reports the calls it finds in their queues)
        for other in stays:
            if other[2] < ts:
                self._change(other, lambda r: queue_call.talk_ended(r, ts))
        record = QueueCallRecord(call_id=call_id, queue=queue, joined_at=ts)
        self._records[key] = record
        self._by_call.setdefault(call_id, []).append(key)
        if self._day_start is None or ts >= self._day_start:
            self._counted.add(key)
            self.queue_counts(queue).add(record, self.settings)
        self._dirty.add(queue)

    def _left(self, event: dict[str, Any], ts: float) -> None:
        key = self._stay(str(event.get("call_id")), str(event.get("queue")), ts)
        if key is None:
            return
        wait = number(event.get("wait_s"))
        reason = str(event.get("reason") or "")
        if event["type"] == "queue.abandoned":
            self._change(key, lambda r: queue_call.abandoned(r, ts, wait, reason))
        elif reason.lower() in queue_call.OVERFLOW_REASONS or not reason:
            self._change(key, lambda r: queue_call.left(r, ts, wait))

    def _answered(self, event: dict[str, Any], ts: float) -> None:
        call_id = str(event.get("call_id"))
        agent_id = event.get("agent")
        agent = self._agent(str(agent_id)) if agent_id else None
        if agent is not None:
            caller = event.get("caller")
            caller_number = caller.get("number") if isinstance(caller, dict) else caller
            agent.current_caller = str(caller_number or "")
            agent.current_call = call_id
            if call_id not in agent.answered_calls and (self._day_start is None or ts >= self._day_start):
                agent.answered_calls.add(call_id)
                agent.calls_today += 1
        queue = event.get("queue")
        key = self._stay(call_id, str(queue), ts) if queue else None
        if key is None:
            return
        wait = number(event.get("wait_s"))
        self._change(key, lambda r: queue_call.answered(r, ts, agent_id, wait))
        if agent is not None and self._records[key].agent == agent_id:
            previous, agent.last_record = agent.last_record, key
            if previous is not None and previous in self._records and self._settled(previous):
                self._drop(previous)

    def _hold(self, event: dict[str, Any], ts: float) -> None:
        step = queue_call.hold if event["type"] == "call.hold" else queue_call.unhold
        for key in self._stays(str(event.get("call_id"))):
            self._change(key, lambda r: step(r, ts))

    def _transferred(self, event: dict[str, Any], ts: float) -> None:
        for key in self._stays(str(event.get("call_id"))):
            self._change(key, lambda r: queue_call.talk_ended(r, ts))

    def _ended(self, event: dict[str, Any], ts: float) -> None:
        call_id = str(event.get("call_id"))

        def finish(record: QueueCallRecord) -> None:
            if record.outcome == Outcome.WAITING:
                queue_call.abandoned(record, ts)
            queue_call.talk_ended(record, ts)

        for key in self._stays(call_id):
            self._change(key, finish)
            if self._settled(key):
                self._drop(key)
        for agent in self._agents.values():
            if agent.current_call == call_id:
                agent.current_call = agent.current_caller = ""

    def _agent(self, agent_id: str) -> AgentLive:
        agent = self._agents.get(agent_id)
        if agent is None:
            agent = self._agents[agent_id] = AgentLive(agent_id, name=self._agent_names.get(agent_id, ""))
        return agent

    def _agent_state(self, event: dict[str, Any], ts: float) -> None:
        agent = self._agent(str(event.get("agent")))
        if ts < agent.since:
            return  # an older change arriving late
        state = AgentState(str(event.get("state")))
        reason = str(event.get("reason") or "")
        queues = event.get("queues")
        if isinstance(queues, list):
            self._dirty.update(agent.queues)
            agent.queues = tuple(str(q) for q in queues)
        agent.extension = str(event.get("extension") or agent.extension)
        if agent.state == state and agent.reason == reason:
            return
        if agent.state is AgentState.WRAP_UP and agent.last_record in self._records:
            key, seconds = agent.last_record, ts - agent.since
            answered_at = self._records[key].answered_at
            if answered_at is not None and answered_at <= agent.since:
                self._change(key, lambda r: queue_call.add_wrapup(r, seconds))
        agent.state, agent.reason, agent.since = state, reason, ts
        for queue in agent.queues:
            self.queue_counts(queue)
        self._dirty.update(agent.queues)

    # --- output ------------------------------------------------------------------------------------

    def _queue_stats(self, queue: str, now: float) -> dict[str, Any]:
        waiting = [r.joined_at for r in self._records.values() if r.queue == queue and r.outcome == Outcome.WAITING]
        states = {a.agent: a.state for a in self._agents.values() if queue in a.queues}
        return {
            "type": "queue.stats",
            "ts": _iso(now),
            "pbx": self._pbx,
            "queue": queue,
            "waiting": len(waiting),
            "longest_wait_s": round(max(0.0, now - min(waiting)), 1) if waiting else 0,
            "agents": agent_state_counts(states),
            "today": today_block(queue_kpis(self.queue_counts(queue))),
        }

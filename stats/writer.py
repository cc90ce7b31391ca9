"""The history writer: bus events (ARCHITECTURE section 3) in, history rows out.

Idempotent by natural keys: a call is (pbx, call_id), a leg (pbx, call_id, channel), a queue stay
(pbx, call_id, queue, joined_at), an agent state change (pbx, agent, started_at), an IVR step
(pbx, call_id, at, node), a survey (pbx, call_id, agent). Every update only fills what is still empty,
or is guarded by the time of the last change applied, so a replayed event (same pbx+seq, hence the same
natural key) changes nothing. A batch of events is one transaction, rollups included: :mod:`stats.rollup`
moves them at every flush by the difference each changed row makes.

Events are applied without autoflush: each lookup reads the database once per transaction and keeps
what it read, and the rows the batch adds or changes, in the session's caches (``session.info``), so a
batch flushes once at its commit instead of once per query. The one lookup that must see the batch's own
changes in SQL (the call a wrap-up belongs to) flushes first.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Select, select
from sqlalchemy.orm import Session, sessionmaker

from stats import queue_call, rollup  # noqa: F401  (rollup: keeps the rollups at every flush)
from stats.events import EventError, event_time, number
from stats.kpi import AgentState, Outcome
from stats.models import AgentStateRow, CallLegRow, CallRow, IvrStepRow, QueueCallRow, SurveyRow

log = logging.getLogger(__name__)

AgentDepartment = Callable[[str], "str | None"]
T = TypeVar("T", QueueCallRow, CallLegRow, IvrStepRow)
# the order of a call's rows of each kind: its queue stays as they began, its legs as they rang, its IVR steps
_CALL_ROW_ORDER: dict[type[Any], tuple[Any, ...]] = {
    QueueCallRow: (QueueCallRow.joined_at,),
    CallLegRow: (CallLegRow.ring_at, CallLegRow.id),
    IvrStepRow: (IvrStepRow.at, IvrStepRow.id),
}


def _cache(session: Session, name: str) -> dict[Any, Any]:
    """Rows already read in this session's unit of work, so a batch reads each call once."""
    cache: dict[Any, Any] = session.info.setdefault(name, {})
    return cache


def _call_rows(session: Session, model: type[T], pbx: str, call_id: str) -> list[T]:
    """A call's rows of ``model`` in their order (``_CALL_ROW_ORDER``), read once per transaction; the
    caller keeps the list in step with the rows it adds, which are not flushed yet."""
    cache = _cache(session, model.__tablename__)
    rows: list[T] | None = cache.get((pbx, call_id))
    if rows is None:
        where = (model.pbx == pbx, model.call_id == call_id)
        stmt = select(model).where(*where).order_by(*_CALL_ROW_ORDER[model])
        rows = cache[(pbx, call_id)] = list(session.scalars(stmt))
    return rows


def _prefetch_call_rows(session: Session, model: type[T], pbx: str, call_ids: set[str]) -> None:
    """The rows of ``model`` of several calls in one statement, into the cache ``_call_rows`` reads."""
    lists: dict[tuple[str, str], list[T]] = {(pbx, call_id): [] for call_id in call_ids}
    stmt = select(model).where(model.pbx == pbx, model.call_id.in_(call_ids)).order_by(*_CALL_ROW_ORDER[model])
    for row in session.scalars(stmt):
        lists[(pbx, row.call_id)].append(row)
    cache = _cache(session, model.__tablename__)
    for key, rows in lists.items():
        cache.setdefault(key, rows)


def hour_of(t: float) -> int:
    return int(t // 3600)


def _need(event: dict[str, Any], name: str) -> Any:
    value = event.get(name)
    if value in (None, ""):
        raise EventError(f"{event.get('type')}: missing field '{name}'")
    return value


def _party(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {"number": str(value or "")}


class HistoryWriter:
    """Apply bus events to the history tables. ``apply`` is sync; ``handle`` runs it off the loop."""

    max_batch = 500
    max_backlog = 20_000

    def __init__(
        self, session_factory: sessionmaker[Session], *, agent_department: AgentDepartment | None = None
    ) -> None:
        self._session_factory = session_factory
        self._agent_department = agent_department
        self._pending: list[dict[str, Any]] = []
        self._drainer: asyncio.Task[None] | None = None
        self._handlers: dict[str, Callable[[Session, dict[str, Any], str, float], None]] = {
            "call.new": self._call_new,
            "call.ringing": self._call_ringing,
            "call.answered": self._call_answered,
            "call.hold": self._call_hold,
            "call.unhold": self._call_hold,
            "call.transferred": self._call_transferred,
            "call.hangup": self._call_hangup,
            "call.ended": self._call_ended,
            "queue.joined": self._queue_joined,
            "queue.left": self._queue_left,
            "queue.abandoned": self._queue_left,
            "agent.state": self._agent_state,
            "ivr.step": self._ivr_step,
            "survey.scored": self._survey,
            "recording.ready": self._recording,
            "screen.pop": self._screen_pop,
            "call.linked": self._call_linked,
        }

    async def handle(self, event: dict[str, Any]) -> None:
        """Queue one event for writing; returns at once unless the backlog is full.

        Events are written in order by one background task, in batches of what has arrived meanwhile
        (one transaction each: a group commit), so the writer keeps up with a busy PBX. ``drain()``
        waits until everything handled so far is written.
        """
        if event.get("type") not in self._handlers:
            return
        self._pending.append(event)
        if self._drainer is None or self._drainer.done():
            self._drainer = asyncio.get_running_loop().create_task(self._drain(), name="stats-writer")
        if len(self._pending) >= self.max_backlog:
            await self.drain()

    @property
    def pending(self) -> int:
        """Events handled and not yet taken into a batch: how far the writer is behind."""
        return len(self._pending)

    async def drain(self) -> None:
        """Wait until every event handled so far is written."""
        while self._drainer is not None and not self._drainer.done():
            await asyncio.shield(self._drainer)

    async def _drain(self) -> None:
        while self._pending:
            batch = self._pending[: self.max_batch]
            del self._pending[: len(batch)]
            try:
                await asyncio.to_thread(self.apply_many, batch)
            except Exception:  # a database outage must not kill the writer; the batch is logged
                log.exception("history writer failed on a batch of %d events", len(batch))

    async def handle_many(self, events: list[dict[str, Any]]) -> None:
        """Apply a backlog in one transaction (a savepoint per event); malformed events are skipped."""
        await asyncio.to_thread(self.apply_many, events)

    def apply_in_transaction(self, event: dict[str, Any]) -> None:
        with self._session_factory() as session, session.begin():
            self.apply(session, event)

    def apply_many(self, events: list[dict[str, Any]]) -> None:
        """One transaction; if an event is malformed, the batch is redone with a savepoint per event."""
        try:
            with self._session_factory() as session, session.begin():
                self._prefetch(session, events)
                for event in events:
                    self.apply(session, event)
            return
        except EventError:
            pass
        with self._session_factory() as session, session.begin():
            self._prefetch(session, events)
            for event in events:
                try:
                    with session.begin_nested():
                        self.apply(session, event)
                except EventError as exc:
                    session.info.clear()  # the savepoint's rollback may have dropped cached rows
                    log.warning("history writer skipped an event: %s", exc)

    @staticmethod
    def _prefetch(session: Session, events: list[dict[str, Any]]) -> None:
        """Read the batch's calls (with their legs and queue stays) and its agents' last states in one
        statement each, into the caches the handlers read: a round trip a batch, not one a call."""
        calls: dict[str, set[str]] = {}
        agents: dict[str, set[str]] = {}
        for event in events:
            pbx = str(event.get("pbx") or "")
            if event.get("call_id") and event.get("type") not in ("ivr.step", "survey.scored"):
                calls.setdefault(pbx, set()).add(str(event["call_id"]))
            if event.get("type") == "agent.state" and event.get("agent"):
                agents.setdefault(pbx, set()).add(str(event["agent"]))
        found, latest = _cache(session, "stats_calls"), _cache(session, "stats_agent_latest")
        with session.no_autoflush:
            for pbx, ids in calls.items():
                for row in session.scalars(
                    select(CallRow).where(CallRow.pbx == pbx, CallRow.call_id.in_(ids)).with_for_update()
                ):
                    found[(pbx, row.call_id)] = row
                for call_id in ids:
                    found.setdefault((pbx, call_id), None)
                _prefetch_call_rows(session, QueueCallRow, pbx, ids)
                _prefetch_call_rows(session, CallLegRow, pbx, ids)
            for pbx, names in agents.items():
                latest_ids = [
                    HistoryWriter._latest_query(pbx, name).with_only_columns(AgentStateRow.id).scalar_subquery()
                    for name in names
                ]
                for state in session.scalars(select(AgentStateRow).where(AgentStateRow.id.in_(latest_ids))):
                    latest[(pbx, state.agent)] = state
                for name in names:
                    latest.setdefault((pbx, name), None)

    def apply(self, session: Session, event: dict[str, Any]) -> None:
        handler = self._handlers.get(str(event.get("type")))
        if handler is None:
            return
        with session.no_autoflush:
            handler(session, event, str(event.get("pbx") or ""), event_time(event))

    # --- lookups ---------------------------------------------------------------------------------

    def _department(self, agent: str | None) -> str | None:
        if not agent or self._agent_department is None:
            return None
        dept = self._agent_department(agent)
        return str(dept) if dept is not None else None

    @staticmethod
    def _find_call(session: Session, pbx: str, call_id: str) -> CallRow | None:
        cache = _cache(session, "stats_calls")
        if (pbx, call_id) in cache:  # read already, or known absent from the batch's prefetch
            row: CallRow | None = cache[(pbx, call_id)]
        else:
            stmt = select(CallRow).where(CallRow.pbx == pbx, CallRow.call_id == call_id).with_for_update()
            row = cache[(pbx, call_id)] = session.scalars(stmt).first()
        return row

    def _call(self, session: Session, pbx: str, call_id: str, ts: float) -> CallRow:
        row = self._find_call(session, pbx, call_id)
        if row is None:
            row = CallRow(pbx=pbx, call_id=call_id, started_at=ts, hour=hour_of(ts), hold_s=0.0, wrapup_s=0.0)
            session.add(row)
            _cache(session, "stats_calls")[(pbx, call_id)] = row
        return row

    @staticmethod
    def _queue_stays(session: Session, pbx: str, call_id: str) -> list[QueueCallRow]:
        return _call_rows(session, QueueCallRow, pbx, call_id)

    def _stay(self, session: Session, pbx: str, call_id: str, queue: str, ts: float) -> QueueCallRow | None:
        """The latest stay of the call in ``queue`` that began no later than ``ts``."""
        stays = [s for s in self._queue_stays(session, pbx, call_id) if s.queue == queue and s.joined_at <= ts]
        return stays[-1] if stays else None

    # --- calls -----------------------------------------------------------------------------------

    def _link(self, row: CallRow, event: dict[str, Any]) -> None:
        for name in ("customer_id", "ticket_id", "order_id"):
            value = event.get(name)
            if isinstance(value, int) and getattr(row, name) is None:
                setattr(row, name, value)

    def _call_new(self, session: Session, event: dict[str, Any], pbx: str, ts: float) -> None:
        row = self._call(session, pbx, str(_need(event, "call_id")), ts)
        if ts < row.started_at:
            row.started_at, row.hour = ts, hour_of(ts)
        caller = _party(event.get("caller"))
        row.direction = str(event.get("direction") or row.direction or "inbound")
        row.caller_number = row.caller_number or str(caller.get("number") or "")
        row.caller_name = row.caller_name or str(caller.get("name") or "")
        row.dialed = row.dialed or str(event.get("dialed") or "")
        self._link(row, event)

    def _call_ringing(self, session: Session, event: dict[str, Any], pbx: str, ts: float) -> None:
        call_id = str(_need(event, "call_id"))
        self._call(session, pbx, call_id, ts)
        channel = str(event.get("channel") or "")
        if self._leg(session, pbx, call_id, channel) is not None:
            return
        callee = _party(event.get("callee"))
        leg = CallLegRow(
            pbx=pbx,
            call_id=call_id,
            channel=channel,
            number=str(callee.get("number") or ""),
            name=str(callee.get("name") or ""),
            extension=str(callee.get("extension") or ""),
            agent=event.get("agent"),
            queue=event.get("queue"),
            ring_at=ts,
        )
        session.add(leg)
        legs = self._legs(session, pbx, call_id)
        legs.insert(sum(1 for other in legs if other.ring_at <= ts), leg)  # after those that rang no later

    @staticmethod
    def _legs(session: Session, pbx: str, call_id: str) -> list[CallLegRow]:
        """The call's legs in the order they rang, those of this transaction included."""
        return _call_rows(session, CallLegRow, pbx, call_id)

    def _leg(self, session: Session, pbx: str, call_id: str, channel: str) -> CallLegRow | None:
        return next((leg for leg in self._legs(session, pbx, call_id) if leg.channel == channel), None)

    def _answering_leg(self, session: Session, pbx: str, call_id: str, event: dict[str, Any]) -> CallLegRow | None:
        agent = event.get("agent")
        extension = _party(event.get("callee")).get("extension")
        for leg in self._legs(session, pbx, call_id):
            if (agent and leg.agent == agent) or (extension and leg.extension == extension):
                return leg
        return None

    def _call_answered(self, session: Session, event: dict[str, Any], pbx: str, ts: float) -> None:
        call_id = str(_need(event, "call_id"))
        agent = event.get("agent")
        queue = event.get("queue")
        wait = number(event.get("wait_s"))
        leg = self._answering_leg(session, pbx, call_id, event)
        if leg is not None and leg.answered_at is None:
            leg.answered_at = ts
        row = self._call(session, pbx, call_id, ts)
        if row.answered_at is None:
            row.answered_at = ts
            row.agent = agent
            row.department = self._department(agent)
            row.queue = row.queue or queue
            row.wait_s = wait if wait is not None else max(0.0, ts - row.started_at)
            row.ring_s = max(0.0, ts - leg.ring_at) if leg is not None else None
        self._link(row, event)
        if queue:
            stay = self._stay(session, pbx, call_id, str(queue), ts)
            if stay is not None:
                queue_call.answered(stay, ts, agent, wait)
                if stay.agent == agent:  # the department of the agent who took the stay
                    stay.department = self._department(agent)

    def _call_hold(self, session: Session, event: dict[str, Any], pbx: str, ts: float) -> None:
        call_id = str(_need(event, "call_id"))
        on_hold = event["type"] == "call.hold"
        row = self._find_call(session, pbx, call_id)
        if row is not None and row.answered_at is not None and row.ended_at is None:
            if row.hold_mark is None or ts > row.hold_mark:
                row.hold_mark = ts
                if on_hold and row.hold_since is None:
                    row.hold_since = ts
                elif not on_hold and row.hold_since is not None:
                    row.hold_s += max(0.0, ts - row.hold_since)
                    row.hold_since = None
        for stay in self._queue_stays(session, pbx, call_id):
            (queue_call.hold if on_hold else queue_call.unhold)(stay, ts)

    def _call_transferred(self, session: Session, event: dict[str, Any], pbx: str, ts: float) -> None:
        for stay in self._queue_stays(session, pbx, str(_need(event, "call_id"))):
            queue_call.talk_ended(stay, ts)

    def _call_hangup(self, session: Session, event: dict[str, Any], pbx: str, ts: float) -> None:
        call_id = str(_need(event, "call_id"))
        cause = event.get("cause")
        channel = event.get("channel")
        if channel:
            leg = self._leg(session, pbx, call_id, str(channel))
            if leg is not None and leg.ended_at is None:
                leg.ended_at = ts
                leg.hangup_cause = int(str(cause)) if str(cause or "").isdigit() else None
                if leg.agent and leg.answered_at is not None:
                    # The agent's part of a queue stay ends with his leg, even when the caller goes
                    # on (a blind transfer, the post-call survey): talk is not counted past it.
                    for stay in self._queue_stays(session, pbx, call_id):
                        if stay.agent == leg.agent:
                            queue_call.talk_ended(stay, ts)
        row = self._call(session, pbx, call_id, ts)
        if row.hangup_cause is None and str(cause or "").isdigit():
            row.hangup_cause = int(str(cause))
            row.hangup_cause_text = str(event.get("cause_text") or "")
            row.hangup_by = str(event.get("hangup_by") or "")

    def _call_ended(self, session: Session, event: dict[str, Any], pbx: str, ts: float) -> None:
        call_id = str(_need(event, "call_id"))
        row = self._call(session, pbx, call_id, ts)
        if row.ended_at is None:
            talk_end = self._talk_end(session, pbx, call_id, ts) if row.answered_at is not None else ts
            if row.hold_since is not None:
                row.hold_s += max(0.0, ts - row.hold_since)
                row.hold_since = None
            row.ended_at = ts
            duration = number(event.get("duration_s"))
            row.duration_s = duration if duration is not None else max(0.0, ts - row.started_at)
            if row.answered_at is not None:
                # Answer to the end of the last agent's leg, less hold: the same rule as a queue
                # stay's talk, so that AHT = talk + hold + wrap-up counts hold once whichever way
                # the hold was done, and a survey after the agent hung up is not talk.
                row.talk_s = max(0.0, talk_end - row.answered_at - row.hold_s)
            else:
                row.talk_s = number(event.get("talk_s")) or 0.0 if event.get("answered") else 0.0
            wait = number(event.get("wait_s"))
            if row.wait_s is None and wait is not None:
                row.wait_s = wait
            row.disposition = str(event.get("disposition") or ("answered" if row.answered_at else "abandoned"))
            # the caller as the dialplan left it (a NewCallerid after call.new rewrote it)
            ended_caller = _party(event.get("caller"))
            if ended_caller.get("number"):
                row.caller_number = str(ended_caller["number"])
                row.caller_name = str(ended_caller.get("name") or row.caller_name or "")
        self._link(row, event)
        for stay in self._queue_stays(session, pbx, call_id):
            if stay.outcome == Outcome.WAITING:
                # The call ended while waiting with no queue event: the caller left.
                queue_call.abandoned(stay, ts)
            queue_call.talk_ended(stay, ts)

    def _talk_end(self, session: Session, pbx: str, call_id: str, ts: float) -> float:
        """When the last answered leg ended; ``ts`` (the call's end) while one is still up or none is known."""
        ends = [leg.ended_at for leg in self._legs(session, pbx, call_id) if leg.answered_at is not None]
        if not ends or any(end is None for end in ends):
            return ts
        return min(ts, max(end for end in ends if end is not None))

    def _recording(self, session: Session, event: dict[str, Any], pbx: str, ts: float) -> None:
        row = self._call(session, pbx, str(_need(event, "call_id")), ts)
        if row.recording_id is None and event.get("recording_id"):
            row.recording_id = str(event["recording_id"])

    def _screen_pop(self, session: Session, event: dict[str, Any], pbx: str, ts: float) -> None:
        customer = event.get("customer")
        if isinstance(customer, dict) and isinstance(customer.get("id"), int):
            row = self._call(session, pbx, str(_need(event, "call_id")), ts)
            self._link(row, {"customer_id": customer["id"]})

    def _call_linked(self, session: Session, event: dict[str, Any], pbx: str, ts: float) -> None:
        """A link stored by the CRM while the call is up (click-to-dial to a customer's number)."""
        row = self._find_call(session, pbx, str(_need(event, "call_id")))
        if row is not None:
            self._link(row, event)

    # --- queues ----------------------------------------------------------------------------------

    def _queue_joined(self, session: Session, event: dict[str, Any], pbx: str, ts: float) -> None:
        call_id = str(_need(event, "call_id"))
        queue = str(_need(event, "queue"))
        stays = self._queue_stays(session, pbx, call_id)
        began = ts - (number(event.get("wait_s")) or 0.0)  # a resync's report: the wait so far
        if any(s.queue == queue and queue_call.same_stay(s.joined_at, s.outcome, began) for s in stays):
            return  # that stay again (a takeover's resync reports the calls it finds in their queues)
        for stay in stays:
            if stay.joined_at < ts:
                queue_call.talk_ended(stay, ts)  # moved on to another queue
        position = event.get("position")
        stays.append(
            QueueCallRow(
                pbx=pbx,
                call_id=call_id,
                queue=queue,
                joined_at=ts,
                hour=hour_of(ts),
                position=int(position) if isinstance(position, int) else None,
                outcome=Outcome.WAITING.value,
                hold_s=0.0,
                wrapup_s=0.0,
            )
        )
        stays.sort(key=lambda s: s.joined_at)
        session.add_all(stays)
        row = self._call(session, pbx, call_id, ts)
        if row.queue is None:
            row.queue = queue

    def _queue_left(self, session: Session, event: dict[str, Any], pbx: str, ts: float) -> None:
        call_id = str(_need(event, "call_id"))
        stay = self._stay(session, pbx, call_id, str(_need(event, "queue")), ts)
        if stay is None:
            return
        wait = number(event.get("wait_s"))
        reason = str(event.get("reason") or "")
        if event["type"] == "queue.abandoned":
            queue_call.abandoned(stay, ts, wait, reason)
        elif reason.lower() in queue_call.OVERFLOW_REASONS or not reason:
            queue_call.left(stay, ts, wait)

    # --- agents ----------------------------------------------------------------------------------

    @staticmethod
    def _latest_query(pbx: str, agent: str) -> Select[AgentStateRow]:
        """The agent's change that began last: one row off the end of the (pbx, agent, started_at) index."""
        return (
            select(AgentStateRow)
            .where(AgentStateRow.pbx == pbx, AgentStateRow.agent == agent)
            .order_by(AgentStateRow.started_at.desc())
            .limit(1)
        )

    @staticmethod
    def _latest_state(session: Session, pbx: str, agent: str) -> AgentStateRow | None:
        """The agent's change that began last, this transaction's included."""
        cache = _cache(session, "stats_agent_latest")
        if (pbx, agent) not in cache:
            cache[(pbx, agent)] = session.scalars(HistoryWriter._latest_query(pbx, agent)).first()
        row: AgentStateRow | None = cache[(pbx, agent)]
        return row

    @staticmethod
    def _state_logged(session: Session, pbx: str, agent: str, ts: float) -> bool:
        """A change of the agent's that began at ``ts`` is stored or added by this transaction."""
        if (pbx, agent, ts) in _cache(session, "stats_agent_added"):
            return True
        same = select(AgentStateRow.id).where(
            AgentStateRow.pbx == pbx, AgentStateRow.agent == agent, AgentStateRow.started_at == ts
        )
        return session.scalar(same) is not None

    def _agent_state(self, session: Session, event: dict[str, Any], pbx: str, ts: float) -> None:
        agent = str(_need(event, "agent"))
        state = AgentState(str(_need(event, "state")))
        latest = self._latest_state(session, pbx, agent)
        reason = str(event.get("reason") or "")
        if latest is not None and latest.started_at == ts:
            return  # that change again
        if latest is not None and latest.started_at > ts:
            # An older change arriving late (unless logged already): closed where the newer one began.
            if not self._state_logged(session, pbx, agent, ts):
                self._insert_state(session, event, pbx, agent, state, reason, ts, end=latest.started_at)
            return
        if latest is not None and latest.state == state.value and latest.reason == reason:
            return  # not a change
        if latest is not None and latest.is_open:
            latest.ended_at, latest.duration_s, latest.is_open = ts, max(0.0, ts - latest.started_at), False
            if latest.state == AgentState.WRAP_UP.value:
                self._attribute_wrapup(session, pbx, agent, latest.started_at, latest.duration_s)
        _cache(session, "stats_agent_latest")[(pbx, agent)] = self._insert_state(
            session, event, pbx, agent, state, reason, ts, end=None
        )

    def _insert_state(
        self,
        session: Session,
        event: dict[str, Any],
        pbx: str,
        agent: str,
        state: AgentState,
        reason: str,
        ts: float,
        end: float | None,
    ) -> AgentStateRow:
        row = AgentStateRow(
            pbx=pbx,
            agent=agent,
            extension=str(event.get("extension") or ""),
            department=self._department(agent),
            state=state.value,
            reason=reason,
            queues=",".join(str(q) for q in event.get("queues") or ())[:400],
            started_at=ts,
            hour=hour_of(ts),
            ended_at=end,
            duration_s=None if end is None else max(0.0, end - ts),
            is_open=end is None,
        )
        session.add(row)
        _cache(session, "stats_agent_added")[(pbx, agent, ts)] = row
        return row

    def _attribute_wrapup(self, session: Session, pbx: str, agent: str, since: float, seconds: float) -> None:
        """Wrap-up belongs to the agent's last call answered before the wrap-up began."""
        session.flush()  # the call may have been answered in this transaction
        stay = session.scalars(
            select(QueueCallRow)
            .where(QueueCallRow.pbx == pbx, QueueCallRow.agent == agent, QueueCallRow.answered_at <= since)
            .order_by(QueueCallRow.answered_at.desc())
            .limit(1)
        ).first()
        call = session.scalars(
            select(CallRow)
            .where(CallRow.pbx == pbx, CallRow.agent == agent, CallRow.answered_at <= since)
            .order_by(CallRow.answered_at.desc())
            .limit(1)
            .with_for_update()
        ).first()
        if stay is not None:
            queue_call.add_wrapup(stay, seconds)
        if call is not None:
            call.wrapup_s = (call.wrapup_s or 0.0) + seconds

    # --- IVR and surveys -------------------------------------------------------------------------

    def _ivr_step(self, session: Session, event: dict[str, Any], pbx: str, ts: float) -> None:
        call_id = str(_need(event, "call_id"))
        node = str(_need(event, "node"))
        # steps in the same millisecond keep the order they were written in
        steps = _call_rows(session, IvrStepRow, pbx, call_id)
        if any(s.at == ts and s.node == node for s in steps):
            return
        before = [s for s in steps if s.at <= ts]
        after = [s for s in steps if s.at > ts]
        if before:
            before[-1].dwell_s = ts - before[-1].at
        flow = str(event.get("flow") or "")
        same_node = [s for s in steps if s.flow == flow and s.node == node]
        for later in same_node:
            if later.at > ts and later.first_visit:
                later.first_visit = False  # an earlier visit arrived late
        step = IvrStepRow(
            pbx=pbx,
            call_id=call_id,
            flow=flow,
            node=node,
            input=str(event.get("input") or "")[:60],
            result=str(event.get("result") or "")[:60],
            at=ts,
            hour=hour_of(ts),
            dwell_s=(after[0].at - ts) if after else None,
            first_visit=not any(s.at < ts for s in same_node),
        )
        session.add(step)
        steps.insert(len(before), step)  # after the steps at the same time: the order they were written in

    def _survey(self, session: Session, event: dict[str, Any], pbx: str, ts: float) -> None:
        call_id = str(_need(event, "call_id"))
        # survey.scored names the agent as the queue member (MEMBERNAME) and carries the extension
        # apart; every other event, and so every report row, names the agent by extension
        agent = str(event.get("extension") or event.get("agent") or "")
        cache = _cache(session, "stats_surveys")
        if (pbx, call_id, agent) not in cache:
            cache[(pbx, call_id, agent)] = session.scalars(
                select(SurveyRow).where(SurveyRow.pbx == pbx, SurveyRow.call_id == call_id, SurveyRow.agent == agent)
            ).first()
        if cache[(pbx, call_id, agent)] is not None:
            return
        call = self._find_call(session, pbx, call_id)
        survey = SurveyRow(
            pbx=pbx,
            call_id=call_id,
            agent=agent,
            department=self._department(agent),
            queue=call.queue if call is not None else None,
            score=int(_need(event, "score")),
            scale=int(event.get("scale") or 5),
            at=ts,
            hour=hour_of(ts),
        )
        session.add(survey)
        cache[(pbx, call_id, agent)] = survey


def link_call(
    session: Session,
    pbx: str,
    call_id: str,
    *,
    customer_id: int | None = None,
    ticket_id: int | None = None,
    order_id: int | None = None,
) -> bool:
    """Link a call to CRM rows (only links not yet set); False when the call is unknown."""
    row = session.scalars(select(CallRow).where(CallRow.pbx == pbx, CallRow.call_id == call_id)).first()
    if row is None:
        return False
    for name, value in (("customer_id", customer_id), ("ticket_id", ticket_id), ("order_id", order_id)):
        if value is not None and getattr(row, name) is None:
            setattr(row, name, value)
    return True

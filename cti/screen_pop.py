"""Screen-pop: when an agent's extension rings, tell that agent who is calling.

``PopContext`` (pure) remembers, per call, what the pop needs besides the CRM record: the IVR steps the
caller went through, when the call started and joined its queue, which agents already got a pop.
``ScreenPopService`` (asyncio shell) reads the bus, looks the caller up once per call (a blocking lookup
runs in a worker thread so the event loop never waits on the database) and publishes ``screen.pop``.
``CrmCards`` is its CRM side: the caller's card and the ringing agent's data scope in one statement (one
round trip on PostgreSQL), the scope rule applied in Python to the card's own owner and department columns.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine
from sqlalchemy.exc import DBAPIError

from crm_core.lookup import lookup_as
from crm_core.permissions import lookup_seen_by, viewer_named

log = logging.getLogger(__name__)

Event = dict[str, Any]
LookupFn = Callable[[str], Any]
# (agent, the call's CRM card) -> the card cut to what that agent may see; blocking, run in a thread.
ScopeFn = Callable[[str, dict[str, Any]], dict[str, Any]]
# (number, agent) -> (the call's CRM card, that agent's cut of it): both from one lookup; blocking.
FirstPopFn = Callable[[str, str], tuple[dict[str, Any], dict[str, Any]]]
PublishFn = Callable[[Event], Awaitable[Any]]
T = TypeVar("T")

WATCHED_TYPES = ("call.new", "call.updated", "queue.joined", "ivr.step", "call.ringing", "call.ended")
LOOKUP_FIELDS = ("customer", "contact", "candidates", "open_tickets", "recent_orders", "recent_calls")


def parse_ts(value: Any) -> float | None:
    """Epoch seconds of an ISO-8601 event time (``...Z`` accepted); None when absent or unreadable."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def has_records(card: dict[str, Any]) -> bool:
    return any(card.get(name) for name in LOOKUP_FIELDS)


def lookup_fields(result: Any) -> dict[str, Any]:
    """The pop's CRM part from a ``LookupResult`` (dataclass or dict); an empty card when there is none."""
    fields: dict[str, Any] = {}
    for name in LOOKUP_FIELDS:
        value = result.get(name) if isinstance(result, dict) else getattr(result, name, None)
        if value is None and name not in ("customer", "contact"):
            value = []
        fields[name] = value
    return fields


@dataclass(slots=True)
class CallFacts:
    started: float | None = None
    queued: float | None = None
    queue: str | None = None
    ivr_path: list[dict[str, Any]] = field(default_factory=list)
    popped: set[str] = field(default_factory=set)
    rings: dict[str, Event] = field(default_factory=dict)  # agent -> the ringing that popped


class PopContext:
    """Pure per-call memory for the pops, bounded to ``max_calls`` live calls."""

    def __init__(self, max_calls: int = 20_000, max_ivr_steps: int = 50) -> None:
        self._calls: OrderedDict[str, CallFacts] = OrderedDict()
        self.max_calls = max_calls
        self.max_ivr_steps = max_ivr_steps

    def facts(self, call_id: str) -> CallFacts:
        facts = self._calls.get(call_id)
        if facts is None:
            facts = self._calls[call_id] = CallFacts()
            while len(self._calls) > self.max_calls:
                self._calls.popitem(last=False)
        return facts

    def observe(self, event: Event) -> None:
        """Take note of a non-ringing event (call start, queue join, IVR step, end)."""
        call_id = event.get("call_id")
        if not isinstance(call_id, str) or not call_id:
            return
        kind = event.get("type")
        if kind == "call.ended":
            self._calls.pop(call_id, None)
            return
        facts = self.facts(call_id)
        if kind == "call.new":
            facts.started = facts.started or parse_ts(event.get("ts"))
        elif kind == "queue.joined":
            facts.queue = event.get("queue") or facts.queue
            joined = parse_ts(event.get("ts"))
            if joined is not None and facts.queued is None:
                facts.queued = joined - float(event.get("wait_s") or 0)
        elif kind == "ivr.step" and len(facts.ivr_path) < self.max_ivr_steps:
            facts.ivr_path.append({k: event.get(k) for k in ("flow", "node", "input", "result")})

    def claim_pop(self, event: Event) -> str | None:
        """The agent to pop for a ``call.ringing``, or None (no agent, or this agent already has it)."""
        agent = event.get("agent")
        call_id = event.get("call_id")
        if not agent or not isinstance(call_id, str):
            return None
        facts = self.facts(call_id)
        if agent in facts.popped:
            return None
        facts.popped.add(str(agent))
        facts.rings[str(agent)] = event
        return str(agent)

    def repop(self, event: Event) -> list[tuple[Event, str]]:
        """For a ``call.updated`` (the dialplan changed the caller after the ring): each agent already
        popped with the ringing to pop again, carrying the new caller."""
        call_id = event.get("call_id")
        caller = event.get("caller")
        facts = self._calls.get(call_id) if isinstance(call_id, str) else None
        if facts is None or not isinstance(caller, dict):
            return []
        out = []
        for agent, ring in facts.rings.items():
            ring = {**ring, "caller": caller}
            facts.rings[agent] = ring
            out.append((ring, agent))
        return out

    def pop_for(self, event: Event, agent: str, crm: dict[str, Any]) -> Event:
        """The ``screen.pop`` event for one ringing agent."""
        call_id = event["call_id"]
        facts = self.facts(call_id)
        rang = parse_ts(event.get("ts"))
        since = facts.queued if facts.queued is not None else facts.started
        wait_s = round(max(0.0, rang - since), 1) if rang is not None and since is not None else None
        caller = event.get("caller")
        caller = caller if isinstance(caller, dict) else {}
        pop: Event = {
            "type": "screen.pop",
            "ts": event.get("ts"),
            "pbx": event.get("pbx"),
            "call_id": call_id,
            "agent": agent,
            "channel": event.get("channel"),
            "caller": caller,
            "queue": event.get("queue") or facts.queue,
            "wait_s": wait_s,
            "ivr_path": list(facts.ivr_path),
        }
        pop.update(crm)
        return pop


class ScreenPopService:
    """Publishes ``screen.pop`` for every ``call.ringing`` that names an agent.

    ``lookup_fn(number)`` returns a ``LookupResult`` (or a dict with its fields); it may be a plain
    function (run in a worker thread) or a coroutine function. A lookup is made once per call and shared
    by every agent the call rings (ring-all queues). ``scope_fn(agent, card)`` cuts the card to what that
    agent may see; ``first_pop_fn(number, agent)``, when given, makes the call's lookup together with the
    first ringing agent's cut (one round trip), ``scope_fn`` then serving only the other agents of a ring-all.
    Blocking functions run on ``threads`` threads of the service's own (the loop's default pool when None).
    """

    def __init__(
        self,
        lookup_fn: LookupFn,
        publish: PublishFn,
        *,
        cache_calls: int = 2_000,
        scope_fn: ScopeFn | None = None,
        first_pop_fn: FirstPopFn | None = None,
        threads: int | None = None,
        on_stop: Callable[[], None] | None = None,
        active: Callable[[], bool] | None = None,
    ) -> None:
        self.lookup_fn = lookup_fn
        self.scope_fn = scope_fn
        self.first_pop_fn = first_pop_fn
        self.active = active  # several nodes: only the one whose bridge is active pops (None: always)
        self.publish = publish
        self.context = PopContext()
        self._is_async = inspect.iscoroutinefunction(lookup_fn)
        self._lookups: OrderedDict[str, asyncio.Future[dict[str, Any]]] = OrderedDict()
        self._cache_calls = cache_calls
        self._executor = ThreadPoolExecutor(threads, thread_name_prefix="screen-pop") if threads else None
        self._on_stop = on_stop
        self._task: asyncio.Task[None] | None = None
        self._subscription: Any = None
        self._pending: set[asyncio.Task[None]] = set()
        self.published = 0
        self.failed_lookups = 0

    async def start(self, bus: Any) -> None:
        self._subscription = bus.subscribe(WATCHED_TYPES)
        self._task = asyncio.get_running_loop().create_task(self._consume(), name="screen-pop")

    async def stop(self) -> None:
        if self._subscription is not None:
            self._subscription.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for task in list(self._pending):
            task.cancel()
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
        if self._on_stop is not None:
            self._on_stop()

    async def _consume(self) -> None:
        async for event in self._subscription:
            try:
                self.handle_nowait(event)
            except Exception:
                log.exception("screen-pop could not handle %r", event.get("type"))

    def handle_nowait(self, event: Event) -> asyncio.Task[None] | None:
        """Note the event; for a ringing agent start the pop in its own task (a slow lookup blocks no one).

        A ``call.updated`` looks the new caller number up again and sends each popped agent the pop
        anew (same call_id: the desk replaces the card in place)."""
        if event.get("type") == "call.updated":
            again = self.context.repop(event)
            if not again:
                return None
            self._lookups.pop(str(event.get("call_id")), None)
            repop = asyncio.get_running_loop().create_task(self._repop(again))
            self._pending.add(repop)
            repop.add_done_callback(self._pending.discard)
            return repop
        if event.get("type") != "call.ringing":
            if event.get("type") == "call.ended":
                self._lookups.pop(str(event.get("call_id")), None)
            self.context.observe(event)
            return None
        if self.active is not None and not self.active():
            return None  # another node pops this call; its context stays here for a takeover
        agent = self.context.claim_pop(event)
        if agent is None:
            return None
        task = asyncio.get_running_loop().create_task(self._pop(event, agent))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)
        return task

    async def handle(self, event: Event) -> None:
        """Handle one event and wait for its pop, if any, to be published."""
        task = self.handle_nowait(event)
        if task is not None:
            await task

    async def _repop(self, rings: list[tuple[Event, str]]) -> None:
        for ring, agent in rings:
            await self._pop(ring, agent)

    async def _pop(self, event: Event, agent: str) -> None:
        crm = await self._crm_for(event, agent)
        await self.publish(self.context.pop_for(event, agent, crm))
        self.published += 1

    async def _crm_for(self, event: Event, agent: str) -> dict[str, Any]:
        """The agent's card: the call's lookup is shared by its agents; what each one sees is not."""
        call_id = event["call_id"]
        future = self._lookups.get(call_id)
        if future is not None:
            return await self._scoped(agent, await future)
        future = asyncio.get_running_loop().create_future()
        self._lookups[call_id] = future
        while len(self._lookups) > self._cache_calls:
            self._lookups.popitem(last=False)
        caller = event.get("caller")
        number = str((caller if isinstance(caller, dict) else {}).get("number") or "")
        card = lookup_fields({})
        try:
            if self.first_pop_fn is not None and self.scope_fn is not None and number:
                card, mine = await self._first_pop(number, agent)
                return mine
            card = await self._lookup(number)
            return await self._scoped(agent, card)
        finally:
            future.set_result(card)

    async def _first_pop(self, number: str, agent: str) -> tuple[dict[str, Any], dict[str, Any]]:
        assert self.first_pop_fn is not None
        try:
            return await self._in_thread(self.first_pop_fn, number, agent)
        except Exception:  # the agent still gets the pop with the number, as an unknown caller
            self.failed_lookups += 1
            log.exception("caller lookup failed for %s", number)
            return lookup_fields({}), lookup_fields({})

    async def _scoped(self, agent: str, crm: dict[str, Any]) -> dict[str, Any]:
        if self.scope_fn is None or not has_records(crm):
            return crm
        try:
            return await self._in_thread(self.scope_fn, agent, crm)
        except Exception:  # shown as an unknown caller rather than with another department's records
            log.exception("screen-pop scope failed for agent %s", agent)
            return lookup_fields({})

    async def _lookup(self, number: str) -> dict[str, Any]:
        if not number:
            return lookup_fields({})
        try:
            if self._is_async:
                result = await self.lookup_fn(number)
            else:
                result = await self._in_thread(self.lookup_fn, number)
        except Exception:  # the agent still gets the pop with the number, as an unknown caller
            self.failed_lookups += 1
            log.exception("caller lookup failed for %s", number)
            result = {}
        return lookup_fields(result)

    async def _in_thread(self, fn: Callable[..., T], *args: Any) -> T:
        if self._executor is None:
            return await asyncio.to_thread(fn, *args)
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)


class CrmCards:
    """The pop's CRM side over the database; its methods block (the service runs them in its threads).

    ``first_pop`` reads the caller's card and the ringing agent's scope (``crm_core.permissions.Viewer``) in
    one statement and applies the scope rule (``lookup_seen_by``) to the candidates' owner and department
    columns: no further query, and no cache of anybody's scope, so a change of an agent's department, roles
    or seat is seen by his next pop, whichever process made it. On PostgreSQL the pop has its own small pool
    of connections in autocommit without a ping on checkout: one statement is one round trip (no BEGIN,
    ROLLBACK or SELECT 1 around it), prepared on the server at its first use on each connection and run on
    that one generic plan; a connection the server dropped is replaced and the lookup made again.
    """

    def __init__(self, engine: Engine, region: str = "CN", area_code: str = "", connections: int = 4) -> None:
        self.region, self.area_code = region, area_code
        self._own_engine = engine.dialect.name == "postgresql"
        if self._own_engine:
            engine = create_engine(
                engine.url,
                pool_size=connections,
                max_overflow=0,
                pool_pre_ping=False,
                isolation_level="AUTOCOMMIT",
                connect_args={
                    "prepare_threshold": 0,  # its few statements prepared on the server at first use
                    # and planned once: left to choose, the server plans the lookup's CTEs anew at each
                    # execution (a custom plan, about 2 ms), longer than running it (under 1 ms)
                    "options": "-c plan_cache_mode=force_generic_plan",
                },
            )
        self.engine = engine

    def _run(self, work: Callable[[Connection], T]) -> T:
        for attempt in (1, 2):
            try:
                with self.engine.connect() as connection:
                    return work(connection)
            except DBAPIError as exc:  # a connection the server dropped: once more on a new one
                if attempt == 2 or not exc.connection_invalidated:
                    raise
        raise AssertionError("unreachable")

    def lookup(self, number: str) -> dict[str, Any]:
        """The caller's whole card (``LookupFn``)."""
        found, _ = self._run(lambda c: lookup_as(c, number, None, self.region, area_code=self.area_code))
        return lookup_fields(found)

    def first_pop(self, number: str, agent: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """The caller's whole card and what ``agent`` may see of it (``FirstPopFn``), from one lookup."""
        found, viewer = self._run(lambda c: lookup_as(c, number, agent, self.region, area_code=self.area_code))
        card = lookup_fields(found)
        return card, lookup_seen_by(viewer, card)

    def scope(self, agent: str, card: dict[str, Any]) -> dict[str, Any]:
        """What ``agent`` may see of a card (``ScopeFn``): another agent a ring-all call rings."""
        return lookup_seen_by(self._run(lambda c: viewer_named(c, agent)), card)

    def close(self) -> None:
        if self._own_engine:
            self.engine.dispose()


def crm_screen_pop(
    engine: Engine, settings: Any, publish: PublishFn, active: Callable[[], bool] | None = None
) -> ScreenPopService:
    """The screen-pop service over the CRM database, as ``serve`` runs it: ``settings.screen_pop_threads``
    threads, each with its own connection."""
    threads = max(1, int(settings.screen_pop_threads))
    cards = CrmCards(engine, settings.default_region, settings.default_area_code, connections=threads)
    return ScreenPopService(
        cards.lookup,
        publish,
        scope_fn=cards.scope,
        first_pop_fn=cards.first_pop,
        threads=threads,
        on_stop=cards.close,
        active=active,
    )


def crm_lookup(sessionmaker: Any, region: str = "CN") -> Callable[[str], Any]:
    """A blocking ``lookup_fn`` over the CRM database, one short session per lookup."""
    from crm_core.lookup import lookup

    def run(number: str) -> Any:
        with sessionmaker() as session:
            return lookup(session, number, region)

    return run


def crm_scope(sessionmaker: Any) -> ScopeFn:
    """A blocking ``scope_fn``: the agent's CRM data scope applied to the card, the same rule as the
    REST lookup (``crm_core.permissions.lookup_seen_by``); an extension nobody is bound to sees no record."""

    def run(agent: str, crm: dict[str, Any]) -> dict[str, Any]:
        with sessionmaker() as session:
            return lookup_seen_by(viewer_named(session.connection(), agent), crm)

    return run

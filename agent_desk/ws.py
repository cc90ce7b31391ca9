"""The websocket hub: live events from the bus to the agents' and supervisors' browser tabs.

Three parts, kept apart:

- ``EventRouter`` (pure): decides who receives an event. An agent receives its own screen-pops, the events
  of the calls it takes part in and its own ``agent.state``; supervisors receive ``queue.stats``, the
  ``agent.state`` of the agents in their scope and the queue events. Calls are learnt from the events that
  name an agent (``call.ringing``, ``call.answered``, ``screen.pop``...) and forgotten after ``call.ended``.
- ``ReplayBuffer`` (pure): the bounded per-agent history that lets a tab that reconnects with
  ``?since=<seq>`` receive what it missed, and tells it when the gap was too long to fill.
- ``WebSocketHub`` (asyncio shell): reads the bus, encodes each event once (JSON text and one ready-made
  websocket frame) and writes it to each socket without awaiting: for a socket whose transport is reachable
  (asyncio's or uvloop's, found by its methods), one ``transport.write`` of that frame and nothing else
  per socket, no task, no queue. A socket whose outgoing buffer grows past a bound, or whose transport is
  closing, is dropped instead of slowing everyone else; the others get the frame all the same.

A supervisor's tab carries its scope: the agent names (``crm_core.permissions.agent_identities``) of the
departments it may watch, or ``None`` for every agent. A supervisor frame that names agents (``agent.state``)
reaches a tab only when one of them is in its scope, live and on a ``?since=`` resume alike; frames that name
no agent (``queue.stats``: queues belong to no department) reach every supervisor. The per-call queue events
(``queue.joined/left/abandoned``) go to no tab: no page draws them, and ``queue.stats`` carries their sums.
Supervisor tabs are grouped by scope, so a frame costs one scope test per distinct scope, not per socket.

With a batch window (``CC_WALLBOARD_BATCH_MS``), a supervisor frame is a state where the latest wins (the
latest ``agent.state`` per agent, ``queue.stats`` per queue): ``WallboardBatch`` (pure) holds it per scope group
and the hub releases the group's frames at the window's end, in the order they arrived (seq order), in one
write per socket. The replay buffer takes every frame at once, so a ``?since=`` resume rebuilds the same
state. An agent's own frames (pops, its calls, its state) are never held; a tab that is an agent's and a
supervisor's at once has its group's held frames released first, so its frames still arrive in seq order.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

log = logging.getLogger(__name__)

Event = dict[str, Any]

# Events an agent receives when they concern one of its calls (or name it directly).
AGENT_EVENT_TYPES = frozenset(
    {
        "call.new",
        "call.ringing",
        "call.answered",
        "call.hold",
        "call.unhold",
        "call.transferred",
        "call.conference",
        "call.hangup",
        "call.ended",
        "screen.pop",
        "recording.ready",
        "survey.scored",
        "agent.state",
    }
)
# Events every supervisor tab receives: states, where the latest wins (the wallboard draws nothing else).
SUPERVISOR_EVENT_TYPES = frozenset({"queue.stats", "agent.state"})
# Events that say which agent (extension) takes part in a call.
_CALL_CLAIMING_TYPES = frozenset({"call.ringing", "call.answered", "screen.pop", "call.new"})

# A user's seat or extension binding changed (``binding_event``): every node's hub closes the tabs it stales.
BINDING_CHANGED = "desk.binding"
REBOUND = 4409  # close code of a tab whose binding changed: it reconnects under its user's binding now

SUPERVISORS = "*supervisors"
SUPERVISOR_BUFFER_FACTOR = 20  # the supervisors' replay buffer holds this many times an agent's


def encode_event(event: Event) -> str:
    """The one JSON encoding of an event, shared by every socket that receives it."""
    return json.dumps(event, ensure_ascii=False, separators=(",", ":"), default=str)


def text_frame(payload: bytes) -> bytes:
    """A complete, unmasked, unfragmented websocket text frame (RFC 6455 §5.2) as a server sends it."""
    size = len(payload)
    if size < 126:
        header = bytes((0x81, size))
    elif size < 65536:
        header = bytes((0x81, 126)) + size.to_bytes(2, "big")
    else:
        header = bytes((0x81, 127)) + size.to_bytes(8, "big")
    return header + payload


def close_frame(code: int, reason: str) -> bytes:
    """A server's websocket close frame (RFC 6455 §5.5.1): the code, then at most 123 bytes of reason."""
    payload = code.to_bytes(2, "big") + reason.encode()[:123]
    return bytes((0x88, len(payload))) + payload


def binding_event(user_id: int, previous: str | None, extension: str | None) -> Event:
    """The bus event that tells every node's hub a user's binding moved from ``previous`` to ``extension``."""
    return {"type": BINDING_CHANGED, "user_id": user_id, "previous": previous, "extension": extension}


def event_agents(event: Event) -> set[str]:
    """The agent extensions an event names itself (``agent``, ``extension``, ``callee.extension``)."""
    found: set[str] = set()
    for key in ("agent", "extension"):
        value = event.get(key)
        if isinstance(value, str) and value:
            found.add(value)
    callee = event.get("callee")
    if isinstance(callee, dict):
        value = callee.get("extension")
        if isinstance(value, str) and value:
            found.add(value)
    if event.get("type") == "call.new" and event.get("direction") in ("outbound", "internal"):
        caller = event.get("caller")
        if isinstance(caller, dict) and isinstance(caller.get("number"), str) and caller["number"]:
            found.add(caller["number"])
    return found


@dataclass(frozen=True, slots=True)
class Route:
    """Who receives one event: these agents' tabs, and supervisors' tabs when ``supervisors``."""

    agents: frozenset[str]
    supervisors: bool

    @property
    def empty(self) -> bool:
        return not self.agents and not self.supervisors


class EventRouter:
    """Pure routing state: which agents take part in which live calls."""

    def __init__(self, max_calls: int = 50_000) -> None:
        self._calls: OrderedDict[str, set[str]] = OrderedDict()
        self._max_calls = max_calls

    def claim(self, call_id: str, agent: str) -> None:
        """Record that ``agent`` takes part in ``call_id`` (learnt from events or from a desk command)."""
        agents = self._calls.get(call_id)
        if agents is None:
            agents = self._calls[call_id] = set()
            while len(self._calls) > self._max_calls:
                self._calls.popitem(last=False)
        agents.add(agent)

    def agents_of(self, call_id: str) -> frozenset[str]:
        return frozenset(self._calls.get(call_id, ()))

    def is_live(self, call_id: str) -> bool:
        return call_id in self._calls

    def route(self, event: Event) -> Route:
        kind = event.get("type")
        supervisors = kind in SUPERVISOR_EVENT_TYPES
        if kind not in AGENT_EVENT_TYPES:
            return Route(frozenset(), supervisors)
        named = event_agents(event)
        call_id = event.get("call_id")
        if isinstance(call_id, str) and call_id:
            if kind == "call.new" and not named:
                return Route(frozenset(), supervisors)
            if kind in _CALL_CLAIMING_TYPES:
                for agent in named:
                    self.claim(call_id, agent)
            agents = set(self._calls.get(call_id, ())) | named
            if kind == "call.ended":
                self._calls.pop(call_id, None)
            return Route(frozenset(agents), supervisors)
        return Route(frozenset(named), supervisors)


Scope = frozenset[str] | None  # the agent names a supervisor may watch; None: every agent


def in_scope(scope: Scope, agents: frozenset[str]) -> bool:
    """Whether a supervisor frame naming ``agents`` reaches a tab of ``scope`` (a frame naming none does)."""
    return scope is None or not agents or not agents.isdisjoint(scope)


def state_key(event: Event) -> tuple[str, str] | None:
    """What a supervisor frame is the latest state of (an agent's ``agent.state``, a queue's ``queue.stats``)."""
    kind = event.get("type")
    name = event.get("agent") if kind == "agent.state" else event.get("queue") if kind == "queue.stats" else None
    return (kind, name) if isinstance(kind, str) and isinstance(name, str) and name else None


ReadyFrame = tuple[str, bytes]  # an event's text and its websocket frame


class WallboardBatch:
    """Pure: per scope group, the latest frame of each state held back until the group's window ends.

    A newer frame of the same state replaces the held one and takes its place at the end, so ``take``
    gives the frames in the order their latest version arrived, which is seq order.
    """

    def __init__(self) -> None:
        self._held: dict[Scope, dict[tuple[str, str], ReadyFrame]] = {}

    def hold(self, scope: Scope, key: tuple[str, str], frame: ReadyFrame) -> None:
        held = self._held.get(scope)
        if held is None:
            held = self._held[scope] = {}
        else:
            held.pop(key, None)
        held[key] = frame

    def pending(self, scope: Scope) -> bool:
        return scope in self._held

    def scopes(self) -> list[Scope]:
        return list(self._held)

    def take(self, scope: Scope) -> list[ReadyFrame]:
        return list(self._held.pop(scope, {}).values())


@dataclass(slots=True)
class BufferedFrame:
    seq: int
    text: str
    call_id: str | None
    type: str
    agents: frozenset[str] = frozenset()  # the agents a supervisor frame names (its scope test)


@dataclass(slots=True)
class ReplayBuffer:
    """Bounded history of the frames one agent (or the supervisors) received, in seq order."""

    maxlen: int
    frames: deque[BufferedFrame] = field(default_factory=deque)
    evicted_seq: int = 0  # seq of the newest frame that no longer fits: a resume from before it has a gap

    def append(self, frame: BufferedFrame) -> None:
        self.frames.append(frame)
        while len(self.frames) > self.maxlen:
            self.evicted_seq = self.frames.popleft().seq

    def since(self, seq: int) -> tuple[list[BufferedFrame], bool]:
        """Frames newer than ``seq`` and whether some frames after ``seq`` were already evicted."""
        return [f for f in self.frames if f.seq > seq], seq < self.evicted_seq


class Sink(Protocol):
    """Where one socket's frames go. ``write`` must not block; it returns False when the socket must go."""

    def write(self, text: str, frame: bytes) -> bool: ...

    def close(self) -> None: ...


class FrameTransport(Protocol):
    """What the hub needs of a socket's transport: asyncio's ``WriteTransport`` and uvloop's
    ``TCPTransport`` (which is no subclass of it) both have these."""

    def write(self, data: bytes) -> None: ...

    def is_closing(self) -> bool: ...

    def get_write_buffer_size(self) -> int: ...

    def abort(self) -> None: ...


_TRANSPORT_METHODS = ("write", "is_closing", "get_write_buffer_size", "abort")


def is_transport(obj: object) -> bool:
    """Duck typing, not ``isinstance(obj, asyncio.WriteTransport)``: uvloop's transports fail that test."""
    return obj is not None and all(callable(getattr(obj, name, None)) for name in _TRANSPORT_METHODS)


class TransportSink:
    """Writes the pre-built frame straight to the socket's transport: one ``write`` per socket, no task.

    Frames are sent uncompressed (RSV1 clear), which RFC 7692 allows even when permessage-deflate was
    negotiated. A transport whose unsent buffer passes ``max_buffer`` bytes, that is closing or that
    refuses the write (uvloop raises on a closed handle) is reported lost, never raised to the fan-out.
    The transport's methods are looked up once, here: a round costs three C calls per socket.
    """

    __slots__ = ("_closing", "_unsent", "_write", "max_buffer", "transport")

    def __init__(self, transport: FrameTransport, max_buffer: int) -> None:
        self.transport = transport
        self.max_buffer = max_buffer
        self._write = transport.write
        self._closing = transport.is_closing
        self._unsent = transport.get_write_buffer_size

    def write(self, text: str, frame: bytes) -> bool:
        try:
            if self._closing() or self._unsent() > self.max_buffer:
                return False
            self._write(frame)
        except (RuntimeError, OSError):  # a handle closed under us: the socket is gone
            return False
        return True

    def write_batch(self, frames: list[ReadyFrame], joined: bytes) -> bool:
        """Several frames in one ``transport.write``: the client still reads one message per frame."""
        return self.write("", joined)

    def end(self, code: int, reason: str) -> None:
        """A close frame with the code and reason, then the transport closes once it is flushed."""
        with contextlib.suppress(RuntimeError, OSError):
            self._write(close_frame(code, reason))
            getattr(self.transport, "close", self.transport.abort)()  # close: after the unsent bytes

    def close(self) -> None:
        with contextlib.suppress(RuntimeError, OSError):
            self.transport.abort()


class QueueSink:
    """Fallback for servers whose transport is out of reach: a bounded queue drained by one task."""

    def __init__(self, send_text: Any, maxsize: int, close: Any = None) -> None:
        self.queue: asyncio.Queue[str] = asyncio.Queue(maxsize)
        self._send_text = send_text
        self._close = close  # the socket's ``close(code, reason)``, for ``end``
        self._ending: asyncio.Task[None] | None = None
        self._task = asyncio.get_running_loop().create_task(self._drain())
        self.failed = False

    async def _drain(self) -> None:
        try:
            while True:
                await self._send_text(await self.queue.get())
        except Exception:  # the socket went away; the hub notices on the next write
            self.failed = True

    def write(self, text: str, frame: bytes) -> bool:
        if self.failed:
            return False
        try:
            self.queue.put_nowait(text)
        except asyncio.QueueFull:
            return False
        return True

    def write_batch(self, frames: list[ReadyFrame], joined: bytes) -> bool:
        return all(self.write(text, frame) for text, frame in frames)

    def end(self, code: int, reason: str) -> None:
        self._task.cancel()
        if self._close is not None:
            self._ending = asyncio.get_running_loop().create_task(self._close(code, reason))

    def close(self) -> None:
        self._task.cancel()


def find_transport(send: Any, depth: int = 6) -> FrameTransport | None:
    """The transport behind an ASGI ``send`` callable, if the server exposes it (asyncio's or uvloop's).

    uvicorn's websocket protocols hand the app a bound method of the protocol object, which holds the
    transport; Starlette wraps that callable in closures, which are searched a few levels deep.
    """
    owner = getattr(send, "__self__", None)
    transport = getattr(owner, "transport", None)
    if is_transport(transport):
        return transport
    if depth <= 0:
        return None
    for cell in getattr(send, "__closure__", None) or ():
        with contextlib.suppress(ValueError):
            found = find_transport(cell.cell_contents, depth - 1) if callable(cell.cell_contents) else None
            if found is not None:
                return found
    return None


@dataclass(eq=False)
class Connection:
    """One browser tab; ``scope`` limits the agents a supervisor's tab hears of (``None``: every agent)."""

    user_id: int
    agent: str | None
    supervisor: bool
    sink: Sink
    scope: Scope = None

    @property
    def keys(self) -> Iterator[str]:
        if self.agent:
            yield self.agent
        if self.supervisor:
            yield SUPERVISORS


WriteFn = Callable[[str, bytes], bool]
Group = dict[Connection, WriteFn]  # tabs that receive the same frames, each with its sink's write


def fan_out(group: Group, text: str, frame: bytes, lost: list[Connection]) -> int:
    """Write one ready frame to every tab of a group; the tabs whose socket must go are added to ``lost``.

    Nothing is awaited and nothing is built per socket: one call of the sink's ``write`` each (for a
    ``TransportSink``, ``is_closing``, ``get_write_buffer_size`` and ``transport.write``, all in C).
    """
    failed = [conn for conn, write in group.items() if not write(text, frame)]
    lost += failed
    return len(group) - len(failed)


def write_batch(sink: Sink, frames: list[ReadyFrame], joined: bytes) -> bool:
    """Write held frames to one socket: in one write where the sink can, else one ``write`` each."""
    batch = getattr(sink, "write_batch", None)
    if batch is not None:
        return bool(batch(frames, joined))
    return all(sink.write(text, frame) for text, frame in frames)


class HubStats:
    def __init__(self) -> None:
        self.events = 0
        self.frames = 0
        self.writes = 0  # socket writes: a frame each, or a batch window's frames in one
        self.dropped_sockets = 0
        self.connections = 0


class WebSocketHub:
    """Fans bus events out to the connected tabs. ``dispatch`` is synchronous: it never awaits a socket."""

    def __init__(
        self,
        bus: Any = None,
        *,
        buffer_len: int = 500,
        max_socket_buffer: int = 1 << 20,
        queue_len: int = 1000,
        max_agents: int = 10_000,
        batch_ms: float = 0,
    ) -> None:
        self.bus = bus
        self.batch_s = batch_ms / 1000  # the supervisors' batch window (CC_WALLBOARD_BATCH_MS); 0: none
        self._batch = WallboardBatch()
        self._batch_timer: asyncio.TimerHandle | None = None
        self.router = EventRouter()
        self.buffer_len = buffer_len
        self.max_socket_buffer = max_socket_buffer
        self.queue_len = queue_len
        self.max_agents = max_agents
        self.last_seq = 0
        self.stats = HubStats()
        self._buffers: OrderedDict[str, ReplayBuffer] = OrderedDict()
        self._last_state: dict[str, BufferedFrame] = {}
        # Each tab with its sink's ``write`` looked up once: an agent's tabs by its name, and the
        # supervisors' tabs grouped by scope (one scope test per group, then one write per socket).
        self._by_key: dict[str, Group] = {}
        self._audiences: dict[Scope, Group] = {}
        self._task: asyncio.Task[None] | None = None
        self._subscription: Any = None

    # --- lifecycle -----------------------------------------------------------------------------------
    async def start(self) -> None:
        if self._task is None and self.bus is not None:
            self._subscription = self.bus.subscribe()
            self._task = asyncio.get_running_loop().create_task(self._consume(), name="ws-hub")

    async def stop(self) -> None:
        if self._batch_timer is not None:
            self._batch_timer.cancel()
            self._batch_timer = None
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._subscription is not None and hasattr(self._subscription, "close"):
            result = self._subscription.close()
            if asyncio.iscoroutine(result):
                await result
        for conn in self._connections():
            conn.sink.close()
        self._by_key.clear()
        self._audiences.clear()

    async def _consume(self) -> None:
        async for event in self._subscription:
            try:
                self.dispatch(event)
            except Exception:  # one bad event must not stop the desk's live feed
                log.exception("websocket hub could not dispatch %r", event.get("type"))

    # --- fan-out -------------------------------------------------------------------------------------
    def _buffer(self, key: str) -> ReplayBuffer:
        buffer = self._buffers.get(key)
        if buffer is None:
            # every supervisor frame of the center passes the supervisors' one: it keeps more
            size = self.buffer_len * SUPERVISOR_BUFFER_FACTOR if key == SUPERVISORS else self.buffer_len
            buffer = self._buffers[key] = ReplayBuffer(size)
            while len(self._buffers) > self.max_agents:
                self._buffers.popitem(last=False)
        else:
            self._buffers.move_to_end(key)
        return buffer

    def dispatch(self, event: Event) -> int:
        """Route, encode once, buffer and write one event. Returns the number of sockets written."""
        self.stats.events += 1
        seq = int(event.get("seq") or 0)
        if seq:
            self.last_seq = max(self.last_seq, seq)
        if event.get("type") == BINDING_CHANGED:
            return self.rebind(event)
        route = self.router.route(event)
        if route.empty:
            return 0
        call_id = event.get("call_id") if isinstance(event.get("call_id"), str) else None
        text = encode_event(event)
        named = frozenset(event_agents(event)) if route.supervisors else frozenset()
        buffered = BufferedFrame(seq, text, call_id, str(event.get("type")), named)
        for agent in route.agents:
            self._buffer(agent).append(buffered)
        if route.supervisors:
            self._buffer(SUPERVISORS).append(buffered)
        if buffered.type == "agent.state":
            for agent in route.agents:
                self._last_state[agent] = buffered
        frame = text_frame(text.encode())
        lost: list[Connection] = []
        written = 0
        if route.supervisors:
            written += self._to_supervisors(event, named, (text, frame), lost)
        for agent in route.agents:
            tabs = self._by_key.get(agent)
            if tabs:
                for conn in [c for c in tabs if c.supervisor and self._batch.pending(c.scope)]:
                    # this tab hears its group's held frames first (this one too, when in scope): seq order
                    written += self._release(conn.scope, lost)
                if route.supervisors:  # a supervisor who is this agent too has had the frame already
                    tabs = {c: w for c, w in tabs.items() if not (c.supervisor and in_scope(c.scope, named))}
                written += self._fan_out(tabs, text, frame, lost)
        for conn in dict.fromkeys(lost):  # once each, in order
            self._drop(conn)
        self.stats.frames += written
        return written

    def _fan_out(self, group: Group, text: str, frame: bytes, lost: list[Connection]) -> int:
        written = fan_out(group, text, frame, lost)
        self.stats.writes += written
        return written

    def _to_supervisors(self, event: Event, named: frozenset[str], ready: ReadyFrame, lost: list[Connection]) -> int:
        """Hold a latest-wins state for the batch window, or write the frame now (after what is held)."""
        key = state_key(event) if self.batch_s > 0 else None
        written = 0
        for scope, group in self._audiences.items():
            if not in_scope(scope, named):
                continue
            if key is not None:
                self._batch.hold(scope, key, ready)
                continue
            if self._batch.pending(scope):
                written += self._release(scope, lost)
            written += self._fan_out(group, *ready, lost)
        if key is not None and self._batch_timer is None:
            with contextlib.suppress(RuntimeError):  # no running loop (a test): release_batches() by hand
                self._batch_timer = asyncio.get_running_loop().call_later(self.batch_s, self.release_batches)
        return written

    def _release(self, scope: Scope, lost: list[Connection]) -> int:
        """Write one scope group's held frames: one write per socket. Returns the frames written."""
        frames = self._batch.take(scope)
        group = self._audiences.get(scope)
        if not frames or not group:
            return 0
        joined = b"".join(frame for _, frame in frames)
        failed = [conn for conn in group if not write_batch(conn.sink, frames, joined)]
        lost += failed
        self.stats.writes += len(group) - len(failed)
        return (len(group) - len(failed)) * len(frames)

    def release_batches(self) -> int:
        """The batch window ended: every group's held frames go out. Returns the frames written."""
        self._batch_timer = None
        lost: list[Connection] = []
        written = sum(self._release(scope, lost) for scope in self._batch.scopes())
        for conn in dict.fromkeys(lost):
            self._drop(conn)
        self.stats.frames += written
        return written

    def _drop(self, conn: Connection) -> None:
        self.stats.dropped_sockets += 1
        self.unregister(conn)
        conn.sink.close()

    # --- connections ---------------------------------------------------------------------------------
    def register(self, conn: Connection, since: int | None) -> None:
        """Add a tab and write, before any live event can pass it, the hello frame and what it missed."""
        if conn.agent:
            self._by_key.setdefault(conn.agent, {})[conn] = conn.sink.write
        if conn.supervisor:
            self._audiences.setdefault(conn.scope, {})[conn] = conn.sink.write
        self.stats.connections += 1
        for text in self._welcome(conn, since):
            if not conn.sink.write(text, text_frame(text.encode())):
                self._drop(conn)
                return

    def unregister(self, conn: Connection) -> None:
        groups: list[tuple[dict[Any, Group], Any]] = []
        if conn.agent:
            groups.append((self._by_key, conn.agent))
        if conn.supervisor:
            groups.append((self._audiences, conn.scope))
        for table, key in groups:
            conns = table.get(key)
            if conns is not None:
                conns.pop(conn, None)
                if not conns:
                    del table[key]

    def _connections(self) -> set[Connection]:
        return {c for table in (self._by_key, self._audiences) for conns in table.values() for c in conns}

    def disconnect(self, agent: str) -> int:
        """Close every tab of ``agent`` (its extension changed, or an administrator ended its login).

        The tabs reconnect by themselves if their session is still valid and resume from their last seq.
        """
        conns = list(self._by_key.get(agent, ()))
        for conn in conns:
            self.unregister(conn)
            conn.sink.close()
        return len(conns)

    def rebind(self, event: Event) -> int:
        """A binding changed: close the tabs registered under a binding that is no longer theirs.

        Those are the user's tabs on another extension than his new one, other users' tabs on his new
        extension, and any tab on the extension he left. They get close code ``REBOUND`` and reconnect under
        their user's binding now. The replay buffers of both extensions are dropped: what was sent to the
        previous holder is never replayed to the next. Returns the number of tabs closed.
        """
        user_id, previous, extension = event.get("user_id"), event.get("previous"), event.get("extension")
        stale = [
            conn
            for conn in self._connections()
            if conn.agent and (conn.agent == previous or (conn.user_id == user_id) != (conn.agent == extension))
        ]
        for key in (previous, extension):
            if isinstance(key, str):
                self._buffers.pop(key, None)
        for conn in stale:
            self.unregister(conn)
            end = getattr(conn.sink, "end", None)
            if end is not None:
                end(REBOUND, "seat or extension binding changed")
            else:
                conn.sink.close()
        return len(stale)

    def disconnect_user(self, user_id: int) -> int:
        """Close every tab of a user whose logins were ended (password change); live logins reconnect."""
        conns = {c for c in self._connections() if c.user_id == user_id}
        for conn in conns:
            self.unregister(conn)
            conn.sink.close()
        return len(conns)

    def connection_count(self) -> int:
        return len(self._connections())

    def _welcome(self, conn: Connection, since: int | None) -> list[str]:
        frames: dict[int, BufferedFrame] = {}
        gap = False
        for key in conn.keys:
            buffer = self._buffers.get(key)
            if buffer is None:
                continue
            if since is not None:
                missed, lost = buffer.since(since)
                gap = gap or lost
                if key == SUPERVISORS:  # the supervisors' buffer is shared: replay only this tab's scope
                    missed = [f for f in missed if in_scope(conn.scope, f.agents)]
                frames.update((f.seq, f) for f in missed)
            elif key != SUPERVISORS:
                # A fresh tab: the calls still in progress and the last state Asterisk reported.
                live = [f for f in buffer.frames if f.call_id and self.router.is_live(f.call_id)]
                frames.update((f.seq, f) for f in live)
        if since is not None and since > self.last_seq:
            # the tab saw a newer sequence than this hub has: the server restarted with a fresh bus
            gap = True
        if since is None and conn.agent and conn.agent in self._last_state:
            state = self._last_state[conn.agent]
            frames[state.seq] = state
        hello = {
            "type": "hub.hello",
            "seq": self.last_seq,
            "agent": conn.agent,
            "supervisor": conn.supervisor,
            "resumed": since is not None,
            "gap": gap,
        }
        return [encode_event(hello)] + [frames[s].text for s in sorted(frames)]

    def missed(self, keys: Iterable[str], since: int) -> list[str]:
        """Texts of the buffered frames after ``since`` for these keys, in seq order (for tests and tools)."""
        frames: dict[int, BufferedFrame] = {}
        for key in keys:
            buffer = self._buffers.get(key)
            if buffer is not None:
                frames.update((f.seq, f) for f in buffer.since(since)[0])
        return [frames[s].text for s in sorted(frames)]


def hub_for(app: Any) -> WebSocketHub:
    """The app's hub: the runtime's when it has one, else one made on first use over the runtime's bus."""
    runtime = getattr(app.state, "runtime", None)
    hub = getattr(runtime, "hub", None)
    if isinstance(hub, WebSocketHub):
        return hub
    hub = getattr(app.state, "ws_hub", None)
    if not isinstance(hub, WebSocketHub):
        hub = WebSocketHub(getattr(runtime, "bus", None))
        app.state.ws_hub = hub
    return hub

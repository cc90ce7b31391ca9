"""The websocket hub: live events from the bus to the agents' and supervisors' browser tabs.

Three parts, kept apart:

- ``EventRouter`` (pure): decides who receives an event. An agent receives its own screen-pops, the events
  of the calls it takes part in and its own ``agent.state``; supervisors receive ``queue.stats``, every
  ``agent.state`` and the queue events. Calls are learnt from the events that name an agent
  (``call.ringing``, ``call.answered``, ``screen.pop``...) and forgotten after ``call.ended``.
- ``ReplayBuffer`` (pure): the bounded per-agent history that lets a tab that reconnects with
  ``?since=<seq>`` receive what it missed, and tells it when the gap was too long to fill.
- ``WebSocketHub`` (asyncio shell): reads the bus, encodes each event once (JSON text and, for sockets whose
  transport is reachable, one ready-made websocket frame) and writes it to each socket without awaiting.
  A socket whose outgoing buffer grows past a bound is dropped instead of slowing everyone else.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import OrderedDict, deque
from collections.abc import Iterable, Iterator
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
# Events every supervisor tab receives.
SUPERVISOR_EVENT_TYPES = frozenset(
    {"queue.stats", "agent.state", "queue.joined", "queue.left", "queue.abandoned"}
)
# Events that say which agent (extension) takes part in a call.
_CALL_CLAIMING_TYPES = frozenset({"call.ringing", "call.answered", "screen.pop", "call.new"})

SUPERVISORS = "*supervisors"


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


@dataclass(slots=True)
class BufferedFrame:
    seq: int
    text: str
    call_id: str | None
    type: str


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


class TransportSink:
    """Writes the pre-built frame straight to the socket's transport: one ``write`` per socket, no task.

    Frames are sent uncompressed (RSV1 clear), which RFC 7692 allows even when permessage-deflate was
    negotiated. A transport whose unsent buffer passes ``max_buffer`` bytes is aborted.
    """

    def __init__(self, transport: asyncio.WriteTransport, max_buffer: int) -> None:
        self.transport = transport
        self.max_buffer = max_buffer

    def write(self, text: str, frame: bytes) -> bool:
        if self.transport.is_closing():
            return False
        if self.transport.get_write_buffer_size() > self.max_buffer:
            return False
        self.transport.write(frame)
        return True

    def close(self) -> None:
        self.transport.abort()


class QueueSink:
    """Fallback for servers whose transport is out of reach: a bounded queue drained by one task."""

    def __init__(self, send_text: Any, maxsize: int) -> None:
        self.queue: asyncio.Queue[str] = asyncio.Queue(maxsize)
        self._send_text = send_text
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

    def close(self) -> None:
        self._task.cancel()


def find_transport(send: Any, depth: int = 6) -> asyncio.WriteTransport | None:
    """The asyncio transport behind an ASGI ``send`` callable, if the server exposes it.

    uvicorn's websocket protocols hand the app a bound method of the protocol object, which holds the
    transport; Starlette wraps that callable in closures, which are searched a few levels deep.
    """
    owner = getattr(send, "__self__", None)
    transport = getattr(owner, "transport", None)
    if isinstance(transport, asyncio.WriteTransport):
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
    """One browser tab."""

    user_id: int
    agent: str | None
    supervisor: bool
    sink: Sink

    @property
    def keys(self) -> Iterator[str]:
        if self.agent:
            yield self.agent
        if self.supervisor:
            yield SUPERVISORS


class HubStats:
    def __init__(self) -> None:
        self.events = 0
        self.frames = 0
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
    ) -> None:
        self.bus = bus
        self.router = EventRouter()
        self.buffer_len = buffer_len
        self.max_socket_buffer = max_socket_buffer
        self.queue_len = queue_len
        self.max_agents = max_agents
        self.last_seq = 0
        self.stats = HubStats()
        self._buffers: OrderedDict[str, ReplayBuffer] = OrderedDict()
        self._last_state: dict[str, BufferedFrame] = {}
        self._by_key: dict[str, set[Connection]] = {}
        self._task: asyncio.Task[None] | None = None
        self._subscription: Any = None

    # --- lifecycle -----------------------------------------------------------------------------------
    async def start(self) -> None:
        if self._task is None and self.bus is not None:
            self._subscription = self.bus.subscribe()
            self._task = asyncio.get_running_loop().create_task(self._consume(), name="ws-hub")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._subscription is not None and hasattr(self._subscription, "close"):
            result = self._subscription.close()
            if asyncio.iscoroutine(result):
                await result
        for conns in list(self._by_key.values()):
            for conn in list(conns):
                conn.sink.close()
        self._by_key.clear()

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
            buffer = self._buffers[key] = ReplayBuffer(self.buffer_len)
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
        route = self.router.route(event)
        if route.empty:
            return 0
        keys = list(route.agents)
        if route.supervisors:
            keys.append(SUPERVISORS)
        call_id = event.get("call_id") if isinstance(event.get("call_id"), str) else None
        text = encode_event(event)
        buffered = BufferedFrame(seq, text, call_id, str(event.get("type")))
        for key in keys:
            self._buffer(key).append(buffered)
        if buffered.type == "agent.state":
            for agent in route.agents:
                self._last_state[agent] = buffered
        targets: set[Connection] = set()
        for key in keys:
            targets.update(self._by_key.get(key, ()))
        if not targets:
            return 0
        frame = text_frame(text.encode())
        written = 0
        for conn in targets:
            if conn.sink.write(text, frame):
                written += 1
            else:
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
        for key in conn.keys:
            self._by_key.setdefault(key, set()).add(conn)
        self.stats.connections += 1
        for text in self._welcome(conn, since):
            if not conn.sink.write(text, text_frame(text.encode())):
                self._drop(conn)
                return

    def unregister(self, conn: Connection) -> None:
        for key in conn.keys:
            conns = self._by_key.get(key)
            if conns is not None:
                conns.discard(conn)
                if not conns:
                    del self._by_key[key]

    def disconnect(self, agent: str) -> int:
        """Close every tab of ``agent`` (its extension changed, or an administrator ended its login).

        The tabs reconnect by themselves if their session is still valid and resume from their last seq.
        """
        conns = list(self._by_key.get(agent, ()))
        for conn in conns:
            self.unregister(conn)
            conn.sink.close()
        return len(conns)

    def disconnect_user(self, user_id: int) -> int:
        """Close every tab of a user whose logins were ended (password change); live logins reconnect."""
        conns = {c for conns in self._by_key.values() for c in conns if c.user_id == user_id}
        for conn in conns:
            self.unregister(conn)
            conn.sink.close()
        return len(conns)

    def connection_count(self) -> int:
        return len({c for conns in self._by_key.values() for c in conns})

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

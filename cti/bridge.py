"""The AMI bridge: PBX events in, domain events out on the bus.

One ``AMIBridge`` per PBX. It keeps one ``CallTracker`` for its whole life (across reconnects,
so a call that was up before a drop still ends exactly once) and runs this loop:

    connect -> log in (plain or MD5) -> Events (the classes we need) -> resync -> live

Resync: ``tracker.resync_begin()``, then CoreShowChannels, QueueStatus and BridgeList, their
reply events fed to the tracker, then ``tracker.resync_end(now)`` and its events published.
Live events that arrive meanwhile are buffered and fed after, in order. When the connection
drops the bridge waits a capped exponential backoff with jitter and starts again.

The clock is read here (``now = clock()`` when an event arrives), never in the tracker.
``tracker.tick(now)`` runs about once a second while the bridge is live: while disconnected
the tracker cannot see hangups, so it must not expire anything on its own; the resync decides.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from cti.ami.parser import Message
from cti.ami.protocol import AMIConnection, AMIError, raw
from cti.bus import EventBus, LeaderLock
from cti.commands import CallCommands

log = logging.getLogger(__name__)

# Event classes the tracker needs (manager.conf read= / the Events action). CEL is left out:
# the tracker does not use it and it triples the traffic.
NEEDED_EVENT_CLASSES = ("system", "call", "agent", "dialplan", "user", "cdr")
RESYNC_ACTIONS = ("CoreShowChannels", "QueueStatus", "BridgeList")
TICK_S = 1.0
_RATE_WINDOW_S = 5
_PUBLISH_BATCH = 256


class CallTracker(Protocol):
    """The pure call tracker (``cti.tracker.CallTracker``) as the bridge uses it."""

    def feed(self, msg: dict[str, Any], now: float) -> list[dict[str, Any]]: ...

    def tick(self, now: float) -> list[dict[str, Any]]: ...

    def resync_begin(self) -> None: ...

    def resync_end(self, now: float) -> list[dict[str, Any]]: ...

    def snapshot(self) -> Any: ...


def reconnect_delay(attempt: int, cap_s: float, jitter: float, base_s: float = 0.5) -> float:
    """Capped exponential backoff: ``base * 2**attempt`` up to ``cap``, scaled by 0.5..1.0 jitter."""
    ceiling = min(cap_s, base_s * (2 ** min(attempt, 30)))
    return ceiling * (0.5 + 0.5 * jitter)


def missing_event_classes(read_perm: str, needed: Iterable[str] = NEEDED_EVENT_CLASSES) -> list[str]:
    """Needed classes absent from a manager user's read permission (``all`` grants every one)."""
    granted = {part.strip().lower() for part in read_perm.split(",") if part.strip()}
    if "all" in granted:
        return []
    return [cls for cls in needed if cls not in granted]


def read_perm_from_output(lines: Iterable[str]) -> str | None:
    """The ``read perm:`` value in the output of ``manager show user <name>``."""
    for line in lines:
        key, sep, value = line.partition(":")
        if sep and key.strip().lower() == "read perm":
            return value.strip()
    return None


def channel_names(snapshot: Any) -> set[str]:
    """Live channel names in a tracker snapshot: its ``channels`` list, or else any nesting of
    dicts, lists and dataclasses with ``channel`` fields."""
    if isinstance(snapshot, dict) and isinstance(snapshot.get("channels"), list):
        return {c["channel"] for c in snapshot["channels"] if isinstance(c, dict) and c.get("channel")}
    names: set[str] = set()
    stack = [snapshot]
    seen: set[int] = set()
    while stack:
        node = stack.pop()
        if isinstance(node, str | int | float | bool) or node is None or id(node) in seen:
            continue
        seen.add(id(node))
        if hasattr(node, "__dataclass_fields__"):
            node = {f: getattr(node, f) for f in node.__dataclass_fields__}
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("channel", "name", "Channel") and isinstance(value, str) and "/" in value:
                    names.add(value)
                else:
                    stack.append(value)
        elif isinstance(node, list | tuple | set):
            stack.extend(node)
    return names


def bridge_peer(snapshot: Any, channel: str) -> str | None:
    """The one other channel in ``channel``'s bridge, from the tracker snapshot's ``channels``."""
    rows = snapshot.get("channels") if isinstance(snapshot, dict) else None
    if not isinstance(rows, list):
        return None
    bridge = next((r.get("bridge") for r in rows if r.get("channel") == channel), None)
    if not bridge:
        return None
    peers = [r["channel"] for r in rows if r.get("bridge") == bridge and r.get("channel") != channel]
    return peers[0] if len(peers) == 1 else None


@dataclass(frozen=True, slots=True)
class BridgeStats:
    connected: bool
    events_total: int
    events_per_s: float
    last_event_age_s: float | None
    malformed_frames: int
    reconnects: int
    resyncs: int
    published: int
    tracker_errors: int
    missing_event_classes: tuple[str, ...]


class AMIBridge:
    """Connects one PBX to the event bus through the call tracker; see the module docstring."""

    def __init__(
        self,
        settings: Any,
        bus: EventBus,
        tracker_factory: Callable[[], CallTracker],
        clock: Callable[[], float] = time.time,
        jitter: Callable[[], float] = random.random,
        tick_s: float = TICK_S,
    ) -> None:
        self.settings = settings
        self.bus = bus
        self.tracker = tracker_factory()
        self.clock = clock
        self._jitter = jitter
        self.tick_s = tick_s
        self.pbx: str = settings.pbx
        self.connection = AMIConnection(
            host=settings.ami_host,
            port=settings.ami_port,
            username=settings.ami_user,
            secret=settings.ami_secret,
            auth=settings.ami_auth,
            action_timeout_s=settings.ami_action_timeout_s,
            ping_s=settings.ami_ping_s,
            on_event=self._on_event,
            on_lost=self._on_lost,
            on_malformed=self._on_malformed,
        )
        self.commands = CallCommands(
            self.connection,
            timeout_s=settings.ami_action_timeout_s,
            channel_exists=self._channel_exists,
            peer_of=self._peer_of,
        )
        self._ami_listeners: list[Callable[[Message], None]] = []
        self._live = False
        self._resyncing = False
        self._buffer: list[tuple[Message, float]] = []
        self._outbox: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self._lost = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False
        # counters
        self._events_total = 0
        self._last_event_at: float | None = None
        self._rate: deque[tuple[int, int]] = deque(maxlen=_RATE_WINDOW_S + 1)
        self._malformed = 0
        self._reconnects = 0
        self._resyncs = 0
        self._published = 0
        self._tracker_errors = 0
        self._missing_classes: tuple[str, ...] = ()
        self._sessions = 0

    # --- public ----------------------------------------------------------------------------------
    @property
    def connected(self) -> bool:
        """Logged in and resynced: live events reach the bus."""
        return self._live

    @property
    def stats(self) -> BridgeStats:
        now = self.clock()
        second = int(now)
        recent = sum(n for sec, n in self._rate if second - _RATE_WINDOW_S < sec <= second)
        return BridgeStats(
            connected=self._live,
            events_total=self._events_total,
            events_per_s=recent / _RATE_WINDOW_S,
            last_event_age_s=None if self._last_event_at is None else max(0.0, now - self._last_event_at),
            malformed_frames=self._malformed,
            reconnects=self._reconnects,
            resyncs=self._resyncs,
            published=self._published,
            tracker_errors=self._tracker_errors,
            missing_event_classes=self._missing_classes,
        )

    def add_ami_listener(self, listener: Callable[[Message], None]) -> None:
        """Also hand every live AMI event (a plain dict) to ``listener``, after the tracker.

        For consumers of raw events the tracker does not turn into domain events (MixMonitor
        file names, for instance). A listener must be quick and must not raise.
        """
        self._ami_listeners.append(listener)

    async def start(self) -> None:
        """Start connecting in the background; returns at once (see ``connected``)."""
        if self._tasks:
            return
        self._stopping = False
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._publish_loop(), name=f"bridge-publish-{self.pbx}"),
            loop.create_task(self._run(), name=f"bridge-run-{self.pbx}"),
            loop.create_task(self._tick_loop(), name=f"bridge-tick-{self.pbx}"),
        ]

    async def stop(self) -> None:
        """Disconnect and stop; events already produced are published first."""
        self._stopping = True
        run, tick = self._tasks[1:] if self._tasks else (None, None)
        for task in (run, tick):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self.connection.close()
        self._live = False
        if self._tasks:
            self._outbox.put_nowait(None)
            with contextlib.suppress(asyncio.CancelledError):
                await self._tasks[0]
        self._tasks = []

    # --- connection loop -------------------------------------------------------------------------
    async def _run(self) -> None:
        attempt = 0
        while not self._stopping:
            try:
                await self._session()
                attempt = 0
            except (OSError, AMIError) as exc:
                log.warning("AMI %s:%s: %s", self.settings.ami_host, self.settings.ami_port, exc)
            except Exception:
                # A bug on one connection must not end the bridge: log it and reconnect.
                log.exception("AMI bridge session failed")
            finally:
                self._live = False
                self._resyncing = False
                self._buffer.clear()
                self.connection.close()
            if self._stopping:
                return
            delay = reconnect_delay(attempt, self.settings.ami_reconnect_max_s, self._jitter())
            attempt += 1
            log.info("AMI reconnect in %.2f s", delay)
            await asyncio.sleep(delay)

    async def _session(self) -> None:
        self._lost.clear()
        await self.connection.open()
        await self.connection.login()
        if self._sessions:
            self._reconnects += 1
        self._sessions += 1
        self._resyncing = True
        mask = ",".join(NEEDED_EVENT_CLASSES)
        reply = await self.connection.action({"Action": "Events", "EventMask": mask})
        if not reply.success:
            log.warning("AMI Events action refused: %s", reply.get("Message", ""))
        await self._resync()
        self._live = True
        log.info("AMI bridge live on %s:%s", self.settings.ami_host, self.settings.ami_port)
        checker = asyncio.get_running_loop().create_task(self._check_event_classes())
        try:
            await self._lost.wait()
        finally:
            checker.cancel()
        log.warning("AMI connection to %s:%s lost", self.settings.ami_host, self.settings.ami_port)

    async def resync(self) -> bool:
        """Re-read the PBX's channels and queues while live (events that arrive meanwhile wait, as at a
        connect) and end the calls it no longer reports. False when not live or already resyncing."""
        if not self._live or self._resyncing:
            return False
        self._resyncing = True
        try:
            await self._resync()
        finally:
            if self._resyncing:  # an action failed half-way: give the waiting events to the tracker
                buffered, self._buffer = self._buffer, []
                for msg, arrived in buffered:
                    self._feed(msg, arrived)
                self._resyncing = False
        return True

    async def _resync(self) -> None:
        try:
            self.tracker.resync_begin()
        except Exception:
            self._tracker_errors += 1
            log.exception("call tracker failed to begin the resync")
        for name in RESYNC_ACTIONS:
            reply = await self.connection.action({"Action": name})
            replies = reply if isinstance(reply, list) else [reply]
            if not replies[0].success:
                log.warning("AMI resync: %s refused: %s", name, replies[0].get("Message", ""))
            now = self.clock()
            for message in replies:
                msg = raw(message)
                if "Event" in msg:
                    self._feed(msg, now, live=False)
        self._emit(self._guard(self.tracker.resync_end, self.clock()))
        self._resyncs += 1
        buffered, self._buffer = self._buffer, []
        for msg, arrived in buffered:
            self._feed(msg, arrived)
        self._resyncing = False

    async def _check_event_classes(self) -> None:
        """Warn when the AMI user cannot read an event class the tracker needs."""
        try:
            reply = await self.connection.action(
                {"Action": "Command", "Command": f"manager show user {self.settings.ami_user}"},
                timeout_s=min(2.0, self.settings.ami_action_timeout_s),
            )
        except AMIError as exc:
            log.info("AMI: cannot verify the event classes (%s)", exc)
            return
        output = reply.get("Output", [])
        lines = [output] if isinstance(output, str) else list(output)
        perm = read_perm_from_output(lines)
        if perm is None:
            log.info("AMI: cannot verify the event classes: %s", reply.get("Message", "no output"))
            return
        self._missing_classes = tuple(missing_event_classes(perm))
        if self._missing_classes:
            log.warning(
                "AMI user %s cannot read event classes %s: calls will be tracked wrongly; "
                "add them to read= in manager.conf",
                self.settings.ami_user,
                ",".join(self._missing_classes),
            )

    # --- event path ------------------------------------------------------------------------------
    def _on_event(self, msg: Message) -> None:
        now = self.clock()
        self._events_total += 1
        self._last_event_at = now
        second = int(now)
        if self._rate and self._rate[-1][0] == second:
            self._rate[-1] = (second, self._rate[-1][1] + 1)
        else:
            self._rate.append((second, 1))
        if self._resyncing:
            self._buffer.append((msg, now))
        elif self._live:
            self._feed(msg, now)

    def _feed(self, msg: Message, now: float, live: bool = True) -> None:
        self._emit(self._guard(self.tracker.feed, msg, now))
        if not live:
            return
        for listener in self._ami_listeners:
            try:
                listener(msg)
            except Exception:
                log.exception("AMI listener failed on %s", msg.get("Event"))

    def _guard(self, step: Callable[..., list[dict[str, Any]]], *args: Any) -> list[dict[str, Any]]:
        """Run one tracker step; a tracker bug on one event must not stop the bridge."""
        try:
            return step(*args)
        except Exception:
            self._tracker_errors += 1
            log.exception("call tracker failed on %r", args[0] if args else None)
            return []

    def _emit(self, events: list[dict[str, Any]]) -> None:
        for event in events:
            event.setdefault("pbx", self.pbx)
            if "ts" not in event:
                event["ts"] = datetime.fromtimestamp(self.clock(), UTC).isoformat().replace("+00:00", "Z")
            self._outbox.put_nowait(event)

    async def _publish_loop(self) -> None:
        """Publish in order; a burst goes out as one batch when the bus can take batches."""
        publish_many = getattr(self.bus, "publish_many", None)
        while True:
            batch = [await self._outbox.get()]
            while len(batch) < _PUBLISH_BATCH and not self._outbox.empty():
                batch.append(self._outbox.get_nowait())
            done = any(e is None for e in batch)
            events = [e for e in batch if e is not None]
            try:
                if publish_many is not None and len(events) > 1:
                    await publish_many(events)
                else:
                    for event in events:
                        await self.bus.publish(event)
                self._published += len(events)
            except Exception:
                log.exception("event bus publish failed for %d event(s)", len(events))
            if done:
                return

    async def _tick_loop(self) -> None:
        while True:
            await asyncio.sleep(self.tick_s)
            if self._live and not self._resyncing:
                self._emit(self._guard(self.tracker.tick, self.clock()))

    def _on_lost(self, exc: BaseException | None) -> None:
        self._live = False
        self._lost.set()

    def _on_malformed(self, count: int) -> None:
        self._malformed += count

    def _channel_exists(self, channel: str) -> bool:
        return channel in channel_names(self.tracker.snapshot())

    def _peer_of(self, channel: str) -> str | None:
        return bridge_peer(self.tracker.snapshot(), channel)


async def run_elected(bridge: AMIBridge, lock: LeaderLock) -> None:
    """Run ``bridge`` only while this process holds the PBX's lock; stand by otherwise.

    Runs until cancelled. When the lock is lost (Redis unreachable, a pause longer than the
    TTL) the bridge stops at once: another process may already be the active bridge.
    """
    try:
        while True:
            await lock.acquire()
            log.info("AMI bridge for %s is active", bridge.pbx)
            await bridge.start()
            try:
                await lock.keep()
            finally:
                await bridge.stop()
            log.warning("AMI bridge for %s lost its lock; standing by", bridge.pbx)
    finally:
        await lock.release()

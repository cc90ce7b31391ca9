"""The event bus contract and the subscriber side shared by every bus.

An event is a JSON-ready dict with the envelope of ARCHITECTURE section 3. ``publish`` gives
it a ``seq`` that grows by one per event on the bus. An event with an ``event_id`` from a journal
(``cti.journal``) is published once: publishing it again changes nothing (``ReplayFilter``).
A subscriber reads events through a bounded queue: when a slow subscriber's queue is full the
oldest event is dropped and counted, so a publisher never waits for a reader.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Iterable
from typing import Any, Protocol, runtime_checkable

Event = dict[str, Any]
YIELD_EVERY = 64  # a subscription's reader gives the loop a turn after this many events in a row


@runtime_checkable
class EventBus(Protocol):
    async def publish(self, event: Event) -> Event:
        """Assign the next ``seq``, store it in ``event`` and deliver it; return the event."""
        ...

    def subscribe(self, types: Iterable[str] | None = None, maxsize: int = 10000) -> Subscription:
        """Live events from now on, optionally only the given ``type`` values."""
        ...

    async def history(self, after_seq: int = 0, limit: int = 1000, types: Iterable[str] | None = None) -> list[Event]:
        """Stored events with ``seq > after_seq``, oldest first."""
        ...

    async def close(self) -> None: ...


def event_source(event: Event) -> tuple[str, int] | None:
    """The (journal, record number) of an ``event_id`` made by ``cti.journal``; None for other events."""
    value = event.get("event_id")
    if not isinstance(value, str):
        return None
    source, sep, n = value.rpartition("-")
    if not sep or not source or not n.isdigit():
        return None
    return source, int(n)


class ReplayFilter:
    """Recognises a journal's events published again: each journal's record numbers only grow."""

    __slots__ = ("_high", "replays")

    def __init__(self) -> None:
        self._high: dict[str, int] = {}
        self.replays = 0

    def first_time(self, event: Event) -> bool:
        source = event_source(event)
        if source is None:
            return True
        name, n = source
        if n <= self._high.get(name, 0):
            self.replays += 1
            return False
        self._high[name] = n
        return True


class Subscription:
    """One reader's bounded queue of live events; an async iterator that ends on ``close()``."""

    __slots__ = ("_closed", "_on_close", "_queue", "_taken", "_waiter", "dropped", "maxsize", "types")

    def __init__(self, types: Iterable[str] | None, maxsize: int, on_close: Any = None) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        self.types: frozenset[str] | None = frozenset(types) if types is not None else None
        self.maxsize = maxsize
        self.dropped = 0
        self._taken = 0
        self._queue: deque[Event] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._closed = False
        self._on_close = on_close

    @property
    def closed(self) -> bool:
        return self._closed

    def wants(self, event: Event) -> bool:
        return self.types is None or event.get("type") in self.types

    def put(self, event: Event) -> None:
        """Queue an event without ever blocking; drop the oldest when full."""
        if self._closed:
            return
        if len(self._queue) >= self.maxsize:
            self._queue.popleft()
            self.dropped += 1
        self._queue.append(event)
        self._wake()

    def pending(self) -> int:
        return len(self._queue)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._on_close is not None:
            self._on_close(self)
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def __aiter__(self) -> AsyncIterator[Event]:
        return self

    async def __anext__(self) -> Event:
        self._taken += 1
        if self._taken % YIELD_EVERY == 0:
            # a reader with a backlog whose handler never suspends would keep the loop to itself
            await asyncio.sleep(0)
        while not self._queue:
            if self._closed:
                raise StopAsyncIteration
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._queue.popleft()

    async def get(self) -> Event:
        """The next event; ``EOFError`` once the subscription is closed and drained."""
        try:
            return await self.__anext__()
        except StopAsyncIteration:
            raise EOFError("subscription closed") from None


class FanOut:
    """The set of live subscriptions of one bus object."""

    __slots__ = ("_subs",)

    def __init__(self) -> None:
        self._subs: set[Subscription] = set()

    def add(self, types: Iterable[str] | None, maxsize: int) -> Subscription:
        sub = Subscription(types, maxsize, on_close=self._subs.discard)
        self._subs.add(sub)
        return sub

    def deliver(self, event: Event) -> None:
        for sub in tuple(self._subs):
            if sub.wants(event):
                sub.put(event)

    def close_all(self) -> None:
        for sub in tuple(self._subs):
            sub.close()

    def __len__(self) -> int:
        return len(self._subs)


def select(events: Iterable[Event], after_seq: int, limit: int, types: Iterable[str] | None) -> list[Event]:
    """Events after ``after_seq`` of the wanted types, at most ``limit``, in order."""
    wanted = frozenset(types) if types is not None else None
    out: list[Event] = []
    if limit <= 0:
        return out
    for event in events:
        if event["seq"] <= after_seq or (wanted is not None and event.get("type") not in wanted):
            continue
        out.append(event)
        if len(out) >= limit:
            break
    return out

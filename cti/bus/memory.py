"""The in-process event bus: one process, no Redis (``callcenter serve`` without ``CC_REDIS_URL``)."""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Iterable

from cti.bus.base import Event, FanOut, ReplayFilter, Subscription, select


class InProcessBus:
    """Events fan out to subscribers of this process; the last ``history_len`` are kept."""

    def __init__(self, history_len: int = 10000) -> None:
        self._seq = 0
        self._history: deque[Event] = deque(maxlen=history_len)
        self._fanout = FanOut()
        self._replays = ReplayFilter()
        self._closed = False

    @property
    def replays(self) -> int:
        """Events published again from a journal, recognised and not delivered twice."""
        return self._replays.replays

    @property
    def last_seq(self) -> int:
        return self._seq

    async def publish(self, event: Event) -> Event:
        if self._closed:
            raise RuntimeError("the event bus is closed")
        if not self._replays.first_time(event):
            return event
        self._seq += 1
        event["seq"] = self._seq
        self._history.append(event)
        self._fanout.deliver(event)
        return event

    async def publish_many(self, events: list[Event]) -> list[Event]:
        for event in events:
            await self.publish(event)
        return events

    def subscribe(self, types: Iterable[str] | None = None, maxsize: int = 10000) -> Subscription:
        return self._fanout.add(types, maxsize)

    async def history(self, after_seq: int = 0, limit: int = 1000, types: Iterable[str] | None = None) -> list[Event]:
        start = max(0, len(self._history) - (self._seq - after_seq))
        return select(itertools.islice(self._history, start, None), after_seq, limit, types)

    async def close(self) -> None:
        self._closed = True
        self._fanout.close_all()

"""The durable event path: every published domain event goes through the local journal first.

``DurableBus`` wraps a bus (in-process or Redis) with the same contract. ``publish`` appends the
event to the journal (``cti.journal``), which gives it its ``event_id``, and returns; the journal's
``bus`` consumer publishes it to the wrapped bus, in order, holding it through an outage of Redis
and publishing it exactly once (the bus recognises a replayed ``event_id``). Other consumers (the
history writer) read the same journal with their own cursors (``add_consumer``), so a database
outage holds their events too. ``subscribe`` and ``history`` are the wrapped bus's.

Live-only types (``queue.stats``: a snapshot that the next one replaces) skip the journal.

Memory stays bounded: the journal keeps only its last records in memory, the bus consumer waits
while a subscriber of this process is more than half full (up to ``pace_max_s`` per batch), and
``publish`` waits while the journal's files hold more than ``max_bytes`` (0: as much as the disk).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Iterable
from typing import Any

from cti.bus.base import Event, EventBus, Subscription
from cti.journal import FsyncPolicy, Journal, write_cursors
from cti.journal_consumer import JournalConsumer, Sink

log = logging.getLogger(__name__)

LIVE_ONLY_TYPES = frozenset({"queue.stats"})
BUS_CONSUMER = "bus"


class DurableBus:
    """An ``EventBus`` whose publishes are journaled first; see the module docstring."""

    def __init__(
        self,
        inner: EventBus,
        journal: Journal,
        *,
        fsync_interval_s: float = 0.2,
        max_bytes: int = 0,
        live_only: Iterable[str] = LIVE_ONLY_TYPES,
        pace_max_s: float = 1.0,
        kind: str = "",
    ) -> None:
        if BUS_CONSUMER not in journal.consumers:
            raise ValueError(f"the journal needs a {BUS_CONSUMER!r} consumer")
        self.inner = inner
        self.journal = journal
        self.kind = kind or type(inner).__name__
        self.fsync_interval_s = fsync_interval_s
        self.max_bytes = max_bytes
        self.live_only = frozenset(live_only)
        self.pace_max_s = pace_max_s
        self.consumers: dict[str, JournalConsumer] = {}
        self.live_only_failed = 0
        self._subs: list[Subscription] = []
        self._flusher: asyncio.Task[None] | None = None
        self._started = False
        self._closed = False
        self.add_consumer(BUS_CONSUMER, self._publish_to_inner, pace=True)

    # --- lifecycle -------------------------------------------------------------------------------
    def open(self) -> None:
        if not self.journal.journal_id:
            self.journal.open()

    async def start(self) -> None:
        """Open the journal and start its consumers: what is after their cursors is replayed."""
        self.open()
        self._started = True
        for consumer in self.consumers.values():
            consumer.start()
            consumer.notify()
        if self.journal.fsync == "interval" and self._flusher is None:
            self._flusher = asyncio.get_running_loop().create_task(self._flush_loop(), name="journal-fsync")

    def add_consumer(
        self, name: str, sink: Sink, *, pace: bool = False, batch: int = 500, duty: float = 1.0
    ) -> JournalConsumer:
        """Another reader of the journal (declared when the journal was made) feeding ``sink``."""
        if name in self.consumers:
            raise ValueError(f"journal consumer {name!r} exists")
        if name not in self.journal.consumers:
            raise ValueError(f"the journal was made without consumer {name!r}")
        consumer = JournalConsumer(
            self.journal, name, sink, batch=batch, before_batch=self._pace if pace else None, duty=duty
        )
        self.consumers[name] = consumer
        if self._started:
            consumer.start()
        return consumer

    async def settle(self, timeout_s: float) -> bool:
        """Wait until every consumer took what was appended so far (or the timeout)."""
        deadline = time.monotonic() + timeout_s
        ok = True
        for consumer in self.consumers.values():
            ok = await consumer.caught_up(max(0.0, deadline - time.monotonic())) and ok
        return ok

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for consumer in self.consumers.values():
            await consumer.stop()
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
            self._flusher = None
        if self.journal.journal_id:
            self.journal.close()
        await self.inner.close()

    # --- the bus contract ------------------------------------------------------------------------
    async def publish(self, event: Event) -> Event:
        (published,) = await self.publish_many([event])
        return published

    async def publish_many(self, events: list[Event]) -> list[Event]:
        if self._closed:
            raise RuntimeError("the event bus is closed")
        self.open()
        durable = [e for e in events if e.get("type") not in self.live_only]
        if len(durable) < len(events):
            await self._publish_live([e for e in events if e.get("type") in self.live_only])
        if durable:
            if self.max_bytes:
                await self._room_on_disk()
            self.journal.append(durable)
            for consumer in self.consumers.values():
                consumer.notify()
        return events

    def subscribe(self, types: Iterable[str] | None = None, maxsize: int = 10000) -> Subscription:
        sub = self.inner.subscribe(types, maxsize)
        self._subs = [s for s in self._subs if not s.closed]
        self._subs.append(sub)
        return sub

    async def history(self, after_seq: int = 0, limit: int = 1000, types: Iterable[str] | None = None) -> list[Event]:
        return await self.inner.history(after_seq, limit, types)

    async def ready(self) -> None:
        ready = getattr(self.inner, "ready", None)
        if ready is not None:
            await ready()

    @property
    def last_seq(self) -> int:
        return int(getattr(self.inner, "last_seq", 0))

    # --- health ----------------------------------------------------------------------------------
    def health(self) -> dict[str, Any]:
        """The backlog per consumer, the journal's files and the state of each sink."""
        now = time.time()
        backlog = {b.name: b for b in self.journal.backlog()} if self.journal.journal_id else {}
        consumers = {}
        for name, consumer in self.consumers.items():
            stats = consumer.stats
            pending = backlog.get(name)
            consumers[name] = {
                "state": stats.state,
                "pending": pending.pending if pending else 0,
                "oldest_unsent_age_s": round(pending.oldest_unsent_age_s, 3)
                if pending and pending.oldest_unsent_age_s is not None
                else None,
                "delivered": stats.delivered,
                "retries": stats.retries,
                "rejected": stats.rejected,
                "down_for_s": None if stats.down_since is None else round(now - stats.down_since, 1),
                "last_error": stats.last_error,
            }
        return {
            "journal": {
                "directory": str(self.journal.directory),
                "fsync": self.journal.fsync,
                "appended": self.journal.appended,
                "last_record": self.journal.last_n,
                "segments": len(self.journal.segments),
                "disk_bytes": self.journal.disk_bytes() if self.journal.journal_id else 0,
                "bad_records": self.journal.bad_records,
                "torn_bytes": self.journal.torn_bytes,
            },
            "consumers": consumers,
            "bus": {
                "kind": self.kind,
                "state": consumers[BUS_CONSUMER]["state"],
                "replays_skipped": int(getattr(self.inner, "replays", 0)),
                "live_only_failed": self.live_only_failed,
            },
        }

    # --- internals -------------------------------------------------------------------------------
    async def _publish_to_inner(self, events: list[Event]) -> None:
        publish_many = getattr(self.inner, "publish_many", None)
        if publish_many is not None:
            await publish_many(events)
        else:
            for event in events:
                await self.inner.publish(event)

    async def _publish_live(self, events: list[Event]) -> None:
        try:
            await self._publish_to_inner(events)
        except Exception as exc:  # a snapshot lost in an outage is replaced by the next one
            self.live_only_failed += len(events)
            log.debug("live-only publish failed: %s", exc)

    async def _room_on_disk(self) -> None:
        """Backpressure on the producers: wait until the consumers freed the disk below ``max_bytes``."""
        while not self._closed:
            if self.journal.disk_bytes() <= self.max_bytes:
                return
            await asyncio.sleep(0.1)

    async def _pace(self) -> None:
        """Hold the next batch while a local subscriber is more than half full (bounded memory)."""
        deadline = time.monotonic() + self.pace_max_s
        while time.monotonic() < deadline:
            self._subs = [s for s in self._subs if not s.closed]
            if all(s.pending() * 2 <= s.maxsize for s in self._subs):
                return
            await asyncio.sleep(0.01)

    async def _flush_loop(self) -> None:
        while True:
            await asyncio.sleep(self.fsync_interval_s)
            fd = self.journal.take_sync_fd()
            if fd is not None:
                try:
                    await asyncio.to_thread(os.fsync, fd)
                except OSError:
                    log.exception("journal fsync failed")
                finally:
                    os.close(fd)
            # the consumers' cursors follow the records they point past, off the event path
            unsaved = self.journal.unsaved_cursors()
            if unsaved:
                try:
                    await asyncio.to_thread(write_cursors, self.journal.directory, unsaved)
                except OSError:
                    log.exception("journal cursors could not be written")
                    continue
                self.journal.cursors_saved(unsaved)


def make_journal(directory: Any, consumers: Iterable[str], settings: Any) -> Journal:
    """A journal with the settings' segment size and fsync policy."""
    fsync: FsyncPolicy = getattr(settings, "journal_fsync", "interval")
    return Journal(
        directory,
        consumers,
        segment_bytes=int(getattr(settings, "journal_segment_bytes", 16 * 1024 * 1024)),
        fsync=fsync,
    )

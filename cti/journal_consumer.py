"""One consumer of the event journal: reads batches after its cursor and hands them to a sink.

The cursor moves only after the sink returned, so an outage of the sink (the database, Redis)
holds the events in the journal and they are handed over again, in order, once it is back: the
sink must be idempotent (the history writer is, by natural keys; the bus is, by event id).

A failure the sink can recover from (``is_outage``: connection refused or reset, timeouts) is
retried with a capped backoff, for as long as it lasts. Any other failure is a bad event, not an
outage: the batch is handed over one event at a time and an event that still fails is written to
``rejected.<consumer>.jsonl`` beside the journal and counted, so one bad event never blocks the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from cti.journal import Event, Journal

log = logging.getLogger(__name__)

Sink = Callable[[list[Event]], Awaitable[None]]


def is_outage(exc: BaseException) -> bool:
    """Whether ``exc`` says the far side is unreachable (retry) rather than the events are bad."""
    if isinstance(exc, OSError | TimeoutError | ConnectionError | asyncio.TimeoutError):
        return True
    with contextlib.suppress(ImportError):
        import redis.exceptions as redis_errors

        if isinstance(exc, redis_errors.ConnectionError | redis_errors.TimeoutError | redis_errors.BusyLoadingError):
            return True
    with contextlib.suppress(ImportError):
        from sqlalchemy import exc as sa_errors

        if isinstance(exc, sa_errors.OperationalError | sa_errors.InterfaceError | sa_errors.TimeoutError):
            return True
        if isinstance(exc, sa_errors.DBAPIError) and exc.connection_invalidated:
            return True
    return False


@dataclass(frozen=True, slots=True)
class ConsumerStats:
    name: str
    state: str  # "ok", "retrying" (the sink is down) or "stopped"
    delivered: int
    batches: int
    retries: int
    rejected: int
    last_error: str | None
    down_since: float | None


class JournalConsumer:
    """Runs ``sink`` over the journal from the consumer's cursor on; see the module docstring."""

    def __init__(
        self,
        journal: Journal,
        name: str,
        sink: Sink,
        *,
        batch: int = 500,
        retry_min_s: float = 0.2,
        retry_max_s: float = 5.0,
        outage: Callable[[BaseException], bool] = is_outage,
        before_batch: Callable[[], Awaitable[None]] | None = None,
        duty: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.journal = journal
        self.name = name
        self.sink = sink
        self.batch = batch
        self.retry_min_s = retry_min_s
        self.retry_max_s = retry_max_s
        self._outage = outage
        self._before_batch = before_batch
        # share of the time a backlog may keep the sink busy: a sink in a worker thread competes for
        # the GIL with the event loop, and a backlog must not take the web's time (0.5: rest as long)
        self.duty = min(1.0, max(0.05, duty))
        self._clock = clock
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._idle = asyncio.Event()
        self.delivered = 0
        self.batches = 0
        self.retries = 0
        self.rejected = 0
        self.last_error: str | None = None
        self.down_since: float | None = None

    @property
    def stats(self) -> ConsumerStats:
        if self._task is None or self._task.done():
            state = "stopped"
        else:
            state = "retrying" if self.down_since is not None else "ok"
        return ConsumerStats(
            self.name,
            state,
            self.delivered,
            self.batches,
            self.retries,
            self.rejected,
            self.last_error,
            self.down_since,
        )

    def notify(self) -> None:
        """New records were appended."""
        self._wake.set()

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name=f"journal-{self.name}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def caught_up(self, timeout_s: float) -> bool:
        """Wait until every record appended so far is taken (or the timeout); True if it is."""
        deadline = time.monotonic() + timeout_s
        while self.journal.pending(self.name) > 0:
            if self._task is None or self._task.done() or time.monotonic() >= deadline:
                return False
            self._idle.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._idle.wait(), timeout=min(0.1, max(0.0, deadline - time.monotonic())))
        return True

    async def _run(self) -> None:
        while True:
            batch = self.journal.read(self.name, self.batch)
            if not batch.events:
                self._idle.set()
                self._wake.clear()
                if self.journal.pending(self.name) == 0:
                    await self._wake.wait()
                continue
            if self._before_batch is not None:
                await self._before_batch()
            began = time.monotonic()
            await self._deliver(batch.events)
            self.journal.commit(self.name, batch.end)
            self.delivered += len(batch.events)
            self.batches += 1
            self._idle.set()
            rest = (time.monotonic() - began) * (1 / self.duty - 1) if len(batch.events) >= self.batch else 0.0
            await asyncio.sleep(min(rest, 1.0))  # let the loop breathe between batches of a backlog

    async def _deliver(self, events: list[Event]) -> None:
        delay = self.retry_min_s
        while True:
            try:
                await self.sink(events)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if not self._outage(exc):
                    await self._one_by_one(events)
                    break
                self._down(exc)
                await asyncio.sleep(delay)
                delay = min(self.retry_max_s, delay * 2)
                continue
            break
        if self.down_since is not None:
            log.info("journal consumer %s: sink back after %.1f s", self.name, self._clock() - self.down_since)
        self.down_since = None

    def _down(self, exc: BaseException) -> None:
        self.retries += 1
        self.last_error = f"{type(exc).__name__}: {exc}"[:300]
        if self.down_since is None:
            self.down_since = self._clock()
            log.warning("journal consumer %s: sink unavailable (%s); holding events", self.name, self.last_error)

    async def _one_by_one(self, events: list[Event]) -> None:
        for event in events:
            delay = self.retry_min_s
            while True:
                try:
                    await self.sink([event])
                    break
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    if self._outage(exc):
                        self._down(exc)
                        await asyncio.sleep(delay)
                        delay = min(self.retry_max_s, delay * 2)
                        continue
                    self._reject(event, exc)
                    break

    def _reject(self, event: Event, exc: BaseException) -> None:
        self.rejected += 1
        self.last_error = f"{type(exc).__name__}: {exc}"[:300]
        log.error("journal consumer %s rejected event %s: %s", self.name, event.get("event_id"), self.last_error)
        record: dict[str, Any] = {"error": self.last_error, "at": self._clock(), "e": event}
        path = self.journal.directory / f"rejected.{self.name}.jsonl"
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")

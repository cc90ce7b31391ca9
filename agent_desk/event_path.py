"""The durable event path in the runtime: the history writer fed from the event journal.

With ``journal_enabled`` the runtime's bus is a ``cti.bus.durable.DurableBus``: the history writer
then reads the journal with its own cursor instead of a bus subscription (which drops the oldest
events when full, and sees nothing while Redis is away). A batch the database refuses (an outage)
stays in the journal and is written again once it is back; the writer is idempotent by natural keys.
"""

from __future__ import annotations

import asyncio
from typing import Any

from cti.bus import DurableBus
from cti.journal_consumer import JournalConsumer

HISTORY_CONSUMER = "history"


class JournalFedHistory:
    """The history writer behind a journal consumer; other attributes are the writer's."""

    journal_fed = True

    def __init__(self, writer: Any, consumer: JournalConsumer) -> None:
        self.writer = writer
        self.consumer = consumer

    async def handle(self, event: dict[str, Any]) -> None:
        """Nothing to do: events reach the writer from the journal."""

    async def drain(self, timeout_s: float = 120.0) -> None:
        """Wait until the journal's events so far are written (not while the database is down:
        then they are safe in the journal and written once it is back)."""
        if self.consumer.stats.state == "ok":
            await self.consumer.caught_up(timeout_s)
        await self.writer.drain()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.writer, name)


def journal_history(bus: Any, writer: Any) -> Any:
    """``writer`` fed from the bus's journal when the bus is durable; else ``writer`` itself."""
    if not isinstance(bus, DurableBus):
        return writer

    async def write(events: list[dict[str, Any]]) -> None:
        await asyncio.to_thread(writer.apply_many, events)

    # a backlog (after an outage, in a flood) is written at half time: the web keeps its share
    return JournalFedHistory(writer, bus.add_consumer(HISTORY_CONSUMER, write, duty=0.5))

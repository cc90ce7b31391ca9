"""The outbox: queued messages handed to their channel, each outcome written back as the status.

Database work runs in a worker thread (the ORM blocks); sends run on the loop, a few at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from config import Settings
from crm_core.messaging.channels import Channel, Delivery, Outgoing, channels_from_settings
from crm_core.messaging.services import claim_due, record_delivery
from crm_core.models import utcnow

log = logging.getLogger(__name__)
PARALLEL = 4


class Outbox:
    def __init__(
        self,
        factory: sessionmaker[Session],
        channels: Mapping[str, Channel],
        *,
        max_attempts: int = 3,
        retry_s: float = 60.0,
        lease_s: float = 120.0,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.factory, self.channels = factory, channels
        self.max_attempts, self.retry_s, self.lease_s = max_attempts, retry_s, lease_s
        self.clock = clock
        self.wake = asyncio.Event()

    def _claim(self, limit: int, ids: Iterable[int]) -> list[Outgoing]:
        with self.factory() as session:
            return claim_due(session, self.clock(), self.lease_s, limit, ids)

    def _record(self, outgoing: Outgoing, delivery: Delivery) -> None:
        with self.factory() as session:
            record_delivery(session, int(outgoing.reference), delivery, self.clock(), self.max_attempts, self.retry_s)

    async def _send(self, outgoing: Outgoing, gate: asyncio.Semaphore) -> Delivery:
        channel = self.channels.get(outgoing.channel)
        async with gate:
            if channel is None:
                delivery = Delivery(ok=False, error=f"no channel {outgoing.channel}")
            else:
                delivery = await channel.send(outgoing)
        await asyncio.to_thread(self._record, outgoing, delivery)
        return delivery

    async def deliver(self, ids: Iterable[int] = (), limit: int = 100) -> list[Delivery]:
        """Send what is due now (only ``ids`` when given); the outcomes in claim order."""
        claimed = await asyncio.to_thread(self._claim, limit, list(ids))
        gate = asyncio.Semaphore(PARALLEL)
        return list(await asyncio.gather(*(self._send(o, gate) for o in claimed)))

    async def run_forever(self, poll_s: float) -> None:
        """Deliver due messages every ``poll_s`` (sooner after ``wake.set()``) until cancelled."""
        while True:
            try:
                while len(await self.deliver()) == 100:
                    pass
            except Exception:  # a database outage: keep the loop and try again at the next round
                log.exception("message outbox round failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), poll_s)
            self.wake.clear()


def make_outbox(factory: sessionmaker[Session], settings: Settings) -> Outbox:
    """The outbox with the channels the settings name (SMTP or the log; the HTTP gateway or the log)."""
    return Outbox(
        factory,
        channels_from_settings(settings),
        max_attempts=settings.messaging_max_attempts,
        retry_s=settings.messaging_retry_s,
        lease_s=settings.messaging_send_timeout_s * 2,
    )

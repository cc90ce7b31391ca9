"""The work done once per center, on the one node that holds the PBX's bridge lock.

With several ``serve`` nodes on one Redis, per-connection work (websockets, HTTP, FastAGI sessions, each
node's own live board and wrap-up deadlines kept from the bus) runs on every node, but the work that acts
on the PBX or on the center's shared records runs once: the campaign dialer, the wallboard's
``queue.stats`` publishing, the wrap-up timer's QueuePause commands, the periodic PBX resync, the
recording scan and index, recording retention and the return of stale customers to the public pool.

They follow the bridge's lock rather than a lock of their own: the dialer dials and hears its calls
through the active bridge, the wrap-up timer and the resync command the PBX through it, and the
recording index reads the AMI events that only the active bridge receives; a second lock could elect
another node for them, and that node would have no PBX link.

``Duties`` starts its duties (coroutines that run until cancelled) and cancels them; ``run_while_held``
runs a list of parts (the bridge, then the duties) while the lock is held: started in order once it is
taken, stopped in reverse order once it is lost, and started again at the next takeover. Without Redis
(one node, the in-process bus) the runtime starts them at once and they run until it stops.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, Protocol

from cti.bus.lock import LeaderLock

log = logging.getLogger(__name__)

Duty = Callable[[], Coroutine[Any, Any, None]]


class Part(Protocol):
    """Something started when the lock is taken and stopped when it is lost (the bridge, the duties)."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class Duties:
    """Named coroutines run together between ``start`` and ``stop``; ``active`` says whether they run."""

    def __init__(self) -> None:
        self._duties: list[tuple[str, Duty]] = []
        self._tasks: list[asyncio.Task[None]] = []
        self.active = False
        self.terms = 0  # how many times they were started (takeovers, for the health page and the tests)

    def add(self, name: str, duty: Duty) -> None:
        self._duties.append((name, duty))

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self._duties]

    async def start(self) -> None:
        if self.active:
            return
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(_logged(name, duty), name=f"duty-{name}") for name, duty in self._duties]
        self.active = True
        self.terms += 1
        log.info("center duties started: %s", ", ".join(self.names))

    async def stop(self) -> None:
        """Cancel every duty and wait until each has ended (nothing of it runs once this returns)."""
        self.active = False
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)  # a cancel of the caller still goes through
        if tasks:
            log.info("center duties stopped")


async def _logged(name: str, duty: Duty) -> None:
    try:
        await duty()
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("center duty %s ended with an error", name)


async def run_while_held(lock: LeaderLock, parts: Sequence[Part], label: str = "center") -> None:
    """Run ``parts`` while this node holds ``lock``; stand by otherwise. Runs until cancelled.

    Each part is started in order once the lock is taken and stopped in reverse order once it is lost
    (or on cancel), so the duties end before the bridge they use; then the node stands by again.
    """
    try:
        while True:
            await lock.acquire()
            log.info("%s: this node holds the lock", label)
            started: list[Part] = []
            try:
                for part in parts:
                    await part.start()
                    started.append(part)
                await lock.keep()
            finally:
                for part in reversed(started):
                    try:
                        await part.stop()
                    except Exception:
                        log.exception("%s: stopping %r failed", label, part)
            log.warning("%s: lock lost; standing by", label)
    finally:
        await lock.release()

"""Leader election for the AMI bridge: exactly one active bridge per PBX.

``BridgeLock`` takes a Redis key with ``SET NX PX`` and renews it well inside its TTL. A
standby keeps trying; when the holder dies its key lapses after the TTL and a standby takes
over. Renewal and release only touch the key while it still holds this owner's token, so a
holder that lost the lock (a long pause) never deletes its successor's lock.
``LocalBridgeLock`` is the no-op lock of a single process without Redis.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Protocol

import redis.asyncio as aioredis

from cti.bus.redis_bus import raise_if_cancelled

log = logging.getLogger(__name__)

_RENEW_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""

_RELEASE_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class LeaderLock(Protocol):
    held: bool

    async def try_acquire(self) -> bool: ...

    async def acquire(self) -> None: ...

    async def keep(self) -> None: ...

    async def release(self) -> None: ...

    async def close(self) -> None: ...


class BridgeLock:
    """A Redis lock with a TTL, one per PBX (``key``); ``owner`` names this contender."""

    def __init__(
        self,
        url: str,
        key: str,
        ttl_s: float = 10.0,
        owner: str | None = None,
        retry_s: float | None = None,
    ) -> None:
        if ttl_s <= 0:
            raise ValueError("ttl_s must be positive")
        # a Redis that stalls answers with a timeout, not never: keep() goes on without it
        self._redis: aioredis.Redis = aioredis.from_url(url, socket_timeout=max(1.0, ttl_s))
        self.key = key
        self.ttl_ms = max(1, int(ttl_s * 1000))
        self.owner = owner or uuid.uuid4().hex
        self.retry_s = retry_s if retry_s is not None else ttl_s / 3
        self.renew_s = ttl_s / 3
        self.held = False
        self._renew = self._redis.register_script(_RENEW_LUA)
        self._release = self._redis.register_script(_RELEASE_LUA)

    async def try_acquire(self) -> bool:
        """Take the lock if it is free (or already ours); never waits."""
        ok = await self._redis.set(self.key, self.owner, nx=True, px=self.ttl_ms)
        if not ok:
            ok = bool(await self._renew(keys=[self.key], args=[self.owner, self.ttl_ms]))
        self.held = bool(ok)
        return self.held

    async def acquire(self) -> None:
        """Wait until this contender holds the lock."""
        # Polling is the point: the lapse of a TTL in Redis sends no notification.
        while True:
            try:
                if await self.try_acquire():
                    break
            except (OSError, TimeoutError, aioredis.RedisError) as exc:
                raise_if_cancelled()
                log.warning("bridge lock %s: Redis does not answer (%s); trying again", self.key, exc)
            raise_if_cancelled()
            await asyncio.sleep(self.retry_s)
        raise_if_cancelled()
        log.info("bridge lock %s taken by %s", self.key, self.owner)

    async def renew(self) -> bool:
        """Push the expiry out by one TTL; False when the lock is no longer ours."""
        self.held = bool(await self._renew(keys=[self.key], args=[self.owner, self.ttl_ms]))
        return self.held

    async def keep(self) -> None:
        """Renew every third of the TTL; return when the lock is lost (the bridge must stop).

        Lost means Redis answered and the lock is another contender's. While Redis does not answer
        (down, stalled, reset) the holder keeps its bridge: no other contender can take the lock from
        a Redis that answers nobody, and stopping would lose the PBX's calls for as long as the outage
        lasts. When Redis answers again, a lock that lapsed meanwhile is taken again if it is free.
        (A holder cut off from a Redis that others still reach runs beside its successor until it
        reaches Redis again and stops.)
        """
        unreachable = False
        while True:
            await asyncio.sleep(self.renew_s)
            try:
                renewed = await self.renew() or await self.try_acquire()
            except (OSError, TimeoutError, aioredis.RedisError) as exc:
                raise_if_cancelled()
                if not unreachable:
                    log.warning("bridge lock %s: Redis does not answer (%s); the bridge stays", self.key, exc)
                unreachable = True
                self.held = True  # nobody else can be given the lock while Redis answers nobody
                continue
            raise_if_cancelled()
            if unreachable:
                log.info("bridge lock %s: Redis answers again (lock %s)", self.key, "kept" if renewed else "lost")
                unreachable = False
            if not renewed:
                log.warning("bridge lock %s lost by %s", self.key, self.owner)
                return

    async def release(self) -> None:
        if self.held:
            try:
                await self._release(keys=[self.key], args=[self.owner])
            except (OSError, TimeoutError, aioredis.RedisError) as exc:
                log.warning("bridge lock %s: not released (%s); it lapses after its TTL", self.key, exc)
        self.held = False

    async def close(self) -> None:
        try:
            await self.release()
        finally:
            await self._redis.aclose()


class LocalBridgeLock:
    """The lock of a single process: always held, never lost."""

    def __init__(self) -> None:
        self.held = False
        self._stop = asyncio.Event()

    async def try_acquire(self) -> bool:
        self.held = True
        self._stop.clear()
        return True

    async def acquire(self) -> None:
        await self.try_acquire()

    async def keep(self) -> None:
        await self._stop.wait()

    async def release(self) -> None:
        self.held = False
        self._stop.set()

    async def close(self) -> None:
        await self.release()

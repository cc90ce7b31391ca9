"""The event bus over Redis, for several processes sharing one stream of events.

``publish`` runs one Lua script: INCR the sequence key, XADD the event to the stream with the
explicit id ``<seq>-0`` (so stream order is seq order, and history is an XRANGE by seq) and
MAXLEN ~ bound, then PUBLISH the same bytes for live fan-out. ``publish_many`` does the same
for a batch in one round trip (the bridge drains its outbox with it). The event is encoded to JSON
once, in Python, without ``seq``; the script splices ``"seq":N`` into the front of it. If the
counter key is lost while the stream survives, the script restarts it after the stream's last id.
An event that carries an ``event_id`` from a journal (``cti.journal``: ``<journal>-<n>``) is stored
once: a replayed publish (after a timeout whose publish had in fact gone through) is recognised by
its record number and skipped, so a journal's events reach the stream exactly once.

Every process runs one pub/sub listener that feeds its local subscribers, including the
publisher's own, so each subscriber in every process sees every event once and in seq order.
When the listener's connection breaks it reconnects and reads the missed events back from
the stream before carrying on.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Iterable
from typing import Any

import redis.asyncio as aioredis

from cti.bus.base import Event, FanOut, Subscription, event_source

log = logging.getLogger(__name__)

# KEYS: seq key, stream key, sources key. ARGV: maxlen, channel, then per event: its journal, its
# record number in that journal ('' and 0 when it has none) and its JSON body (without seq).
# Returns the seq of each event, 0 for a replay: an event whose journal already published a record
# number as high (the sources hash keeps each journal's highest), which is therefore not stored again.
_PUBLISH_LUA = """
if redis.call('EXISTS', KEYS[1]) == 0 then
  -- the counter is gone but the stream may not be: carry on after its last id
  local last = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', 1)
  if #last > 0 then
    redis.call('SET', KEYS[1], string.match(last[1][1], '^(%d+)'))
  end
end
local out = {}
for i = 3, #ARGV, 3 do
  local source, n = ARGV[i], tonumber(ARGV[i + 1])
  local replay = false
  if source ~= '' then
    local high = tonumber(redis.call('HGET', KEYS[3], source) or '0')
    if n <= high then
      replay = true
    else
      redis.call('HSET', KEYS[3], source, n)
    end
  end
  if replay then
    out[#out + 1] = 0
  else
    local seq = redis.call('INCR', KEYS[1])
    local body
    if ARGV[i + 2] == '{}' then
      body = '{"seq":' .. seq .. '}'
    else
      body = '{"seq":' .. seq .. ',' .. string.sub(ARGV[i + 2], 2)
    end
    redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[1], seq .. '-0', 'e', body)
    redis.call('PUBLISH', ARGV[2], body)
    out[#out + 1] = seq
  end
end
return out
"""

_RETRY_S = 0.5


def raise_if_cancelled() -> None:
    """redis-py 8 can finish a command whose task was cancelled meanwhile and return normally,
    consuming the cancellation; a loop around Redis calls re-raises it with this."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


class RedisBus:
    """Durable, bounded history in a Redis stream plus live pub/sub fan-out."""

    def __init__(
        self,
        url: str,
        stream_key: str = "cc:events",
        channel: str = "cc:live",
        maxlen: int = 100_000,
        seq_key: str | None = None,
        client_name: str | None = None,
        publish_timeout_s: float | None = None,
    ) -> None:
        self._redis: aioredis.Redis = aioredis.from_url(url, client_name=client_name)
        # Publishing has its own connections with a timeout: a stalled Redis fails the publish (the
        # journal holds the events and hands them over again) instead of hanging it. The live
        # listener's connection has none: it waits for messages for as long as there are none.
        self._publisher: aioredis.Redis = (
            aioredis.from_url(
                url,
                client_name=client_name,
                socket_timeout=publish_timeout_s,
                socket_connect_timeout=publish_timeout_s,
            )
            if publish_timeout_s
            else self._redis
        )
        self.stream_key = stream_key
        self.channel = channel
        self.seq_key = seq_key or f"{stream_key}:seq"
        self.sources_key = f"{stream_key}:sources"
        self.maxlen = maxlen
        self.publish_timeout_s = publish_timeout_s
        self.replays = 0  # events not stored again: their journal had published them already
        self._script = self._publisher.register_script(_PUBLISH_LUA)
        self._fanout = FanOut()
        self._listener: asyncio.Task[None] | None = None
        self._listening = asyncio.Event()
        self._last_seq = 0
        self._closed = False

    async def publish(self, event: Event) -> Event:
        (published,) = await self.publish_many([event])
        return published

    async def publish_many(self, events: list[Event]) -> list[Event]:
        """Publish several events in one round trip, in order, with consecutive seqs."""
        if self._closed:
            raise RuntimeError("the event bus is closed")
        if not events:
            return events
        await self._ensure_listener(self.publish_timeout_s)
        args: list[Any] = [self.maxlen, self.channel]
        for event in events:
            event.pop("seq", None)
            source = event_source(event)
            args.extend(source if source is not None else ("", 0))
            args.append(json.dumps(event, ensure_ascii=False, separators=(",", ":")))
        keys = [self.seq_key, self.stream_key, self.sources_key]
        seqs = await self._script(keys=keys, args=args)
        for event, seq in zip(events, seqs, strict=True):
            if int(seq):
                event["seq"] = int(seq)
            else:
                self.replays += 1
        return events

    def subscribe(self, types: Iterable[str] | None = None, maxsize: int = 10000) -> Subscription:
        sub = self._fanout.add(types, maxsize)
        if self._listener is None and not self._closed:
            self._listener = asyncio.get_running_loop().create_task(self._listen(), name="redis-bus-listener")
        return sub

    async def ready(self) -> None:
        """Wait until this process's live listener is subscribed (events published after it arrive)."""
        await self._ensure_listener()

    async def history(self, after_seq: int = 0, limit: int = 1000, types: Iterable[str] | None = None) -> list[Event]:
        wanted = frozenset(types) if types is not None else None
        out: list[Event] = []
        start = f"({after_seq}-0" if after_seq > 0 else "-"
        page = max(limit, 100) if wanted is not None else limit
        while len(out) < limit:
            rows: list[Any] = await self._redis.xrange(self.stream_key, min=start, max="+", count=page) or []
            for _row_id, fields in rows:
                event = json.loads(fields[b"e"])
                if wanted is None or event.get("type") in wanted:
                    out.append(event)
                    if len(out) >= limit:
                        break
            if len(rows) < page:
                break
            start = f"({rows[-1][0].decode()}"  # ids are bytes: the client does not decode
        return out

    async def close(self) -> None:
        self._closed = True
        self._fanout.close_all()
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
            self._listener = None
        await self._redis.aclose()
        if self._publisher is not self._redis:
            await self._publisher.aclose()

    async def _ensure_listener(self, timeout_s: float | None = None) -> None:
        if self._listener is None:
            self._listener = asyncio.get_running_loop().create_task(self._listen(), name="redis-bus-listener")
        if not self._listening.is_set():
            waiter = asyncio.ensure_future(self._listening.wait())
            done, _ = await asyncio.wait(
                {waiter, self._listener}, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED
            )
            if waiter not in done:
                waiter.cancel()
                if self._listener in done:
                    self._listener.result()  # re-raise why the listener stopped
                raise aioredis.ConnectionError("the Redis bus listener is not connected")

    async def _listen(self) -> None:
        first = True
        while not self._closed:
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            try:
                if first:
                    # Read before subscribing: every event published later has a higher seq.
                    self._last_seq = int(await self._redis.get(self.seq_key) or 0)
                    first = False
                    await pubsub.subscribe(self.channel)
                else:
                    await pubsub.subscribe(self.channel)
                    await self._catch_up()
                self._listening.set()
                async for message in pubsub.listen():
                    raise_if_cancelled()
                    if message.get("type") == "message":
                        self._deliver_body(message["data"])
            except (ConnectionError, OSError, aioredis.RedisError) as exc:
                self._listening.clear()
                log.warning("Redis bus listener lost its connection (%s); reconnecting", exc)
                raise_if_cancelled()
                await asyncio.sleep(_RETRY_S)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()

    async def _catch_up(self) -> None:
        """Deliver the events published while the listener was away, from the stream."""
        while True:
            events = await self.history(after_seq=self._last_seq, limit=1000)
            for event in events:
                self._deliver(event)
            if len(events) < 1000:
                return

    def _deliver_body(self, body: bytes) -> None:
        self._deliver(json.loads(body))

    def _deliver(self, event: dict[str, Any]) -> None:
        seq = event.get("seq", 0)
        if seq <= self._last_seq:
            return  # already delivered by the catch-up read
        self._last_seq = seq
        self._fanout.deliver(event)

"""The event bus contract, run on the in-process bus and on Redis (db 15, unique keys per test)."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Callable

import pytest
import redis.asyncio as aioredis

from config.settings import Settings
from cti.bus import BridgeLock, EventBus, InProcessBus, LocalBridgeLock, RedisBus, make_bus
from tests.fault_proxy import FaultProxy

REDIS_URL = os.environ.get("CC_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


async def _drop_keys(prefix: str) -> None:
    client = aioredis.from_url(REDIS_URL)
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


@pytest.fixture
async def redis_prefix() -> AsyncIterator[str]:
    prefix = f"cc-test-bus-{uuid.uuid4().hex}:"
    yield prefix
    await _drop_keys(prefix)


def _redis_factory(prefix: str, maxlen: int = 1000) -> Callable[[], RedisBus]:
    def make() -> RedisBus:
        return RedisBus(REDIS_URL, stream_key=f"{prefix}events", channel=f"{prefix}live", maxlen=maxlen)

    return make


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def bus_factory(request: pytest.FixtureRequest) -> AsyncIterator[Callable[[], EventBus]]:
    made: list[EventBus] = []
    if request.param == "memory":
        shared = InProcessBus(history_len=1000)

        def factory() -> EventBus:
            made.append(shared)
            return shared

        yield factory
    else:
        prefix = f"cc-test-bus-{uuid.uuid4().hex}:"
        make = _redis_factory(prefix)

        def factory() -> EventBus:
            bus = make()
            made.append(bus)
            return bus

        yield factory
        await _drop_keys(prefix)
    for bus in made:
        await bus.close()


async def _ready(bus: EventBus) -> None:
    if isinstance(bus, RedisBus):
        await bus.ready()


async def _take(sub: object, n: int) -> list[dict]:
    out = []
    async with asyncio.timeout(5):
        async for event in sub:  # type: ignore[attr-defined]
            out.append(event)
            if len(out) == n:
                break
    return out


def call_event(kind: str, call_id: str) -> dict:
    return {"type": kind, "ts": "2026-11-23T16:27:31.603Z", "pbx": "pbx1", "call_id": call_id}


async def test_publish_assigns_increasing_seq_and_returns_the_event(bus_factory) -> None:
    bus = bus_factory()
    first = await bus.publish(call_event("call.new", "1.1"))
    second = await bus.publish(call_event("call.ended", "1.1"))
    assert second["seq"] == first["seq"] + 1
    assert first["call_id"] == "1.1" and first["type"] == "call.new"


async def test_subscriber_receives_events_in_order_with_type_filter(bus_factory) -> None:
    bus = bus_factory()
    everything = bus.subscribe()
    only_ended = bus.subscribe(types=["call.ended"])
    await _ready(bus)
    for i in range(3):
        await bus.publish(call_event("call.new", f"c{i}"))
        await bus.publish(call_event("call.ended", f"c{i}"))
    got = await _take(everything, 6)
    assert [(e["type"], e["call_id"]) for e in got] == [
        (t, f"c{i}") for i in range(3) for t in ("call.new", "call.ended")
    ]
    assert [e["seq"] for e in got] == sorted(e["seq"] for e in got)
    ended = await _take(only_ended, 3)
    assert [e["call_id"] for e in ended] == ["c0", "c1", "c2"]
    assert {e["type"] for e in ended} == {"call.ended"}


async def test_history_after_seq_limit_and_types(bus_factory) -> None:
    bus = bus_factory()
    published = []
    for i in range(10):
        published.append(await bus.publish(call_event("call.new" if i % 2 else "call.hangup", f"h{i}")))
    seqs = [e["seq"] for e in published]
    assert [e["call_id"] for e in await bus.history(after_seq=seqs[6])] == ["h7", "h8", "h9"]
    assert [e["call_id"] for e in await bus.history(after_seq=seqs[0] - 1, limit=2)] == ["h0", "h1"]
    news = await bus.history(after_seq=seqs[0] - 1, types=["call.new"])
    assert [e["call_id"] for e in news] == ["h1", "h3", "h5", "h7", "h9"]
    assert all(e["seq"] in seqs for e in news)


async def test_slow_subscriber_loses_oldest_and_publisher_never_blocks(bus_factory) -> None:
    bus = bus_factory()
    slow = bus.subscribe(maxsize=3)
    fast = bus.subscribe()
    await _ready(bus)
    for i in range(8):
        await bus.publish(call_event("call.new", f"s{i}"))
    await _take(fast, 8)  # every event has been delivered locally by now
    assert slow.dropped == 5
    got = await _take(slow, 3)
    assert [e["call_id"] for e in got] == ["s5", "s6", "s7"]


async def test_closed_subscription_ends_iteration_and_gets_nothing_more(bus_factory) -> None:
    bus = bus_factory()
    sub = bus.subscribe()
    await _ready(bus)
    await bus.publish(call_event("call.new", "x"))
    first = await _take(sub, 1)
    sub.close()
    await bus.publish(call_event("call.new", "y"))
    rest = [e async for e in sub]
    assert [e["call_id"] for e in first] == ["x"]
    assert rest == []


async def test_non_ascii_fields_survive(bus_factory) -> None:
    bus = bus_factory()
    sub = bus.subscribe()
    await _ready(bus)
    event = call_event("call.new", "zh")
    event["caller"] = {"number": "13800138000", "name": "张三丰"}
    await bus.publish(event)
    (got,) = await _take(sub, 1)
    assert got["caller"]["name"] == "张三丰"
    (stored,) = await bus.history(after_seq=got["seq"] - 1, limit=1)
    assert stored["caller"]["name"] == "张三丰"


@pytest.mark.redis
async def test_two_redis_buses_see_each_others_events_once(redis_prefix: str) -> None:
    make = _redis_factory(redis_prefix)
    a, b = make(), make()
    try:
        sub_a, sub_b = a.subscribe(), b.subscribe()
        await a.ready()
        await b.ready()
        await a.publish(call_event("call.new", "from-a"))
        await b.publish(call_event("call.new", "from-b"))
        await a.publish(call_event("call.ended", "from-a"))
        got_a = await _take(sub_a, 3)
        got_b = await _take(sub_b, 3)
        assert got_a == got_b
        assert [e["call_id"] for e in got_a] == ["from-a", "from-b", "from-a"]
        assert [e["seq"] for e in got_a] == [1, 2, 3]
        sub_a.close()
        await a.publish(call_event("call.new", "late"))
        (late,) = await _take(sub_b, 1)
        assert late["call_id"] == "late"
        assert sub_a.pending() == 0
        assert [e["call_id"] for e in await b.history()] == ["from-a", "from-b", "from-a", "late"]
    finally:
        await a.close()
        await b.close()


@pytest.mark.redis
async def test_redis_history_is_bounded_by_maxlen(redis_prefix: str) -> None:
    bus = _redis_factory(redis_prefix, maxlen=10)()
    try:
        for i in range(500):
            await bus.publish(call_event("call.new", f"m{i}"))
        kept = await bus.history(limit=1000)
        assert 10 <= len(kept) < 500
        assert kept[-1]["call_id"] == "m499"
    finally:
        await bus.close()


@pytest.mark.redis
async def test_redis_listener_catches_up_after_losing_its_connection(redis_prefix: str) -> None:
    reader_name = f"cc-test-reader-{uuid.uuid4().hex[:8]}"
    reader = RedisBus(REDIS_URL, stream_key=f"{redis_prefix}events", channel=f"{redis_prefix}live",
                      maxlen=1000, client_name=reader_name)
    writer = _redis_factory(redis_prefix)()
    try:
        sub = reader.subscribe()
        await reader.ready()
        await writer.publish(call_event("call.new", "before"))
        await _take(sub, 1)
        admin = aioredis.from_url(REDIS_URL)
        try:
            mine = [c for c in await admin.client_list() if c.get("name") == reader_name and int(c["sub"])]
            assert len(mine) == 1
            await admin.client_kill_filter(_id=mine[0]["id"])
        finally:
            await admin.aclose()
        await writer.publish(call_event("call.new", "during"))
        await writer.publish(call_event("call.ended", "during"))
        got = await _take(sub, 2)
        assert [e["call_id"] for e in got] == ["during", "during"]
        assert [e["type"] for e in got] == ["call.new", "call.ended"]
    finally:
        await reader.close()
        await writer.close()


def test_make_bus_picks_redis_only_when_configured() -> None:
    assert isinstance(make_bus(Settings(redis_url="")), InProcessBus)
    bus = make_bus(Settings(redis_url=REDIS_URL))
    assert isinstance(bus, RedisBus)


@pytest.mark.redis
async def test_bridge_lock_single_holder_and_standby_takeover(redis_prefix: str) -> None:
    key = f"{redis_prefix}bridge-lock"
    first = BridgeLock(REDIS_URL, key, ttl_s=0.5, owner="one", retry_s=0.05)
    second = BridgeLock(REDIS_URL, key, ttl_s=0.5, owner="two", retry_s=0.05)
    try:
        assert await first.try_acquire()
        assert not await second.try_acquire()
        # While the holder renews, the standby never gets in.
        keeper = asyncio.create_task(first.keep())
        standby = asyncio.create_task(second.acquire())
        await asyncio.sleep(1.0)  # twice the TTL
        assert not standby.done()
        assert first.held and not second.held
        # The holder stops renewing (a crashed process): the TTL lapses and the standby takes over.
        keeper.cancel()
        async with asyncio.timeout(5):
            await standby
        assert second.held
        assert not await first.renew()
        assert not first.held
        await first.release()  # not the owner any more: must not delete the new holder's key
        assert not await first.try_acquire()
        assert await second.renew()
    finally:
        await first.close()
        await second.close()


@pytest.mark.redis
async def test_the_bridge_lock_is_kept_while_redis_answers_nobody(redis_prefix: str) -> None:
    """A Redis outage (connections reset, then bytes held) never stops the holder's bridge: nobody else
    can be given the lock meanwhile. When Redis answers again the lapsed lock is taken back; once another
    contender is seen holding it, the holder stops."""
    key = f"{redis_prefix}bridge-lock"
    host, port = REDIS_URL.split("//")[1].split("/")[0].split(":")
    proxy = FaultProxy(host, int(port))
    await proxy.start()
    lock = BridgeLock(f"redis://127.0.0.1:{proxy.port}/15", key, ttl_s=0.5, owner="one")
    direct = aioredis.from_url(REDIS_URL)
    try:
        assert await lock.try_acquire()
        keeper = asyncio.create_task(lock.keep())
        proxy.reset()
        await asyncio.sleep(1.5)  # three TTLs with every connection reset
        assert not keeper.done() and lock.held
        proxy.stall()
        await asyncio.sleep(2.5)  # Redis holds every byte: renewals time out
        assert not keeper.done() and lock.held
        proxy.flow()
        for _ in range(100):  # lapsed during the outage, taken back within a few renewals
            if await direct.get(key) == b"one":
                break
            await asyncio.sleep(0.05)
        assert await direct.get(key) == b"one"
        assert not keeper.done()
        await direct.set(key, "two", px=5000)  # a contender that reached Redis took over meanwhile
        async with asyncio.timeout(5):
            await keeper
        assert not lock.held
        assert await direct.get(key) == b"two"
    finally:
        await lock.close()
        await direct.aclose()
        await proxy.close()


async def test_local_lock_is_always_available() -> None:
    lock = LocalBridgeLock()
    assert await lock.try_acquire()
    keeper = asyncio.create_task(lock.keep())
    await asyncio.sleep(0)
    assert not keeper.done()
    await lock.release()
    async with asyncio.timeout(1):
        await keeper
    assert not lock.held


@pytest.mark.redis
async def test_cancelling_keep_always_stops_it(redis_prefix: str) -> None:
    lock = BridgeLock(REDIS_URL, f"{redis_prefix}bridge-lock", ttl_s=0.5, owner="one")
    lock.renew_s = 0.001  # renew all the time, so cancels land during Redis calls too
    try:
        assert await lock.try_acquire()
        for i in range(40):
            keeper = asyncio.create_task(lock.keep())
            await asyncio.sleep(0.0003 * i)
            keeper.cancel()
            with pytest.raises(asyncio.CancelledError):
                async with asyncio.timeout(2):
                    await keeper
    finally:
        await lock.close()


async def test_publish_many_keeps_order_with_consecutive_seqs(bus_factory) -> None:
    bus = bus_factory()
    sub = bus.subscribe()
    await _ready(bus)
    before = await bus.publish(call_event("call.new", "b0"))
    batch = await bus.publish_many([call_event("call.ringing", f"b{i}") for i in range(1, 5)])
    assert [e["seq"] for e in batch] == [before["seq"] + i for i in range(1, 5)]
    got = await _take(sub, 5)
    assert [e["call_id"] for e in got] == ["b0", "b1", "b2", "b3", "b4"]
    assert [e["seq"] for e in got] == [before["seq"] + i for i in range(5)]
    stored = await bus.history(after_seq=before["seq"])
    assert [e["call_id"] for e in stored] == ["b1", "b2", "b3", "b4"]


@pytest.mark.redis
async def test_redis_seq_continues_after_the_stream_when_its_counter_is_lost(redis_prefix: str) -> None:
    bus = _redis_factory(redis_prefix)()
    admin = aioredis.from_url(REDIS_URL)
    try:
        for i in range(3):
            last = await bus.publish(call_event("call.new", f"k{i}"))
        await admin.delete(bus.seq_key)
        after = await bus.publish(call_event("call.new", "after"))
        assert after["seq"] == last["seq"] + 1
        assert [e["call_id"] for e in await bus.history(after_seq=last["seq"])] == ["after"]
    finally:
        await admin.aclose()
        await bus.close()

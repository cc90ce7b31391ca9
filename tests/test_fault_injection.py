"""Nothing is lost when PostgreSQL or Redis goes away under traffic (the durable event path).

The runtime runs on PostgreSQL and Redis, each behind a TCP proxy written here, with the PBX
simulator placing calls (IVR over FastAGI included). Then, while the calls go on:

    30 s  PostgreSQL connections reset (every connection and every new one), Redis stalled (bytes held)
    30 s  PostgreSQL stalled, Redis connections reset

and everything flows again. Once the simulator's calls have ended and the journal is handed over:
every call the simulator placed has exactly one complete row, every IVR step has its row, the
Redis stream holds every journaled event exactly once, and the runtime's own subscriber received
each of them once.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from agent_desk.runtime import Runtime
from config import Settings
from crm_core.testing import postgres_database
from cti.bus import DurableBus, RedisBus
from cti.simulator import CallRun, PBXSimulator
from cti.simulator.traffic import TrafficGenerator
from stats.models import CallRow, IvrStepRow
from tests.fault_proxy import FaultProxy

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

REDIS_URL = os.environ.get("CC_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
FAULT_S = 30.0  # each window, as the issue measured it
SPEED = 4.0  # simulated calls run four times faster than real ones
CALLS_PER_MINUTE = 50.0


class Placing(TrafficGenerator):
    """The demo traffic, remembering every call it placed."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.placed: list[CallRun] = []

    def start_call(self) -> CallRun | None:
        run = super().start_call()
        if run is not None:
            self.placed.append(run)
        return run


@pytest.fixture
async def proxies() -> AsyncIterator[tuple[FaultProxy, FaultProxy, str, str]]:
    redis_url = make_url(REDIS_URL.replace("redis://", "postgresql://", 1))  # parse host, port and db alike
    with postgres_database("fault") as pg_url:
        pg = make_url(pg_url)
        pg_proxy = FaultProxy(pg.host or "127.0.0.1", pg.port or 5432)
        redis_proxy = FaultProxy(redis_url.host or "127.0.0.1", redis_url.port or 6379)
        await pg_proxy.start()
        await redis_proxy.start()
        try:
            yield (
                pg_proxy,
                redis_proxy,
                pg.set(host="127.0.0.1", port=pg_proxy.port).render_as_string(hide_password=False),
                f"redis://127.0.0.1:{redis_proxy.port}/{redis_url.database or 0}",
            )
        finally:
            await pg_proxy.close()
            await redis_proxy.close()


def _own_keys(runtime: Runtime, prefix: str) -> RedisBus:
    """The runtime's Redis bus on keys of this test alone (the suite shares the Redis database)."""
    assert isinstance(runtime.bus, DurableBus) and isinstance(runtime.bus.inner, RedisBus)
    inner = runtime.bus.inner
    inner.stream_key, inner.channel = f"{prefix}events", f"{prefix}live"
    inner.seq_key, inner.sources_key = f"{prefix}events:seq", f"{prefix}events:sources"
    return inner


async def _stream(prefix: str) -> list[dict[str, Any]]:
    """Every event in the stream, read straight from Redis (not through the proxy)."""
    client = aioredis.from_url(REDIS_URL)
    try:
        rows = await client.xrange(f"{prefix}events", min="-", max="+")
        return [json.loads(fields[b"e"]) for _id, fields in rows]
    finally:
        keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()


async def test_calls_and_events_survive_database_and_redis_outages(
    proxies: tuple[FaultProxy, FaultProxy, str, str], tmp_path: Path
) -> None:
    pg_proxy, redis_proxy, pg_url, redis_url = proxies
    prefix = f"cc-test-fault-{uuid.uuid4().hex}:"
    sim = PBXSimulator(speed=SPEED)
    await sim.start()
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        data_dir=tmp_path,
        database_url=pg_url,
        redis_url=redis_url,
        redis_timeout_s=2.0,
        pbx="pbx-fault",
        ami_host="127.0.0.1",
        ami_port=sim.port,
        ami_user=sim.username,
        ami_secret=sim.secret,
        ami_auth="md5",
        agi_host="127.0.0.1",
        agi_port=0,
        recordings_dir=tmp_path / "monitor",
        voicemail_dir=tmp_path / "voicemail",
    )
    runtime = Runtime(settings)
    _own_keys(runtime, prefix)
    bus = runtime.bus
    assert isinstance(bus, DurableBus)
    seen = bus.subscribe(None, maxsize=1_000_000)
    stop_traffic = asyncio.Event()
    states: dict[str, set[str]] = {"bus": set(), "history": set()}
    await runtime.start()
    try:
        async with asyncio.timeout(30):
            while not runtime.bridge.connected:  # noqa: ASYNC110 (the bridge signals nothing)
                await asyncio.sleep(0.05)
        traffic = Placing(sim, agents=6, agi=("127.0.0.1", runtime.ivr.port), seed=12)
        traffic_task = asyncio.create_task(traffic.run(CALLS_PER_MINUTE, stop_traffic))

        async def watch() -> None:
            while True:
                for name, row in bus.health()["consumers"].items():
                    states[name].add(row["state"])
                await asyncio.sleep(0.2)

        watcher = asyncio.create_task(watch())
        await asyncio.sleep(5)
        pg_proxy.reset()
        redis_proxy.stall()
        await asyncio.sleep(FAULT_S)
        during = bus.health()["consumers"]
        pg_proxy.stall()
        redis_proxy.reset()
        await asyncio.sleep(FAULT_S)
        pg_proxy.flow()
        redis_proxy.flow()
        await asyncio.sleep(3)
        stop_traffic.set()
        await traffic_task
        async with asyncio.timeout(120):
            for run in traffic.placed:
                await run.done.wait()
        # the last events reach the journal, then both consumers hand everything over
        await asyncio.sleep(1)
        assert await bus.settle(90), bus.health()
        watcher.cancel()
        health = bus.health()
        history_stats = bus.consumers["history"].stats
        bus_stats = bus.consumers["bus"].stats
        pbx = settings.pbx
        placed = [run.result.linkedid for run in traffic.placed if run.result.linkedid]

        def rows() -> tuple[dict[str, int], list[CallRow], int]:
            with runtime.sessionmaker() as session:
                counts = dict(
                    session.execute(
                        select(CallRow.call_id, func.count())
                        .where(CallRow.pbx == pbx, CallRow.call_id.in_(placed))
                        .group_by(CallRow.call_id)
                    ).all()
                )
                calls = list(session.scalars(select(CallRow).where(CallRow.pbx == pbx)))
                steps = session.scalar(select(func.count()).select_from(IvrStepRow).where(IvrStepRow.pbx == pbx))
                return counts, calls, int(steps or 0)

        counts, calls, step_rows = await asyncio.to_thread(rows)
        seen.close()
        delivered = [e async for e in seen]
    finally:
        stop_traffic.set()
        await runtime.stop()
        await sim.stop()
    stream = await _stream(prefix)

    # the faults were real: both consumers held events and retried
    assert pg_proxy.resets > 0 and redis_proxy.resets > 0
    assert during["history"]["pending"] > 0 or history_stats.retries > 0
    assert "retrying" in states["history"] and "retrying" in states["bus"], states
    assert history_stats.retries > 0 and bus_stats.retries > 0
    assert health["consumers"]["history"]["pending"] == 0 and health["consumers"]["bus"]["pending"] == 0
    assert history_stats.rejected == 0 and bus_stats.rejected == 0

    # every call the simulator placed: exactly one row, and complete
    assert len(placed) >= 30, f"only {len(placed)} calls placed"
    assert sorted(counts) == sorted(placed), set(placed) - set(counts)
    assert set(counts.values()) == {1}
    by_id = {row.call_id: row for row in calls}
    incomplete = [
        call_id
        for call_id in placed
        if by_id[call_id].ended_at is None or by_id[call_id].duration_s is None or not by_id[call_id].disposition
    ]
    assert incomplete == [], f"{len(incomplete)} of {len(placed)} calls never ended"

    # the bus: every journaled event in the stream once, and delivered once to the runtime's subscriber
    journal_id = runtime.bus.journal.journal_id
    last = health["journal"]["last_record"]
    expected = [f"{journal_id}-{n}" for n in range(1, last + 1)]
    stored = [e["event_id"] for e in stream if "event_id" in e]
    assert [k for k, v in Counter(stored).items() if v > 1] == []
    assert sorted(stored, key=lambda i: int(i.rpartition("-")[2])) == expected
    got = Counter(e["event_id"] for e in delivered if "event_id" in e)
    assert [k for k, v in got.items() if v > 1] == []
    assert sorted(got) == sorted(expected)

    # IVR steps over FastAGI: each journaled step has its row
    steps = {(e["call_id"], e["ts"], e["node"]) for e in stream if e.get("type") == "ivr.step"}
    assert steps and step_rows == len(steps)
    ended = {e["call_id"] for e in stream if e.get("type") == "call.ended"}
    assert set(placed) <= ended
    print(  # the figures of the run, for the record
        f"\nfault injection: {len(placed)} calls, {last} journaled events, {len(steps)} IVR steps; "
        f"history retries {history_stats.retries}, bus retries {bus_stats.retries}, "
        f"replays skipped by Redis {health['bus']['replays_skipped']}; {time.strftime('%X')}"
    )

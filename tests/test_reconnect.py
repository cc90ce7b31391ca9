"""Reconnect and resync: a drop of the AMI connection loses no call and ends none twice."""

from __future__ import annotations

import asyncio
import itertools
import os
import sys
import uuid
from pathlib import Path

import pytest

from cti.bridge import AMIBridge, reconnect_delay, run_elected
from cti.bus import BridgeLock, InProcessBus

sys.path.insert(0, str(Path(__file__).parent / "fixtures" / "bridge"))
from bridge_fake_ami import FakeAMI
from bridge_harness import (  # noqa: F401 - pytest fixtures
    CALL_02,
    BusReader,
    LiveBridge,
    answered_call,
    bridge_settings,
    fake_pbx_fixture,
    inbound_call,
    live_bridge_fixture,
    live_channels,
    make_tracker,
    simulator_fixture,
    wait_until,
)


async def drop_and_wait_for_resync(pbx: FakeAMI, bridge: AMIBridge) -> None:
    resyncs = bridge.stats.resyncs
    await pbx.drop_connections()
    await wait_until(lambda: bridge.stats.resyncs == resyncs + 1 and bridge.connected)


async def test_call_up_across_a_reconnect_ends_exactly_once(pbx, live) -> None:
    bridge, reader = live
    head, tail = inbound_call()
    await pbx.emit(*head)
    await reader.until(lambda ev: any(e["type"] == "call.new" for e in ev))
    # The PBX still has the call when the bridge comes back.
    pbx.channels = live_channels(head)
    assert {c["Linkedid"] for c in pbx.channels} == {CALL_02}
    await drop_and_wait_for_resync(pbx, bridge)
    assert bridge.stats.reconnects == 1
    assert reader.of("call.ended", CALL_02) == []
    await pbx.emit(*tail)
    await reader.until(lambda ev: any(e["type"] == "call.ended" for e in ev))
    assert len(reader.of("call.new", CALL_02)) == 1
    assert len(reader.of("call.ended", CALL_02)) == 1
    # nothing else arrives for it later (a second resync must not end it again)
    pbx.channels = []
    await drop_and_wait_for_resync(pbx, bridge)
    await bridge.stop()
    reader.sub.close()
    reader.events.extend([e async for e in reader.sub])
    assert len(reader.of("call.ended", CALL_02)) == 1


async def test_call_that_ended_while_disconnected_ends_once_after_the_resync(pbx, live) -> None:
    bridge, reader = live
    head, _tail = inbound_call()
    await pbx.emit(*head)
    await reader.until(lambda ev: any(e["type"] == "call.new" for e in ev))
    pbx.channels = []  # the call hung up while the bridge was away
    await drop_and_wait_for_resync(pbx, bridge)
    await reader.until(lambda ev: any(e["type"] == "call.ended" for e in ev))
    assert len(reader.of("call.new", CALL_02)) == 1
    assert len(reader.of("call.ended", CALL_02)) == 1


async def test_pbx_down_then_back_reconnects(pbx) -> None:
    bus = InProcessBus()
    settings = bridge_settings(pbx)
    port = pbx.port
    await pbx.stop()
    bridge = AMIBridge(settings, bus, make_tracker)
    await bridge.start()
    try:
        await wait_until(lambda: not bridge.connected)
        revived = FakeAMI(secret=pbx.secret)
        await revived.start(port=port)
        try:
            await wait_until(lambda: bridge.connected)
            assert revived.logins == ["md5"]
        finally:
            await revived.stop()
    finally:
        await bridge.stop()


def test_reconnect_delay_grows_to_the_cap_with_jitter() -> None:
    low = [reconnect_delay(n, cap_s=30, jitter=0.0) for n in range(10)]
    high = [reconnect_delay(n, cap_s=30, jitter=1.0) for n in range(10)]
    assert low[:4] == [0.25, 0.5, 1.0, 2.0]
    assert high[:4] == [0.5, 1.0, 2.0, 4.0]
    assert max(high) == 30 and high[-1] == 30
    assert low[-1] == 15
    assert all(a <= b for a, b in itertools.pairwise(high))
    assert reconnect_delay(1000, cap_s=5, jitter=0.5) == pytest.approx(3.75)


@pytest.mark.redis
async def test_only_the_elected_bridge_connects_and_a_standby_takes_over(pbx) -> None:
    url = os.environ.get("CC_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    key = f"cc-test-bridge-lock-{uuid.uuid4().hex}"
    bridges = [AMIBridge(bridge_settings(pbx), InProcessBus(), make_tracker) for _ in range(2)]
    locks = [BridgeLock(url, key, ttl_s=0.5, owner=f"node{i}", retry_s=0.05) for i in range(2)]
    runners = [asyncio.create_task(run_elected(b, lock)) for b, lock in zip(bridges, locks, strict=True)]
    try:
        await wait_until(lambda: any(b.connected for b in bridges))
        await asyncio.sleep(0.7)  # longer than the TTL: the holder renews, the standby stays out
        active = next(i for i, b in enumerate(bridges) if b.connected)
        standby = 1 - active
        assert not bridges[standby].connected
        assert len(pbx.logins) == 1
        runners[active].cancel()  # the active node goes away
        await wait_until(lambda: bridges[standby].connected)
        assert not bridges[active].connected
        assert len(pbx.logins) == 2
    finally:
        for runner in runners:
            runner.cancel()
        await asyncio.gather(*runners, return_exceptions=True)
        for lock in locks:
            await lock.close()


# --- against the PBX simulator --------------------------------------------------------------------
async def test_simulated_call_up_across_a_drop_ends_exactly_once(sim) -> None:
    async with LiveBridge(sim) as live:
        run = await answered_call(live, sim)
        call_id = live.reader.of("call.answered")[0]["call_id"]
        resyncs = live.bridge.stats.resyncs
        await sim.drop_connections()
        await live.reconnected(resyncs)
        assert live.bridge.stats.reconnects == 1
        assert live.reader.of("call.ended", call_id) == []
        run.cut_short()  # the agent hangs up now, after the resync
        await live.reader.until(lambda ev: any(e["type"] == "call.ended" for e in ev))
        await run.done.wait()
    live.reader.sub.close()
    live.reader.events.extend([e async for e in live.reader.sub])
    assert len(live.reader.of("call.new", call_id)) == 1
    assert len(live.reader.of("call.ended", call_id)) == 1
    assert live.reader.of("call.ended", call_id)[0]["answered"] is True


async def test_simulated_call_that_ends_while_the_bridge_is_away_ends_once(sim) -> None:
    async with LiveBridge(sim) as live:
        run = await answered_call(live, sim)
        call_id = live.reader.of("call.answered")[0]["call_id"]
        await live.bridge.stop()  # the bridge is away ...
        run.cut_short()  # ... while the call ends
        await run.done.wait()
        assert live.reader.of("call.ended", call_id) == []
        await live.bridge.start()  # same bridge, same tracker: reconnect and resync
        await live.reader.until(lambda ev: any(e["type"] == "call.ended" for e in ev))
        assert live.bridge.stats.resyncs == 2
    live.reader.sub.close()
    live.reader.events.extend([e async for e in live.reader.sub])
    assert len(live.reader.of("call.new", call_id)) == 1
    assert len(live.reader.of("call.ended", call_id)) == 1


async def test_unanswered_keep_alive_closes_and_reconnects(pbx) -> None:
    pbx.replies["Ping"] = None  # a half-open link: the PBX never answers again
    settings = bridge_settings(pbx, ami_ping_s=0.05, ami_action_timeout_s=0.2)
    bridge = AMIBridge(settings, InProcessBus(), make_tracker)
    await bridge.start()
    try:
        await wait_until(lambda: bridge.stats.reconnects >= 1 and bridge.connected)
        assert len(pbx.logins) >= 2
    finally:
        await bridge.stop()

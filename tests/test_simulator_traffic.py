"""The demo traffic: many distinct callers and agents, a mix of scenarios, a consistent PBX."""

from __future__ import annotations

import asyncio
import random

from cti.simulator import PBXSimulator
from cti.simulator.recorder import AMIRecorder
from cti.simulator.traffic import MIX, TrafficGenerator, make_callers


def test_callers_are_distinct_and_named() -> None:
    callers = make_callers(300, random.Random(7))
    numbers = [n for n, _ in callers]
    assert len(set(numbers)) == 300
    assert all(n.isdigit() and len(n) == 11 for n in numbers)
    assert all(1 < len(name) <= 3 and "\u4e00" <= name[0] <= "\u9fff" for _, name in callers)


async def test_traffic_mix_runs_to_a_quiet_pbx() -> None:
    async with PBXSimulator(secret="t", speed=400.0) as sim:
        rec = AMIRecorder("127.0.0.1", sim.port, timeout_s=10)
        await rec.connect()
        await rec.login("cti", "t")
        traffic = TrafficGenerator(sim, agents=12, seed=3)
        traffic.login_agents()
        for _ in range(60):
            traffic.start_call()
            await asyncio.sleep(0.002)
        async with asyncio.timeout(20):
            await traffic.wait_idle()
        assert not traffic.running
        await asyncio.sleep(0.05)
        state = sim.pbx.state
        assert state.channels == {} and state.bridges == {}
        assert all(not q.entries for q in state.queues.values())
        assert set(traffic.started) >= {"inbound_answered", "inbound_recorded", "click_to_dial"}
        assert set(traffic.started) <= {name for name, _ in MIX}
        callers = {m["CallerIDNum"] for m in rec.messages if m.get("Event") == "QueueCallerJoin"}
        agents = {m["MemberName"] for m in rec.messages if m.get("Event") == "AgentConnect"}
        assert len(callers) > 20 and len(agents) > 5
        hangups = {m["Linkedid"] for m in rec.messages if m.get("Event") == "Hangup"}
        created = {m["Linkedid"] for m in rec.messages if m.get("Event") == "Newchannel"}
        assert created == hangups
        await rec.close()


async def test_run_traffic_stops_when_asked() -> None:
    async with PBXSimulator(secret="t", speed=400.0) as sim:
        stop = asyncio.Event()
        task = asyncio.create_task(sim.run_traffic(calls_per_minute=6000, stop=stop))
        await asyncio.sleep(0.2)
        stop.set()
        async with asyncio.timeout(2):
            await task
        members = sum(len(q.members) for q in sim.pbx.state.queues.values())
        assert members >= 10

"""Screen-pop: a ringing agent gets the caller's CRM card, IVR path, queue and wait."""

from __future__ import annotations

import asyncio
import threading
from types import SimpleNamespace

from cti.screen_pop import PopContext, ScreenPopService, lookup_fields, parse_ts

CUSTOMER = {"id": 7, "name": "<img src=x onerror=alert(1)>", "level": "VIP"}


def call_new(call_id: str = "c1") -> dict:
    return {"type": "call.new", "ts": "2026-11-23T10:00:00.000Z", "call_id": call_id, "direction": "inbound",
            "caller": {"number": "13812345678", "name": "PSTN"}, "dialed": "4008001234"}


def ringing(call_id: str = "c1", agent: str | None = "1001", ts: str = "2026-11-23T10:00:12.500Z") -> dict:
    return {"type": "call.ringing", "ts": ts, "pbx": "pbx1", "call_id": call_id,
            "channel": f"Local/{agent}@agents-00000001;1",
            "caller": {"number": "13812345678", "name": "PSTN"},
            "callee": {"number": agent, "name": "", "extension": agent}, "agent": agent, "queue": "support"}


def steps(call_id: str = "c1") -> list[dict]:
    return [
        {"type": "ivr.step", "call_id": call_id, "flow": "ivr", "node": "welcome", "input": "",
         "result": "ok"},
        {"type": "ivr.step", "call_id": call_id, "flow": "ivr", "node": "menu", "input": "2",
         "result": "sales"},
        {"type": "queue.joined", "ts": "2026-11-23T10:00:04.000Z", "call_id": call_id, "queue": "sales",
         "position": 1, "wait_s": 0},
    ]


class Recorder:
    def __init__(self) -> None:
        self.events: list[dict] = []

    async def publish(self, event: dict) -> dict:
        self.events.append(event)
        return event


def test_parse_ts_reads_iso_z_and_refuses_garbage():
    assert parse_ts("1970-01-01T00:00:01.500Z") == 1.5
    assert parse_ts("not a time") is None
    assert parse_ts(None) is None


def test_lookup_fields_accept_objects_and_default_lists():
    result = SimpleNamespace(customer=CUSTOMER, contact=None, candidates=None, open_tickets=[{"id": 1}],
                             recent_orders=[], recent_calls=[])
    fields = lookup_fields(result)
    assert fields["customer"] == CUSTOMER and fields["candidates"] == []
    assert fields["open_tickets"] == [{"id": 1}]
    assert lookup_fields({})["customer"] is None


def test_pop_carries_ivr_path_queue_and_wait_from_the_queue_join():
    ctx = PopContext()
    for event in [call_new(), *steps()]:
        ctx.observe(event)
    event = ringing()
    agent = ctx.claim_pop(event)
    pop = ctx.pop_for(event, agent, lookup_fields({"customer": CUSTOMER}))
    assert pop["type"] == "screen.pop" and pop["agent"] == "1001" and pop["call_id"] == "c1"
    assert [s["node"] for s in pop["ivr_path"]] == ["welcome", "menu"]
    assert pop["ivr_path"][1]["input"] == "2"
    assert pop["wait_s"] == 8.5
    assert pop["queue"] == "support"
    assert pop["customer"] == CUSTOMER
    assert pop["caller"]["number"] == "13812345678"


def test_wait_falls_back_to_the_call_start_and_each_agent_pops_once():
    ctx = PopContext()
    ctx.observe(call_new())
    assert ctx.claim_pop(ringing()) == "1001"
    assert ctx.claim_pop(ringing()) is None
    assert ctx.claim_pop(ringing(agent="1002")) == "1002"
    assert ctx.claim_pop(ringing(agent=None)) is None
    assert ctx.pop_for(ringing(), "1001", {})["wait_s"] == 12.5


def test_context_forgets_ended_calls_and_stays_bounded():
    ctx = PopContext(max_calls=3)
    for n in range(10):
        ctx.observe(call_new(f"c{n}"))
    assert len(ctx._calls) == 3
    ctx.observe({"type": "call.ended", "call_id": "c9"})
    assert "c9" not in ctx._calls


async def test_service_publishes_a_pop_with_the_lookup_result_from_a_thread():
    threads: list[str] = []
    numbers: list[str] = []

    def lookup(number: str) -> dict:
        threads.append(threading.current_thread().name)
        numbers.append(number)
        return {"customer": CUSTOMER, "open_tickets": [{"id": 3, "title": "退货"}]}

    out = Recorder()
    service = ScreenPopService(lookup, out.publish)
    for event in [call_new(), *steps()]:
        await service.handle(event)
    await service.handle(ringing())
    assert numbers == ["13812345678"]
    assert threads[0] != threading.current_thread().name
    (pop,) = out.events
    assert pop["customer"]["name"] == CUSTOMER["name"]
    assert pop["open_tickets"][0]["title"] == "退货"


async def test_ring_all_looks_up_once_for_every_agent():
    calls = 0

    async def lookup(number: str) -> dict:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.01)
        return {"customer": CUSTOMER}

    out = Recorder()
    service = ScreenPopService(lookup, out.publish)
    await service.handle(call_new())
    tasks = [service.handle_nowait(ringing(agent=a)) for a in ("1001", "1002", "1003")]
    await asyncio.gather(*[t for t in tasks if t is not None])
    assert calls == 1
    assert sorted(p["agent"] for p in out.events) == ["1001", "1002", "1003"]


async def test_a_failing_lookup_still_pops_as_unknown_caller():
    def lookup(number: str) -> dict:
        raise RuntimeError("database gone")

    out = Recorder()
    service = ScreenPopService(lookup, out.publish)
    await service.handle(ringing())
    (pop,) = out.events
    assert pop["customer"] is None and pop["candidates"] == []
    assert service.failed_lookups == 1


async def test_service_reads_the_bus_end_to_end():
    from cti.bus.memory import InProcessBus

    bus = InProcessBus()
    service = ScreenPopService(lambda n: {"customer": CUSTOMER}, bus.publish)
    sub = bus.subscribe(["screen.pop"])
    await service.start(bus)
    try:
        await bus.publish(call_new())
        await bus.publish(ringing())
        pop = await asyncio.wait_for(anext(sub), 2)
        assert pop["agent"] == "1001" and pop["seq"] > 2
    finally:
        await service.stop()
        sub.close()


async def test_a_caller_number_after_the_ring_looks_up_again_and_updates_the_pop():
    """The dialplan sets the caller ID after the agent rang: the pop is sent again with the real caller."""
    numbers: list[str] = []

    async def lookup(number: str) -> dict:
        numbers.append(number)
        return {"customer": CUSTOMER if number == "5558001" else None}

    out = Recorder()
    service = ScreenPopService(lookup, out.publish)
    await service.handle(call_new())
    ring = ringing()
    ring["caller"] = {"number": None, "name": None}
    await service.handle(ring)
    await service.handle({"type": "call.updated", "ts": "2026-11-23T10:00:12.600Z", "pbx": "pbx1",
                          "call_id": "c1", "caller": {"number": "5558001", "name": "PSTN 5558001"}})
    assert numbers == ["5558001"]  # no lookup for an empty number, one for the real one
    first, second = out.events
    assert first["caller"]["number"] is None and first["customer"] is None
    assert (second["call_id"], second["agent"]) == (first["call_id"], first["agent"])
    assert second["caller"] == {"number": "5558001", "name": "PSTN 5558001"}
    assert second["customer"]["id"] == CUSTOMER["id"]


async def test_call_updated_for_a_call_nobody_was_popped_for_sends_nothing():
    out = Recorder()
    service = ScreenPopService(lambda number: {}, out.publish)
    await service.handle(call_new())
    await service.handle({"type": "call.updated", "call_id": "c1", "caller": {"number": "1", "name": None}})
    assert out.events == []


async def test_a_standby_node_pops_nothing_until_its_bridge_is_active():
    """Several nodes read the same bus: only the node whose bridge holds the PBX's lock pops."""
    recorder, active = Recorder(), False
    service = ScreenPopService(lambda number: {"customer": CUSTOMER}, recorder.publish, active=lambda: active)
    for event in (call_new("c1"), *steps("c1")):
        service.handle_nowait(event)
    assert service.handle_nowait(ringing("c1")) is None
    active = True  # this node took the lock over: the next ringing pops, with what it saw of the call
    await service.handle(ringing("c1", agent="1002"))
    (pop,) = recorder.events
    assert (pop["call_id"], pop["agent"], pop["wait_s"]) == ("c1", "1002", 8.5)
    assert [s["node"] for s in pop["ivr_path"]] == ["welcome", "menu"]

"""The AMI bridge over TCP: login, event classes, resync, events to the bus, bad input."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from cti.bridge import (
    AMIBridge,
    bridge_peer,
    channel_names,
    missing_event_classes,
    read_perm_from_output,
)
from cti.bus import InProcessBus
from cti.commands import CommandError, InvalidArgument, UnknownChannel

sys.path.insert(0, str(Path(__file__).parent / "fixtures" / "bridge"))
from bridge_fake_ami import FakeAMI, frame
from bridge_harness import (  # noqa: F401 - pytest fixtures
    CALL_02,
    BusReader,
    LiveBridge,
    answered_call,
    bridge_settings,
    fake_pbx_fixture,
    inbound_call,
    make_tracker,
    simulator_fixture,
    wait_until,
)


@pytest.fixture
async def run_bridge(pbx: FakeAMI) -> AsyncIterator[Callable[..., Any]]:
    started: list[AMIBridge] = []

    async def start(auth: str = "md5", tracker_factory: Any = make_tracker, **kw: Any) -> tuple:
        bus = InProcessBus()
        reader = BusReader(bus)
        bridge = AMIBridge(bridge_settings(pbx, auth=auth), bus, tracker_factory, **kw)
        started.append(bridge)
        await bridge.start()
        await wait_until(lambda: bridge.connected)
        return bridge, reader

    yield start
    for bridge in started:
        await bridge.stop()


class RecordingTracker:
    """Wraps a tracker and writes down the order of the calls the bridge makes."""

    def __init__(self, fail_on: str | None = None) -> None:
        self.inner = make_tracker()
        self.log: list[tuple[str, str]] = []
        self.fail_on = fail_on

    def feed(self, msg: dict[str, Any], now: float) -> list[dict[str, Any]]:
        self.log.append(("feed", msg.get("Event", "")))
        if msg.get("Event") == self.fail_on:
            raise RuntimeError("tracker bug")
        return self.inner.feed(msg, now)

    def tick(self, now: float) -> list[dict[str, Any]]:
        self.log.append(("tick", ""))
        return self.inner.tick(now)

    def resync_begin(self) -> None:
        self.log.append(("resync_begin", ""))
        self.inner.resync_begin()

    def resync_end(self, now: float) -> list[dict[str, Any]]:
        self.log.append(("resync_end", ""))
        return self.inner.resync_end(now)

    def snapshot(self) -> Any:
        return self.inner.snapshot()


@pytest.mark.parametrize("auth", ["md5", "plain"])
async def test_bridge_logs_in_turns_events_on_and_resyncs(pbx, run_bridge, auth) -> None:
    await run_bridge(auth=auth)
    assert pbx.logins == [auth]
    names = [a["Action"] for a in pbx.actions if a["Action"] not in ("Command", "Ping")]
    expected_login = ["Challenge", "Login"] if auth == "md5" else ["Login"]
    assert names[: len(expected_login) + 4] == [
        *expected_login, "Events", "CoreShowChannels", "QueueStatus", "BridgeList"
    ]
    (login,) = pbx.sent("Login")
    assert ("Key" in login) == (auth == "md5") and ("Secret" in login) == (auth == "plain")
    mask = set(pbx.sent("Events")[0]["EventMask"].split(","))
    assert {"call", "agent", "dialplan", "user", "cdr", "system"} <= mask
    assert "cel" not in mask


async def test_wrong_secret_never_goes_live_and_keeps_retrying(pbx) -> None:
    settings = bridge_settings(pbx, ami_secret="wrong")
    bridge = AMIBridge(settings, InProcessBus(), make_tracker)
    await bridge.start()
    try:
        await pbx.wait_for(lambda: len(pbx.sent("Login")) >= 3)
        assert not bridge.connected
        assert pbx.logins == []
    finally:
        await bridge.stop()


async def test_a_recorded_call_reaches_the_bus_as_domain_events(pbx, run_bridge) -> None:
    bridge, reader = await run_bridge()
    head, tail = inbound_call()
    await pbx.emit(*head, *tail)
    await reader.until(lambda ev: any(e["type"] == "call.ended" for e in ev))
    assert len(reader.of("call.new", CALL_02)) == 1
    assert len(reader.of("call.ended", CALL_02)) == 1
    assert all(e["pbx"] == "pbx-test" and "ts" in e for e in reader.events)
    seqs = [e["seq"] for e in reader.events]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert bridge.stats.events_total == len(head) + len(tail)


async def test_live_events_during_the_resync_are_fed_after_it(pbx, run_bridge) -> None:
    head, _tail = inbound_call()
    newchannels = [e for e in head if e["Event"] == "Newchannel"]
    tracker = RecordingTracker()
    # Asterisk sends a live event between the QueueStatus request and its reply.
    pbx.before_reply = {"QueueStatus": [newchannels[0]]}
    await run_bridge(tracker_factory=lambda: tracker)
    await wait_until(lambda: ("feed", "Newchannel") in tracker.log)
    begin = tracker.log.index(("resync_begin", ""))
    end = tracker.log.index(("resync_end", ""))
    fed = tracker.log.index(("feed", "Newchannel"))
    assert begin < end < fed
    assert ("feed", "CoreShowChannelsComplete") in tracker.log[begin:end]


async def test_garbage_between_frames_is_counted_and_the_bridge_carries_on(pbx, run_bridge) -> None:
    bridge, reader = await run_bridge()
    head, tail = inbound_call()
    garbage = b"this is not AMI\r\n\r\nFoo: no event header\r\n\r\n\x00\xff\xfe\r\n\r\n"
    await pbx.emit_bytes(b"".join(frame(e) for e in head) + garbage + b"".join(frame(e) for e in tail))
    await reader.until(lambda ev: any(e["type"] == "call.ended" for e in ev))
    assert bridge.connected
    assert bridge.stats.malformed_frames == 3
    assert len(reader.of("call.ended", CALL_02)) == 1


async def test_a_tracker_error_on_one_event_does_not_stop_the_bridge(pbx, run_bridge) -> None:
    bridge, reader = await run_bridge(tracker_factory=lambda: RecordingTracker(fail_on="QueueCallerJoin"))
    head, tail = inbound_call()
    await pbx.emit(*head, *tail)
    await reader.until(lambda ev: any(e["type"] == "call.ended" for e in ev))
    assert bridge.stats.tracker_errors == 1
    assert bridge.connected


async def test_tick_runs_while_live(pbx, run_bridge) -> None:
    tracker = RecordingTracker()
    await run_bridge(tracker_factory=lambda: tracker, tick_s=0.01)
    await wait_until(lambda: tracker.log.count(("tick", "")) >= 3)
    assert tracker.log.index(("resync_end", "")) < tracker.log.index(("tick", ""))


async def test_missing_event_classes_are_reported(pbx, run_bridge) -> None:
    pbx.replies["Command"] = {
        "Message": "Command output follows",
        "Output": [
            "          username: cti",
            "         read perm: system,call,user",
            "        write perm: all",
        ],
    }
    bridge, _reader = await run_bridge()
    await wait_until(lambda: bridge.stats.missing_event_classes != ())
    assert bridge.stats.missing_event_classes == ("agent", "dialplan", "cdr")


async def test_commands_use_the_bridge_connection_and_know_live_channels(pbx, run_bridge) -> None:
    bridge, reader = await run_bridge()
    head, _tail = inbound_call()
    await pbx.emit(*head)
    await reader.until(lambda ev: any(e["type"] == "call.new" for e in ev))
    agent_leg = "Local/1001@agents-00000001;1"
    await wait_until(lambda: agent_leg in channel_names(bridge.tracker.snapshot()))
    pbx.messages["Hangup"] = "Channel Hungup"
    reply = await bridge.commands.hangup(agent_leg)
    assert reply["Message"] == "Channel Hungup"
    assert pbx.sent("Hangup")[0]["Channel"] == agent_leg


async def test_stop_disconnects(pbx, run_bridge) -> None:
    bridge, _reader = await run_bridge()
    await bridge.stop()
    assert not bridge.connected
    await wait_until(lambda: not pbx._clients)


def test_missing_event_classes_reads_manager_permissions() -> None:
    assert missing_event_classes("all") == []
    assert missing_event_classes("system,call,agent,dialplan,user,cdr,cel") == []
    assert missing_event_classes("system, Call,agent") == ["dialplan", "user", "cdr"]


def test_read_perm_from_manager_show_user_output() -> None:
    lines = ["          username: cti", "         read perm: system,call,agent", "        write perm: all"]
    assert read_perm_from_output(lines) == "system,call,agent"
    assert read_perm_from_output(["nothing here"]) is None


def test_channel_names_walks_nested_snapshots() -> None:
    snapshot = {
        "calls": [{"call_id": "1.0", "parties": [{"channels": [{"channel": "PJSIP/1001-00000001"}]}]}],
        "agents": {"1001": {"name": "Agent 1001"}},
    }
    assert channel_names(snapshot) == {"PJSIP/1001-00000001"}


async def test_a_chinese_name_split_across_tcp_reads_arrives_whole(pbx, run_bridge) -> None:
    seen: list[dict[str, Any]] = []

    class Capture(RecordingTracker):
        def feed(self, msg: dict[str, Any], now: float) -> list[dict[str, Any]]:
            seen.append(msg)
            return super().feed(msg, now)

    await run_bridge(tracker_factory=Capture)
    head, _tail = inbound_call()
    event = dict(head[[e["Event"] for e in head].index("Newchannel")], CallerIDName="张三丰")
    data = frame(event)
    cut = data.index("张".encode()) + 1  # inside the first character's three bytes
    await pbx.emit_bytes(data[:cut])
    await wait_until(lambda: bool(pbx._clients))
    await asyncio.sleep(0.05)
    await pbx.emit_bytes(data[cut:])
    await wait_until(lambda: any(m.get("Event") == "Newchannel" for m in seen))
    (got,) = [m for m in seen if m.get("Event") == "Newchannel"]
    assert got["CallerIDName"] == "张三丰"


# --- against the PBX simulator --------------------------------------------------------------------
@pytest.mark.parametrize("auth", ["md5", "plain"])
async def test_simulated_inbound_call_reaches_the_bus(sim, auth) -> None:
    async with LiveBridge(sim, auth=auth) as live:
        run = await answered_call(live, sim, talk="1")
        await run.done.wait()
        await live.reader.until(lambda ev: any(e["type"] == "call.ended" for e in ev))
        call_id = run.result.linkedid
        kinds = [e["type"] for e in live.reader.events if e.get("call_id") == call_id]
        assert kinds.index("call.new") < kinds.index("call.answered") < kinds.index("call.ended")
        assert kinds.count("call.new") == 1 and kinds.count("call.ended") == 1
        states = [e["state"] for e in live.reader.of("agent.state") if e["extension"] == "1001"]
        assert "on_call" in states
        assert live.bridge.stats.malformed_frames == 0
        assert live.bridge.stats.events_total > 0


async def test_simulated_commands_answer_with_the_ami_reply(sim) -> None:
    async with LiveBridge(sim) as live:
        commands = live.bridge.commands
        added = await commands.queue_login("support", "1001", "Agent 1001")
        assert added["Message"] == "Added interface to queue"
        paused = await commands.pause("1001", True, reason="Lunch", queue="support")
        assert paused["Response"] == "Success"
        await live.reader.until(
            lambda ev: any(e["type"] == "agent.state" and e["state"] == "paused" for e in ev)
        )
        await commands.pause("1001", False)
        dialled = await commands.originate_click_to_dial("1001", "5559999", caller_id='"Agent 1001" <1001>')
        assert dialled["Response"] == "Success" and dialled["Reason"] == "4"
        await live.reader.until(lambda ev: any(e["type"] == "call.new" for e in ev))
        (new,) = live.reader.of("call.new")
        assert new["direction"] == "outbound"
        with pytest.raises(UnknownChannel):
            await commands.hangup("Local/4242@agents-0000ffff;1")
        with pytest.raises(InvalidArgument):
            await commands.blind_transfer("Local/4242@agents-0000ffff;1", "not-an-extension")
        channel = next(iter(sorted(channel_names(live.bridge.tracker.snapshot()))))
        hung = await commands.hangup(channel)
        assert hung["Response"] == "Success"
        await live.reader.until(lambda ev: any(e["type"] == "call.ended" for e in ev))
        removed = await commands.queue_logout("support", "1001")
        assert removed["Message"] == "Removed interface from queue"
        with pytest.raises(CommandError) as err:
            await commands.queue_logout("support", "1001")
        assert err.value.response is not None and err.value.response["Response"] == "Error"


def test_channel_names_of_the_tracker_snapshot_shape() -> None:
    snapshot = {
        "calls": [{"parties": [{"channel": "Local/5551234@from-pstn-00000000;2"}]}],
        "channels": [
            {"uniqueid": "1.1", "channel": "Local/1001@agents-00000001;1"},
            {"uniqueid": "1.2", "channel": "Local/1001@agents-00000001;2"},
        ],
    }
    assert channel_names(snapshot) == {"Local/1001@agents-00000001;1", "Local/1001@agents-00000001;2"}


def test_bridge_peer_is_the_one_other_channel_in_the_bridge() -> None:
    rows = [
        {"channel": "Local/5551234@from-pstn-00000000;2", "bridge": "b1"},
        {"channel": "Local/1001@agents-00000001;1", "bridge": "b1"},
        {"channel": "Local/1001@agents-00000001;2", "bridge": None},
        {"channel": "Local/5551235@from-pstn-00000002;2", "bridge": None},
    ]
    snapshot = {"channels": rows}
    assert bridge_peer(snapshot, "Local/5551234@from-pstn-00000000;2") == "Local/1001@agents-00000001;1"
    assert bridge_peer(snapshot, "Local/5551235@from-pstn-00000002;2") is None
    assert bridge_peer({"channels": [*rows, {"channel": "X/3", "bridge": "b1"}]}, rows[0]["channel"]) is None


async def test_ami_listeners_get_live_events_and_a_failing_one_is_contained(pbx, run_bridge) -> None:
    bridge, reader = await run_bridge()
    seen: list[str] = []

    def broken(msg: dict[str, Any]) -> None:
        raise ValueError("listener bug")

    bridge.add_ami_listener(broken)
    bridge.add_ami_listener(lambda msg: seen.append(msg["Event"]))
    head, tail = inbound_call()
    await pbx.emit(*head, *tail)
    await reader.until(lambda ev: any(e["type"] == "call.ended" for e in ev))
    assert seen == [e["Event"] for e in head + tail]
    assert bridge.connected


# Every call scenario of the simulator, through the real bridge: one call.new and one call.ended per call,
# with the disposition and the extra events the scenario is about.
SCENARIOS = [
    ("inbound_answered", {"agent": "1001", "talk": "1"}, "answered", "call.answered"),
    ("inbound_abandon", {"moh": "2"}, "abandoned", "queue.abandoned"),
    ("inbound_recorded", {"agent": "1001", "talk": "1"}, "answered", "call.answered"),
    ("click_to_dial", {"agent": "1001", "number": "5559999", "talk": "1"}, "answered", "call.answered"),
    ("blind_transfer", {"agent": "1001", "agent2": "1002", "talk": "1"}, "answered", "call.transferred"),
    ("voicemail", {"moh": "3"}, "voicemail", "call.hangup"),
    ("ring_no_answer_next_agent", {"agent": "1003", "agent2": "1004", "talk": "1", "ring": "15"}, "answered",
     "call.answered"),
    ("hold", {"agent": "1005", "talk": "1", "hold": "2"}, "answered", "call.hold"),
    ("attended_transfer", {"agent": "1006", "agent2": "1008", "talk": "1", "consult": "1"}, "answered",
     "call.transferred"),
]


@pytest.mark.parametrize(("name", "params", "disposition", "marker"), SCENARIOS, ids=[s[0] for s in SCENARIOS])
async def test_every_simulated_scenario_through_the_bridge(sim, name, params, disposition, marker) -> None:
    async with LiveBridge(sim) as live:
        result = await sim.run_scenario(name, **params)
        call_id = result.linkedid
        await live.reader.until(lambda ev: any(e["type"] == "call.ended" and e["call_id"] == call_id for e in ev))
        mine = [e for e in live.reader.events if e.get("call_id") == call_id]
        kinds = [e["type"] for e in mine]
        assert kinds.count("call.new") == 1 and kinds.count("call.ended") == 1, kinds
        assert marker in kinds
        (ended,) = [e for e in mine if e["type"] == "call.ended"]
        assert ended["disposition"] == disposition
        assert live.bridge.stats.malformed_frames == 0

"""Sequences the recorded transcripts lack, built with Asterisk 22's own field sets.

Field names follow the AMI event documentation and the transcripts in tests/fixtures/ami:
a channel snapshot (Channel, ChannelState, CallerIDNum, …, Uniqueid, Linkedid), Dest* for the
dialed side, and ``Timestamp`` as manager.conf ``timestampevents = yes`` adds it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest

from cti.events import Event
from cti.tracker import CallTracker, TrackerConfig

T0 = 1_800_000_000.0


@dataclass
class Leg:
    name: str
    uid: str
    linkedid: str
    context: str
    exten: str
    number: str
    caller_name: str
    state: int = 0


class Pbx:
    """Writes AMI event dicts into a tracker and keeps every domain event it gets back."""

    def __init__(self, tracker: CallTracker | None = None) -> None:
        self.tracker = tracker or CallTracker()
        self.t = T0
        self.events: list[Event] = []
        self._next = 0

    def feed(self, event: str, dt: float = 0.0, **fields: Any) -> list[Event]:
        self.t += dt
        msg = {"Event": event, "Privilege": "call,all", "Timestamp": f"{self.t:.6f}", **fields}
        out = self.tracker.feed(msg)
        self.events.extend(out)
        return out

    @staticmethod
    def snap(leg: Leg, prefix: str = "") -> dict[str, str]:
        return {
            f"{prefix}Channel": leg.name,
            f"{prefix}ChannelState": str(leg.state),
            f"{prefix}ChannelStateDesc": {0: "Down", 4: "Ring", 5: "Ringing", 6: "Up"}.get(leg.state, "Down"),
            f"{prefix}CallerIDNum": leg.number,
            f"{prefix}CallerIDName": leg.caller_name,
            f"{prefix}ConnectedLineNum": "<unknown>",
            f"{prefix}ConnectedLineName": "<unknown>",
            f"{prefix}Language": "en",
            f"{prefix}AccountCode": "",
            f"{prefix}Context": leg.context,
            f"{prefix}Exten": leg.exten,
            f"{prefix}Priority": "1",
            f"{prefix}Uniqueid": leg.uid,
            f"{prefix}Linkedid": leg.linkedid,
        }

    def _uid(self) -> str:
        self._next += 1
        return f"{int(T0)}.{self._next}"

    def channel(
        self,
        name: str,
        linkedid: str | None,
        context: str,
        exten: str,
        number: str = "<unknown>",
        caller_name: str = "<unknown>",
        state: int = 0,
    ) -> Leg:
        uid = self._uid()
        leg = Leg(name, uid, linkedid or uid, context, exten, number, caller_name, state)
        self.feed("Newchannel", **self.snap(leg))
        return leg

    def local_pair(
        self,
        exten: str,
        context: str,
        seq: int,
        linkedid: str | None,
        number: str = "<unknown>",
        caller_name: str = "<unknown>",
        optimize: bool = False,
    ) -> tuple[Leg, Leg]:
        base = f"Local/{exten}@{context}-{seq:08x};"
        one = self.channel(base + "1", linkedid, context, exten, number, caller_name)
        two = self.channel(base + "2", one.linkedid, context, exten, number, caller_name, state=4)
        fields = {
            "LocalOneChannel": one.name,
            "LocalOneUniqueid": one.uid,
            "LocalTwoChannel": two.name,
            "LocalTwoUniqueid": two.uid,
            "Context": context,
            "Exten": exten,
            "LocalOptimization": "Yes" if optimize else "No",
        }
        self.feed("LocalBridge", **fields)
        return one, two

    def dial_begin(self, src: Leg | None, dest: Leg, dial_string: str, dt: float = 0.0) -> list[Event]:
        fields = self.snap(dest, "Dest")
        if src is not None:
            fields.update(self.snap(src))
        return self.feed("DialBegin", dt, DialString=dial_string, **fields)

    def dial_end(self, src: Leg | None, dest: Leg, status: str, dt: float = 0.0) -> list[Event]:
        fields = self.snap(dest, "Dest")
        if src is not None:
            fields.update(self.snap(src))
        return self.feed("DialEnd", dt, DialStatus=status, **fields)

    def state(self, leg: Leg, state: int, dt: float = 0.0) -> list[Event]:
        leg.state = state
        return self.feed("Newstate", dt, **self.snap(leg))

    def bridge(self, event: str, bridge: str, leg: Leg, count: int, dt: float = 0.0) -> list[Event]:
        return self.feed(
            event,
            dt,
            BridgeUniqueid=bridge,
            BridgeType="basic",
            BridgeTechnology="simple_bridge",
            BridgeNumChannels=str(count),
            **self.snap(leg),
        )

    def hangup(self, leg: Leg, cause: int = 16, dt: float = 0.0) -> list[Event]:
        text = {
            0: "Unknown",
            16: "Normal Clearing",
            17: "User busy",
            19: "No answer",
            26: "Answered elsewhere",
        }
        return self.feed("Hangup", dt, Cause=str(cause), **{"Cause-txt": text.get(cause, "Unknown")}, **self.snap(leg))

    def member(
        self, event: str, queue: str, agent: str, paused: bool = False, reason: str = "", wrapup: int = 0
    ) -> list[Event]:
        return self.feed(
            event,
            Queue=queue,
            MemberName=f"Agent {agent}",
            Interface=f"Local/{agent}@agents/n",
            StateInterface=f"Custom:{agent}",
            Membership="dynamic",
            Penalty="0",
            CallsTaken="0",
            LastCall="0",
            LastPause="0",
            LoginTime=str(int(T0)),
            InCall="0",
            Status="1",
            Paused="1" if paused else "0",
            PausedReason=reason,
            Ringinuse="0",
            Wrapuptime=str(wrapup),
        )

    def queue_event(
        self, event: str, leg: Leg, queue: str, position: int = 1, dt: float = 0.0, **extra: str
    ) -> list[Event]:
        return self.feed(event, dt, Queue=queue, Position=str(position), **extra, **self.snap(leg))

    def agent_event(
        self, event: str, caller: Leg, member: Leg, queue: str, agent: str, dt: float = 0.0, **extra: str
    ) -> list[Event]:
        return self.feed(
            event,
            dt,
            Queue=queue,
            Interface=f"Local/{agent}@agents/n",
            MemberName=f"Agent {agent}",
            **extra,
            **self.snap(caller),
            **self.snap(member, "Dest"),
        )

    def of(self, kind: str) -> list[Event]:
        return [e for e in self.events if e["type"] == kind]

    def agent_states(self, agent: str) -> list[str]:
        return [e["state"] for e in self.of("agent.state") if e["agent"] == agent]


def trunk_caller(pbx: Pbx, number: str = "13800138000", seq: int = 1) -> Leg:
    """An inbound PSTN call on a PJSIP trunk, answered by the dialplan and put in a queue."""
    leg = pbx.channel(f"PJSIP/trunk-{seq:08x}", None, "from-trunk", "4008001234", number, "")
    pbx.state(leg, 6, dt=0.1)
    return leg


def ring_agent(pbx: Pbx, caller: Leg, agent: str, seq: int, queue: str = "support") -> tuple[Leg, Leg]:
    """Queue() rings a Local/<agent>@agents/n member; the agents dialplan rings 2 s then answers."""
    one, two = pbx.local_pair(agent, "agents", seq, caller.linkedid, caller.number)
    pbx.agent_event("AgentCalled", caller, one, queue, agent)
    pbx.dial_begin(caller, one, f"Local/{agent}@agents/n")
    pbx.state(one, 5)
    return one, two


def answer_agent(
    pbx: Pbx,
    caller: Leg,
    one: Leg,
    two: Leg,
    agent: str,
    bridge: str,
    queue: str = "support",
    dt: float = 2.0,
) -> None:
    pbx.state(two, 6, dt=dt)
    pbx.state(one, 6)
    pbx.dial_end(caller, one, "ANSWER")
    pbx.queue_event("QueueCallerLeave", caller, queue, Count="0")
    pbx.agent_event("AgentConnect", caller, one, queue, agent, HoldTime="2", RingTime="2")
    pbx.feed("BridgeCreate", BridgeUniqueid=bridge, BridgeType="basic", BridgeNumChannels="0")
    pbx.bridge("BridgeEnter", bridge, one, 1)
    pbx.bridge("BridgeEnter", bridge, caller, 2)


def answered_queue_call(pbx: Pbx, dt: float = 2.0) -> tuple[Leg, Leg, Leg]:
    """A trunk caller queued in support and answered by agent 1001 in bridge b-1."""
    caller = trunk_caller(pbx)
    pbx.queue_event("QueueCallerJoin", caller, "support", Count="1")
    one, two = ring_agent(pbx, caller, "1001", 2)
    answer_agent(pbx, caller, one, two, "1001", "b-1", dt=dt)
    return caller, one, two


def agent_hangs_up(pbx: Pbx, caller: Leg, one: Leg, two: Leg, bridge: str, dt: float) -> None:
    pbx.feed("SoftHangupRequest", dt, Cause="16", **pbx.snap(two))
    pbx.hangup(two)
    pbx.bridge("BridgeLeave", bridge, one, 1)
    pbx.hangup(one)
    pbx.bridge("BridgeLeave", bridge, caller, 0)
    pbx.feed("BridgeDestroy", BridgeUniqueid=bridge, BridgeNumChannels="0")
    pbx.hangup(caller)


def test_timestamp_header_gives_the_event_time() -> None:
    pbx = Pbx()
    pbx.member("QueueMemberAdded", "support", "1001")
    caller = trunk_caller(pbx)
    pbx.queue_event("QueueCallerJoin", caller, "support", Count="1")
    new = pbx.of("call.new")[0]
    assert new["ts"] == "2027-01-15T08:00:00.000Z"
    assert new["direction"] == "inbound" and new["caller"]["number"] == "13800138000"
    assert new["dialed"] == "4008001234"
    assert pbx.of("queue.joined")[0]["ts"] == "2027-01-15T08:00:00.100Z"


def test_time_falls_back_to_now_then_zero() -> None:
    tracker = CallTracker()
    added = {"Event": "QueueMemberAdded", "Queue": "q", "Interface": "PJSIP/2001", "Paused": "0"}
    assert tracker.feed(dict(added), now=60.25)[0]["ts"] == "1970-01-01T00:01:00.250Z"
    removed = {"Event": "QueueMemberRemoved", "Queue": "q", "Interface": "PJSIP/2001"}
    assert tracker.feed(removed)[0]["ts"] == "1970-01-01T00:00:00.000Z"


def test_hold_and_unhold_on_a_bridged_leg() -> None:
    pbx = Pbx()
    caller, one, two = answered_queue_call(pbx)
    # the agent's phone holds: Hold on the agent leg, and music starts for the caller
    pbx.feed("Hold", 3.0, **pbx.snap(one))
    pbx.feed("MusicOnHoldStart", 0.01, Class="default", **pbx.snap(caller))
    pbx.feed("MusicOnHoldStop", 4.0, **pbx.snap(caller))
    pbx.feed("Unhold", 0.01, **pbx.snap(one))
    agent_hangs_up(pbx, caller, one, two, "b-1", dt=2.0)
    holds, unholds = pbx.of("call.hold"), pbx.of("call.unhold")
    assert len(holds) == 1 and len(unholds) == 1  # one hold of the call, not one per event
    assert holds[0]["channel"] == one.name and holds[0]["call_id"] == caller.linkedid
    ended = pbx.of("call.ended")[0]
    assert ended["hold_s"] == pytest.approx(4.02, abs=0.01)
    assert ended["talk_s"] == pytest.approx(9.02, abs=0.01)  # hold time is inside talk time


def test_music_on_hold_alone_is_a_hold_when_bridged() -> None:
    """A hold made by moving a leg to music on hold gives only MusicOnHoldStart/Stop."""
    pbx = Pbx()
    caller = trunk_caller(pbx)
    pbx.queue_event("QueueCallerJoin", caller, "support", Count="1")
    pbx.feed("MusicOnHoldStart", 0.1, Class="default", **pbx.snap(caller))  # queue music: not a hold
    one, two = ring_agent(pbx, caller, "1001", 2)
    pbx.feed("MusicOnHoldStop", 2.0, **pbx.snap(caller))
    answer_agent(pbx, caller, one, two, "1001", "b-1", dt=0.0)
    assert not pbx.of("call.hold")
    pbx.feed("MusicOnHoldStart", 1.0, Class="default", **pbx.snap(caller))
    pbx.feed("MusicOnHoldStop", 1.5, **pbx.snap(caller))
    assert [e["type"] for e in pbx.events[-2:]] == ["call.hold", "call.unhold"]
    assert pbx.events[-1]["channel"] == caller.name


def test_ring_no_answer_then_next_agent() -> None:
    pbx = Pbx()
    for agent in ("1001", "1002"):
        pbx.member("QueueMemberAdded", "support", agent)
    caller = trunk_caller(pbx)
    pbx.queue_event("QueueCallerJoin", caller, "support", Count="1")
    one, two = ring_agent(pbx, caller, "1001", 2)
    # the member timeout (15 s) passes: NOANSWER then CANCEL for the same leg
    pbx.dial_end(caller, one, "NOANSWER", dt=15.0)
    pbx.agent_event("AgentRingNoAnswer", caller, one, "support", "1001", RingTime="15")
    pbx.dial_end(caller, one, "CANCEL")
    pbx.feed("HangupRequest", **pbx.snap(one), Cause="0")
    pbx.hangup(two, cause=0)
    pbx.hangup(one, cause=0)
    assert pbx.agent_states("1001") == ["available", "ringing", "available"]
    one2, two2 = ring_agent(pbx, caller, "1002", 3)
    answer_agent(pbx, caller, one2, two2, "1002", "b-2")
    agent_hangs_up(pbx, caller, one2, two2, "b-2", dt=30.0)

    assert [e["agent"] for e in pbx.of("call.ringing")] == ["1001", "1002"]
    answered = pbx.of("call.answered")
    assert len(answered) == 1 and answered[0]["agent"] == "1002"
    assert answered[0]["wait_s"] == pytest.approx(17.0, abs=0.01)
    first_leg = next(h for h in pbx.of("call.hangup") if h["channel"] == one.name)
    assert first_leg["hangup_by"] == "system"
    ended = pbx.of("call.ended")
    assert len(ended) == 1 and ended[0]["disposition"] == "answered" and ended[0]["agent"] == "1002"
    assert pbx.agent_states("1002") == ["available", "ringing", "on_call", "available"]


def test_ring_all_losers_get_cancel_twice_and_one_call_row() -> None:
    pbx = Pbx()
    for agent in ("1001", "1002", "1003"):
        pbx.member("QueueMemberAdded", "sales", agent)
    caller = trunk_caller(pbx)
    pbx.queue_event("QueueCallerJoin", caller, "sales", Count="1")
    legs = {
        agent: ring_agent(pbx, caller, agent, seq, "sales") for seq, agent in ((2, "1001"), (3, "1002"), (4, "1003"))
    }
    assert {a: pbx.agent_states(a)[-1] for a in legs} == {
        "1001": "ringing",
        "1002": "ringing",
        "1003": "ringing",
    }
    one, two = legs["1002"]
    answer_agent(pbx, caller, one, two, "1002", "b-1", queue="sales")
    for agent in ("1001", "1003"):
        loser_one, loser_two = legs[agent]
        pbx.dial_end(caller, loser_one, "CANCEL")
        pbx.dial_end(caller, loser_one, "CANCEL")
        pbx.hangup(loser_two, cause=26)
        pbx.hangup(loser_one, cause=26)
    agent_hangs_up(pbx, caller, one, two, "b-1", dt=20.0)

    assert len(pbx.of("call.ringing")) == 3
    assert [e["agent"] for e in pbx.of("call.answered")] == ["1002"]
    assert len(pbx.of("call.new")) == 1 and len(pbx.of("call.ended")) == 1
    losers = [h for h in pbx.of("call.hangup") if h["channel"] in (legs["1001"][0].name, legs["1003"][0].name)]
    assert [h["hangup_by"] for h in losers] == ["system", "system"]
    assert [h["cause"] for h in losers] == [26, 26]
    assert pbx.agent_states("1001") == ["available", "ringing", "available"]
    assert pbx.agent_states("1002")[-2:] == ["on_call", "available"]


def test_caller_hangs_up_while_agent_rings() -> None:
    """CANCEL and no AgentRingNoAnswer: an abandon; the agent's leg was hung up by the caller."""
    pbx = Pbx()
    pbx.member("QueueMemberAdded", "support", "1001")
    caller = trunk_caller(pbx)
    pbx.queue_event("QueueCallerJoin", caller, "support", Count="1")
    one, two = ring_agent(pbx, caller, "1001", 2)
    pbx.feed("HangupRequest", 6.0, Cause="16", **pbx.snap(caller))
    pbx.dial_end(caller, one, "CANCEL")
    pbx.queue_event("QueueCallerAbandon", caller, "support", OriginalPosition="1", HoldTime="6")
    pbx.queue_event("QueueCallerLeave", caller, "support", Count="0")
    pbx.hangup(caller)
    pbx.hangup(two, cause=16)
    pbx.hangup(one, cause=16)
    assert len(pbx.of("queue.abandoned")) == 1 and not pbx.of("queue.left")
    hangups = {h["channel"]: h["hangup_by"] for h in pbx.of("call.hangup")}
    assert hangups == {caller.name: "caller", one.name: "caller"}
    ended = pbx.of("call.ended")[0]
    assert ended["disposition"] == "abandoned" and ended["wait_s"] == pytest.approx(6.0, abs=0.01)
    assert pbx.agent_states("1001") == ["available", "ringing", "available"]


@pytest.mark.parametrize("varset_first", [False, True])
def test_queue_timeout_is_overflow_not_abandon(varset_first: bool) -> None:
    pbx = Pbx()
    pbx.member("QueueMemberAdded", "support", "1001", paused=True)
    caller = trunk_caller(pbx)
    pbx.queue_event("QueueCallerJoin", caller, "support", Count="1")
    pbx.queue_event("QueueCallerAbandon", caller, "support", dt=15.0, OriginalPosition="1", HoldTime="15")
    status = {"Variable": "QUEUESTATUS", "Value": "TIMEOUT", **pbx.snap(caller)}
    if varset_first:
        pbx.feed("VarSet", **status)
    pbx.queue_event("QueueCallerLeave", caller, "support", Count="0")
    if not varset_first:
        pbx.feed("VarSet", **status)
    # the dialplan goes on to voicemail or an announcement; here the caller hangs up later
    pbx.feed("SoftHangupRequest", 5.0, Cause="16", **pbx.snap(caller))
    pbx.hangup(caller)
    assert not pbx.of("queue.abandoned")
    left = pbx.of("queue.left")
    assert len(left) == 1 and left[0]["reason"] == "timeout"
    assert left[0]["wait_s"] == pytest.approx(15.0, abs=0.01)
    ended = pbx.of("call.ended")[0]
    assert ended["disposition"] == "no_answer" and ended["wait_s"] == pytest.approx(15.0, abs=0.01)


def test_agent_dump_returns_the_agent_to_available() -> None:
    pbx = Pbx()
    pbx.member("QueueMemberAdded", "support", "1001")
    caller, one, two = answered_queue_call(pbx, dt=1.0)
    pbx.agent_event("AgentDump", caller, one, "support", "1001", dt=0.2)
    agent_hangs_up(pbx, caller, one, two, "b-1", dt=0.0)
    assert pbx.agent_states("1001") == ["available", "ringing", "on_call", "available"]
    assert len(pbx.of("call.ended")) == 1


def test_local_optimisation_creates_no_phantom_party() -> None:
    """A queue member without /n: the Local pair dials the phone and then optimises away."""
    pbx = Pbx()
    pbx.member("QueueMemberAdded", "support", "1001")
    caller = trunk_caller(pbx)
    pbx.queue_event("QueueCallerJoin", caller, "support", Count="1")
    one, two = pbx.local_pair("1001", "agents", 2, caller.linkedid, caller.number, optimize=True)
    pbx.agent_event("AgentCalled", caller, one, "support", "1001")
    pbx.dial_begin(caller, one, "Local/1001@agents")
    phone = pbx.channel("PJSIP/1001-00000007", caller.linkedid, "agents", "1001", caller.number)
    pbx.dial_begin(two, phone, "PJSIP/1001")
    pbx.state(phone, 6, dt=3.0)
    pbx.dial_end(two, phone, "ANSWER")
    pbx.state(two, 6)
    pbx.state(one, 6)
    pbx.dial_end(caller, one, "ANSWER")
    pbx.queue_event("QueueCallerLeave", caller, "support", Count="0")
    pbx.bridge("BridgeEnter", "b-1", one, 1)
    pbx.bridge("BridgeEnter", "b-1", caller, 2)
    pbx.bridge("BridgeEnter", "b-2", two, 1)
    pbx.bridge("BridgeEnter", "b-2", phone, 2)
    pbx.feed(
        "LocalOptimizationBegin",
        0.5,
        LocalOneChannel=one.name,
        LocalOneUniqueid=one.uid,
        LocalTwoChannel=two.name,
        LocalTwoUniqueid=two.uid,
        SourceChannel=phone.name,
        SourceUniqueid=phone.uid,
        DestUniqueId=one.uid,
        Id="1",
    )
    pbx.bridge("BridgeLeave", "b-2", phone, 1)
    pbx.bridge("BridgeEnter", "b-1", phone, 3)
    pbx.bridge("BridgeLeave", "b-1", one, 2)
    pbx.bridge("BridgeLeave", "b-2", two, 0)
    pbx.hangup(one)
    pbx.hangup(two)
    pbx.feed(
        "LocalOptimizationEnd",
        LocalOneChannel=one.name,
        LocalOneUniqueid=one.uid,
        LocalTwoChannel=two.name,
        LocalTwoUniqueid=two.uid,
        Success="Yes",
        Id="1",
    )
    assert not pbx.of("call.hangup")
    assert pbx.agent_states("1001")[-1] == "on_call"
    pbx.hangup(phone, dt=20.0)
    pbx.bridge("BridgeLeave", "b-1", caller, 0)
    pbx.hangup(caller)
    hangups = pbx.of("call.hangup")
    assert [h["hangup_by"] for h in hangups] == ["callee", "callee"]
    assert len(pbx.of("call.ringing")) == 1 and len(pbx.of("call.answered")) == 1
    ended = pbx.of("call.ended")[0]
    assert ended["talk_s"] == pytest.approx(20.5, abs=0.01) and ended["agent"] == "1001"
    assert pbx.agent_states("1001") == ["available", "ringing", "on_call", "available"]


def test_attended_transfer() -> None:
    pbx = Pbx()
    caller, one, _two = answered_queue_call(pbx)
    # the agent consults 1002 on a second call, then completes the transfer
    pbx.feed("Hold", 5.0, **pbx.snap(one))
    consult = pbx.channel("PJSIP/1001-00000009", None, "internal", "1002", "1001", "Agent 1001", state=6)
    target = pbx.channel("PJSIP/1002-0000000a", consult.linkedid, "agents", "1002", "1001", "Agent 1001")
    pbx.dial_begin(consult, target, "PJSIP/1002")
    pbx.state(target, 6, dt=2.0)
    pbx.dial_end(consult, target, "ANSWER")
    pbx.bridge("BridgeEnter", "b-2", consult, 1)
    pbx.bridge("BridgeEnter", "b-2", target, 2)
    out = pbx.feed(
        "AttendedTransfer",
        3.0,
        Result="Success",
        **pbx.snap(one, "OrigTransferer"),
        OrigBridgeUniqueid="b-1",
        **pbx.snap(consult, "SecondTransferer"),
        SecondBridgeUniqueid="b-2",
        **pbx.snap(caller, "Transferee"),
        **pbx.snap(target, "TransferTarget"),
        DestType="Bridge",
        DestBridgeUniqueid="b-1",
        IsExternal="No",
    )
    transferred = [e for e in out if e["type"] == "call.transferred"]
    assert len(transferred) == 1
    event = transferred[0]
    assert (event["kind"], event["from"], event["to"]) == ("attended", "1001", "1002")
    assert event["call_id"] == caller.linkedid and event["new_call_id"] == consult.linkedid


def test_blind_transfer_event() -> None:
    pbx = Pbx()
    caller, one, _two = answered_queue_call(pbx)
    out = pbx.feed(
        "BlindTransfer",
        4.0,
        Result="Success",
        **pbx.snap(one, "Transferer"),
        **pbx.snap(caller, "Transferee"),
        BridgeUniqueid="b-1",
        IsExternal="No",
        Context="internal",
        Extension="1003",
    )
    assert not [e for e in out if e["type"].startswith("call.transfer")]  # reported once the target answers
    pbx.bridge("BridgeLeave", "b-1", caller, 1)
    three, four = ring_agent_blind(pbx, caller, "1003", 4)
    answer_blind(pbx, caller, three, four, "b-3")
    done = [(e["type"], e["kind"], e["from"], e["to"], e["result"]) for e in pbx.of("call.transferred")]
    assert done == [("call.transferred", "blind", "1001", "1003", "success")]
    assert not pbx.of("call.transfer_failed")


def ring_agent_blind(pbx: Pbx, caller: Leg, agent: str, seq: int) -> tuple[Leg, Leg]:
    one, two = pbx.local_pair(agent, "agents", seq, caller.linkedid, caller.number)
    pbx.dial_begin(caller, one, f"Local/{agent}@agents/n")
    pbx.state(one, 5)
    return one, two


def answer_blind(pbx: Pbx, caller: Leg, one: Leg, two: Leg, bridge: str) -> None:
    pbx.state(two, 6, dt=2.0)
    pbx.state(one, 6)
    pbx.dial_end(caller, one, "ANSWER")
    pbx.bridge("BridgeEnter", bridge, one, 1)
    pbx.bridge("BridgeEnter", bridge, caller, 2)


def test_blind_transfer_to_a_target_that_does_not_answer_is_a_failed_transfer() -> None:
    pbx = Pbx()
    caller, one, _two = answered_queue_call(pbx)
    pbx.feed(
        "BlindTransfer",
        4.0,
        Result="Success",
        **pbx.snap(one, "Transferer"),
        **pbx.snap(caller, "Transferee"),
        BridgeUniqueid="b-1",
        IsExternal="No",
        Context="internal",
        Extension="1003",
    )
    pbx.bridge("BridgeLeave", "b-1", caller, 1)
    three, four = ring_agent_blind(pbx, caller, "1003", 4)
    pbx.dial_end(caller, three, "NOANSWER", dt=15.0)
    pbx.dial_end(caller, three, "CANCEL")
    pbx.hangup(four, cause=19)
    pbx.hangup(three, cause=19)
    assert not pbx.of("call.transferred")
    failed = pbx.of("call.transfer_failed")
    assert [(e["kind"], e["from"], e["to"], e["result"], e["reason"]) for e in failed] == [
        ("blind", "1001", "1003", "failed", "noanswer")
    ]


def test_blind_transfer_request_that_fails_is_reported_failed() -> None:
    pbx = Pbx()
    caller, one, _two = answered_queue_call(pbx)
    pbx.feed(
        "BlindTransfer",
        4.0,
        Result="Fail",
        **pbx.snap(one, "Transferer"),
        **pbx.snap(caller, "Transferee"),
        BridgeUniqueid="b-1",
        IsExternal="No",
        Context="internal",
        Extension="1009",
    )
    assert [(e["type"], e["to"], e["reason"]) for e in pbx.of("call.transfer_failed")] == [
        ("call.transfer_failed", "1009", "fail")
    ]
    assert not pbx.of("call.transferred")


def test_conference_of_three_parties() -> None:
    pbx = Pbx()
    caller, one, _two = answered_queue_call(pbx)
    third = pbx.channel("PJSIP/1003-0000000b", caller.linkedid, "agents", "1003", "1003", "Agent 1003", state=6)
    for count, leg in enumerate((caller, one, third), start=1):
        # Asterisk 22 sends BridgeEnter and ConfbridgeJoin for each participant
        pbx.feed("BridgeEnter", 1.0, BridgeUniqueid="conf-1", BridgeNumChannels=str(count), **pbx.snap(leg))
        pbx.feed(
            "ConfbridgeJoin",
            1.0,
            Conference="3way-1",
            BridgeUniqueid="conf-1",
            BridgeType="base",
            BridgeNumChannels=str(count),
            Admin="No",
            Muted="No",
            **pbx.snap(leg),
        )
    conferences = pbx.of("call.conference")
    assert len(conferences) == 1
    assert sorted(conferences[0]["parties"]) == ["1001", "1003", "13800138000"]


def test_music_to_a_lone_conference_participant_is_no_hold() -> None:
    """ConfBridge plays music to the one left in a conference: not a hold (transcript 11)."""
    pbx = Pbx()
    caller, one, _two = answered_queue_call(pbx)
    for count, leg in enumerate((caller, one), start=1):
        pbx.feed("BridgeEnter", 1.0, BridgeUniqueid="conf-1", BridgeNumChannels=str(count), **pbx.snap(leg))
        pbx.feed("ConfbridgeJoin", 1.0, Conference="3way-1", BridgeUniqueid="conf-1", **pbx.snap(leg))
    pbx.feed("BridgeLeave", 2.0, BridgeUniqueid="conf-1", BridgeNumChannels="1", **pbx.snap(one))
    pbx.feed("MusicOnHoldStart", 2.0, Class="default", **pbx.snap(caller))
    assert not pbx.of("call.hold")
    pbx.feed("MusicOnHoldStart", 2.5, Class="default", **pbx.snap(one))  # out of the conference: a hold
    assert [e["channel"] for e in pbx.of("call.hold")] == [one.name]


def test_wrapup_from_member_wrapuptime_ends_on_tick() -> None:
    pbx = Pbx()
    pbx.member("QueueMemberAdded", "support", "1001", wrapup=10)
    caller, one, two = answered_queue_call(pbx)
    agent_hangs_up(pbx, caller, one, two, "b-1", dt=5.0)
    assert pbx.agent_states("1001")[-1] == "wrap_up"
    assert pbx.tracker.tick(pbx.t + 9.0) == []
    events = pbx.tracker.tick(pbx.t + 10.5)
    assert [(e["agent"], e["state"]) for e in events] == [("1001", "available")]


def test_wrapup_from_config_when_member_has_none() -> None:
    pbx = Pbx(CallTracker(config=TrackerConfig(wrapup_s=3.0)))
    pbx.member("QueueMemberAdded", "support", "1001")
    caller = trunk_caller(pbx)
    one, two = ring_agent(pbx, caller, "1001", 2)
    answer_agent(pbx, caller, one, two, "1001", "b-1")
    agent_hangs_up(pbx, caller, one, two, "b-1", dt=5.0)
    assert pbx.agent_states("1001")[-1] == "wrap_up"
    # the next tracked AMI event after the wrap-up also moves the agent on, without a tick
    pbx.t += 4.0
    trunk_caller(pbx, seq=5)
    assert pbx.agent_states("1001")[-1] == "available"


def test_after_call_work_pause_is_wrap_up_and_other_pauses_are_paused() -> None:
    pbx = Pbx()
    pbx.member("QueueMemberAdded", "support", "1001")
    caller, one, two = answered_queue_call(pbx)
    agent_hangs_up(pbx, caller, one, two, "b-1", dt=5.0)
    pbx.member("QueueMemberPause", "support", "1001", paused=True, reason="after_call_work")
    pbx.member("QueueMemberPause", "support", "1001", paused=False)
    pbx.member("QueueMemberPause", "support", "1001", paused=True, reason="Lunch")
    assert pbx.agent_states("1001")[-4:] == ["available", "wrap_up", "available", "paused"]


def test_internal_call_between_extensions() -> None:
    pbx = Pbx()
    phone = pbx.channel("PJSIP/1001-00000001", None, "from-internal", "1002", "1001", "Agent 1001")
    target = pbx.channel("PJSIP/1002-00000002", phone.linkedid, "from-internal", "1002", "1002", "Agent 1002")
    pbx.dial_begin(phone, target, "PJSIP/1002", dt=0.1)
    pbx.dial_end(phone, target, "BUSY", dt=1.0)
    pbx.hangup(target, cause=17)
    pbx.hangup(phone, cause=16, dt=0.5)
    new = pbx.of("call.new")[0]
    assert (new["direction"], new["dialed"], new["caller"]["number"]) == ("internal", "1002", "1001")
    ringing = pbx.of("call.ringing")[0]
    assert ringing["agent"] == "1002" and ringing["callee"]["extension"] == "1002"
    ended = pbx.of("call.ended")[0]
    assert ended["disposition"] == "busy" and ended["answered"] is False
    hangup_by = [h["hangup_by"] for h in pbx.of("call.hangup")]
    assert hangup_by == ["callee", "caller"]


def test_phantom_call_expires_once() -> None:
    pbx = Pbx(CallTracker(config=TrackerConfig(phantom_call_expiry_s=60.0)))
    caller = trunk_caller(pbx)
    pbx.queue_event("QueueCallerJoin", caller, "support", Count="1")
    assert pbx.tracker.tick(pbx.t + 30.0) == []
    events = pbx.tracker.tick(pbx.t + 61.0)
    assert [e["type"] for e in events] == ["call.hangup", "call.ended"]
    assert events[-1]["call_id"] == caller.linkedid
    assert events[0]["hangup_by"] == "system"
    assert pbx.tracker.tick(pbx.t + 200.0) == []
    assert pbx.tracker.snapshot()["calls"] == []
    assert pbx.tracker.stats.expired_calls == 1


def test_flood_of_newchannel_is_bounded_and_counted() -> None:
    tracker = CallTracker(config=TrackerConfig(max_live_calls=100, max_live_channels=150))
    for n in range(1000):
        tracker.feed(
            {
                "Event": "Newchannel",
                "Channel": f"PJSIP/trunk-{n:08x}",
                "Uniqueid": f"1.{n}",
                "Linkedid": f"1.{n}",
                "Context": "from-trunk",
                "Exten": "100",
                "ChannelState": "4",
            }
        )
    snapshot = tracker.snapshot()
    assert len(snapshot["calls"]) <= 100 and len(snapshot["channels"]) <= 150
    assert tracker.stats.dropped_calls == 1000 - len(snapshot["calls"])


def test_snapshot_shows_live_calls_agents_and_waiting_callers() -> None:
    pbx = Pbx()
    pbx.member("QueueMemberAdded", "support", "1001")
    pbx.member("QueueMemberAdded", "support", "1002", paused=True, reason="Lunch")
    caller = trunk_caller(pbx)
    pbx.queue_event("QueueCallerJoin", caller, "support", Count="1")
    waiting = trunk_caller(pbx, "13900139000", seq=9)
    pbx.queue_event("QueueCallerJoin", waiting, "support", position=2, Count="2")
    one, two = ring_agent(pbx, caller, "1001", 2)
    answer_agent(pbx, caller, one, two, "1001", "b-1")
    snapshot = json.loads(json.dumps(pbx.tracker.snapshot()))
    calls = {c["call_id"]: c for c in snapshot["calls"]}
    assert calls[caller.linkedid]["answered"] is True and calls[caller.linkedid]["agent"] == "1001"
    assert calls[waiting.linkedid]["answered"] is False
    agents = {a["agent"]: (a["state"], a["reason"]) for a in snapshot["agents"]}
    assert agents == {"1001": ("on_call", None), "1002": ("paused", "Lunch")}
    support = snapshot["queues"]["support"]
    assert support["members"] == ["1001", "1002"]
    assert [(w["call_id"], w["position"]) for w in support["waiting"]] == [(waiting.linkedid, 2)]
    assert len(snapshot["channels"]) == 4


def test_flood_of_channels_in_one_call_is_bounded() -> None:
    tracker = CallTracker(config=TrackerConfig(max_live_channels=50))
    for n in range(500):
        tracker.feed(
            {
                "Event": "Newchannel",
                "Channel": f"PJSIP/trunk-{n:08x}",
                "Uniqueid": f"1.{n}",
                "Linkedid": "1.0",
                "Context": "from-trunk",
                "Exten": "100",
                "ChannelState": "4",
            }
        )
    assert len(tracker.snapshot()["channels"]) <= 50
    assert tracker.stats.dropped_calls >= 9


def test_config_from_settings() -> None:
    from config.settings import Settings

    settings = Settings(tracker_inbound_contexts=["from-carrier"], wrapup_s=7, tracker_max_live_calls=5)
    config = TrackerConfig.from_settings(settings)
    assert config.inbound_contexts == frozenset({"from-carrier"})
    assert (config.wrapup_s, config.max_live_calls) == (7.0, 5)
    assert config.extension_of("PJSIP/1001-00000001") == "1001"
    assert config.extension_of("PJSIP/trunk-00000001") is None


def test_exit_with_key_is_overflow() -> None:
    pbx = Pbx()
    caller = trunk_caller(pbx)
    pbx.queue_event("QueueCallerJoin", caller, "support", Count="1")
    pbx.queue_event("QueueCallerLeave", caller, "support", dt=9.0, Count="0")
    assert not pbx.of("queue.left")  # the verdict waits for the caller's next event
    pbx.feed("SoftHangupRequest", 20.0, Cause="16", **pbx.snap(caller))
    pbx.hangup(caller)
    left = pbx.of("queue.left")
    assert [(e["reason"], e["wait_s"]) for e in left] == [("exitwithkey", 9.0)]
    assert pbx.of("call.ended")[0]["disposition"] == "no_answer"


def test_queue_leave_before_the_answer_is_still_answered() -> None:
    """Events of one millisecond come in any order: QueueCallerLeave may precede DialEnd ANSWER."""
    pbx = Pbx()
    caller = trunk_caller(pbx)
    pbx.queue_event("QueueCallerJoin", caller, "support", Count="1")
    one, two = ring_agent(pbx, caller, "1001", 2)
    pbx.queue_event("QueueCallerLeave", caller, "support", dt=2.0, Count="0")
    pbx.state(two, 6)
    pbx.state(one, 6)
    pbx.dial_end(caller, one, "ANSWER")
    left = pbx.of("queue.left")
    assert [(e["reason"], e["wait_s"]) for e in left] == [("answered", 2.0)]


def test_tick_settles_an_abandon_whose_caller_stays_silent() -> None:
    pbx = Pbx()
    caller = trunk_caller(pbx)
    pbx.queue_event("QueueCallerJoin", caller, "support", Count="1")
    pbx.queue_event("QueueCallerAbandon", caller, "support", dt=4.0, OriginalPosition="1", HoldTime="4")
    pbx.queue_event("QueueCallerLeave", caller, "support", Count="0")
    assert pbx.tracker.tick(pbx.t + 0.2) == []
    events = pbx.tracker.tick(pbx.t + 1.5)
    assert [(e["type"], e["wait_s"]) for e in events] == [("queue.abandoned", 4.0)]


@pytest.mark.parametrize(
    ("name", "extension"),
    [
        ("Local/1001@agents-00000001;1", "1001"),
        ("Local/1001@agents-00000001;2", "1001"),
        ("Local/1001@agents/n", "1001"),
        ("Local/5551234@from-pstn-00000000;2", None),
        ("PJSIP/1001-0000002a", "1001"),
        ("PJSIP/1001", "1001"),
        ("SIP/1002-00000003", "1002"),
        ("Custom:1003", "1003"),
        ("PJSIP/trunk-00000001", None),
        ("Custom:lobby", None),
        ("DAHDI/1-1", None),
        ("", None),
    ],
)
def test_extension_of_channel_names_and_interfaces(name: str, extension: str | None) -> None:
    assert TrackerConfig().extension_of(name) == extension


def test_agent_contexts_and_extension_pattern_are_configurable() -> None:
    config = TrackerConfig(agent_contexts=frozenset({"seats"}), extension_pattern=r"8\d{3}")
    assert config.extension_of("Local/8001@seats-00000001;1") == "8001"
    assert config.extension_of("Local/1001@agents-00000001;1") is None
    assert config.extension_of("PJSIP/8001-00000001") == "8001"
    assert config.extension_of("PJSIP/1001-00000001") is None


def test_hold_by_redirect_to_music_on_hold_is_tracked() -> None:
    """The desk's hold moves both legs out of their bridge; only the customer gets music (cc-hold)."""
    pbx = Pbx()
    caller, one, two = answered_queue_call(pbx)
    pbx.bridge("BridgeLeave", "b-1", caller, 1, dt=3.0)
    pbx.bridge("BridgeLeave", "b-1", one, 0)
    pbx.feed("BridgeDestroy", BridgeUniqueid="b-1", BridgeNumChannels="0")
    caller.context, caller.exten = "cc-hold", "hold"
    pbx.feed("MusicOnHoldStart", 0.01, Class="default", **pbx.snap(caller))
    one.context, one.exten = "cc-hold", "wait"
    assert [e["type"] for e in pbx.of("call.hold")] == ["call.hold"]
    assert pbx.tracker.snapshot()["calls"][0]["on_hold"] is True
    pbx.feed("MusicOnHoldStop", 5.0, **pbx.snap(caller))
    pbx.feed("BridgeCreate", BridgeUniqueid="b-9", BridgeType="basic", BridgeNumChannels="0")
    pbx.bridge("BridgeEnter", "b-9", caller, 1)
    pbx.bridge("BridgeEnter", "b-9", one, 2)
    assert len(pbx.of("call.unhold")) == 1
    agent_hangs_up(pbx, caller, one, two, "b-9", dt=2.0)
    ended = pbx.of("call.ended")[0]
    assert ended["hold_s"] == pytest.approx(5.0, abs=0.02)
    assert ended["talk_s"] == pytest.approx(5.0, abs=0.05)  # 3 s before the hold, 2 s after


def test_music_for_a_caller_alone_before_the_answer_is_no_hold() -> None:
    pbx = Pbx()
    caller = trunk_caller(pbx)
    pbx.queue_event("QueueCallerJoin", caller, "support", Count="1")
    pbx.feed("MusicOnHoldStart", 0.1, Class="default", **pbx.snap(caller))
    pbx.feed("MusicOnHoldStop", 3.0, **pbx.snap(caller))
    pbx.hangup(caller)
    assert not pbx.of("call.hold")


def test_talk_time_ends_when_the_agent_leaves_and_the_caller_stays_for_the_survey() -> None:
    """Queue option c: the caller goes on in the dialplan (the survey) after the agent hangs up."""
    pbx = Pbx()
    caller, one, two = answered_queue_call(pbx)
    pbx.feed("SoftHangupRequest", 7.0, Cause="16", **pbx.snap(two))
    pbx.hangup(two)
    pbx.bridge("BridgeLeave", "b-1", one, 1)
    pbx.hangup(one)
    pbx.bridge("BridgeLeave", "b-1", caller, 0)
    pbx.feed("BridgeDestroy", BridgeUniqueid="b-1", BridgeNumChannels="0")
    caller.context, caller.exten = "survey", "s"
    pbx.state(caller, 6, dt=2.6)  # the survey runs on, alone
    pbx.hangup(caller, dt=0.1)
    ended = pbx.of("call.ended")[0]
    assert ended["talk_s"] == pytest.approx(7.0, abs=0.01)
    assert [leg["talk_s"] for leg in ended["legs"]] == [pytest.approx(7.0, abs=0.01)]


def test_caller_number_set_after_the_ring_updates_the_call() -> None:
    """DialBegin before the caller leg's NewCallerid: the number still reaches the call."""
    pbx = Pbx()
    pbx.member("QueueMemberAdded", "support", "1001")
    one_c, two_c = pbx.local_pair("5558001", "from-pstn", 1, None)
    pbx.dial_begin(None, one_c, "5558001@from-pstn")
    pbx.state(two_c, 6)
    pbx.queue_event("QueueCallerJoin", two_c, "support", Count="1")
    one, two = ring_agent(pbx, two_c, "1001", 2)
    assert pbx.of("call.ringing")[0]["caller"]["number"] is None
    two_c.number, two_c.caller_name = "5558001", "PSTN 5558001"
    pbx.feed("NewCallerid", 0.01, **pbx.snap(two_c), **{"CID-CallingPres": "0 (Presentation Allowed, Not Screened)"})
    updated = pbx.of("call.updated")
    assert [e["caller"] for e in updated] == [{"number": "5558001", "name": "PSTN 5558001"}]
    answer_agent(pbx, two_c, one, two, "1001", "b-1")
    agent_hangs_up(pbx, two_c, one, two, "b-1", dt=3.0)
    pbx.hangup(one_c)
    assert pbx.of("call.answered")[0]["caller"]["number"] == "5558001"
    assert pbx.of("call.ended")[0]["caller"]["number"] == "5558001"

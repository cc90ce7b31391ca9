"""Scenarios with no transcript of their own, composed from recorded pieces plus built events.

Recorded pieces (transcript 02) carry the call up to the agent talking and its normal ending.
The moments no transcript shows are built from the live channel snapshots, with the header sets
of the Asterisk 22 AMI event documentation (docs.asterisk.org, Asterisk_22_Documentation,
API_Documentation/AMI_Events: AgentRingNoAnswer, DialEnd, Hold, Unhold, MusicOnHoldStart,
MusicOnHoldStop, AttendedTransfer, AgentComplete, Bridge*, Hangup) and the header order the
recordings show for the events they do contain. Facts observed on Asterisk 22 (ARCHITECTURE §10)
shape the order: an unanswered ring gives DialEnd NOANSWER then DialEnd CANCEL for the same leg;
a hold done by moving a leg to music on hold gives only MusicOnHoldStart/Stop, one done by a
phone gives Hold/Unhold; after the member leg leaves, AgentComplete may lack the Dest* headers.

The AttendedTransfer event follows bridge_basic's feature transfer: the transferer channel is both
OrigTransferer and SecondTransferer, OrigBridge is the caller's bridge, SecondBridge the consult
bridge, DestType Bridge with the surviving bridge in DestBridgeUniqueid.
"""

from __future__ import annotations

from collections.abc import Callable

from cti.simulator.calls import CallContext
from cti.simulator.scenarios import T02, T02_PARAMS, Gate, Piece, ScenarioError, Step
from cti.simulator.state import BridgeRecord, ChannelRecord, Headers, snapshot_headers

Message = list[tuple[str, str]]
Builder = Callable[[CallContext], list[Message]]

ANSWERED_HEAD = Piece(T02, 9, 166, params=T02_PARAMS)
ANSWERED_TAIL = Piece(T02, 167, 236, ((167, Gate("talk", 6)),), params=T02_PARAMS)
RING_HEAD = Piece(T02, 9, 93, params=T02_PARAMS)
# The next member is rung as the first was (02 from its AgentCalled on), as parties u4/u5/s2.
NEXT_AGENT = Piece(
    T02,
    64,
    236,
    ((167, Gate("talk", 6)),),
    params=T02_PARAMS,
    skip=frozenset({65}),
    role_map=(("agent", "agent2"), ("agent_name", "agent2_name"), ("u2", "u4"), ("u3", "u5"), ("s1", "s2")),
)

CALLER_LEG, CALLER_LOCAL, AGENT_LEG, AGENT_LOCAL = "u1", "u0", "u2", "u3"
TARGET_LEG, TARGET_LOCAL = "u4", "u5"


def _chan(ctx: CallContext, role: str) -> ChannelRecord | None:
    return ctx.state.channels.get(ctx.binding[role])


def _event(name: str, privilege: str, chan: ChannelRecord, *extra: tuple[str, str]) -> Message:
    return [("Event", name), ("Privilege", privilege), *snapshot_headers(chan), *extra]


def _bridge_headers(bridge: BridgeRecord, count: int, prefix: str = "Bridge") -> Headers:
    fields = bridge.fields
    return [
        (f"{prefix}Uniqueid", bridge.uniqueid),
        (f"{prefix}Type", fields.get("BridgeType", "basic")),
        (f"{prefix}Technology", fields.get("BridgeTechnology", "simple_bridge")),
        (f"{prefix}Creator", fields.get("BridgeCreator", "<unknown>")),
        (f"{prefix}Name", fields.get("BridgeName", "<unknown>")),
        (f"{prefix}NumChannels", str(count)),
        (f"{prefix}VideoSourceMode", fields.get("BridgeVideoSourceMode", "none")),
    ]


def _bridge_move(kind: str, bridge: BridgeRecord, chan: ChannelRecord, count: int) -> Message:
    return [
        ("Event", kind),
        ("Privilege", "call,all"),
        *_bridge_headers(bridge, count),
        *snapshot_headers(chan),
    ]


def _hangup(chan: ChannelRecord, cause: str = "16", text: str = "Normal Clearing") -> Message:
    return _event("Hangup", "call,all", chan, ("Cause", cause), ("Cause-txt", text))


def _device(device: str, state: str) -> Message:
    return [("Event", "DeviceStateChange"), ("Privilege", "call,all"), ("Device", device), ("State", state)]


def _with_state(chan: ChannelRecord, state: str, desc: str) -> ChannelRecord:
    snapshot = {**chan.snapshot, "ChannelState": state, "ChannelStateDesc": desc}
    return ChannelRecord(snapshot=snapshot, created=chan.created, bridge=chan.bridge)


# --- ring, no answer, next agent ------------------------------------------------------------------
def _no_answer(ctx: CallContext) -> list[Message]:
    caller, leg, local = _chan(ctx, CALLER_LEG), _chan(ctx, AGENT_LEG), _chan(ctx, AGENT_LOCAL)
    if caller is None or leg is None or local is None:
        return []
    b = ctx.binding
    ring_ms = str(int(float(b.get("ring", "15")) * 1000))
    dest = snapshot_headers(leg, "Dest")
    return [
        [
            ("Event", "AgentRingNoAnswer"),
            ("Privilege", "agent,all"),
            *snapshot_headers(caller),
            *dest,
            ("Queue", b["queue"]),
            ("MemberName", b["agent_name"]),
            ("Interface", f"Local/{b['agent']}@agents/n"),
            ("RingTime", ring_ms),
        ],
        [
            ("Event", "DialEnd"),
            ("Privilege", "call,all"),
            *snapshot_headers(caller),
            *dest,
            ("DialStatus", "NOANSWER"),
        ],
        [
            ("Event", "DialEnd"),
            ("Privilege", "call,all"),
            *snapshot_headers(caller),
            *dest,
            ("DialStatus", "CANCEL"),
        ],
        _hangup(local, "0", "Unknown"),
        _hangup(leg, "0", "Unknown"),
        _device(f"Local/{b['agent']}@agents", "NOT_INUSE"),
    ]


def ring_no_answer_steps() -> list[Step]:
    steps = RING_HEAD.steps()
    steps.append(Step(0.0, (), 0, Gate("ring", 0.0), _no_answer))
    following = NEXT_AGENT.steps()
    following[0] = Step(0.0, following[0].headers, following[0].seq, Gate("retry", 0.0))
    return steps + following


# --- hold by the agent's phone ----------------------------------------------------------------------
def _hold(ctx: CallContext) -> list[Message]:
    caller, agent = _chan(ctx, CALLER_LEG), _chan(ctx, AGENT_LEG)
    if caller is None or agent is None:
        return []
    return [
        _event("Hold", "call,all", agent, ("MusicClass", "default")),
        _event("MusicOnHoldStart", "call,all", caller, ("Class", "default")),
    ]


def _unhold(ctx: CallContext) -> list[Message]:
    caller, agent = _chan(ctx, CALLER_LEG), _chan(ctx, AGENT_LEG)
    if caller is None or agent is None:
        return []
    return [_event("MusicOnHoldStop", "call,all", caller), _event("Unhold", "call,all", agent)]


def hold_steps() -> list[Step]:
    return [
        *ANSWERED_HEAD.steps(),
        Step(0.0, (), 0, Gate("hold_after", 0.0), _hold),
        Step(0.0, (), 0, Gate("hold", 0.0), _unhold),
        *ANSWERED_TAIL.steps(),
    ]


# --- hold by moving both legs out of the bridge (the CTI's Redirect + ExtraChannel), then Bridge -------
def _moved(chan: ChannelRecord, context: str, exten: str, app: str, data: str) -> list[Message]:
    snapshot = {**chan.snapshot, "Context": context, "Exten": exten, "Priority": "1"}
    moved = ChannelRecord(snapshot=snapshot, created=chan.created)
    return [
        _event(
            "Newexten", "dialplan,all", moved, ("Extension", exten), ("Application", app), ("AppData", data)
        )
    ]


def hold_by_redirect(ctx: CallContext) -> list[Message]:
    """Caller to ``cc-hold``/hold (music), agent leg to ``cc-hold``/wait; their bridge ends."""
    caller, agent = _chan(ctx, CALLER_LEG), _chan(ctx, AGENT_LEG)
    bridge = ctx.state.bridges.get(ctx.binding["b0"])
    if caller is None or agent is None or bridge is None:
        return []
    return [
        _bridge_move("BridgeLeave", bridge, caller, 1),
        _bridge_move("BridgeLeave", bridge, agent, 0),
        [("Event", "BridgeDestroy"), ("Privilege", "call,all"), *_bridge_headers(bridge, 0)],
        *_moved(caller, "cc-hold", "hold", "MusicOnHold", "default"),
        _event("MusicOnHoldStart", "call,all", caller, ("Class", "default")),
        *_moved(agent, "cc-hold", "wait", "Wait", "3600"),
    ]


def rebridge(ctx: CallContext) -> list[Message]:
    """The Bridge action puts caller and agent leg together again, in a new bridge."""
    caller, agent = _chan(ctx, CALLER_LEG), _chan(ctx, AGENT_LEG)
    if caller is None or agent is None:
        return []
    bridge = BridgeRecord(ctx.binding.renew("b0"), {})
    return [
        [("Event", "BridgeCreate"), ("Privilege", "call,all"), *_bridge_headers(bridge, 0)],
        _event("MusicOnHoldStop", "call,all", caller),
        _bridge_move("BridgeEnter", bridge, caller, 1),
        _bridge_move("BridgeEnter", bridge, agent, 2),
    ]


# --- attended transfer --------------------------------------------------------------------------------
def _new_target_channel(ctx: CallContext, role: str, leg: str) -> ChannelRecord:
    b = ctx.binding
    agent = _chan(ctx, AGENT_LEG)
    linkedid = agent.linkedid if agent else b["u0"]
    snapshot = {
        "Channel": f"Local/{b['agent2']}@agents-{b['s2']};{leg}",
        "ChannelState": "0",
        "ChannelStateDesc": "Down",
        "CallerIDNum": b["agent"],
        "CallerIDName": b["agent_name"],
        "ConnectedLineNum": "<unknown>",
        "ConnectedLineName": "<unknown>",
        "Language": "en",
        "AccountCode": "",
        "Context": "agents",
        "Exten": b["agent2"],
        "Priority": "1",
        "Uniqueid": b[role],
        "Linkedid": linkedid,
    }
    return ChannelRecord(snapshot=snapshot, created=ctx.now)


def _consult_start(ctx: CallContext) -> list[Message]:
    """The agent leaves the caller's bridge (caller hears music) and rings the colleague."""
    caller, agent = _chan(ctx, CALLER_LEG), _chan(ctx, AGENT_LEG)
    bridge = ctx.state.bridges.get(ctx.binding["b0"])
    if caller is None or agent is None or bridge is None:
        return []
    one, two = _new_target_channel(ctx, TARGET_LEG, "1"), _new_target_channel(ctx, TARGET_LOCAL, "2")
    target = ctx.binding["agent2"]
    return [
        _event("MusicOnHoldStart", "call,all", caller, ("Class", "default")),
        _event("Newchannel", "call,all", one),
        _event("Newchannel", "call,all", two),
        [
            ("Event", "DialBegin"),
            ("Privilege", "call,all"),
            *snapshot_headers(agent),
            *snapshot_headers(one, "Dest"),
            ("DialString", f"{target}@agents/n"),
        ],
        # the transferer leaves the caller's bridge for the consultation once the target rings
        _bridge_move("BridgeLeave", bridge, agent, len(bridge.channels) - 1),
        _device(f"Local/{target}@agents", "INUSE"),
    ]


def _consult_answered(ctx: CallContext) -> list[Message]:
    agent, one, two = _chan(ctx, AGENT_LEG), _chan(ctx, TARGET_LEG), _chan(ctx, TARGET_LOCAL)
    if agent is None or one is None or two is None:
        return []
    up_one, up_two = _with_state(one, "6", "Up"), _with_state(two, "6", "Up")
    consult = BridgeRecord(ctx.binding["b1"], {})
    target = ctx.binding["agent2"]
    return [
        _event("Newstate", "call,all", up_two),
        _event("Newstate", "call,all", up_one),
        [
            ("Event", "DialEnd"),
            ("Privilege", "call,all"),
            *snapshot_headers(agent),
            *snapshot_headers(up_one, "Dest"),
            ("DialStatus", "ANSWER"),
        ],
        [("Event", "BridgeCreate"), ("Privilege", "call,all"), *_bridge_headers(consult, 0)],
        _bridge_move("BridgeEnter", consult, agent, 1),
        _bridge_move("BridgeEnter", consult, up_one, 2),
        _device(f"Custom:{target}", "INUSE"),
    ]


def _transfer_complete(ctx: CallContext) -> list[Message]:
    """The agent completes: AttendedTransfer, the agent's legs end, the colleague joins the caller."""
    b = ctx.binding
    caller, agent, local = _chan(ctx, CALLER_LEG), _chan(ctx, AGENT_LEG), _chan(ctx, AGENT_LOCAL)
    target = _chan(ctx, TARGET_LEG)
    main, consult = ctx.state.bridges.get(b["b0"]), ctx.state.bridges.get(b["b1"])
    if None in (caller, agent, local, target, main, consult):
        return []
    assert caller and agent and local and target and main and consult
    transfer: Message = [
        ("Event", "AttendedTransfer"),
        ("Privilege", "call,all"),
        ("Result", "Success"),
        *snapshot_headers(agent, "OrigTransferer"),
        *_bridge_headers(main, len(main.channels), "OrigBridge"),
        *snapshot_headers(agent, "SecondTransferer"),
        *_bridge_headers(consult, len(consult.channels), "SecondBridge"),
        *snapshot_headers(caller, "Transferee"),
        *snapshot_headers(target, "TransferTarget"),
        ("IsExternal", "No"),
        ("DestType", "Bridge"),
        ("DestBridgeUniqueid", main.uniqueid),
    ]
    complete: Message = [
        ("Event", "AgentComplete"),
        ("Privilege", "agent,all"),
        *snapshot_headers(caller),
        ("Queue", b["queue"]),
        ("Interface", f"Local/{b['agent']}@agents/n"),
        ("MemberName", b["agent_name"]),
        ("HoldTime", "2"),
        ("TalkTime", str(int(float(b.get("talk", "0"))))),
        ("Reason", "transfer"),
    ]
    return [
        transfer,
        _bridge_move("BridgeLeave", consult, agent, 1),
        _hangup(local),
        _hangup(agent),
        complete,
        _device(f"Custom:{b['agent']}", "NOT_INUSE"),
        _device(f"Local/{b['agent']}@agents", "NOT_INUSE"),
        _bridge_move("BridgeLeave", consult, target, 0),
        [("Event", "BridgeDestroy"), ("Privilege", "call,all"), *_bridge_headers(consult, 0)],
        _bridge_move("BridgeEnter", main, target, 2),
        _event("MusicOnHoldStop", "call,all", caller),
    ]


def _target_hangs_up(ctx: CallContext) -> list[Message]:
    b = ctx.binding
    caller, local_caller = _chan(ctx, CALLER_LEG), _chan(ctx, CALLER_LOCAL)
    target, target_local = _chan(ctx, TARGET_LEG), _chan(ctx, TARGET_LOCAL)
    main = ctx.state.bridges.get(b["b0"])
    if None in (caller, local_caller, target, target_local, main):
        return []
    assert caller and local_caller and target and target_local and main
    return [
        _hangup(target_local),
        _device(f"Custom:{b['agent2']}", "NOT_INUSE"),
        _bridge_move("BridgeLeave", main, target, 1),
        _hangup(target),
        _device(f"Local/{b['agent2']}@agents", "NOT_INUSE"),
        _bridge_move("BridgeLeave", main, caller, 0),
        [("Event", "BridgeDestroy"), ("Privilege", "call,all"), *_bridge_headers(main, 0)],
        _hangup(caller),
        _event("MusicOnHoldStop", "call,all", local_caller),
        _hangup(local_caller),
        _device(f"Local/{b['caller']}@from-pstn", "NOT_INUSE"),
    ]


def attended_tail() -> list[Step]:
    """What follows an Atxfer from the agent leg: consult, complete, talk, the colleague hangs up."""
    return [
        Step(0.0, (), 0, None, _consult_start),
        Step(2.0, (), 0, None, _consult_answered),
        Step(0.0, (), 0, Gate("consult", 0.0), _transfer_complete),
        Step(0.0, (), 0, Gate("talk", 0.0), _target_hangs_up),
    ]


def attended_steps() -> list[Step]:
    tail = attended_tail()
    tail[0] = Step(0.0, (), 0, Gate("consult_after", 0.0), _consult_start)
    return [*ANSWERED_HEAD.steps(), *tail]


_COMPOSED: dict[str, Callable[[], list[Step]]] = {
    "ring_no_answer_next_agent": ring_no_answer_steps,
    "hold": hold_steps,
    "attended_transfer": attended_steps,
}


def steps(name: str) -> list[Step]:
    try:
        return _COMPOSED[name]()
    except KeyError as exc:
        raise ScenarioError(f"no composed scenario {name!r}") from exc

"""Scenarios with no transcript of their own, composed from recorded pieces.

The head of transcript 02 carries an answered queue call up to the agent talking. The desk's
hold (10), attended transfer (09) and three-way (11) continue it with the pieces recorded after
the same head on Asterisk 22.10.1; the roles line up because the parties appear in the same
order. Only ring-no-answer is still built: its moment (AgentRingNoAnswer, then DialEnd NOANSWER
and DialEnd CANCEL for the same leg, ARCHITECTURE §10) is made from the live channel snapshots
with the header sets of the Asterisk 22 AMI event documentation.
"""

from __future__ import annotations

from collections.abc import Callable

from cti.simulator.calls import CallContext
from cti.simulator.scenarios import (
    ATXFER_COMPLETE,
    ATXFER_CONSULT,
    CONFERENCE_END,
    CONFERENCE_INVITE,
    CONFERENCE_MOVE,
    HOLD_OFF,
    HOLD_ON,
    T02,
    T02_PARAMS,
    Gate,
    Piece,
    ScenarioError,
    Step,
)
from cti.simulator.state import ChannelRecord, snapshot_headers

Message = list[tuple[str, str]]
Builder = Callable[[CallContext], list[Message]]

ANSWERED_HEAD = Piece(T02, 9, 166, params=T02_PARAMS)
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

CALLER_LEG, AGENT_LEG, AGENT_LOCAL = "u1", "u2", "u3"


def _chan(ctx: CallContext, role: str) -> ChannelRecord | None:
    return ctx.state.channels.get(ctx.binding[role])


def _event(name: str, privilege: str, chan: ChannelRecord, *extra: tuple[str, str]) -> Message:
    return [("Event", name), ("Privilege", privilege), *snapshot_headers(chan), *extra]


def _hangup(chan: ChannelRecord, cause: str = "16", text: str = "Normal Clearing") -> Message:
    return _event("Hangup", "call,all", chan, ("Cause", cause), ("Cause-txt", text))


def _device(device: str, state: str) -> Message:
    return [("Event", "DeviceStateChange"), ("Privilege", "call,all"), ("Device", device), ("State", state)]


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


# --- the desk's hold, attended transfer and three-way, from their recordings -------------------------
def _gated(steps: list[Step], param: str) -> list[Step]:
    """The first step waits ``param`` seconds (from the call's start of talk) instead of none."""
    first = steps[0]
    return [Step(0.0, first.headers, first.seq, Gate(param, 0.0), first.build), *steps[1:]]


def hold_tail() -> list[Step]:
    """What follows the CTI's hold Redirect (transcript 10): music, then the Bridge back."""
    return [*HOLD_ON.steps(), *HOLD_OFF.steps()]


def attended_tail() -> list[Step]:
    """What follows an Atxfer from the agent leg (transcript 09): consult, complete, talk."""
    return [*ATXFER_CONSULT.steps(), *ATXFER_COMPLETE.steps()]


def conference_tail() -> list[Step]:
    """What follows the three-way Redirect into ConfBridge (transcript 11)."""
    return [*CONFERENCE_MOVE.steps(), *CONFERENCE_INVITE.steps(), *CONFERENCE_END.steps()]


def hold_steps() -> list[Step]:
    return [*ANSWERED_HEAD.steps(), *_gated(hold_tail(), "hold_after")]


def attended_steps() -> list[Step]:
    return [*ANSWERED_HEAD.steps(), *_gated(attended_tail(), "consult_after")]


def three_way_steps() -> list[Step]:
    return [*ANSWERED_HEAD.steps(), *_gated(conference_tail(), "three_way_after")]


_COMPOSED: dict[str, Callable[[], list[Step]]] = {
    "ring_no_answer_next_agent": ring_no_answer_steps,
    "hold": hold_steps,
    "attended_transfer": attended_steps,
    "three_way": three_way_steps,
}


def steps(name: str) -> list[Step]:
    try:
        return _COMPOSED[name]()
    except KeyError as exc:
        raise ScenarioError(f"no composed scenario {name!r}") from exc

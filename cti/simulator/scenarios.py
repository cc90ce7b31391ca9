"""The catalogue of simulated calls: which recorded pieces make each scenario, and their knobs.

A scenario is a list of ``Piece``s, each a slice of one transcript (by ``_seq``). Call-specific
literals become roles (see ``templates``); a few recorded durations become parameters through
``Gate``s: the silence before a given event is stretched or shrunk so that, for example, the
agent talks ``talk`` seconds instead of the recorded 6. Pieces recorded in different transcripts
splice because their roles line up (same parties in the same order): the head of transcript 02
and the Redirect tail of transcript 06 make a blind transfer of any answered call.

Pure data and pure functions; ``calls.CallRunner`` plays the resulting steps over time.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from cti.simulator.templates import CLOSE, OPEN, TemplateEvent, TemplateSpec, compile_template, roles_of


class ScenarioError(Exception):
    """A scenario name or parameter the simulator cannot play."""


@dataclass(frozen=True, slots=True)
class Gate:
    """Before this event, wait the recorded gap adjusted by ``param - recorded`` seconds."""

    param: str
    recorded: float


@dataclass(frozen=True, slots=True)
class Step:
    """One event to emit after ``delay`` recorded seconds, or a ``build`` that makes events from
    the live state when it is due (used by the composed scenarios)."""

    delay: float
    headers: tuple[tuple[str, str], ...]
    seq: int
    gate: Gate | None = None
    build: Callable[[Any], list[list[tuple[str, str]]]] | None = None


@dataclass(frozen=True, slots=True)
class Piece:
    spec: TemplateSpec
    first: int
    last: int
    gates: tuple[tuple[int, Gate], ...] = ()
    cti: frozenset[int] = frozenset()
    role_map: tuple[tuple[str, str], ...] = ()
    params: tuple[tuple[str, str], ...] = ()
    skip: frozenset[int] = frozenset()

    def steps(self, with_cti: bool = True) -> list[Step]:
        """The piece's events as steps: delay since the previous kept event, gates marked."""
        out: list[Step] = []
        prev_t = _time_before(self.spec, self.first)
        gates = dict(self.gates)
        for event in _events(self):
            if (not with_cti and event.seq in self.cti) or event.seq in self.skip:
                continue
            delay = max(0.0, event.t - prev_t)
            prev_t = event.t
            out.append(Step(delay, event.headers, event.seq, gates.get(event.seq)))
        return out


def _time_before(spec: TemplateSpec, seq: int) -> float:
    """Recorded time of the last event before ``seq`` (so a piece keeps its leading silence)."""
    before = [e.t for e in compile_template(spec) if e.seq < seq]
    return before[-1] if before else 0.0


@cache
def _events(piece: Piece) -> tuple[TemplateEvent, ...]:
    rename = dict(piece.role_map)
    params = dict(piece.params)
    out = []
    for event in compile_template(piece.spec):
        if piece.first <= event.seq <= piece.last:
            headers = _parametrise(event.headers, params)
            if rename:
                headers = tuple((k, _rename(v, rename)) for k, v in headers)
            out.append(TemplateEvent(event.t, event.seq, headers))
    return tuple(out)


_ROLE = re.compile(f"{OPEN}([^{CLOSE}]+){CLOSE}")


def _rename(value: str, rename: dict[str, str]) -> str:
    return _ROLE.sub(lambda m: f"{OPEN}{rename.get(m.group(1), m.group(1))}{CLOSE}", value)


def _parametrise(headers: tuple[tuple[str, str], ...], params: dict[str, str]) -> tuple[tuple[str, str], ...]:
    """Turn recorded durations into ``⟦talk⟧``-style roles where the dialplan shows them."""
    if not params:
        return headers
    h = dict(headers)
    talk, hold, ivr = params.get("talk"), params.get("moh"), params.get("ivr_choice")
    out = []
    for key, value in headers:
        if talk is not None:
            if key == "AppData" and h.get("Application") == "Wait" and value == talk:
                value = f"{OPEN}talk{CLOSE}"
            elif key == "AppData" and value == f"TALK={talk}":
                value = f"TALK={OPEN}talk{CLOSE}"
            elif key == "Value" and h.get("Variable") in ("TALK", "__AGENT_TALK") and value == talk:
                value = f"{OPEN}talk{CLOSE}"
        if ivr is not None and key == "Value" and h.get("Variable", "").lstrip("_") in _IVR_VARIABLES:
            value = f"{OPEN}{_IVR_VARIABLES[h['Variable'].lstrip('_')]}{CLOSE}"
        elif ivr is not None and key == "AppData" and value == f"AGISTATUS=SUCCESS IVR_CHOICE={ivr}":
            value = f"AGISTATUS=SUCCESS IVR_CHOICE={OPEN}ivr_choice{CLOSE}"
        if hold is not None and key in ("AppData", "Data", "LastData", "ApplicationData"):
            value = value.replace(f"default,{hold}", f"default,{OPEN}moh{CLOSE}")
        out.append((key, value))
    return tuple(out)


# what the recorded FastAGI session of transcript 02 set; the demo's IVR decides its own
_IVR_VARIABLES = {"IVR_CHOICE": "ivr_choice", "CRM_CONTACT_ID": "crm_contact_id"}


def _spec(file: str, **literals: str) -> TemplateSpec:
    return TemplateSpec(file, tuple((literal, role) for role, literal in literals.items()))


def _caller(num: str) -> dict[str, str]:
    return {"caller": num, "caller_name": f"PSTN {num}"}


def _agent(ext: str, role: str = "agent") -> dict[str, str]:
    return {role: ext, f"{role}_name": f"Agent {ext}"}


T01 = _spec("01_agent_login_pause_remove", **_agent("1001"), queue="support", queue2="sales")
T02 = _spec("02_inbound_answered_agent_hangup", **_caller("5551234"), **_agent("1001"), queue="support")
T03 = _spec("03_inbound_abandon", **_caller("5551235"), **_agent("1001"), queue="support")
T04 = _spec("04_inbound_recorded_mixmonitor", **_caller("5551236"), **_agent("1001"), queue="support")
T05 = _spec("05_click_to_dial", **_agent("1001"), number="5559999")
T06 = _spec(
    "06_blind_transfer_redirect",
    **_caller("5551237"),
    **_agent("1001"),
    **_agent("1002", "agent2"),
    queue="support",
)
T07 = _spec("07_voicemail_leave", **_caller("5551238"), mailbox="100")
T08 = _spec(
    "08_status_queries_during_call",
    **_caller("5551240"),
    caller2="5551241",
    caller2_name="PSTN 5551241",
    **_agent("1001"),
    **_agent("1002", "agent2"),
    queue="support",
)

T09 = _spec(
    "09_attended_transfer_atxfer",
    **_caller("5551250"),
    **_agent("1001"),
    **_agent("1002", "agent2"),
    queue="support",
)
T14 = _spec(
    "14_attended_transfer_cancelled",
    **_caller("5551255"),
    **_agent("1001"),
    **_agent("1002", "agent2"),
    queue="support",
)
T10 = _spec("10_hold_redirect_bridge", **_caller("5551251"), **_agent("1001"), queue="support")
T11 = _spec(
    "11_three_way_confbridge",
    **_caller("5551252"),
    **_agent("1001"),
    **_agent("1002", "agent2"),
    queue="support",
    room="4242",
)
T12 = _spec("12_supervisor_chanspy", **_caller("5551253"), **_agent("1001"), supervisor="1003", queue="support")
T13 = _spec("13_post_call_survey", **_caller("5551254"), **_agent("1001"), queue="support")
# Dialplan cases recorded from Asterisk 22 (tests/fixtures/ami/record_dialplan_scenarios.py)
T20 = _spec("20_caller_id_rewrite", **_caller("5558001"), **_agent("1001"), queue="support")
T21 = _spec(
    "21_directed_pickup",
    **_caller("5558002"),
    **_agent("1001"),
    picker="1002",
    picker_name="Phone 1002",
    queue="support",
)
T22 = _spec("22_blind_transfer_no_answer", **_caller("5558003"), **_agent("1001"), target="1099", queue="support")


def _roles(headers: tuple[tuple[str, str], ...]) -> set[str]:
    return {role for _, value in headers for role in roles_of(value)}


# --- pieces (seq ranges checked against the transcripts by tests/test_simulator_templates.py) ---------
T02_PARAMS = (("talk", "6"), ("ivr_choice", "1"))
INBOUND_ANSWERED = Piece(T02, 9, 236, ((167, Gate("talk", 6)),), params=T02_PARAMS)
INBOUND_ABANDON = Piece(T03, 9, 102, ((55, Gate("moh", 8)),), params=(("moh", "8"),))
INBOUND_RECORDED = Piece(
    T04,
    9,
    239,
    ((170, Gate("talk", 10)),),
    cti=frozenset({155, 156, 157, 158, 163, 165, 167, 168, 169}),
    params=(("talk", "10"),),
)
CLICK_TO_DIAL = Piece(T05, 6, 156, ((108, Gate("talk", 8)),), params=(("talk", "8"),))
TRANSFER_HEAD = Piece(T06, 9, 154, params=(("talk", "12"),))
# The caller leg is redirected to ``internal``/agent2; agent2 answers and talks ``talk`` seconds.
TRANSFER_TAIL = Piece(
    T06, 156, 318, ((156, Gate("transfer_after", 0.571)), (268, Gate("talk", 12))), params=(("talk", "12"),)
)
VOICEMAIL = Piece(T07, 7, 63, ((45, Gate("moh", 25)),), params=(("moh", "25"),))
# A caller still waiting in the queue is hung up by a Hangup action (transcript 08, the second caller).
WAITING_HANGUP = Piece(
    T08,
    232,
    279,
    role_map=(
        ("caller2", "caller"),
        ("caller2_name", "caller_name"),
        ("s2", "s0"),
        ("u4", "u0"),
        ("u5", "u1"),
    ),
)


# Atxfer from the agent leg (09): the consultation with agent2 up to its answer; then, when the agent
# leaves (a Hangup of the agent leg, the desk's "complete", or after ``consult`` seconds) the
# AttendedTransfer joins caller and agent2, who talks ``talk`` seconds.
ATXFER_CONSULT = Piece(T09, 157, 300, params=(("talk", "12"),))
ATXFER_COMPLETE = Piece(T09, 302, 460, ((302, Gate("consult", 0.0)), (390, Gate("talk", 12))), params=(("talk", "12"),))
# The consultation hung up instead (14, the same consultation as 09 up to its seq 300): the agent
# leg is back in the caller's bridge (Unhold) and the agent talks on.
ATXFER_CANCEL = Piece(T14, 302, 430, ((358, Gate("talk", 10.91)),), params=(("talk", "12"),))
# The CTI's hold (10): one Redirect moves the caller to cc-hold music and the agent leg to cc-hold
# wait; the Bridge action (or ``hold`` seconds) joins them in a new bridge; the agent talks on.
HOLD_ON = Piece(T10, 157, 194, params=(("talk", "15"),))
HOLD_OFF = Piece(T10, 196, 249, ((196, Gate("hold", 2.0)), (205, Gate("talk", 15))), params=(("talk", "15"),))
# Three-way (11): one Redirect moves caller and agent leg into ConfBridge(room); the Originate of
# agent2 into the room (or ``invite`` seconds) brings the third party; both agents talk and leave;
# the caller, alone, hangs up on a Hangup action (or after ``alone`` seconds).
# The recorded Redirect and Originate came 0.1 ms apart, so their events interleave; the events about
# the third party (u4/u5/s2) go after the invite, so both parties have joined before it is sent.
_BOTH_MOVED = frozenset(e.seq for e in compile_template(T11) if 181 < e.seq < 206)
_THIRD_PARTY = frozenset(
    e.seq for e in compile_template(T11) if e.seq in _BOTH_MOVED and {"u4", "u5", "s2"} & _roles(e.headers)
)
CONFERENCE_MOVE = Piece(T11, 155, 205, skip=_THIRD_PARTY)
CONFERENCE_INVITE = Piece(
    T11,
    182,
    325,
    ((182, Gate("invite", 0.0)),),
    skip=_BOTH_MOVED - _THIRD_PARTY,
)
CONFERENCE_END = Piece(T11, 327, 355, ((327, Gate("alone", 0.0)),))
# Supervisor ChanSpy (12): one session each of listen (q), whisper (qw) and barge (qB) on the agent
# leg, as parties u4/u5/s2; the supervisor stays ``talk`` seconds.


_SPIES = (("u4", "u5", "s2"), ("u6", "u7", "s3"), ("u8", "u9", "s4"))  # the three sessions' parties


def _spy_session(first: int, last: int, talk_seq: int, spy: tuple[str, str, str]) -> Piece:
    """The events of one spy session whose parties are ``spy`` (its two legs, its suffix), as
    u4/u5/s2; the spied call's own events of the same seconds are left to that call, and a late
    event of an earlier session to that session."""
    own = frozenset(spy) | {"supervisor"}
    foreign = frozenset(role for other in _SPIES if other != spy for role in other)
    others = frozenset(
        e.seq
        for e in compile_template(T12)
        if first <= e.seq <= last and (not own & _roles(e.headers) or foreign & _roles(e.headers))
    )
    rename = tuple((role, new) for role, new in zip(spy, _SPIES[0], strict=True) if role != new)
    return Piece(T12, first, last, ((talk_seq, Gate("talk", 3.0)),), role_map=rename, skip=others)


SPY_SESSIONS = {
    "q": _spy_session(158, 242, 217, _SPIES[0]),
    "qw": _spy_session(244, 313, 290, _SPIES[1]),
    "qB": _spy_session(315, 396, 367, _SPIES[2]),
}
# Queue option c (13): the agent hangs up after ``talk`` seconds, the caller goes on into AGI(survey).
INBOUND_SURVEY = Piece(T13, 10, 253, ((167, Gate("talk", 4.0)),), params=(("talk", "4"),))


# 20: the caller's number arrives after the Dial began (NewCallerid), the agent talks 3 s.
CALLER_ID_LATE = Piece(T20, 11, 237)
# 21: the agent rings without answering; another phone dials *8<agent> (PickupChan) and takes the call.
# The recording's reply to the picking phone's Originate (96) splits it in two.
PICKUP_RINGING = Piece(T21, 11, 95)
PICKUP_TAKEN = Piece(T21, 97, 262)
# 22: the agent answers, the caller is redirected to 1099, which rings 6 s and gives up; the recording's
# reply to the Redirect (170) splits it in two.
TRANSFER_NO_ANSWER_HEAD = Piece(T22, 10, 169)
TRANSFER_NO_ANSWER_TAIL = Piece(T22, 171, 303)


@dataclass(frozen=True, slots=True)
class ScenarioDef:
    name: str
    kind: str  # inbound / outbound / voicemail / members / composed
    pieces: tuple[Piece, ...] = ()
    defaults: Mapping[str, str] = field(default_factory=dict)
    description: str = ""


_INBOUND_DEFAULTS = {
    "caller": "5551234",
    "caller_name": "PSTN 5551234",
    "queue": "support",
    "talk": "30",
    # what the recorded IVR session answered; the demo traffic passes its own
    "ivr_choice": "1",
    "crm_contact_id": "42",
}

SCENARIOS: dict[str, ScenarioDef] = {
    "inbound_answered": ScenarioDef(
        "inbound_answered",
        "inbound",
        (INBOUND_ANSWERED,),
        _INBOUND_DEFAULTS,
        "Caller through IVR into a queue, answered by an agent who hangs up (transcript 02).",
    ),
    "inbound_abandon": ScenarioDef(
        "inbound_abandon",
        "inbound",
        (INBOUND_ABANDON,),
        {**_INBOUND_DEFAULTS, "moh": "8"},
        "Caller waits in a queue with no available agent and hangs up (transcript 03).",
    ),
    "inbound_recorded": ScenarioDef(
        "inbound_recorded",
        "inbound",
        (INBOUND_RECORDED,),
        _INBOUND_DEFAULTS,
        "Recorded queue call: MixMonitor in the dialplan and on the agent leg (transcript 04).",
    ),
    "click_to_dial": ScenarioDef(
        "click_to_dial",
        "outbound",
        (CLICK_TO_DIAL,),
        {"number": "5559999", "talk": "30"},
        "Agent's phone rings first, then the customer is dialled (transcript 05).",
    ),
    "blind_transfer": ScenarioDef(
        "blind_transfer",
        "inbound",
        (TRANSFER_HEAD, TRANSFER_TAIL),
        {**_INBOUND_DEFAULTS, "agent2": "1002", "transfer_after": "0.571"},
        "Answered call redirected to another agent's extension (transcript 06).",
    ),
    "inbound_survey": ScenarioDef(
        "inbound_survey",
        "inbound",
        (INBOUND_SURVEY,),
        _INBOUND_DEFAULTS,
        "Answered queue call; after the agent hangs up the caller takes the survey (transcript 13).",
    ),
    "caller_id_late": ScenarioDef(
        "caller_id_late",
        "inbound",
        (CALLER_ID_LATE,),
        {**_INBOUND_DEFAULTS, "caller": "5558001"},
        "The dialplan sets the caller's number after the Dial began (NewCallerid); answered (transcript 20).",
    ),
    "pickup": ScenarioDef(
        "pickup",
        "inbound",
        (PICKUP_RINGING, PICKUP_TAKEN),
        {**_INBOUND_DEFAULTS, "caller": "5558002", "picker": "1002", "picker_name": "Phone 1002"},
        "The agent rings, another phone picks the call up with *8<agent> (PickupChan, transcript 21).",
    ),
    "blind_transfer_no_answer": ScenarioDef(
        "blind_transfer_no_answer",
        "inbound",
        (TRANSFER_NO_ANSWER_HEAD, TRANSFER_NO_ANSWER_TAIL),
        {**_INBOUND_DEFAULTS, "caller": "5558003", "target": "1099"},
        "Answered call blind-transferred to an extension that rings 6 s unanswered (transcript 22).",
    ),
    "voicemail": ScenarioDef(
        "voicemail",
        "voicemail",
        (VOICEMAIL,),
        {"caller": "5551238", "caller_name": "PSTN 5551238", "mailbox": "100", "moh": "25"},
        "Caller leaves a voicemail message (transcript 07).",
    ),
    "agent_login_pause": ScenarioDef(
        "agent_login_pause",
        "members",
        (),
        {"queue": "support", "queue2": "sales"},
        "Agent joins two queues, pauses in one, in all, unpauses and leaves (transcript 01).",
    ),
    "ring_no_answer_next_agent": ScenarioDef(
        "ring_no_answer_next_agent",
        "composed",
        (),
        {**_INBOUND_DEFAULTS, "agent2": "1002", "ring": "15", "retry": "2"},
        "First agent does not answer (AgentRingNoAnswer), the next one does.",
    ),
    "attended_transfer": ScenarioDef(
        "attended_transfer",
        "composed",
        (),
        {**_INBOUND_DEFAULTS, "agent2": "1002", "consult": "5", "consult_after": "3"},
        "Agent consults a colleague with Atxfer, then completes the transfer (transcript 09).",
    ),
    "hold": ScenarioDef(
        "hold",
        "composed",
        (),
        {**_INBOUND_DEFAULTS, "hold": "5", "hold_after": "3"},
        "Agent puts the caller on hold (Redirect to cc-hold) and takes the call back (Bridge, transcript 10).",
    ),
    "three_way": ScenarioDef(
        "three_way",
        "composed",
        (),
        {**_INBOUND_DEFAULTS, "agent2": "1002", "room": "4242", "invite": "0", "alone": "1", "three_way_after": "3"},
        "Agent brings a colleague into a three-way ConfBridge with the caller (transcript 11).",
    ),
}


def scenario(name: str) -> ScenarioDef:
    try:
        return SCENARIOS[name]
    except KeyError as exc:
        known = ", ".join(sorted(SCENARIOS))
        raise ScenarioError(f"unknown scenario {name!r} (known: {known})") from exc


def gate_delay(step: Step, params: Mapping[str, str]) -> float:
    """The real (unscaled) silence before a step, with its gate's parameter applied."""
    if step.gate is None:
        return step.delay
    try:
        wanted = float(params[step.gate.param])
    except (KeyError, ValueError) as exc:
        raise ScenarioError(f"parameter {step.gate.param!r} must be a number of seconds") from exc
    if step.gate.param == "transfer_after":
        return max(0.0, wanted)
    return max(0.0, step.delay + wanted - step.gate.recorded)

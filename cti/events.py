"""The domain events every part of the platform speaks (ARCHITECTURE section 3).

At runtime an event is a plain dict: ``{"type", "ts", "pbx", ...fields}``. ``ts`` is ISO-8601 UTC
with milliseconds and a ``Z`` (the PBX event time); ``seq`` is added by the bus (and by replay).
The TypedDicts below declare the shapes once, for type checkers and readers; nothing validates
them in the hot path.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Literal, NotRequired, TypedDict

Event = dict[str, Any]

CALL_NEW = "call.new"
CALL_RINGING = "call.ringing"
CALL_ANSWERED = "call.answered"
CALL_HOLD = "call.hold"
CALL_UNHOLD = "call.unhold"
CALL_TRANSFERRED = "call.transferred"
CALL_TRANSFER_FAILED = "call.transfer_failed"
CALL_UPDATED = "call.updated"
CALL_CONFERENCE = "call.conference"
CALL_HANGUP = "call.hangup"
CALL_ENDED = "call.ended"
QUEUE_JOINED = "queue.joined"
QUEUE_LEFT = "queue.left"
QUEUE_ABANDONED = "queue.abandoned"
QUEUE_STATS = "queue.stats"
AGENT_STATE = "agent.state"
SCREEN_POP = "screen.pop"
IVR_STEP = "ivr.step"
RECORDING_READY = "recording.ready"
VOICEMAIL_NEW = "voicemail.new"
SURVEY_SCORED = "survey.scored"

TRACKER_EVENT_TYPES = (
    CALL_NEW,
    CALL_RINGING,
    CALL_ANSWERED,
    CALL_HOLD,
    CALL_UNHOLD,
    CALL_TRANSFERRED,
    CALL_TRANSFER_FAILED,
    CALL_UPDATED,
    CALL_CONFERENCE,
    CALL_HANGUP,
    CALL_ENDED,
    QUEUE_JOINED,
    QUEUE_LEFT,
    QUEUE_ABANDONED,
    AGENT_STATE,
)

Direction = Literal["inbound", "outbound", "internal"]
HangupBy = Literal["caller", "callee", "system"]
Disposition = Literal["answered", "abandoned", "no_answer", "busy", "failed", "voicemail"]
AgentStateName = Literal["logged_out", "available", "ringing", "on_call", "wrap_up", "paused"]
TransferKind = Literal["blind", "attended", "blonde"]
TransferResult = Literal["success", "failed"]


class Party(TypedDict):
    number: str | None
    name: str | None


class Callee(TypedDict):
    number: str | None
    name: str | None
    extension: str | None


class _Envelope(TypedDict):
    type: str
    ts: str
    pbx: str
    seq: NotRequired[int]


class CallNew(_Envelope):
    call_id: str
    direction: Direction
    caller: Party
    dialed: str | None


class CallRinging(_Envelope):
    call_id: str
    channel: str
    caller: Party
    callee: Callee
    agent: str | None
    queue: str | None


class CallAnswered(CallRinging):
    wait_s: float


class CallHold(_Envelope):
    """Also the shape of ``call.unhold``."""

    call_id: str
    channel: str


# "from" is a Python keyword, so this shape is declared in the functional form.
CallTransferred = TypedDict(
    "CallTransferred",
    {
        "type": str,
        "ts": str,
        "pbx": str,
        "seq": NotRequired[int],
        "call_id": str,
        "kind": TransferKind,
        "from": str | None,
        "to": str | None,
        "new_call_id": str | None,
        "result": NotRequired[TransferResult],
    },
)

# ``call.transfer_failed``: a transfer that did not reach its target (the target was down, busy, did
# not answer, or the transfer request itself failed). Never counted as a transfer.
CallTransferFailed = TypedDict(
    "CallTransferFailed",
    {
        "type": str,
        "ts": str,
        "pbx": str,
        "seq": NotRequired[int],
        "call_id": str,
        "kind": TransferKind,
        "from": str | None,
        "to": str | None,
        "new_call_id": str | None,
        "result": TransferResult,
        "reason": str,
    },
)


class CallUpdated(_Envelope):
    """The dialplan changed the caller's number or name after ``call.new`` (NewCallerid)."""

    call_id: str
    caller: Party


class CallConference(_Envelope):
    call_id: str
    parties: list[str]


class CallHangup(_Envelope):
    call_id: str
    channel: str
    cause: int
    cause_text: str
    hangup_by: HangupBy


class CallLeg(TypedDict):
    """One answered callee of a call: talk time per agent leg (a transfer gives two)."""

    channel: str
    number: str | None
    agent: str | None
    talk_s: float


class SpyTarget(TypedDict):
    agent: str | None
    call_id: str | None


class CallEnded(_Envelope):
    call_id: str
    answered: bool
    duration_s: float
    talk_s: float
    wait_s: float
    hold_s: float
    disposition: Disposition
    direction: Direction
    caller: Party
    dialed: str | None
    queue: str | None
    agent: str | None
    legs: NotRequired[list[CallLeg]]
    linked_call_id: NotRequired[str | None]  # a consultation: the call it was transferred into
    # a supervisor's ChanSpy call (listen, whisper, barge): the agent and the call it joined
    spy: NotRequired[SpyTarget]


class QueueCaller(_Envelope):
    """``queue.joined``, ``queue.left`` and ``queue.abandoned``.

    ``reason`` on ``queue.left``: ``answered``; an overflow named as in Asterisk's queue_log:
    ``timeout``, ``exitempty``, ``joinempty``, ``full``, ``withdraw`` (from the QUEUESTATUS variable);
    or ``exitwithkey`` (the caller left the queue with no answer, no abandon and no QUEUESTATUS).
    Overflows are not abandons: a real abandon is a ``queue.abandoned`` instead of a ``queue.left``.
    """

    call_id: str
    queue: str
    position: int | None
    wait_s: float
    reason: NotRequired[str]


class AgentState(_Envelope):
    agent: str
    extension: str
    name: str | None
    state: AgentStateName
    reason: str | None
    queues: list[str]


class AgentCounts(TypedDict):
    available: int
    on_call: int
    paused: int
    ringing: int
    wrap_up: int
    logged_in: int


class QueueToday(TypedDict):
    offered: int
    answered: int
    abandoned: int
    sl_pct: float | None
    asa_s: float | None
    aht_s: float | None
    abandon_pct: float | None


class QueueStats(_Envelope):
    queue: str
    waiting: int
    longest_wait_s: float
    agents: AgentCounts
    today: QueueToday


class ScreenPop(_Envelope):
    call_id: str
    agent: str
    caller: Party
    customer: dict[str, Any] | None
    candidates: list[dict[str, Any]]
    open_tickets: list[dict[str, Any]]
    recent_orders: list[dict[str, Any]]
    recent_calls: list[dict[str, Any]]
    ivr_path: list[str]
    queue: str | None
    wait_s: float | None


class IvrStep(_Envelope):
    call_id: str
    flow: str
    node: str
    input: str | None
    result: str | None


class RecordingReady(_Envelope):
    call_id: str
    recording_id: str
    duration_s: float


class VoicemailNew(_Envelope):
    mailbox: str
    caller: Party
    message_id: str
    duration_s: float


class SurveyScored(_Envelope):
    call_id: str
    agent: str | None
    score: int
    scale: int


def iso_ts(epoch_s: float) -> str:
    """ISO-8601 UTC with milliseconds and ``Z`` for epoch seconds (out-of-range times clamp to 0)."""
    try:
        frac, whole = math.modf(epoch_s)
        micros = round(frac * 1_000_000)
        if micros >= 1_000_000:
            whole, micros = whole + 1, micros - 1_000_000
        elif micros < 0:
            whole, micros = whole - 1, micros + 1_000_000
        return f"{_second(int(whole))}.{micros // 1000:03d}Z"
    except (OverflowError, OSError, ValueError):
        return "1970-01-01T00:00:00.000Z"


@lru_cache(maxsize=4096)
def _second(epoch_s: int) -> str:
    return datetime.fromtimestamp(epoch_s, UTC).strftime("%Y-%m-%dT%H:%M:%S")


def make_event(event_type: str, ts: float, pbx: str, /, **fields: Any) -> Event:
    """A domain event dict with its envelope; ``seq`` is left to the bus."""
    event: Event = {"type": event_type, "ts": iso_ts(ts), "pbx": pbx}
    event.update(fields)
    return event

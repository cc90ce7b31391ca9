"""The tracker's live state: calls, parties, channels, bridges, queue stays and agents.

A call is a Linkedid. A channel is a Uniqueid. A party is one real participant: a phone, a
trunk leg, or a Local channel pair (``;1`` and ``;2`` are one party, never two), plus the real
channel a Local agent pair dials. Bridges say which parties talk to each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

CALLER = "caller"
CALLEE = "callee"
SYSTEM = "system"


@dataclass(slots=True, eq=False)
class QueueStay:
    """A caller channel waiting in one queue."""

    queue: str
    joined_at: float
    position: int | None
    # QueueCallerAbandon seen: a real abandon unless a QUEUESTATUS VarSet says overflow.
    abandon_at: float | None = None
    abandon_position: int | None = None
    # QueueCallerLeave seen while the abandon verdict was open.
    left_at: float | None = None
    left_position: int | None = None
    overflow: str | None = None
    answered: bool = False


@dataclass(slots=True, eq=False)
class Bridge:
    uid: str
    created: float
    channels: dict[str, Channel] = field(default_factory=dict)
    announced_parties: int = 0  # highest party count already sent as call.conference
    # A ConfBridge conference: its music plays to a lone participant, never a hold.
    conference: bool = False


@dataclass(slots=True, eq=False)
class Channel:
    uid: str
    name: str
    call: Call
    party: Party
    context: str
    exten: str
    state: int
    created: float
    bridge: Bridge | None = None
    queue: QueueStay | None = None
    held: bool = False
    # The party this channel left behind in a bridge while it stayed alive (a Redirect).
    left_peer: Party | None = None
    transfer_noted: bool = False
    optimizing: bool = False
    confirmed: bool = True
    cause: int = 0
    cause_text: str = ""


@dataclass(slots=True, eq=False)
class Party:
    call: Call
    role: str
    number: str | None = None
    name: str | None = None
    extension: str | None = None
    face: str = ""
    channels: dict[str, Channel] = field(default_factory=dict)
    dialed_by: Party | None = None
    queue: str | None = None
    ringing: bool = False
    dial_status: str = ""
    ring_start: float | None = None
    up: bool = False
    answered: bool = False  # connected to another party at least once
    last_peer: Party | None = None
    ending: bool = False
    ended: bool = False
    hangup_by: str | None = None
    cause: int = 0
    cause_text: str = ""
    # A Local pair that only passes the call on (its half dialed someone): plumbing, not a person.
    via: bool = False
    # A Local callee's call.ringing waits until the pair shows it is a person (it rings or answers
    # itself) rather than plumbing; these are the fields it will carry.
    pending_ring: dict[str, Any] | None = None
    trunk: bool = False  # a trunk endpoint (an outside line), not a phone
    talk_s: float = 0.0  # this leg's talk time
    talk_since: float | None = None


@dataclass(slots=True, eq=False)
class Transfer:
    """A transfer whose outcome is not known yet: it succeeds when the target answers."""

    kind: str
    source: str | None
    target: Party | None
    target_label: str | None
    new_call_id: str | None
    at: float


@dataclass(slots=True, eq=False)
class Call:
    uid: str
    start: float
    last_seen: float
    parties: list[Party] = field(default_factory=list)
    channels: dict[str, Channel] = field(default_factory=dict)
    announced: bool = False
    direction: str | None = None
    caller_number: str | None = None
    caller_name: str | None = None
    dialed: str | None = None
    first_context: str = ""
    answered_at: float | None = None
    answer_wait: float = 0.0
    first_answer_sent: bool = False
    wait_start: float | None = None  # queue join time of the first queue stay
    # the wait of a call a resync found answered from a queue (worked out from the channels' ages)
    known_wait: float | None = None
    wait_end: float | None = None  # when an unanswered caller stopped waiting in a queue
    queue: str | None = None
    agent: str | None = None
    talk_s: float = 0.0
    talk_since: float | None = None
    hold_s: float = 0.0
    hold_since: float | None = None
    hold_channel: str | None = None
    held: dict[str, Channel] = field(default_factory=dict)
    abandoned: bool = False
    overflow: bool = False
    voicemail: bool = False
    last_dial_status: str = ""
    ended: bool = False
    # The party whose channels took this call's place (a pickup, the consultation of a transfer):
    # an unannounced call absorbed by another ends silently.
    absorbed_by: str | None = None
    originated: bool = False  # started by an Originate (no calling channel): click-to-dial, call-me-now
    origin_channel: str | None = None  # the Uniqueid of the channel the Originate created (its ;1 half)
    # The call began with the ;1 half of a Local pair, created Down: somebody asked for it (an Originate,
    # a call file) and its DialBegin may come after its ;2 half has already answered (Asterisk publishes it
    # once the call is placed): until a DialBegin names it, it is not announced on its own state.
    dial_expected: bool = False
    # The originated channel itself waits in a queue (a dialer's call: Local/<number>@… put through to Queue()):
    # the far side of the Local pair is the customer dialled, the call is outbound.
    originate_queued: bool = False
    # The CC_ATTEMPT of a campaign's Originate (cti.dialer), set by Asterisk on the originated channel
    # before it dials: a customer leg that never reaches the queue (busy, no answer) is still outbound.
    campaign_attempt: str | None = None
    linked_call_id: str | None = None  # the call this consultation was transferred into
    transfer: Transfer | None = None
    legs: list[Party] = field(default_factory=list)  # answered callees, in order
    # A supervisor's ChanSpy session (listen, whisper, barge): the agent and call it joined.
    spy: dict[str, str | None] | None = None
    spy_since: float | None = None
    spy_s: float = 0.0

    @property
    def first_party(self) -> Party | None:
        return self.parties[0] if self.parties else None


@dataclass(slots=True, eq=False)
class Membership:
    paused: bool = False
    reason: str = ""
    wrapup_s: float = 0.0
    confirmed: bool = True


@dataclass(slots=True, eq=False)
class Agent:
    extension: str
    name: str | None = None
    interface: str | None = None
    queues: dict[str, Membership] = field(default_factory=dict)
    parties: list[Party] = field(default_factory=list)
    wrap_until: float = 0.0
    last_sent: tuple[str, str | None, tuple[str, ...]] | None = None

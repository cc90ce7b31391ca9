"""Demo traffic against a real Asterisk (``callcenter demo --pbx asterisk``).

The simulated parties are asterisk-dev's Local channels, as in the recorded transcripts: agents are
queue members ``Local/10XX@agents/n`` (``StateInterface Custom:10XX``) that the dialplan answers after
2 s of ringing and hangs up after ``AGENT_TALK`` seconds, unless a WebRTC phone 10XX is registered;
callers are ``Local/<number>@from-pstn`` originated to music on hold. A caller goes through the IVR
(``AGI(.../ivr)``) like anyone else, so the driver acts as the caller would: it presses the menu digit
when the menu prompt starts (PlayDTMF on the caller's ``;1`` leg), gives up after its patience while
it waits in the queue, hangs up in the middle of a talk now and then, leaves a voicemail and answers
the post-call survey.

Pure parts, no I/O and no clock: :class:`TrafficPlanner` (the mix and the timings of the next call,
the gap before it) and :class:`CallScript` (one caller: AMI event or timer in, steps out). The thin
shell :class:`PBXTraffic` sends the steps over the AMI bridge's connection and runs the timers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import re
from collections import Counter
from collections.abc import Awaitable, Callable, Collection, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from cti.ami.protocol import AMIConnection, AMIConnectionLost, AMIError

log = logging.getLogger(__name__)

Kind = Literal["support", "sales", "impatient", "voicemail"]

# Share of each kind of caller: they choose support (2) or sales (1) in the menu, give up early while
# waiting (impatient: an abandon when no agent is free within their patience) or leave a message (9).
MIX: tuple[tuple[Kind, int], ...] = (("support", 48), ("sales", 24), ("impatient", 18), ("voicemail", 10))
MENU_DIGIT: Mapping[str, str] = {"support": "2", "sales": "1", "voicemail": "9"}
SURVEY_SCORES: tuple[tuple[int, int], ...] = ((5, 50), (4, 28), (3, 12), (2, 6), (1, 4))
SURVEY_SHARE = 0.75  # answered callers who stay for the survey and press a score
RECORD_SHARE = 0.7
CALLER_HANGS_UP_SHARE = 0.25  # answered calls the caller ends before the agent does
TARGET_OCCUPANCY = 0.8  # of the simulated agents: a queue that sometimes makes callers wait
MIN_TALK_S, MAX_TALK_S = 6, 240
PATIENCE_S = (180.0, 280.0)  # callers who wait for an agent (the queue itself times out at 300 s)
IMPATIENT_S = (6.0, 30.0)
MESSAGE_S = (5.0, 12.0)
SAFETY_S = 120  # music on hold outlasts the planned call by this much, should a step be missed
CLOSE_WAIT_S = 5.0  # at close: how long the callers hung up may take to be gone

QUEUES: tuple[str, ...] = ("support", "sales")
EVENT_CLASSES = "agi,call,agent,dialplan"  # AGIExecStart, Hangup, Queue*/Agent*, Newexten
_MENU = 'GET DATA "custom/main-menu"'
_SURVEY = 'GET DATA "custom/survey-rate'
_CALLER = re.compile(r"^Local/(?P<number>\d+)@from-pstn-(?P<id>[0-9a-f]+);(?P<leg>[12])$")


@dataclass(frozen=True)
class CallPlan:
    """What one simulated caller will do."""

    number: str
    name: str
    kind: Kind
    queue: str
    agent_talk_s: int  # how long the simulated agent talks before hanging up
    patience_s: float  # how long the caller waits in the queue before giving up
    caller_talk_s: int | None  # the caller hangs up after this much talk (None: the agent ends the call)
    survey_score: int | None  # pressed in the survey; None: no survey (SURVEY=no)
    record: bool
    message_s: float  # length of a voicemail message

    @property
    def menu_digit(self) -> str:
        return MENU_DIGIT.get(self.kind) or MENU_DIGIT[self.queue]

    @property
    def max_duration_s(self) -> int:
        """Music on hold of the caller's ;1 leg: the whole call, with room to spare."""
        return int(self.patience_s + self.agent_talk_s + self.message_s) + SAFETY_S

    def originate(self, action_id: str) -> dict[str, Any]:
        variables = [f"QUEUE={self.queue}", f"__AGENT_TALK={self.agent_talk_s}"]
        if not self.record:
            variables.append("RECORD=no")
        if self.survey_score is None:
            variables.append("SURVEY=no")
        return {
            "Action": "Originate",
            "ActionID": action_id,
            "Channel": f"Local/{self.number}@from-pstn",
            "Application": "MusicOnHold",
            "Data": f"default,{self.max_duration_s}",
            "CallerID": f'"PSTN {self.number}" <{self.number}>',
            "Timeout": "30000",
            "Async": "true",
            "Variable": variables,
        }


@dataclass
class TrafficPlanner:
    """Chooses the next caller and how his call goes; the gap before the next call (Poisson arrivals).

    Talk times follow from the call rate so that the simulated agents are busy about
    ``TARGET_OCCUPANCY`` of the time: callers sometimes wait, and the impatient ones then abandon.
    """

    rng: random.Random
    callers: Sequence[tuple[str, str]]
    calls_per_minute: float
    agents: int

    def __post_init__(self) -> None:
        if self.calls_per_minute <= 0:
            raise ValueError("calls_per_minute must be positive")
        if self.agents <= 0:
            raise ValueError("at least one simulated agent is needed")
        if not self.callers:
            raise ValueError("no caller numbers to call from")

    @property
    def mean_talk_s(self) -> float:
        seconds = TARGET_OCCUPANCY * self.agents * 60.0 / self.calls_per_minute
        return min(max(seconds, MIN_TALK_S), MAX_TALK_S)

    def next_gap_s(self) -> float:
        return self.rng.expovariate(self.calls_per_minute / 60.0)

    def next_call(self, busy_numbers: Collection[str] = ()) -> CallPlan | None:
        """A caller not already on the line (None when all are), and what he will do."""
        free = [c for c in self.callers if c[0] not in busy_numbers]
        if not free:
            return None
        number, name = self.rng.choice(free)
        rng = self.rng
        kind = rng.choices([k for k, _ in MIX], weights=[w for _, w in MIX])[0]
        queue = kind if kind in QUEUES else rng.choice(("support", "support", "sales"))
        talk = int(min(max(self.mean_talk_s * rng.uniform(0.5, 1.5), MIN_TALK_S), MAX_TALK_S))
        caller_talk = None
        if rng.random() < CALLER_HANGS_UP_SHARE:
            caller_talk = max(2, int(talk * rng.uniform(0.3, 0.8)))
        score = None
        if kind in ("support", "sales") and caller_talk is None and rng.random() < SURVEY_SHARE:
            score = rng.choices([s for s, _ in SURVEY_SCORES], weights=[w for _, w in SURVEY_SCORES])[0]
        return CallPlan(
            number=number,
            name=name,
            kind=kind,
            queue=queue,
            agent_talk_s=talk,
            patience_s=round(rng.uniform(*(IMPATIENT_S if kind == "impatient" else PATIENCE_S)), 1),
            caller_talk_s=caller_talk,
            survey_score=score,
            record=rng.random() < RECORD_SHARE,
            message_s=round(rng.uniform(*MESSAGE_S), 1),
        )


# --- one caller ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Send:
    """Send this AMI action."""

    action: dict[str, Any]


@dataclass(frozen=True)
class Timer:
    """Call ``CallScript.on_timer(name)`` after ``delay_s``."""

    delay_s: float
    name: str


Step = Send | Timer
Phase = Literal["dialling", "ivr", "waiting", "talking", "after_talk", "voicemail", "ended"]
Outcome = Literal["answered", "abandoned", "voicemail", "failed", "other"]


@dataclass
class CallScript:
    """One simulated caller reacting to the AMI events of his own channels."""

    plan: CallPlan
    action_id: str
    phase: Phase = "dialling"
    base: str | None = None  # "Local/<number>@from-pstn-<id>", learned from the first event
    answered: bool = False
    gave_up: bool = False
    left_message: bool = False
    scored: bool = False
    events: Counter[str] = field(default_factory=Counter)

    @property
    def caller_leg(self) -> str:
        return f"{self.base};1"

    @property
    def done(self) -> bool:
        return self.phase == "ended"

    @property
    def outcome(self) -> Outcome:
        if self.answered:
            return "answered"
        if self.left_message:
            return "voicemail"
        if self.gave_up:
            return "abandoned"
        return "failed" if self.base is None else "other"

    def owns(self, msg: Mapping[str, Any]) -> bool:
        """The event is about this caller's channels (or answers his Originate)."""
        if msg.get("Event") == "OriginateResponse" and msg.get("ActionID") == self.action_id:
            return True
        match = _CALLER.match(str(msg.get("Channel", "")))
        if match is None or match["number"] != self.plan.number:
            return False
        base = f"Local/{match['number']}@from-pstn-{match['id']}"
        if self.base is None and self.phase == "dialling":
            self.base = base
        return base == self.base

    def on_event(self, msg: Mapping[str, Any]) -> list[Step]:
        if self.done or not self.owns(msg):
            return []
        event = str(msg.get("Event", ""))
        self.events[event] += 1
        if event == "OriginateResponse":
            if msg.get("Response") != "Success":
                self.phase = "ended"
            return []
        leg = str(msg["Channel"])[-1]
        if event == "Hangup":
            if leg == "1":
                self.phase = "ended"
            return []
        if event == "AGIExecStart":
            return self._on_agi(str(msg.get("Command", "")))
        if event == "Newexten" and msg.get("Application") == "VoiceMail" and leg == "2":
            return self._voicemail()
        if event == "QueueCallerJoin":
            self.phase = "waiting"
            return [Timer(self.plan.patience_s, "give_up")]
        if event == "AgentConnect":
            self.phase, self.answered = "talking", True
            if self.plan.caller_talk_s is not None:
                return [Timer(float(self.plan.caller_talk_s), "hang_up")]
            return []
        if event == "AgentComplete":
            self.phase = "after_talk"
        elif event == "QueueCallerLeave" and self.phase == "waiting":
            self.phase = "after_talk"  # timeout or the queue let go of him: the dialplan goes on
        return []

    def _on_agi(self, command: str) -> list[Step]:
        if self.phase == "dialling":
            self.phase = "ivr"
        if command.startswith(_MENU):
            return [self._dtmf(self.plan.menu_digit)]
        if command.startswith(_SURVEY) and self.plan.survey_score is not None:
            self.scored = True
            return [self._dtmf(str(self.plan.survey_score))]
        if command.startswith('EXEC "VoiceMail"'):
            return self._voicemail()
        return []

    def _voicemail(self) -> list[Step]:
        if self.phase == "voicemail":
            return []
        self.phase, self.left_message = "voicemail", True
        return [Timer(self.plan.message_s, "hang_up")]

    def on_timer(self, name: str) -> list[Step]:
        if self.done or self.base is None:
            return []
        if name == "give_up" and self.phase == "waiting":
            self.gave_up = True
            return [self._hangup()]
        if name == "hang_up" and self.phase in ("talking", "voicemail"):
            return [self._hangup()]
        return []

    def _dtmf(self, digit: str) -> Send:
        return Send({"Action": "PlayDTMF", "Channel": self.caller_leg, "Digit": digit, "Duration": "250"})

    def _hangup(self) -> Send:
        return Send({"Action": "Hangup", "Channel": self.caller_leg, "Cause": "16"})


def agent_logins(extensions: Sequence[str], queues: Sequence[str] = QUEUES) -> list[dict[str, Any]]:
    """QueueAdd of each simulated agent: every one in the first queue, every other one in the rest."""
    actions = []
    for i, ext in enumerate(extensions):
        for q, queue in enumerate(queues):
            if q == 0 or i % 2 == 0:
                actions.append(
                    {
                        "Action": "QueueAdd",
                        "Queue": queue,
                        "Interface": f"Local/{ext}@agents/n",
                        "StateInterface": f"Custom:{ext}",
                        "MemberName": f"Agent {ext}",
                        "Penalty": "0",
                        "Paused": "false",
                    }
                )
    return actions


# --- the shell -------------------------------------------------------------------------------------
SendAction = Callable[[dict[str, Any]], Awaitable[Any]]


class PBXTraffic:
    """Runs :class:`CallScript` callers on a live PBX at the planner's rate.

    ``send`` sends one AMI action and returns its reply (the bridge's connection); ``on_ami`` must
    be given every AMI event (``AMIBridge.add_ami_listener``).
    """

    def __init__(
        self,
        planner: TrafficPlanner,
        extensions: Sequence[str],
        queues: Sequence[str] = QUEUES,
        max_calls: int = 12,
        send: SendAction | None = None,
    ) -> None:
        self.send: SendAction = send or _not_connected
        self._connection: AMIConnection | None = None
        self.planner = planner
        self.extensions = list(extensions)
        self.queues = list(queues)
        self.max_calls = max_calls
        self.calls: dict[str, CallScript] = {}  # by ActionID, while the caller is on the line
        self.started: Counter[str] = Counter()  # by kind
        self.outcomes: Counter[str] = Counter()
        self.skipped = 0  # arrivals dropped because max_calls callers were on the line
        self._ids = 0
        self._tasks: set[asyncio.Task[Any]] = set()  # actions being sent and timers running
        self._logged_in: list[dict[str, Any]] = []
        self._idle = asyncio.Event()  # no caller on the line

    # --- AMI events ------------------------------------------------------------------------------
    def on_ami(self, msg: Mapping[str, Any]) -> None:
        for action_id, script in list(self.calls.items()):
            steps = script.on_event(msg)
            self._run(script, steps)
            if script.done:
                self._finish(action_id, script)

    def _run(self, script: CallScript, steps: Sequence[Step]) -> None:
        for step in steps:
            if isinstance(step, Send):
                self._spawn(self._send(step.action))
            else:
                self._spawn(self._timer(script, step))

    async def _timer(self, script: CallScript, timer: Timer) -> None:
        await asyncio.sleep(timer.delay_s)
        self._run(script, script.on_timer(timer.name))

    def _finish(self, action_id: str, script: CallScript) -> None:
        self.calls.pop(action_id, None)
        self.outcomes[script.outcome] += 1
        if not self.calls:
            self._idle.set()

    # --- lifecycle -------------------------------------------------------------------------------
    async def connect(self, host: str, port: int, username: str, secret: str, auth: str = "md5") -> None:
        """An AMI login of its own: the bridge asks for no AGI events, and the callers need them."""
        connection = AMIConnection(host, port, username, secret, auth, on_event=self.on_ami)
        await connection.open()
        await connection.login()
        reply = await connection.action({"Action": "Events", "EventMask": EVENT_CLASSES})
        if _first(reply).get("Response") != "Success":
            connection.close()
            raise AMIError(f"the PBX refused the event classes {EVENT_CLASSES}: {_first(reply).get('Message')}")
        self._connection = connection

        async def send(action: dict[str, Any]) -> Any:
            return await connection.action(action, as_list=False)

        self.send = send

    async def login_agents(self) -> None:
        for ext in self.extensions:  # a Custom: state nobody set is UNKNOWN; the dialplan sets it per call
            await self.send({"Action": "Setvar", "Variable": f"DEVICE_STATE(Custom:{ext})", "Value": "NOT_INUSE"})
        for action in agent_logins(self.extensions, self.queues):
            reply = await self.send(action)
            message = str(_first(reply).get("Message", ""))
            if _first(reply).get("Response") == "Success" or "Already there" in message:
                self._logged_in.append(action)
            else:
                log.warning("demo agent %s not added to %s: %s", action["Interface"], action["Queue"], message)

    async def run(self, stop: asyncio.Event) -> None:
        """Log the agents in, then place calls until ``stop`` is set."""
        await self.login_agents()
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.planner.next_gap_s())
            if not stop.is_set():
                await self.place_call()

    async def place_call(self) -> CallScript | None:
        if len(self.calls) >= self.max_calls:
            self.skipped += 1
            return None
        plan = self.planner.next_call({s.plan.number for s in self.calls.values()})
        if plan is None:
            return None
        self._ids += 1
        script = CallScript(plan, action_id=f"demo-call-{self._ids}")
        self.calls[script.action_id] = script
        self.started[plan.kind] += 1
        reply = await self.send(plan.originate(script.action_id))
        if _first(reply).get("Response") != "Success":
            log.warning("demo call from %s not placed: %s", plan.number, _first(reply).get("Message"))
            script.phase = "ended"
            self._finish(script.action_id, script)
        return script

    async def close(self) -> None:
        """Hang up the callers still on the line and take the simulated agents out of the queues."""
        for task in list(self._tasks):
            task.cancel()
        for action_id, script in list(self.calls.items()):
            if script.base is None:  # no channel (yet): nothing to wait for
                script.phase = "ended"
                self._finish(action_id, script)
                continue
            with contextlib.suppress(Exception):
                await self.send({"Action": "Hangup", "Channel": script.caller_leg, "Cause": "16"})
        if self.calls:  # their Hangup events end them: the IVR and the trackers see the calls end
            self._idle.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._idle.wait(), timeout=CLOSE_WAIT_S)
        for action in self._logged_in:
            with contextlib.suppress(Exception):
                await self.send({"Action": "QueueRemove", "Queue": action["Queue"], "Interface": action["Interface"]})
        self._logged_in.clear()
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    async def _send(self, action: dict[str, Any]) -> None:
        try:
            reply = await self.send(action)
        except Exception as exc:  # the call goes on without this step; the safety music ends it
            log.warning("demo %s failed: %s", action.get("Action"), exc)
            return
        if _first(reply).get("Response") != "Success":
            log.info("demo %s on %s: %s", action.get("Action"), action.get("Channel"), _first(reply).get("Message"))

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


async def _not_connected(action: dict[str, Any]) -> Any:
    raise AMIConnectionLost("PBXTraffic.connect() was not called")


def _first(reply: Any) -> Mapping[str, Any]:
    first = reply[0] if isinstance(reply, list) and reply else reply
    if isinstance(first, Mapping):
        return first
    return dict(first) if first is not None else {}

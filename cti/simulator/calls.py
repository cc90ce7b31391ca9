"""Playing one simulated call over time: ids for its roles, its steps, and mid-call changes.

``CallRun`` renders each step's roles (``Binding`` allocates Uniqueids, Local channel suffixes
and bridge ids the first time a role is used, so they come in the same order as Asterisk's),
sleeps the recorded gaps divided by the simulator's ``speed``, and hands each event to ``emit``.
While it waits at a ``talk`` or ``moh`` gate an action may replace the rest of the call (a
Redirect splices in the transfer tail, a Hangup the caller-hangs-up tail).
"""

from __future__ import annotations

import asyncio
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from cti.simulator.scenarios import Step, gate_delay
from cti.simulator.state import PBXState
from cti.simulator.templates import render

Emit = Callable[[list[tuple[str, str]]], None]
Clock = Callable[[], float]
# gates an action may cut short (a Hangup, the Bridge back from hold, the Originate into a conference)
# or replace the rest of the call at (a Redirect, an Atxfer)
INTERRUPTIBLE = ("talk", "moh", "consult", "hold", "invite", "alone")
_MIN_SLEEP_S = 0.002


class IdAllocator:
    """Uniqueids ``<epoch>.<n>`` and Local channel suffixes ``%08x`` from one counter each."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._uniqueids = 0
        self._suffixes = 0

    def uniqueid(self) -> str:
        n, self._uniqueids = self._uniqueids, self._uniqueids + 1
        return f"{int(self._clock())}.{n}"

    def suffix(self) -> str:
        n, self._suffixes = self._suffixes, self._suffixes + 1
        return f"{n:08x}"

    @staticmethod
    def bridge() -> str:
        return str(uuid.uuid4())


class Binding(dict[str, str]):
    """Role -> value; id roles (``u3``, ``s1``, ``b0``) are allocated on first use."""

    def __init__(self, ids: IdAllocator, values: dict[str, str]) -> None:
        super().__init__(values)
        self._ids = ids

    def renew(self, role: str) -> str:
        """A fresh id for an id role (a party got a new bridge)."""
        self.pop(role, None)
        return self[role]

    def __missing__(self, role: str) -> str:
        kind, number = role[:1], role[1:]
        if not number.isdigit():
            raise KeyError(role)
        if kind == "u":
            value = self._ids.uniqueid()
        elif kind == "s":
            value = self._ids.suffix()
        elif kind == "b":
            value = self._ids.bridge()
        else:
            raise KeyError(role)
        self[role] = value
        return value


@dataclass(frozen=True, slots=True)
class CallContext:
    """What a composed step sees when it builds its events: live state and the call's roles."""

    state: PBXState
    binding: Binding
    now: float


@dataclass(slots=True)
class ScenarioResult:
    """What a finished (or running) simulated call was: its Linkedid and its channels."""

    name: str
    linkedid: str
    channels: list[str] = field(default_factory=list)
    uniqueids: list[str] = field(default_factory=list)
    params: dict[str, str] = field(default_factory=dict)
    binding: dict[str, str] = field(default_factory=dict)


class CallRun:
    """One call being played. ``run()`` returns when its last event is out."""

    def __init__(
        self,
        name: str,
        steps: Iterable[Step],
        binding: Binding,
        *,
        emit: Emit,
        clock: Clock,
        speed: float,
        action_id: str = "",
        state: PBXState | None = None,
    ) -> None:
        self.name = name
        self.binding = binding
        self.pending: deque[Step] = deque(steps)
        self.waiting_at: str | None = None
        self._emit = emit
        self._clock = clock
        self._speed = speed
        self._action_id = action_id
        self._state = state
        self._wake = asyncio.Event()
        self._replacement: list[Step] | None = None
        self._cut_pending = False
        self.held = False
        self.lingering = False  # past its time the talk goes on until let go (a long call)
        self.result = ScenarioResult(name, linkedid="", params=dict(binding))
        self.done = asyncio.Event()
        self.started = asyncio.Event()
        self.passed: set[str] = set()  # the gates the call has gone through
        self._progress = asyncio.Event()

    async def run(self) -> ScenarioResult:
        loop = asyncio.get_running_loop()
        due = loop.time()  # when the next step is due; tiny gaps add up instead of each sleeping
        try:
            while self.pending:
                step = self.pending.popleft()
                due += gate_delay(step, self.binding) / self._speed
                wait = due - loop.time()
                if step.gate is not None and step.gate.param in INTERRUPTIBLE:
                    if await self._wait_gate(step.gate.param, max(0.0, wait)):
                        due = loop.time()
                        continue
                    due = loop.time()  # on time, or early when cut short
                elif wait > _MIN_SLEEP_S:
                    await asyncio.sleep(wait)
                self._emit_step(step)
                if step.gate is not None:
                    self.passed.add(step.gate.param)
                    self._progress.set()
        finally:
            self._progress.set()
            self.result.binding = dict(self.binding)
            self.started.set()
            self.done.set()
        return self.result

    async def _wait_gate(self, param: str, delay: float) -> bool:
        """Sleep at a gate; True when an action replaced the rest of the call meanwhile.

        A cut (Hangup) ends the wait at once; while the caller is on hold the talk does not end:
        past its time the wait goes on until the call is taken off hold (or, lingering, let go).
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + delay
        self.waiting_at = param
        try:
            while True:
                if self._replacement is not None:  # an action came before the call reached here
                    replacement, self._replacement = self._replacement, None
                    self.pending = deque(replacement)
                    return True
                if self._cut_pending:
                    self._cut_pending = False
                    return False  # cut short: the gated step comes now
                self._wake.clear()
                remaining = deadline - loop.time()
                keep = self.held or (self.lingering and param == "talk")
                timeout = None if keep and remaining <= 0 else max(0.0, remaining)
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout=timeout)
                except TimeoutError:
                    if not (self.held or (self.lingering and param == "talk")):
                        return False
                    continue
                if self._replacement is not None:
                    replacement, self._replacement = self._replacement, None
                    self.pending = deque(replacement)
                    return True
        finally:
            self.waiting_at = None

    async def through(self, param: str) -> bool:
        """Until the call has gone through its ``param`` gate (True) or ended without it (False)."""
        while param not in self.passed and not self.done.is_set():
            self._progress.clear()
            await self._progress.wait()
        return param in self.passed

    def cut_short(self) -> None:
        """End the current wait now (an agent or caller hangs up early), or the next one."""
        self._cut_pending = True
        self._wake.set()

    def hold(self) -> None:
        self.held = True

    def build(self, builder: Callable[[CallContext], list[list[tuple[str, str]]]]) -> None:
        """Emit events made from the live state now (an action changed the call)."""
        context = CallContext(self._state or PBXState(queues={}), self.binding, self._clock())
        for message in builder(context):
            self._emit_message(message)

    def unhold(self) -> None:
        self.held = False
        self._wake.set()

    def linger(self, on: bool) -> None:
        self.lingering = on
        self._wake.set()

    def replace_rest(self, steps: list[Step], params: dict[str, str] | None = None) -> bool:
        """Splice in another ending at the gate the call waits at, or at the next one it reaches."""
        if self.waiting_at is None and self.next_gate() is None:
            return False
        self.binding.update(params or {})
        self._replacement = steps
        self._wake.set()
        return True

    def next_gate(self) -> str | None:
        """The interruptible gate the call waits at or reaches next, if any."""
        if self.waiting_at is not None:
            return self.waiting_at
        for step in self.pending:
            if step.gate is not None and step.gate.param in INTERRUPTIBLE:
                return step.gate.param
        return None

    def answer_action(self, action_id: str) -> None:
        """Later OriginateResponse events of this call answer ``action_id`` (an Originate that
        joined the call, such as the third party of a three-way)."""
        self._action_id = action_id

    def _emit_step(self, step: Step) -> None:
        if step.build is not None:
            context = CallContext(self._state or PBXState(queues={}), self.binding, self._clock())
            for message in step.build(context):
                self._emit_message(message)
            return
        now = self._clock()
        headers: list[tuple[str, str]] = []
        event = ""
        for key, value in step.headers:
            if key == "Event":
                event = value
            if key == "ActionID" and event == "OriginateResponse":
                if self._action_id:
                    headers.append((key, self._action_id))
                continue
            headers.append((key, render(value, self.binding, now)))
        self._emit_message(headers)

    def _emit_message(self, headers: list[tuple[str, str]]) -> None:
        if headers and headers[0] == ("Event", "Newchannel"):
            fields = dict(headers)
            self.result.channels.append(fields.get("Channel", ""))
            self.result.uniqueids.append(fields.get("Uniqueid", ""))
            if not self.result.linkedid:
                self.result.linkedid = fields.get("Linkedid", "")
        self._emit(headers)
        self.started.set()

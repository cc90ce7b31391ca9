"""The simulated PBX: live state, running calls, and what starts or changes them.

``SimulatedPBX`` owns the ``PBXState`` and every ``CallRun``. All events go through ``emit``:
first into the state reducer, then to the sink (the AMI server broadcasts them). Scenario
parameters are resolved here (which agent a queue call rings, names, defaults), so the same
code serves ``run_scenario`` and the AMI actions (Originate, Redirect, Hangup, ...).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable

from cti.simulator import composed
from cti.simulator.calls import Binding, CallRun, Clock, IdAllocator, ScenarioResult
from cti.simulator.dialer_calls import DIALER_BUSY, BusyOnce, busy_params
from cti.simulator.queues import add_member, pause_member, remove_member
from cti.simulator.scenarios import (
    ATXFER_CANCEL,
    SPY_SESSIONS,
    TRANSFER_TAIL,
    WAITING_HANGUP,
    ScenarioDef,
    ScenarioError,
    Step,
    scenario,
)
from cti.simulator.state import Event, PBXState

log = logging.getLogger(__name__)
Sink = Callable[[list[tuple[str, str]]], None]
DEFAULT_QUEUES = {"support": "rrmemory", "sales": "ringall"}
_AGENT_LEG = re.compile(r"^Local/(?P<ext>[^@]+)@agents-(?P<suffix>[0-9a-f]{8});1$")
# gates past which another party talks (a transfer completed, a conference joined)
_MOVED = frozenset({"consult", "transfer_after", "invite"})
# calls whose agent talks at a "talk" gate that a desk command may act on
ANSWERED_CALLS = frozenset({"inbound_answered", "inbound_recorded", "inbound_survey", "hold", "attended_transfer"})


def agent_interface(extension: str) -> str:
    return f"Local/{extension}@agents/n"


class SimulatedPBX:
    def __init__(self, sink: Sink, clock: Clock, speed: float = 1.0, queues: dict[str, str] | None = None) -> None:
        if speed <= 0:
            raise ScenarioError("speed must be positive")
        self.state = PBXState.with_queues(queues or DEFAULT_QUEUES)
        self.ids = IdAllocator(clock)
        self.calls: list[CallRun] = []
        self.speed = speed
        self._sink = sink
        self._clock = clock
        self._tasks: set[asyncio.Task[ScenarioResult]] = set()
        self.busy_once = BusyOnce()  # the campaign customers busy the first time (cti.simulator.dialer_calls)

    # --- events ---------------------------------------------------------------------------------
    def emit(self, headers: list[tuple[str, str]]) -> None:
        self.state.apply(dict(headers), self._clock())
        self._sink(headers)

    def emit_events(self, events: list[Event]) -> None:
        for event in events:
            self.emit(list(event.items()))

    # --- queue membership -----------------------------------------------------------------------
    def login_agent(
        self, queue: str, extension: str, *, paused: bool = False, reason: str = "", name: str = ""
    ) -> None:
        """QueueAdd of ``Local/<ext>@agents/n`` with ``Custom:<ext>`` (as the CTI does it)."""
        events = add_member(
            self.state,
            queue,
            agent_interface(extension),
            self._clock(),
            state_interface=f"Custom:{extension}",
            member_name=name or f"Agent {extension}",
            paused=paused,
            reason=reason,
        )
        self.emit_events(events)

    def logout_agent(self, queue: str, extension: str) -> None:
        self.emit_events(remove_member(self.state, queue, agent_interface(extension)))

    def pause_agent(self, extension: str, paused: bool, *, queue: str = "", reason: str = "") -> None:
        interface = agent_interface(extension)
        self.emit_events(pause_member(self.state, interface, paused, self._clock(), queue_name=queue, reason=reason))

    # --- calls ----------------------------------------------------------------------------------
    def start(self, name: str, params: dict[str, str], *, action_id: str = "", with_cti: bool = True) -> CallRun:
        definition = scenario(name)
        values = self._resolve(definition, params)
        steps = self._steps(definition, values, with_cti)
        run = CallRun(
            name,
            steps,
            Binding(self.ids, values),
            emit=self.emit,
            clock=self._clock,
            speed=self.speed,
            action_id=action_id,
            state=self.state,
        )
        self._launch(run)
        return run

    def _launch(self, run: CallRun) -> None:
        self.calls.append(run)
        task = asyncio.get_running_loop().create_task(self._play(run), name=f"sim-call-{run.name}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _play(self, run: CallRun) -> ScenarioResult:
        try:
            return await run.run()
        except Exception:
            log.exception("simulated call %s failed", run.name)
            raise
        finally:
            self.calls.remove(run)

    def _steps(self, definition: ScenarioDef, values: dict[str, str], with_cti: bool) -> list[Step]:
        steps: list[Step] = []
        if definition.kind == "composed":
            steps = composed.steps(definition.name)
        for piece in definition.pieces:
            steps += piece.steps(with_cti)
        if steps and steps[0].gate is None:
            steps[0] = Step(0.0, steps[0].headers, steps[0].seq, None, steps[0].build)
        return steps

    def _resolve(self, definition: ScenarioDef, params: dict[str, str]) -> dict[str, str]:
        values = {**definition.defaults, **{k: str(v) for k, v in params.items()}}
        if "caller" in params and "caller_name" not in params:
            # the recorded dialplan names a PSTN caller after his number
            values["caller_name"] = f"PSTN {values['caller']}"
        values.setdefault("caller_name", f"PSTN {values.get('caller', '')}")
        if definition.kind in ("inbound", "composed"):
            self._resolve_inbound(definition, values)
        if "agent" in values:
            values.setdefault("agent_name", self._member_name(values["agent"]))
        if "agent2" in values:
            values.setdefault("agent2_name", self._member_name(values["agent2"]))
        if definition.kind == "outbound" and "agent" not in values:
            raise ScenarioError("click_to_dial needs the agent's extension (agent=...)")
        values.setdefault("agent", "")
        return values

    def _resolve_inbound(self, definition: ScenarioDef, values: dict[str, str]) -> None:
        queue_name = values["queue"]
        queue = self.state.queues.get(queue_name)
        if queue is None:
            raise ScenarioError(f"no such queue {queue_name!r}")
        if definition.name == "inbound_abandon":
            return
        agent = values.get("agent")
        if agent and agent_interface(agent) not in queue.members:
            self.login_agent(queue_name, agent)
        if not agent:
            member = self.state.next_agent(queue_name)
            if member is None:
                raise ScenarioError(f"no available agent in queue {queue_name!r}")
            values["agent"] = member.extension

    def _member_name(self, extension: str) -> str:
        for queue in self.state.queues.values():
            member = queue.members.get(agent_interface(extension))
            if member is not None:
                return member.name
        return f"Agent {extension}"

    def inbound_for_originate(self, values: dict[str, str]) -> str:
        """Which recorded inbound call an Originate into ``from-pstn`` plays."""
        queue = values.get("queue", "support")
        if queue not in self.state.queues or self.state.next_agent(queue) is None:
            return "inbound_abandon"
        if values.get("record", "yes") != "no":
            return "inbound_recorded"
        # the dialplan's Queue option c (13) when the Originate sets SURVEY (to anything but "no");
        # without it the call is played as transcripts 02 and 04 were recorded, with no survey
        return "inbound_answered" if values.get("survey", "no") == "no" else "inbound_survey"

    def dialer_callee(
        self, number: str, caller_id: str, queue: str, variables: dict[str, str], values: dict[str, str]
    ) -> str:
        """What a campaign's Originate of ``number`` plays (``cti.simulator.dialer_calls``); fills ``values``."""
        if self.busy_once.is_busy(number):
            values.update(busy_params(number, caller_id, queue, variables))
            return DIALER_BUSY.name
        values.update(
            caller=number,
            caller_name=f"PSTN {number}",
            queue=queue,
            record=variables.get("RECORD", "yes").lower(),
            survey=variables.get("SURVEY", "no").lower(),
        )
        return self.inbound_for_originate(values)

    def call_of(self, channel: str) -> CallRun | None:
        chan = self.state.channel_by_name(channel)
        if chan is None:
            return None
        for run in self.calls:
            if run.name != "spy" and run.binding.get("u0") == chan.linkedid:
                return run
        return None

    def linger(self, caller: str, on: bool = True) -> bool:
        """The agent who takes the call of ``caller`` talks on past the recording's time until
        ``linger(caller, False)`` (a long call); False when no call of ``caller`` is before its talk's end."""
        found = False
        for run in self.calls:
            if run.binding.get("caller") == caller and "talk" in run.binding and "talk" not in run.passed:
                run.linger(on)
                found = True
        return found

    @staticmethod
    def can_move(run: CallRun) -> bool:
        """A Redirect, Atxfer or three-way is simulated for an answered queue call while its first
        agent talks (or is about to: the action is played at the talk gate); not once the call has
        been transferred or moved into a conference, whose parties the recordings do not continue."""
        answered = run.name in ANSWERED_CALLS and not _MOVED & run.passed and "moved" not in run.binding
        return answered and run.next_gate() == "talk" and not run.held

    def redirect(self, run: CallRun, extension: str) -> bool:
        """Blind transfer of the caller leg to ``internal``/extension, as transcript 06."""
        if not self.can_move(run):
            return False
        steps = TRANSFER_TAIL.steps(True)
        steps[0] = Step(0.0, steps[0].headers, steps[0].seq)
        params = {"agent2": extension, "agent2_name": self._member_name(extension), "moved": "1"}
        return run.replace_rest(steps, params)

    def hangup(self, run: CallRun, channel: str = "") -> None:
        """A Hangup action: a waiting caller leaves the queue (transcript 08); a talking call ends
        now; an agent leaving a consultation completes the transfer (09), the consultation hung up
        cancels it (14); a caller left alone in a conference leaves it (11)."""
        if run.waiting_at == "moh" and run.name == "inbound_abandon":
            run.replace_rest(WAITING_HANGUP.steps(True))
            return
        consulted = run.binding.get("consulting")
        if (
            consulted
            and "consult" not in run.passed
            and channel.startswith((f"Local/{consulted}@internal-", f"Local/{consulted}@agents-"))
        ):
            del run.binding["consulting"]
            run.replace_rest(ATXFER_CANCEL.steps())
            return
        if run.held:
            self.take_off_hold(run)
        run.cut_short()

    def put_on_hold(self, run: CallRun) -> bool:
        """The CTI's hold (transcript 10): caller to music, agent leg waiting, until a Bridge action."""
        if not self.can_move(run):
            return False
        run.hold()
        return run.replace_rest(composed.hold_tail(), {"hold": "0"})

    def take_off_hold(self, run: CallRun) -> bool:
        if not run.held:
            return False
        run.unhold()
        run.cut_short()
        return True

    def attended_transfer(self, run: CallRun, extension: str) -> bool:
        """Atxfer from the agent leg while talking (transcript 09): consult ``extension``; a Hangup
        of the agent leg completes it (or the agent hangs up after ``consult`` seconds)."""
        if not self.can_move(run):
            return False
        params = {
            "agent2": extension,
            "agent2_name": self._member_name(extension),
            "consult": "30",
            "consulting": extension,
        }
        return run.replace_rest(composed.attended_tail(), params)

    def conference(self, run: CallRun, room: str) -> bool:
        """Caller and agent leg into ConfBridge ``room`` (transcript 11); the third party comes with
        the Originate into the room (``invite``)."""
        if not self.can_move(run):
            return False
        params = {"room": room, "invite": "30", "alone": "30", "agent2": run.binding.get("agent2", "1002")}
        return run.replace_rest(composed.conference_tail(), params)

    def invite(self, room: str, extension: str, action_id: str) -> bool:
        """The Originate of ``Local/<extension>@agents/n`` into conference ``room``."""
        for run in self.calls:
            if run.binding.get("room") == room and "invited" not in run.binding:
                # the move may still be under way: the invite gate then passes when reached
                run.binding.update(invited=extension, agent2=extension, agent2_name=self._member_name(extension))
                run.answer_action(action_id)
                run.cut_short()
                return True
        return False

    def spy(self, target: str, options: str, supervisor: str, action_id: str, talk: str) -> CallRun:
        """ChanSpy from ``supervisor``'s extension on an agent's leg ``target``
        (``Local/<ext>@agents-<n>;1``, transcript 12): one session of listen (q), whisper (qw) or
        barge (qB), a call of its own; the spied party is described from its live channel."""
        piece = SPY_SESSIONS.get(options)
        chan = self.state.channel_by_name(target)
        leg = _AGENT_LEG.match(target)
        if piece is None or chan is None or leg is None:
            raise ScenarioError("Originate failed")
        values = {
            "agent": leg["ext"],
            "s1": leg["suffix"],
            "u2": chan.uniqueid,
            "u0": chan.linkedid,
            "caller": chan.snapshot.get("CallerIDNum", ""),
            "caller_name": chan.snapshot.get("CallerIDName", ""),
            "supervisor": supervisor,
            "talk": talk,
        }
        run = CallRun(
            "spy",
            piece.steps(),
            Binding(self.ids, values),
            emit=self.emit,
            clock=self._clock,
            speed=self.speed,
            action_id=action_id,
            state=self.state,
        )
        self._launch(run)
        return run

    async def agent_login_pause(self, params: dict[str, str]) -> ScenarioResult:
        """Transcript 01: join two queues, pause in one with a reason, in all, unpause, leave."""
        values = {**scenario("agent_login_pause").defaults, **params}
        agent, queues = values.get("agent", "1001"), (values["queue"], values["queue2"])
        name = values.get("agent_name", f"Agent {agent}")
        for queue in queues:
            self.login_agent(queue, agent, name=name)
        for paused, queue, reason in (
            (True, queues[0], "Lunch"),
            (False, queues[0], ""),
            (True, "", "Break"),
            (False, "", ""),
        ):
            await asyncio.sleep(1.0 / self.speed)
            self.pause_agent(agent, paused, queue=queue, reason=reason)
        await asyncio.sleep(1.0 / self.speed)
        for queue in queues:
            self.logout_agent(queue, agent)
        return ScenarioResult("agent_login_pause", linkedid="", params=values)

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass

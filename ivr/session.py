"""One IVR session over any AGI channel: run the engine, turn its actions into AGI commands.

Shared by the FastAGI server (``ivr.agi``) and the process-AGI entry point (``callcenter agi``).
The channel only has to send a command line and return the parsed :class:`AgiReply`.

What the dialplan finds after the AGI returns (the hand-off contract):

- ``IVR_ACTION``: ``queue``, ``fallback``, ``transfer``, ``voicemail`` or ``hangup``; ``IVR_TARGET``: the
  queue, transfer target or mailbox.
- queue / fallback: ``QUEUE_NAME`` (inherited, ``__QUEUE_NAME``) and ``QUEUE_PRIO``; the dialplan goes on
  to ``Queue(${QUEUE_NAME})``.
- transfer: the channel continues at ``<settings.ivr_transfer_context>,<target>,1``.
- voicemail: ``VoiceMail(<mailbox>,u)`` runs inside the AGI, then the channel is hung up.
- a known caller: ``CRM_CUSTOMER_NAME`` and the inherited ``CRM_CUSTOMER_ID``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from ivr.agi_protocol import AgiProtocolError, AgiReply, command, script_args, script_name
from ivr.calendar import BusinessCalendar
from ivr.directory import CustomerDirectory
from ivr.engine import (
    Action,
    CallContext,
    Collect,
    CreateCallback,
    FlowEngine,
    GetVar,
    Hangup,
    LookupCustomer,
    LookupOrder,
    Play,
    Route,
    SayDigits,
    ScoreSurvey,
    SetVar,
    Step,
    Terminal,
    Transfer,
    Voicemail,
)
from ivr.events import ivr_step, survey_scored
from ivr.flow import FlowError, FlowLibrary

log = logging.getLogger(__name__)

Publish = Callable[[dict[str, Any]], Awaitable[Any]]
Clock = Callable[[], datetime]
LOOKUP_TIMEOUT_S = 3.0
FALLBACK_TIMEOUT_S = 3.0


class CallerHungUp(Exception):
    """The channel is gone: stop sending commands."""


class AgiChannel(Protocol):
    async def command(self, line: str) -> AgiReply: ...


@dataclass
class SessionOutcome:
    terminal: Terminal | None = None
    fallback: bool = False
    hung_up: bool = False
    crashed: bool = False
    reason: str | None = None


@dataclass(frozen=True)
class SessionDeps:
    publish: Publish
    directory: CustomerDirectory
    pbx: str
    clock: Clock
    fallback_queue: str = "support"
    transfer_context: str = "ivr-transfer"


async def channel_variable(channel: AgiChannel, name: str) -> str | None:
    reply = await _checked(channel, command("GET VARIABLE", name))
    return reply.data if reply.result == "1" else None


async def _checked(channel: AgiChannel, line: str) -> AgiReply:
    reply = await channel.command(line)
    if reply.dead_channel:
        raise CallerHungUp(line)
    return reply


async def identify_call(channel: AgiChannel, env: Mapping[str, str]) -> str:
    """The call is the Linkedid; the channel's Uniqueid stands in when Asterisk does not say."""
    linkedid = await channel_variable(channel, "CHANNEL(linkedid)")
    return linkedid or env.get("agi_uniqueid", "") or "unknown"


def call_context(
    env: Mapping[str, str],
    call_id: str,
    now: datetime,
    calendar: BusinessCalendar | None,
    fallback_queue: str,
) -> CallContext:
    caller = env.get("agi_callerid", "")
    caller_name = env.get("agi_calleridname", "")
    local = now.astimezone(ZoneInfo(calendar.timezone)) if calendar is not None else now
    return CallContext(
        call_id=call_id,
        caller="" if caller == "unknown" else caller,
        caller_name="" if caller_name == "unknown" else caller_name,
        now=local,
        calendar=calendar,
        args=script_args(env),
        fallback_queue=fallback_queue,
    )


class FlowSession:
    """Walks one engine to its end over one channel."""

    def __init__(self, channel: AgiChannel, engine: FlowEngine, deps: SessionDeps) -> None:
        self.channel = channel
        self.engine = engine
        self.deps = deps
        self.call_id = engine.context.call_id

    async def run(self) -> SessionOutcome:
        outcome = SessionOutcome()
        action = self.engine.start()
        try:
            while not action.terminal:
                await self._publish_steps()
                action = await self._perform(action)
            await self._publish_steps()
            assert isinstance(action, Terminal)
            outcome.terminal = action
            outcome.fallback = isinstance(action, Route) and action.fallback
            outcome.reason = self.engine.fallback_reason
            await finish(self.channel, action, self.deps.transfer_context)
        except CallerHungUp:
            outcome.hung_up = True
            self.engine.steps.append(Step(self.engine.node, None, "caller_hangup"))
            await self._publish_steps()
        return outcome

    async def _perform(self, action: Action) -> Action:
        """Carry out one action and return the engine's next one."""
        if isinstance(action, Play):
            return await self._play(action)
        if isinstance(action, Collect):
            reply = await _checked(self.channel, command(
                "GET DATA", action.prompt, int(action.timeout_s * 1000), action.max_digits))
            if reply.failed:
                raise CallerHungUp("GET DATA")
            return self.engine.resume(reply.result)
        if isinstance(action, GetVar):
            return self.engine.resume(await channel_variable(self.channel, action.name))
        if isinstance(action, SetVar):
            await _checked(self.channel, command("SET VARIABLE", action.name, action.value))
        elif isinstance(action, SayDigits):
            await self._expect_alive(command("SAY DIGITS", action.digits, ""))
        elif isinstance(action, LookupCustomer | LookupOrder | CreateCallback):
            return self.engine.resume(await self._crm(action))
        elif isinstance(action, ScoreSurvey):
            await self._emit(survey_scored(action, self.call_id, self.deps.clock(), self.deps.pbx))
        return self.engine.resume(None)

    async def _play(self, action: Play) -> Action:
        reply = await self._expect_alive(command("STREAM FILE", action.file, ""), missing_ok=True)
        if reply.failed:
            log.warning("call %s: prompt %r is missing; fallback queue", self.call_id, action.file)
            return self.engine.fail(f"missing prompt {action.file}")
        return self.engine.resume(None)

    async def _expect_alive(self, line: str, missing_ok: bool = False) -> AgiReply:
        """A ``result=-1`` means a hangup unless the channel is still up (then the file was missing)."""
        reply = await _checked(self.channel, line)
        if reply.failed:
            status = await _checked(self.channel, "CHANNEL STATUS")
            if status.failed or not missing_ok:
                raise CallerHungUp(line)
        return reply

    async def _crm(self, action: LookupCustomer | LookupOrder | CreateCallback) -> Any:
        """A CRM that is slow or down counts as "not found": the caller still gets the menu."""
        directory = self.deps.directory
        try:
            async with asyncio.timeout(LOOKUP_TIMEOUT_S):
                if isinstance(action, LookupCustomer):
                    return await directory.find_by_number(action.number) if action.number else None
                if isinstance(action, LookupOrder):
                    return await directory.find_order(action.order_no) if action.order_no else None
                await directory.create_callback(action.number, self.call_id, action.note)
                return None
        except Exception:
            log.exception("call %s: CRM %s failed", self.call_id, type(action).__name__)
            return None

    async def _publish_steps(self) -> None:
        for step in self.engine.take_steps():
            event = ivr_step(step, self.call_id, self.engine.flow.name, self.deps.clock(), self.deps.pbx)
            await self._emit(event)

    async def _emit(self, event: dict[str, Any]) -> None:
        try:
            await self.deps.publish(event)
        except Exception:
            log.exception("publishing %s failed", event.get("type"))


async def finish(channel: AgiChannel, terminal: Terminal, transfer_context: str) -> None:
    """Leave the channel where the terminal action says; the dialplan carries on after the AGI."""
    if isinstance(terminal, Route):
        await _checked(channel, command("SET VARIABLE", "__QUEUE_NAME", terminal.queue))
        await _checked(channel, command("SET VARIABLE", "QUEUE_PRIO", terminal.priority))
        await _set_outcome(channel, "fallback" if terminal.fallback else "queue", terminal.queue)
    elif isinstance(terminal, Transfer):
        await _set_outcome(channel, "transfer", terminal.target)
        await _checked(channel, command("SET CONTEXT", transfer_context))
        await _checked(channel, command("SET EXTENSION", terminal.target))
        await _checked(channel, command("SET PRIORITY", 1))
    elif isinstance(terminal, Voicemail):
        await _set_outcome(channel, "voicemail", terminal.mailbox)
        await _checked(channel, command("EXEC", "VoiceMail", f"{terminal.mailbox},u"))
        await _checked(channel, "HANGUP")
    elif isinstance(terminal, Hangup):
        await _set_outcome(channel, "hangup", "")
        await _checked(channel, "HANGUP")


async def _set_outcome(channel: AgiChannel, outcome: str, target: str) -> None:
    await _checked(channel, command("SET VARIABLE", "IVR_ACTION", outcome))
    await _checked(channel, command("SET VARIABLE", "IVR_TARGET", target))


async def run_call(
    channel: AgiChannel,
    env: Mapping[str, str],
    flows: FlowLibrary,
    calendar: BusinessCalendar | None,
    deps: SessionDeps,
) -> SessionOutcome:
    """One whole AGI call: identify it, load its flow, walk it; any failure ends in the fallback queue."""
    name = script_name(env)
    try:
        call_id = await identify_call(channel, env)
    except CallerHungUp:
        return SessionOutcome(hung_up=True)
    try:
        flow = flows.get(name)
    except FlowError as exc:
        log.error("flow %r cannot run (%s); call %s to the fallback queue", name, exc, call_id)
        return await deliver_fallback(channel, call_id, name, f"flow {name!r}: {exc}", deps)
    context = call_context(env, call_id, deps.clock(), calendar, deps.fallback_queue)
    engine = FlowEngine(flow, context)
    try:
        outcome = await FlowSession(channel, engine, deps).run()
    except (ConnectionError, TimeoutError, asyncio.CancelledError):
        raise
    except Exception as exc:
        log.exception("flow %r crashed for call %s; fallback queue", name, call_id)
        outcome = await deliver_fallback(channel, call_id, name, f"crash: {exc}", deps, flow.fallback_queue)
        outcome.crashed = True
        return outcome
    if outcome.fallback:
        log.warning("call %s left flow %r for the fallback queue: %s", call_id, name, outcome.reason)
    return outcome


async def deliver_fallback(
    channel: AgiChannel, call_id: str, flow: str, reason: str, deps: SessionDeps, queue: str | None = None
) -> SessionOutcome:
    """Best effort: log the step and point the channel at the fallback queue, within a few seconds."""
    route = Route(queue or deps.fallback_queue, 0, True, reason)
    step = ivr_step(Step("-", None, "fallback"), call_id, flow, deps.clock(), deps.pbx)
    step["reason"] = reason
    try:
        await deps.publish(step)
    except Exception:
        log.exception("publishing the fallback step failed")
    try:
        async with asyncio.timeout(FALLBACK_TIMEOUT_S):
            await finish(channel, route, deps.transfer_context)
    except (CallerHungUp, ConnectionError, TimeoutError, AgiProtocolError) as exc:
        log.info("call %s: fallback not delivered (%s)", call_id, exc)
    return SessionOutcome(terminal=route, fallback=True, reason=reason)

"""Call scenarios driven over AMI, each ending when its closing events have arrived.

One driver per scenario sends the actions the CTI sends (``cti/commands.py``: Redirect for a blind
transfer and for hold, Bridge for unhold, Atxfer then a Hangup of the agent's leg (complete) or of
the consultation (cancel), Redirect + Originate into ConfBridge for a three-way, Originate of
ChanSpy for a supervisor) with Local-channel callers and agents, as in the recorded transcripts.
The same drivers record the transcripts 09 and up (``tests/fixtures/ami/record_scenarios.py``) and
run in ``tests/test_asterisk_live.py`` against the simulator and the real Asterisk.

A scenario never waits for time: every step waits for the event that makes it possible (the agent
talking, the consultation answered, the caller on music on hold), and the scenario ends when
``still_open`` finds nothing open any more: every channel hung up, every bridge, conference and
spy session ended and every channel's Cdr row in. A timeout names what was still missing.
(AgentComplete is no closing event: after a Redirect out of Queue() Asterisk 22 sends it only when
the member leg ends, or not at all, depending on the order of the two moves.)
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cti.simulator.recorder import AMIRecorder

Message = Mapping[str, Any]
Check = Callable[[Sequence[Message]], list[str]]
AGENT, COLLEAGUE, SUPERVISOR = "1001", "1002", "1003"


def still_open(messages: Sequence[Message]) -> list[str]:
    """What the scenario in ``messages`` has opened and not yet closed, in words."""
    up: dict[str, str] = {}
    seen: list[str] = []
    bridges: set[str] = set()
    conferences: set[str] = set()
    spies: Counter[str] = Counter()
    cdr_parties: set[str] = set()
    for msg in messages:
        event = msg.get("Event")
        if event == "Newchannel":
            up[str(msg["Uniqueid"])] = str(msg["Channel"])
            seen.append(str(msg["Channel"]))
        elif event == "Hangup":
            up.pop(str(msg.get("Uniqueid")), None)
        elif event == "BridgeCreate":
            bridges.add(str(msg["BridgeUniqueid"]))
        elif event == "BridgeDestroy":
            bridges.discard(str(msg["BridgeUniqueid"]))
        elif event == "ConfbridgeStart":
            conferences.add(str(msg["Conference"]))
        elif event == "ConfbridgeEnd":
            conferences.discard(str(msg["Conference"]))
        elif event in ("ChanSpyStart", "ChanSpyStop"):
            spies[str(msg.get("SpyerChannel"))] += 1 if event == "ChanSpyStart" else -1
        elif event == "Cdr":
            cdr_parties.update(str(msg.get(k, "")) for k in ("Channel", "DestinationChannel"))
    missing = [] if seen else ["a first Newchannel (the scenario has not begun)"]
    missing += [f"Hangup of {name}" for name in up.values()]
    missing += [f"BridgeDestroy of {bridge}" for bridge in sorted(bridges)]
    missing += [f"ConfbridgeEnd of {room}" for room in sorted(conferences)]
    missing += [f"ChanSpyStop of {spyer}" for spyer, n in sorted(spies.items()) if n > 0]
    missing += [f"Cdr row of {name}" for name in seen if name not in cdr_parties]
    return missing


def message_waiting(mailbox: str) -> Check:
    def check(messages: Sequence[Message]) -> list[str]:
        got = any(m.get("Event") == "MessageWaiting" and m.get("Mailbox") == mailbox for m in messages)
        return [] if got else [f"MessageWaiting for {mailbox}"]

    return check


@dataclass
class Run:
    """One scenario on one AMI connection: its actions, its first message, its end."""

    rec: AMIRecorder
    timeout_s: float
    start: int = 0
    mark: int = 0  # where the last action was sent: steps wait for what follows it

    @property
    def messages(self) -> list[Message]:
        return self.rec.messages[self.start :]

    async def wait(self, what: str, predicate: Callable[[Message], bool]) -> Message:
        """The first message since the last action that matches; a clear error past the timeout."""
        found: list[Message] = []

        def missing() -> list[str]:
            hit = next((m for m in self.rec.messages[max(self.start, self.mark) :] if predicate(m)), None)
            if hit is not None:
                found.append(hit)
                return []
            return [what]

        await self.rec.wait_until(missing, self.timeout_s, "scenario step")
        return found[0]

    async def request(self, action: str, **fields: str | list[str]) -> Message:
        self.mark = len(self.rec.messages)
        reply = await self.rec.request(action, **fields)
        if reply.get("Response") != "Success":
            raise AssertionError(f"{action} refused: {reply.get('Message')}")
        return reply

    async def end(self, *checks: Check) -> None:
        """Until every channel, bridge, conference and spy session of the scenario has closed and
        every channel's Cdr row is in (and each extra check is satisfied)."""

        def missing() -> list[str]:
            messages = self.messages
            return [*still_open(messages), *(item for check in checks for item in check(messages))]

        await self.rec.wait_until(missing, self.timeout_s, "scenario end")


# --- steps ----------------------------------------------------------------------------------------
def is_event(name: str, **fields: str) -> Callable[[Message], bool]:
    return lambda m: m.get("Event") == name and all(m.get(k) == v for k, v in fields.items())


def talking(extension: str) -> Callable[[Message], bool]:
    """The simulated agent's ``;2`` leg runs ``Answer`` (it rang with ``Wait(2)`` before)."""
    return lambda m: (
        m.get("Event") == "Newexten"
        and m.get("Application") == "Answer"
        and str(m.get("Channel", "")).startswith(f"Local/{extension}@agents-")
        and str(m.get("Channel", "")).endswith(";2")
    )


async def queue_add(run: Run, extension: str, queue: str = "support") -> None:
    reply = await run.request(
        "QueueAdd",
        Queue=queue,
        Interface=f"Local/{extension}@agents/n",
        StateInterface=f"Custom:{extension}",
        MemberName=f"Agent {extension}",
        Penalty="0",
        Paused="false",
    )
    assert reply["Message"] == "Added interface to queue"


async def queue_remove(run: Run, extension: str, queue: str = "support") -> None:
    reply = await run.request("QueueRemove", Queue=queue, Interface=f"Local/{extension}@agents/n")
    assert reply["Message"] == "Removed interface from queue"


async def caller(run: Run, number: str, talk: int, moh: int = 60, survey: bool = False) -> None:
    """An inbound PSTN caller (``Local/<number>@from-pstn``) waiting with music, as in 02."""
    variables = ["RECORD=no", f"__AGENT_TALK={talk}", f"SURVEY={'yes' if survey else 'no'}"]
    reply = await run.request(
        "Originate",
        Channel=f"Local/{number}@from-pstn",
        Application="MusicOnHold",
        Data=f"default,{moh}",
        CallerID=f'"PSTN {number}" <{number}>',
        Timeout="30000",
        Async="true",
        Variable=variables,
    )
    assert reply["Message"] == "Originate successfully queued"


async def answered_queue_call(run: Run, number: str, talk: int, **options: Any) -> tuple[str, str]:
    """A caller answered by agent 1001 from queue support: (caller ``;2`` leg, agent ``;1`` leg)."""
    await queue_add(run, AGENT)
    await caller(run, number, talk, **options)
    connect = await run.wait("AgentConnect", is_event("AgentConnect"))
    caller_leg, agent_leg = str(connect["Channel"]), str(connect["DestChannel"])
    await run.wait(f"agent {AGENT} talking", talking(AGENT))
    for leg in (agent_leg, caller_leg):  # AgentConnect comes just before the two enter the bridge
        await run.wait(f"BridgeEnter of {leg}", is_event("BridgeEnter", Channel=leg))
    return caller_leg, agent_leg


# --- the scenarios recorded as 09 and up ------------------------------------------------------------
async def attended_transfer(run: Run) -> None:
    """Atxfer from the agent's leg to 1002; the agent leaves once 1002 answers (the desk's
    "complete"), so Asterisk joins the caller and 1002; 1002 hangs up after talking."""
    _, agent_leg = await answered_queue_call(run, "5551250", talk=12)
    reply = await run.request("Atxfer", Channel=agent_leg, Exten=COLLEAGUE, Context="internal")
    assert reply["Message"] == "Atxfer successfully queued"
    await run.wait(f"{COLLEAGUE} answering the consultation", talking(COLLEAGUE))
    await run.request("Hangup", Channel=agent_leg, Cause="16")
    await run.wait("AttendedTransfer", is_event("AttendedTransfer"))
    await run.end()
    await queue_remove(run, AGENT)


async def attended_transfer_cancelled(run: Run) -> None:
    """Atxfer from the agent's leg to 1002; once 1002 answers, its consultation call is hung up
    (the desk's "cancel"), so the agent is back with the caller; the agent hangs up after talking."""
    _, agent_leg = await answered_queue_call(run, "5551255", talk=12)
    reply = await run.request("Atxfer", Channel=agent_leg, Exten=COLLEAGUE, Context="internal")
    assert reply["Message"] == "Atxfer successfully queued"
    prefix = f"Local/{COLLEAGUE}@internal-"
    consultation = await run.wait(
        "the consultation call",
        lambda m: m.get("Event") == "Newchannel" and str(m.get("Channel", "")).startswith(prefix),
    )
    await run.wait(f"{COLLEAGUE} answering the consultation", talking(COLLEAGUE))
    # the agent's side of the consultation is up once its dial ends answered, not when 1002's leg answers
    await run.wait(
        "the consultation call answered",
        is_event("DialEnd", DestChannel=str(consultation["Channel"]), DialStatus="ANSWER"),
    )
    await run.request("Hangup", Channel=str(consultation["Channel"]), Cause="16")
    await run.wait("the agent back with the caller", is_event("Unhold", Channel=agent_leg))
    await run.end()
    await queue_remove(run, AGENT)


async def hold(run: Run, held: Callable[[], Awaitable[None]] | None = None) -> None:
    """The CTI's hold: caller to cc-hold music, agent leg to cc-hold wait (one Redirect), then
    the Bridge action joins them again; the agent hangs up after talking."""
    caller_leg, agent_leg = await answered_queue_call(run, "5551251", talk=15)
    await run.request(
        "Redirect",
        Channel=caller_leg,
        Context="cc-hold",
        Exten="hold",
        Priority="1",
        ExtraChannel=agent_leg,
        ExtraContext="cc-hold",
        ExtraExten="wait",
        ExtraPriority="1",
    )
    await run.wait("caller on music on hold", is_event("MusicOnHoldStart", Channel=caller_leg))
    await run.wait("agent leg waiting in cc-hold", is_event("Newexten", Channel=agent_leg, Context="cc-hold"))
    if held is not None:
        await held()
    await run.request("Bridge", Channel1=caller_leg, Channel2=agent_leg, Tone="no")
    await run.wait("caller off hold", is_event("MusicOnHoldStop", Channel=caller_leg))
    await run.end()
    await queue_remove(run, AGENT)


async def three_way(run: Run, room: str = "4242") -> None:
    """Caller and agent moved into ConfBridge ``room`` (one Redirect), 1002 rung into it; when
    both agents have left, the caller hangs up."""
    caller_leg, agent_leg = await answered_queue_call(run, "5551252", talk=12)
    await run.request(
        "Redirect",
        Channel=caller_leg,
        Context="cc-conference",
        Exten=room,
        Priority="1",
        ExtraChannel=agent_leg,
        ExtraContext="cc-conference",
        ExtraExten=room,
        ExtraPriority="1",
    )
    await run.request(
        "Originate",
        Channel=f"Local/{COLLEAGUE}@agents/n",
        Context="cc-conference",
        Exten=room,
        Priority="1",
        Timeout="30000",
        Async="true",
        Variable="__AGENT_TALK=6",
    )
    left = [f"Local/{ext}@agents-" for ext in (AGENT, COLLEAGUE)]

    def has_left(prefix: str) -> Callable[[Message], bool]:
        return lambda m: m.get("Event") == "ConfbridgeLeave" and str(m.get("Channel", "")).startswith(prefix)

    for prefix in left:
        await run.wait(f"ConfbridgeLeave of {prefix}", has_left(prefix))
    one = caller_leg.removesuffix(";2") + ";1"
    await run.request("Hangup", Channel=one, Cause="16")
    await run.end()
    await queue_remove(run, AGENT)


SPY_MODES = (("listen", "q"), ("whisper", "qw"), ("barge", "qB"))


async def supervisor_spy(run: Run) -> None:
    """Supervisor 1003 listens to, then whispers to, then barges in on agent 1001's call
    (Originate of ChanSpy on the agent's leg, as ``CallCommands.spy``); each session ends when
    the supervisor hangs up."""
    _, agent_leg = await answered_queue_call(run, "5551253", talk=30)
    spyers: list[str] = []
    for _mode, options in SPY_MODES:
        reply = await run.request(
            "Originate",
            Channel=f"Local/{SUPERVISOR}@agents/n",
            Application="ChanSpy",
            Data=f"{agent_leg},{options}",
            CallerID=f'"Spy" <{SUPERVISOR}>',
            Timeout="30000",
            Async="true",
            Variable="__AGENT_TALK=3",
        )
        assert reply["Message"] == "Originate successfully queued"
        begun = await run.wait(
            f"ChanSpyStart ({options})",
            lambda m, o=options: m.get("Event") == "ChanSpyStart" and str(m.get("SpyerChannel")) not in spyers,
        )
        spyers.append(str(begun["SpyerChannel"]))
        await run.wait(f"Hangup of {spyers[-1]}", is_event("Hangup", Channel=spyers[-1]))
    await run.end()
    await queue_remove(run, AGENT)


async def post_call_survey(run: Run) -> None:
    """Queue option c: the agent hangs up, the caller goes on into AGI(survey) (served by
    ``survey_agi``) and then hangs up."""
    await answered_queue_call(run, "5551254", talk=4, survey=True)
    await run.wait("AGI survey", lambda m: m.get("Event") == "Newexten" and "survey" in str(m.get("AppData")))
    await run.end()
    await queue_remove(run, AGENT)


# --- a FastAGI server for the IVR and the survey -------------------------------------------------------
async def _agi_session(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """The IVR sets IVR_CHOICE as in transcript 02; the survey asks for one digit (a Local
    caller sends none, so it times out) and records the empty score."""
    script = ""
    while line := (await reader.readline()).decode().strip():
        if line.startswith("agi_network_script:"):
            script = line.partition(":")[2].strip()
    commands = (
        ['VERBOSE "FastAGI survey" 1', "GET VARIABLE MEMBERINTERFACE", "GET DATA beep 1500 1"]
        if script == "survey"
        else ['VERBOSE "FastAGI ivr" 1', "SET VARIABLE IVR_CHOICE 1"]
    )
    try:
        for command in commands:
            writer.write(command.encode() + b"\n")
            await writer.drain()
            if not (await reader.readline()).startswith(b"200"):
                break
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


@contextlib.asynccontextmanager
async def survey_agi(host: str, port: int) -> AsyncIterator[None]:
    server = await asyncio.start_server(_agi_session, host, port, reuse_address=True)
    try:
        yield
    finally:
        server.close()
        await server.wait_closed()


async def pbx_idle(rec: AMIRecorder, timeout_s: float) -> None:
    """Until the PBX has no channel left (from an earlier scenario): CoreShowChannels, then the
    Hangup of each channel it listed."""
    start = len(rec.messages)
    action_id = rec.send("CoreShowChannels")

    def listed() -> list[str]:
        done = any(
            m.get("Event") == "CoreShowChannelsComplete" and m.get("ActionID") == action_id
            for m in rec.messages[start:]
        )
        return [] if done else ["CoreShowChannelsComplete"]

    await rec.wait_until(listed, timeout_s, "channel list")
    alive = {
        str(m["Uniqueid"]): str(m["Channel"])
        for m in rec.messages[start:]
        if m.get("Event") == "CoreShowChannel" and m.get("ActionID") == action_id
    }

    def gone() -> list[str]:
        for m in rec.messages[start:]:
            if m.get("Event") == "Hangup":
                alive.pop(str(m.get("Uniqueid")), None)
        return [f"Hangup of {name} (left from before)" for name in alive.values()]

    await rec.wait_until(gone, timeout_s, "idle PBX")


async def reset(rec: AMIRecorder, timeout_s: float) -> None:
    """What each scenario starts from: no channel up, no agent in a queue, agents NOT_INUSE."""
    await pbx_idle(rec, timeout_s)
    for ext in (AGENT, COLLEAGUE, SUPERVISOR):
        for queue in ("support", "sales"):
            await rec.request("QueueRemove", Queue=queue, Interface=f"Local/{ext}@agents/n")
        await rec.request("Command", Command=f"devstate change Custom:{ext} NOT_INUSE")


RECORDED: dict[str, Callable[[Run], Awaitable[None]]] = {
    "09_attended_transfer_atxfer": attended_transfer,
    # on the recording the caller is held two seconds (what a scenario lets happen, not a wait for it)
    "10_hold_redirect_bridge": lambda run: hold(run, held=lambda: asyncio.sleep(2.0)),
    "11_three_way_confbridge": three_way,
    "12_supervisor_chanspy": supervisor_spy,
    "13_post_call_survey": post_call_survey,
    "14_attended_transfer_cancelled": attended_transfer_cancelled,
}

"""The dialer's asyncio shell: paces every running campaign with ``cti.dialer.pacing`` and dials.

Every ``tick_s`` it reads, for each running progressive or predictive campaign within its schedule, the
agents free for it (from the ``agent.state`` events: available, in the campaign's queue or list), the calls
it has ringing and those answered and waiting; the pacing core says how many to originate; the leads due
next are taken in list order, a do-not-call number is skipped (the lead becomes ``dnc``), and each call is
originated customer first::

    Originate Channel=Local/<number>@<dialer_callee_context>/n Context=<dialer_connect_context> Exten=<queue>

The OriginateResponse says busy (5), no answer (3), failed (0, 1, 8) or answered (4, with the Uniqueid
that is the call's Linkedid). An answered call waits in the queue at most ``dialer_drop_s``
(the dialplan's Queue timeout): an AgentConnect of its Linkedid connects it, its Hangup without one is a
dropped call (raw AMI events, ``on_ami``). The retry policy and the lead's state live in the database
(``crm_core.services.outbound``), so a pause or a restart resumes where the campaign was.

The call is known by its Linkedid before it is answered: the originated ``;1`` leg's VarSet of
``CC_ATTEMPT`` (Asterisk sets the Originate's variables on it before it dials) names the attempt, so the
OriginateResponse, AgentConnect and Hangup events are read in the order the PBX sent them, whenever the
task that sent the Originate gets its reply. (Waiting for that reply first lost the AgentConnect that
came in the same read as the OriginateResponse: the answered call then ended as dropped, its lead
retried much later.) A Hangup before the answer (busy: Asterisk hangs the ``;1`` leg up before its
OriginateResponse) leaves the outcome to the Originate's reply.

Several nodes: the dialer runs on the node holding the bridge lock (``agent_desk.duties``), and the lead's
state in the database is the guard against dialling a lead twice. A lead is taken with a conditional
update (only from ``new`` or ``retry``, at the attempt count read), so two dialers never both take it.
A node that takes over finds leads left ``dialing`` by its predecessor, whose calls may still be on the
PBX: each stays ``dialing`` (never due) until the new bridge's tracker, after its resync, reports it. A
call still up with the lead's number (or the attempt's call id) is followed to its end as the tracker
reports it (``call.ended``); a lead whose call is gone once the Originate's ring timeout and the queue
wait (``ring_timeout_s + drop_s``, plus a margin) have passed is dialled again (its attempt failed), as
after a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from crm_core.models import Attempt, Campaign, Lead
from crm_core.services import outbound as svc
from cti.commands import CommandError, check_context
from cti.dialer.pacing import PacingInput, PacingPolicy, PacingStats, pace

log = logging.getLogger(__name__)

Event = dict[str, Any]
ORIGINATE_OUTCOMES = {"5": "busy", "3": "no_answer", "1": "no_answer", "0": "failed", "8": "failed"}
DIALER_EVENTS = ("agent.state", "call.ended")
_AGENT_INTERFACE = re.compile(r"^(?:Local/|PJSIP/|SIP/)?([0-9*#]{2,15})(?:[@-]|$)")
SETTLE_MARGIN_S = 5.0  # past the ring timeout and the queue wait: what a taken-over call may still take to show
_NON_DIGITS = re.compile(r"\D")


def _extension(interface: str) -> str:
    """``Local/1002@agents/n`` (or PJSIP/1002-...) -> ``1002``."""
    found = _AGENT_INTERFACE.match(interface)
    return found.group(1) if found else interface


@dataclass(slots=True)
class LiveCall:
    """A campaign call between its Originate and its end."""

    attempt_id: int
    campaign_id: int
    lead_id: int
    started: float  # monotonic seconds
    answered: float | None = None
    agent: str = ""
    connected: float | None = None
    preview: bool = False  # dialled by the agent (click-to-dial): the tracker's disposition is the outcome
    machine: bool = False  # AMD said an answering machine answered
    call_id: str = ""  # the Linkedid, once the PBX has named the originated leg
    hung_up: bool = False  # its Hangup was seen
    closed: bool = False  # its end was handed to the database writer


@dataclass(frozen=True, slots=True)
class Orphan:
    """An attempt a predecessor left ``dialing``: its call may still be on the PBX."""

    attempt_id: int
    campaign_id: int
    lead_id: int
    number: str
    call_id: str
    started_at: datetime  # UTC, as stored


@dataclass(slots=True)
class CampaignPace:
    stats: PacingStats
    ringing: set[int] = field(default_factory=set)  # attempt ids between Originate and its response
    last: dict[str, Any] = field(default_factory=dict)  # the last decision, for the pages


def _utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class Dialer:
    """One dialer per PBX; ``handle`` takes bus events, ``run`` paces until ``stop``."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        commands: Callable[[], Any],
        *,
        region: str = "CN",
        timezone: str = "Asia/Shanghai",
        callee_context: str = "dialer-callee",
        connect_context: str = "dialer-connect",
        drop_s: float = 2.0,
        ring_timeout_s: float = 25.0,
        tick_s: float = 1.0,
        working_day: Callable[[datetime], bool | None] | None = None,
        callback_missed_after_s: int = 900,
        calls_on_pbx: Callable[[], list[dict[str, Any]] | None] | None = None,
    ) -> None:
        self.factory = factory
        self.commands = commands
        self.region = region
        self.timezone = timezone
        self.callee_context = check_context(callee_context)
        self.connect_context = check_context(connect_context)
        self.drop_s = drop_s
        self.ring_timeout_s = ring_timeout_s
        self.tick_s = tick_s
        self.working_day = working_day  # the business calendar's say on a local day (None: no calendar)
        self.callback_missed_after_s = callback_missed_after_s
        # the active bridge's live calls once it is resynced (None before); without it, a start releases
        # every lead left dialing at once (one process: its calls ended with it)
        self.calls_on_pbx = calls_on_pbx
        self.settle_s = ring_timeout_s + drop_s + SETTLE_MARGIN_S
        self.orphans: list[Orphan] = []
        self.extra_variables: dict[str, str] = {}  # set on every campaign call (the tests' talk times)
        self.agents: dict[str, tuple[str, frozenset[str]]] = {}  # extension -> (state, queues)
        self.calls: dict[str, LiveCall] = {}  # call id -> campaign call
        self.dialing: dict[int, LiveCall] = {}  # attempt id -> call whose Originate has no reply yet
        self.paces: dict[int, CampaignPace] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._work: asyncio.Queue[tuple[str, LiveCall]] = asyncio.Queue()

    # --- what the bus says -----------------------------------------------------------------------
    async def handle(self, event: Event) -> None:
        """Bus events: agents' states, and the end of calls agents dialled from a preview or a callback."""
        kind = event.get("type")
        if kind == "agent.state":
            extension = str(event.get("extension") or event.get("agent") or "")
            if extension:
                queues = frozenset(str(q) for q in event.get("queues") or ())
                self.agents[extension] = (str(event.get("state") or ""), queues)
            return
        live = self.calls.get(str(event.get("call_id") or ""))
        if live is not None and live.preview and kind == "call.ended":
            self.calls.pop(str(event["call_id"]), None)
            await self._ended(live, event)

    def on_ami(self, message: Mapping[str, Any]) -> None:
        """Raw AMI events of the campaign calls dialled customer first, by the call's Linkedid: AgentConnect
        (an agent took the call), VarSet AMDSTATUS (answering-machine detection) and the Hangup of the
        originated channel (the call's end) — read as Asterisk 22 sends them, whatever the call tracker
        makes of a queue call that an Originate started."""
        name = message.get("Event")
        if name == "VarSet" and message.get("Variable") == "CC_ATTEMPT":
            self._named(message)
        elif name == "OriginateResponse":
            live = self.calls.get(str(message.get("Uniqueid") or ""))
            if live is not None and message.get("Response") == "Success":
                self._mark_answered(live)
        elif name == "AgentConnect":
            live = self.calls.get(str(message.get("Linkedid") or ""))
            if live is not None and not live.preview and live.connected is None:
                self._mark_answered(live)
                live.agent = _extension(str(message.get("Interface") or message.get("DestChannel") or ""))
                live.connected = time.monotonic()
                self._work.put_nowait(("connected", live))
        elif name == "VarSet" and message.get("Variable") == "AMDSTATUS" and message.get("Value") == "MACHINE":
            live = self.calls.get(str(message.get("Linkedid") or ""))
            if live is not None and not live.preview:
                live.machine = True
        elif name == "Hangup":
            call_id = str(message.get("Uniqueid") or "")
            live = self.calls.get(call_id)
            if live is not None and not live.preview:
                del self.calls[call_id]
                live.hung_up = True
                if live.answered is not None:  # before the answer, the Originate's reply decides
                    self._close(live)

    def _named(self, message: Mapping[str, Any]) -> None:
        """The originated leg (the first channel of its Linkedid) carries the attempt's variable."""
        uniqueid = str(message.get("Uniqueid") or "")
        if not uniqueid or uniqueid != str(message.get("Linkedid") or ""):
            return
        try:
            live = self.dialing.get(int(str(message.get("Value") or "")))
        except ValueError:
            return
        if live is not None and not live.call_id:  # a failed Originate's own channel comes later
            live.call_id = uniqueid
            self.calls[uniqueid] = live

    def _mark_answered(self, live: LiveCall) -> None:
        """The customer answered: the attempt's call id is written before what follows."""
        if live.answered is None:
            live.answered = time.monotonic()
            self._pace(live.campaign_id).ringing.discard(live.attempt_id)  # now waiting for an agent
            self._work.put_nowait(("answered", live))

    def _close(self, live: LiveCall) -> None:
        """Hand the call's end to the writer, once."""
        if not live.closed:
            live.closed = True
            self._work.put_nowait(("ended", live))

    async def _work_forever(self) -> None:
        """The AMI listener's findings, written in the order they came."""
        while True:
            kind, live = await self._work.get()
            try:
                if kind == "answered":
                    await asyncio.to_thread(self._db, svc.set_attempt_call, live.attempt_id, live.call_id)
                elif kind == "connected":
                    await asyncio.to_thread(self._db, svc.connect_attempt, live.attempt_id, live.agent, _utcnow())
                else:
                    await self._ended(live, {})
            except Exception:
                log.exception("dialer: recording %s of attempt %s failed", kind, live.attempt_id)

    def track_preview(self, call_id: str, attempt_id: int, campaign_id: int, lead_id: int, agent: str) -> None:
        """A call the agent dialled from a preview lead or a callback: its end closes the attempt."""
        now = time.monotonic()
        self.calls[call_id] = LiveCall(attempt_id, campaign_id, lead_id, now, now, agent, None, preview=True)

    async def _ended(self, live: LiveCall, event: Event) -> None:
        if live.preview:
            outcome = {"answered": "connected", "busy": "busy", "no_answer": "no_answer"}.get(
                str(event.get("disposition") or ""), "failed"
            )
            if outcome == "connected":
                await asyncio.to_thread(self._db, svc.connect_attempt, live.attempt_id, live.agent, _utcnow())
            await asyncio.to_thread(self._db, svc.finish_attempt, live.attempt_id, outcome, _utcnow())
            return
        stats = self._pace(live.campaign_id).stats
        if live.machine:  # for the pacing, a line that answered; for the lead, a retry later
            outcome = "machine"
        elif live.connected is not None:
            stats.handled(time.monotonic() - live.connected)
            outcome = "connected"
        else:
            stats.dropped_call()
            outcome = "dropped"
        await asyncio.to_thread(self._db, svc.finish_attempt, live.attempt_id, outcome, _utcnow())

    def _db(self, fn: Callable[..., Any], *args: Any) -> Any:
        with self.factory() as session:
            result = fn(session, *args)
            session.commit()
            return result

    def _pace(self, campaign_id: int, policy: PacingPolicy | None = None) -> CampaignPace:
        found = self.paces.get(campaign_id)
        if found is None:
            found = self.paces[campaign_id] = CampaignPace(PacingStats(policy or PacingPolicy()))
        elif policy is not None and found.stats.policy != policy:
            found.stats.policy = policy
        return found

    # --- pacing ----------------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        """Pace until ``stop`` (or a cancel: the node lost the bridge lock); each start is a takeover."""
        self._forget_calls()
        if self.calls_on_pbx is None:
            await asyncio.to_thread(self._db, svc.release_stale)  # a last run's calls in progress are gone
        else:
            self.orphans = await asyncio.to_thread(self._db, _orphans)
        self._background(self._work_forever())
        last_missed = 0.0
        try:
            while not stop.is_set():
                try:
                    if self._pbx_ready():  # a takeover: no lead is taken before the new bridge is live
                        await self._settle_orphans()
                        await self.tick()
                    if time.monotonic() - last_missed >= 30.0:
                        last_missed = time.monotonic()
                        grace = timedelta(seconds=self.callback_missed_after_s)
                        await asyncio.to_thread(self._db, svc.mark_missed, _utcnow(), grace)
                except Exception:
                    log.exception("dialer tick failed")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=self.tick_s)
        finally:  # nothing of this term goes on: a successor may be dialling already
            tasks = list(self._tasks)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    def _forget_calls(self) -> None:
        """What an earlier term of this node left: its campaign calls are the orphans of this one."""
        self.dialing.clear()
        self.calls = {k: c for k, c in self.calls.items() if c.preview}
        for pace_state in self.paces.values():
            pace_state.ringing.clear()
        self._work = asyncio.Queue()

    def _pbx_ready(self) -> bool:
        return self.calls_on_pbx is None or self.calls_on_pbx() is not None

    async def _settle_orphans(self) -> None:
        """Follow the orphans whose call is still up; dial again those whose call is surely gone."""
        if not self.orphans or self.calls_on_pbx is None:
            return
        calls = self.calls_on_pbx()
        if calls is None:  # the bridge is not resynced yet: nothing is known of the PBX's calls
            return
        now, kept, gone = _utcnow(), [], []
        for orphan in self.orphans:
            call = _call_of(calls, orphan)
            if call is not None:
                await self._adopt(orphan, call)
            elif (now - orphan.started_at).total_seconds() >= self.settle_s:
                gone.append(orphan)
            else:
                kept.append(orphan)
        if gone:
            await asyncio.to_thread(self._db, _release, gone)
            log.info("dialer: %d leads left dialing by another node are due again", len(gone))
        self.orphans = kept

    async def _adopt(self, orphan: Orphan, call: Mapping[str, Any]) -> None:
        """A predecessor's call still up: its end (as the tracker reports it) closes the attempt."""
        call_id = str(call.get("call_id") or "")
        agent = str(call.get("agent") or "")
        log.info("dialer: following call %s of lead %s, dialled by another node", call_id, orphan.lead_id)
        if call_id != orphan.call_id:
            await asyncio.to_thread(self._db, svc.set_attempt_call, orphan.attempt_id, call_id)
        self.track_preview(call_id, orphan.attempt_id, orphan.campaign_id, orphan.lead_id, agent)

    def _background(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def free_agents(self, campaign: Mapping[str, Any]) -> tuple[int, int]:
        """Agents of the campaign available now, and those on a call or in wrap-up."""
        wanted = set(campaign.get("agents") or ())
        queue = campaign.get("queue") or ""
        reserved = {c.agent for c in self.calls.values() if c.agent and c.connected is None}
        free = busy = 0
        for extension, (state, queues) in self.agents.items():
            if (wanted and extension not in wanted) or (queue and queue not in queues):
                continue
            if state == "available" and extension not in reserved:
                free += 1
            elif state in ("ringing", "on_call", "wrap_up"):
                busy += 1
        return free, busy

    async def tick(self) -> list[dict[str, Any]]:
        """Pace every running campaign once; returns the decisions (for tests and the pages)."""
        now = _utcnow()
        campaigns = await asyncio.to_thread(self._running, now)
        decisions = []
        for campaign in campaigns:
            decisions.append(await self._pace_campaign(campaign, now))
        return decisions

    def _running(self, now: datetime) -> list[dict[str, Any]]:
        with self.factory() as session:
            rows = session.scalars(select(Campaign).where(Campaign.status == "running")).all()
            out = []
            for campaign in rows:
                if campaign.mode == "preview":
                    continue
                local = svc.local_time(now, self.timezone)
                is_open = self.working_day(local) if self.working_day else None
                data = svc.campaign_dict(campaign)
                data["in_schedule"] = svc.in_schedule(campaign.schedule or {}, local, is_open)
                data["due"] = svc.count_due(session, campaign.id, now) if data["in_schedule"] else 0
                out.append(data)
            return out

    async def _pace_campaign(self, campaign: dict[str, Any], now: datetime) -> dict[str, Any]:
        policy = PacingPolicy(abandon_cap=campaign["abandon_cap_pct"] / 100.0, max_ratio=campaign["max_ratio"])
        state = self._pace(campaign["id"], policy)
        free, busy = self.free_agents(campaign)
        waiting = sum(
            1
            for c in self.calls.values()
            if c.campaign_id == campaign["id"] and c.connected is None and c.answered is not None
        )
        given = PacingInput(campaign["mode"], free, busy, len(state.ringing), waiting, campaign["due"])
        decision = pace(given, state.stats)
        state.last = {
            "campaign_id": campaign["id"],
            "originate": decision.originate,
            "ratio": decision.ratio,
            "reason": decision.reason,
            "agents_free": free,
            "agents_busy": busy,
            "in_flight": len(state.ringing),
            "waiting": waiting,
            "answer_rate": round(state.stats.answer_rate, 3),
            "abandon_rate": round(state.stats.abandon_rate, 4),
            "in_schedule": campaign["in_schedule"],
        }
        if decision.originate > 0:
            leads = await asyncio.to_thread(self._take_leads, campaign["id"], now, decision.originate)
            for attempt_id, lead_id, number in leads:
                state.ringing.add(attempt_id)
                self._background(self._dial(campaign, attempt_id, lead_id, number))
        return state.last

    def _take_leads(self, campaign_id: int, now: datetime, count: int) -> list[tuple[int, int, str]]:
        """Up to ``count`` due leads, each with its attempt started; do-not-call leads are skipped."""
        taken: list[tuple[int, int, str]] = []
        seen: set[int] = set()  # a lead another dialer took is not tried twice
        with self.factory() as session:
            while len(taken) < count:
                wanted = count - len(taken)
                batch = svc.due_leads(session, campaign_id, now, wanted + len(seen))
                batch = [lead for lead in batch if lead.id not in seen][:wanted]
                if not batch:
                    break
                for lead in batch:
                    seen.add(lead.id)
                    if not _claim(session, lead):
                        continue  # another dialer took it meanwhile
                    if svc.skip_if_dnc(session, lead, self.region):
                        continue
                    attempt = svc.start_attempt(session, lead, now)
                    taken.append((attempt.id, lead.id, lead.phone))
            session.commit()
        return taken

    async def _dial(self, campaign: dict[str, Any], attempt_id: int, lead_id: int, number: str) -> None:
        state = self._pace(campaign["id"])
        started = time.monotonic()
        live = self.dialing[attempt_id] = LiveCall(attempt_id, campaign["id"], lead_id, started)
        try:
            reply = await self.originate(campaign, attempt_id, lead_id, number)
        except Exception as exc:
            self.dialing.pop(attempt_id, None)
            state.ringing.discard(attempt_id)
            if live.answered is not None:  # its answer was seen after all (a reply that came too late)
                state.stats.finished("answered", live.answered - started)
                self._answered(live, live.call_id)
                return
            if live.call_id:
                self.calls.pop(live.call_id, None)
            if isinstance(exc, CommandError):
                outcome = ORIGINATE_OUTCOMES.get(str((exc.response or {}).get("Reason", "0")), "failed")
                state.stats.finished(outcome, time.monotonic() - started)  # type: ignore[arg-type]
            else:
                outcome = "failed"
                log.exception("campaign %s: dialling lead %s failed", campaign["id"], lead_id)
            await asyncio.to_thread(self._db, svc.finish_attempt, attempt_id, outcome, _utcnow())
            return
        self.dialing.pop(attempt_id, None)
        state.ringing.discard(attempt_id)
        state.stats.finished("answered", time.monotonic() - started)
        call_id = live.call_id or str(reply.get("Uniqueid") or "")
        if not call_id or call_id == "<unknown>":
            await asyncio.to_thread(self._db, svc.finish_attempt, attempt_id, "failed", _utcnow())
            return
        self._answered(live, call_id)

    def _answered(self, live: LiveCall, call_id: str) -> None:
        """The Originate's reply says answered: the call is followed by its Linkedid (from now on, if the
        PBX did not name it before), and ended here if its Hangup came first."""
        if not live.call_id:
            live.call_id = call_id
            self.calls[call_id] = live
        self._mark_answered(live)
        if live.hung_up:
            self._close(live)

    async def originate(
        self, campaign: Mapping[str, Any], attempt_id: int, lead_id: int, number: str
    ) -> dict[str, Any]:
        commands = self.commands()
        if commands is None:
            raise CommandError("the PBX link is not running", zh="未连接到交换机")
        queue = str(campaign["queue"])
        variables = {
            "CC_CAMPAIGN": str(campaign["id"]),
            "CC_LEAD": str(lead_id),
            "CC_ATTEMPT": str(attempt_id),
            "DIALER_DROP_S": f"{self.drop_s:g}",
            "DIALER_AMD": "yes" if campaign.get("amd") else "no",
            "QUEUE_NAME": queue,  # the queue where the simulator plays the answered customer
            "RECORD": "no",
            "SURVEY": "no",
            **self.extra_variables,
        }
        result: dict[str, Any] = await commands.originate_customer_first(
            number,
            self.callee_context,
            self.connect_context,
            queue,
            caller_id=str(campaign.get("caller_id") or "") or None,
            variables=variables,
            ring_timeout_s=self.ring_timeout_s,
        )
        return result

    # --- what the pages read -------------------------------------------------------------------
    def status(self) -> dict[int, dict[str, Any]]:
        return {cid: dict(p.last) for cid, p in self.paces.items()}


def _claim(session: Session, lead: Lead) -> bool:
    """Take the lead for an attempt only if it is still as it was read (due, at that attempt count)."""
    taken = session.execute(
        update(Lead)
        .where(Lead.id == lead.id, Lead.state == lead.state, Lead.attempts == lead.attempts)
        .where(Lead.state.in_(svc.OPEN_STATES))
        .values(state="dialing")
        .execution_options(synchronize_session=False)
    )
    if getattr(taken, "rowcount", 0) != 1:
        session.expire(lead)
        return False
    return True


def _orphans(session: Session) -> list[Orphan]:
    rows = session.execute(
        select(Attempt, Lead.phone)
        .join(Lead, Lead.id == Attempt.lead_id)
        .where(Lead.state == "dialing", Attempt.outcome == "pending")
        .order_by(Attempt.id)
    ).all()
    return [
        Orphan(a.id, a.campaign_id, a.lead_id, phone, a.call_id or "", a.started_at or _utcnow()) for a, phone in rows
    ]


def _release(session: Session, orphans: list[Orphan]) -> None:
    """The orphans' calls are gone: their attempts failed, their leads are due again (as after a restart)."""
    for orphan in orphans:
        session.execute(update(Lead).where(Lead.id == orphan.lead_id, Lead.state == "dialing").values(state="retry"))
        session.execute(
            update(Attempt)
            .where(Attempt.id == orphan.attempt_id, Attempt.outcome == "pending")
            .values(outcome="failed")
        )


def _digits(number: object) -> str:
    return _NON_DIGITS.sub("", number) if isinstance(number, str) else ""


def _same_number(a: str, b: str) -> bool:
    """Two spellings of one number (a national number against one with its country code)."""
    if len(a) < 6 or len(b) < 6:
        return a == b and bool(a)
    return a.endswith(b) or b.endswith(a)


def _call_of(calls: list[dict[str, Any]], orphan: Orphan) -> Mapping[str, Any] | None:
    """The live call of an orphan: by its call id, else a party with the lead's number (the customer's
    ``Local/<number>@...`` leg or the line that answered)."""
    number = _digits(orphan.number)
    for call in calls:
        if orphan.call_id and call.get("call_id") == orphan.call_id:
            return call
    for call in calls:
        for party in call.get("parties") or ():
            channel = str(party.get("channel") or "")
            dialled = _digits(channel.split("@", 1)[0]) if channel.startswith("Local/") else ""
            if _same_number(_digits(party.get("number")), number) or (dialled and _same_number(dialled, number)):
                return call
        caller = call.get("caller")
        if isinstance(caller, dict) and _same_number(_digits(caller.get("number")), number):
            return call
    return None

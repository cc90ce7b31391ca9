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
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from crm_core.models import Campaign
from crm_core.services import outbound as svc
from cti.commands import CommandError, check_context
from cti.dialer.pacing import PacingInput, PacingPolicy, PacingStats, pace

log = logging.getLogger(__name__)

Event = dict[str, Any]
ORIGINATE_OUTCOMES = {"5": "busy", "3": "no_answer", "1": "no_answer", "0": "failed", "8": "failed"}
DIALER_EVENTS = ("agent.state", "call.ended")
_AGENT_INTERFACE = re.compile(r"^(?:Local/|PJSIP/|SIP/)?([0-9*#]{2,15})(?:[@-]|$)")


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
        self.extra_variables: dict[str, str] = {}  # set on every campaign call (the tests' talk times)
        self.agents: dict[str, tuple[str, frozenset[str]]] = {}  # extension -> (state, queues)
        self.calls: dict[str, LiveCall] = {}  # call id -> campaign call
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
        if name == "AgentConnect":
            live = self.calls.get(str(message.get("Linkedid") or ""))
            if live is not None and not live.preview and live.connected is None:
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
                self._work.put_nowait(("ended", live))

    async def _work_forever(self) -> None:
        """The AMI listener's findings, written in the order they came."""
        while True:
            kind, live = await self._work.get()
            try:
                if kind == "connected":
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
        await asyncio.to_thread(self._db, svc.release_stale)  # a last run's calls in progress are gone
        worker = asyncio.get_running_loop().create_task(self._work_forever(), name="dialer-results")
        self._tasks.add(worker)
        last_missed = 0.0
        while not stop.is_set():
            try:
                await self.tick()
                if time.monotonic() - last_missed >= 30.0:
                    last_missed = time.monotonic()
                    grace = timedelta(seconds=self.callback_missed_after_s)
                    await asyncio.to_thread(self._db, svc.mark_missed, _utcnow(), grace)
            except Exception:
                log.exception("dialer tick failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.tick_s)
        for task in list(self._tasks):
            task.cancel()

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
            1 for c in self.calls.values()
            if c.campaign_id == campaign["id"] and c.connected is None and c.answered is not None
        )
        given = PacingInput(campaign["mode"], free, busy, len(state.ringing), waiting, campaign["due"])
        decision = pace(given, state.stats)
        state.last = {
            "campaign_id": campaign["id"], "originate": decision.originate, "ratio": decision.ratio,
            "reason": decision.reason, "agents_free": free, "agents_busy": busy, "in_flight": len(state.ringing),
            "waiting": waiting, "answer_rate": round(state.stats.answer_rate, 3),
            "abandon_rate": round(state.stats.abandon_rate, 4), "in_schedule": campaign["in_schedule"],
        }
        if decision.originate > 0:
            leads = await asyncio.to_thread(self._take_leads, campaign["id"], now, decision.originate)
            for attempt_id, lead_id, number in leads:
                state.ringing.add(attempt_id)
                task = asyncio.get_running_loop().create_task(self._dial(campaign, attempt_id, lead_id, number))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
        return state.last

    def _take_leads(self, campaign_id: int, now: datetime, count: int) -> list[tuple[int, int, str]]:
        """Up to ``count`` due leads, each with its attempt started; do-not-call leads are skipped."""
        taken: list[tuple[int, int, str]] = []
        with self.factory() as session:
            while len(taken) < count:
                batch = svc.due_leads(session, campaign_id, now, count - len(taken))
                if not batch:
                    break
                for lead in batch:
                    if svc.skip_if_dnc(session, lead, self.region):
                        continue
                    attempt = svc.start_attempt(session, lead, now)
                    taken.append((attempt.id, lead.id, lead.phone))
            session.commit()
        return taken

    async def _dial(self, campaign: dict[str, Any], attempt_id: int, lead_id: int, number: str) -> None:
        state = self._pace(campaign["id"])
        started = time.monotonic()
        try:
            reply = await self.originate(campaign, attempt_id, lead_id, number)
        except CommandError as exc:
            reason = str((exc.response or {}).get("Reason", "0"))
            outcome = ORIGINATE_OUTCOMES.get(reason, "failed")
            state.ringing.discard(attempt_id)
            state.stats.finished(outcome, time.monotonic() - started)  # type: ignore[arg-type]
            await asyncio.to_thread(self._db, svc.finish_attempt, attempt_id, outcome, _utcnow())
            return
        except Exception:
            state.ringing.discard(attempt_id)
            log.exception("campaign %s: dialling lead %s failed", campaign["id"], lead_id)
            await asyncio.to_thread(self._db, svc.finish_attempt, attempt_id, "failed", _utcnow())
            return
        state.ringing.discard(attempt_id)
        call_id = str(reply.get("Uniqueid") or "")
        state.stats.finished("answered", time.monotonic() - started)
        if not call_id or call_id == "<unknown>":
            await asyncio.to_thread(self._db, svc.finish_attempt, attempt_id, "failed", _utcnow())
            return
        self.calls[call_id] = LiveCall(attempt_id, campaign["id"], lead_id, started, answered=time.monotonic())
        await asyncio.to_thread(self._db, svc.set_attempt_call, attempt_id, call_id)

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


"""The composition root: every long-running part of one ``callcenter serve`` process, wired together.

Parts meet only on the event bus: the AMI bridge publishes call events, the FastAGI server publishes
IVR steps and surveys; the screen-pop service, the statistics writer, the live queue board, the
recording index and the websocket hub consume them. ``demo=True`` adds the PBX simulator, seeds the
database and points the bridge at the simulator; with ``demo_pbx="asterisk"`` the bridge is already
pointed at a real Asterisk (``agent_desk.demo_pbx``) and ``cti.pbx_traffic`` plays agents and callers there.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import secrets
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from dataclasses import replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from agent_desk.desk_agents import DESK_AGENT_EVENTS, DeskAgents
from agent_desk.duties import Duties, run_while_held
from agent_desk.event_path import journal_history
from config import Settings
from crm_core.db import make_engine, make_sessionmaker, migrate
from crm_core.messaging.outbox import make_outbox
from cti.bridge import AMIBridge
from cti.bus import make_bridge_lock, make_durable_bus
from cti.bus.base import EventBus
from cti.bus.relay import RelayedCommands, make_command_relay
from cti.screen_pop import crm_screen_pop
from cti.tracker import CallTracker, TrackerConfig
from recordings.indexer import RecordingIndexService
from recordings.retention import run_retention_forever

log = logging.getLogger(__name__)

# Domain events that tell the recording index about a call: parties, customer, satisfaction.
RECORDING_EVENTS = ("call.new", "call.answered", "call.ended", "screen.pop", "survey.scored")
RECORDING_SCAN_S = 60.0
POOL_RETURN_INTERVAL_S = 6 * 3600.0
DRAIN_S = 2.0  # at stop: how long consumers may take to catch up with the last published events

Handler = Callable[[dict[str, Any]], Awaitable[None]]


class Runtime:
    """Starts and stops the parts; attributes are what pages and routers read (``request.app.state.runtime``)."""

    def __init__(self, settings: Settings, *, demo: bool = False, simulator: Any = None) -> None:
        self.settings = settings
        self.demo = demo
        self.simulator = simulator
        self.demo_password: str | None = None
        self.demo_pbx_info: Any = None  # agent_desk.demo_pbx.DemoPBXInfo when the demo runs on a real Asterisk
        self.pbx_traffic: Any = None  # cti.pbx_traffic.PBXTraffic: the demo's callers and agents on that PBX
        self.engine = make_engine(settings.effective_database_url)
        self.sessionmaker: sessionmaker[Session] = make_sessionmaker(self.engine)
        self.bus: EventBus = make_durable_bus(settings)  # the event journal first (agent_desk.event_path)
        # After-call work is a pause with a reason, timed on the server (desk_agents, wrapup_s); the tracker's
        # own wrap-up state follows the queue member's Wrapuptime that Asterisk reports.
        tracker_config = replace(TrackerConfig.from_settings(settings), wrapup_s=0.0)
        self.bridge = AMIBridge(settings, self.bus, lambda: CallTracker(pbx=settings.pbx, config=tracker_config))
        # Several nodes on one Redis: the lock elects the one active bridge per PBX, and only that node pops
        # (an agent connected to any node gets each pop once) and runs the center's duties (agent_desk.duties).
        self.bridge_lock = make_bridge_lock(settings)
        # the call commands: this node's own bridge, or relayed to the node holding it (cti.bus.relay)
        self.command_relay = make_command_relay(settings)
        self.commands: Any = self.bridge.commands
        if self.command_relay is not None:
            self.commands = RelayedCommands(self.bridge.commands, self.command_relay, lambda: self.bridge_lock.held)
        self.duties = Duties()
        self._elected: asyncio.Task[None] | None = None
        # each agent's pop within his data scope, read with the caller's card (cti.screen_pop.CrmCards)
        self.screen_pop = crm_screen_pop(
            self.engine,
            settings,
            self.bus.publish,
            active=(lambda: self.bridge_lock.held) if settings.redis_url else None,
        )
        self.hub = _make_hub(self.bus, settings)
        self.ivr = _make_ivr(settings, self.bus.publish, self.sessionmaker)
        self.history = journal_history(self.bus, _make_history_writer(self.sessionmaker))
        self.board = _make_live_board(settings)
        self.recordings = RecordingIndexService(self.sessionmaker, settings, self.bus.publish, demo_audio=demo)
        self.voicemail = _make_voicemail_index(settings)
        self.outbox = make_outbox(self.sessionmaker, settings)  # e-mail and SMS queued by the CRM (crm_core.messaging)
        # campaigns (cti.dialer); with several nodes a takeover follows the calls its predecessor left on the PBX
        calls_on_pbx = self._calls_on_pbx if settings.redis_url else None
        self.dialer = _make_dialer(settings, self.sessionmaker, lambda: self.commands, calls_on_pbx)
        # wrap-up timed on the server and pauses chosen before queue login (agent_desk.desk_agents); every
        # node keeps the deadlines from the bus, the node running the duties sends the commands
        self.desk_agents = DeskAgents(
            settings, lambda: self.commands, active=(lambda: self.duties.active) if settings.redis_url else None
        )
        self._tasks: list[asyncio.Task[None]] = []
        self._subscriptions: list[Any] = []
        self._pending: set[asyncio.Task[None]] = set()
        self._stop = asyncio.Event()
        self._demo_task: asyncio.Task[None] | None = None

    # --- lifecycle -------------------------------------------------------------------------------
    async def start(self) -> None:
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        await asyncio.to_thread(migrate, self.settings.effective_database_url)
        if self.demo:
            await self._start_demo()
        await asyncio.to_thread(self._resume_board)
        await self.hub.start()
        await self.screen_pop.start(self.bus)
        if not getattr(self.history, "journal_fed", False):
            self._consume("stats-writer", self.history.handle, None)
        self._consume("live-board", self._board_apply, None)
        self._consume("recording-index", self._while_on_duty(self.recordings.handle), RECORDING_EVENTS)
        self._consume("desk-agents", self.desk_agents.handle, DESK_AGENT_EVENTS)
        self._add_duties()
        loop = asyncio.get_running_loop()
        outbox = self.outbox.run_forever(self.settings.messaging_poll_s)
        self._tasks.append(loop.create_task(outbox, name="message-outbox"))  # on every node: see _add_duties
        if self.settings.dialer_enabled:  # agents' states and the preview calls dialled through this node
            from cti.dialer.shell import DIALER_EVENTS

            self._consume("dialer", self.dialer.handle, DIALER_EVENTS)
        if hasattr(self.bridge, "add_ami_listener"):
            self.bridge.add_ami_listener(self._on_ami)
            if self.settings.dialer_enabled:
                self.bridge.add_ami_listener(self.dialer.on_ami)
        if not self.settings.redis_url:  # one node: the duties run from the start
            await self.duties.start()
        if hasattr(self.bus, "start"):  # the journal: its consumers replay what a last run left
            await self.bus.start()
        await self.ivr.start()
        if self.settings.redis_url:  # stand by until this node holds the PBX's lock: then bridge and duties
            self._elected = loop.create_task(
                run_while_held(self.bridge_lock, [self.bridge, self.duties], label=f"PBX {self.settings.pbx}"),
                name="bridge-elected",
            )
        else:
            await self.bridge.start()
        if self.demo and self.simulator is not None:
            self._tasks.append(asyncio.get_running_loop().create_task(self._demo_traffic(), name="demo"))
        elif self.demo and self.settings.demo_pbx == "asterisk":
            self._demo_task = loop.create_task(self._demo_pbx_traffic(), name="demo-pbx-traffic")

    async def stop(self) -> None:
        """Stop the sources first, let the consumers take what they already published, then the rest."""
        self._stop.set()
        if self._demo_task is not None:  # its callers hang up and its agents leave while the bridge is up
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._demo_task, timeout=10.0)
            self._demo_task = None
        if self._elected is not None:  # stops the duties and the bridge, and gives the lock back
            self._elected.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._elected
            self._elected = None
        await self.bridge.stop()
        with contextlib.suppress(Exception):
            await self.bridge_lock.close()
        if self.command_relay is not None:
            await self.command_relay.close()
        await self.ivr.stop()
        if hasattr(self.bus, "settle"):  # what is journaled reaches the bus and the history first
            await self.bus.settle(DRAIN_S)
        for _ in range(int(DRAIN_S / 0.05)):
            if all(sub.pending() == 0 for sub in self._subscriptions):
                break
            await asyncio.sleep(0.05)
        for sub in self._subscriptions:
            sub.close()
        await self.duties.stop()  # one node: they ran to the end (the dialer and wrap-up ended at _stop)
        for task in [*self._tasks, *self._pending]:
            task.cancel()
        for task in [*self._tasks, *self._pending]:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        await self.history.drain()
        await self.screen_pop.stop()
        await self.hub.stop()
        if self.simulator is not None:
            await self.simulator.stop()
        await self.bus.close()
        self.engine.dispose()

    def _resume_board(self) -> None:
        """Today's wallboard numbers and agent states survive a restart: reload them from history."""
        from datetime import datetime
        from zoneinfo import ZoneInfo

        from stats.resume import resume_board

        today = datetime.now(ZoneInfo(self.settings.timezone)).date()
        with self.sessionmaker() as session:
            resume_board(session, self.board, today, self.settings.timezone, self.settings.pbx)

    # --- what pages read -------------------------------------------------------------------------
    def tracker_snapshot(self) -> Any:
        return self.bridge.tracker.snapshot()

    # --- the center's duties (agent_desk.duties) ---------------------------------------------------
    def _add_duties(self) -> None:
        """The work done once per center, on the node holding the bridge lock (every node without Redis).

        The message outbox is not among them: each message is claimed by one sender in the database
        (``crm_core.messaging.services.claim_due``), so every node may send, and a message sent from a
        page goes out from the node that took the request.
        """
        s = self.settings
        duties = self.duties
        duties.add("wallboard-publish", self._board_flush)  # and _board_apply's queue.stats
        duties.add("wrap-up", lambda: self.desk_agents.run(self._stop))
        if s.resync_interval_s > 0:
            duties.add("pbx-resync", self._resync_forever)
        duties.add("recording-scan", lambda: self.recordings.run_forever(RECORDING_SCAN_S))
        interval = s.recordings_retention_interval_s
        duties.add("recording-retention", lambda: run_retention_forever(self.sessionmaker, s, interval))
        duties.add("customer-pool-return", self._pool_return_forever)
        relay = self.command_relay
        if relay is not None:  # the desks' commands from the other nodes, run on this node's bridge
            duties.add("command-relay", lambda: relay.serve(self.bridge.commands, lambda: self.bridge_lock.held))
        if s.dialer_enabled:  # campaigns (cti.dialer.shell): pacing, dialing, callbacks gone missed
            duties.add("dialer", lambda: self.dialer.run(self._stop))

    def _while_on_duty(self, handler: Handler) -> Handler:
        """A consumer whose work is the center's (every node reads the bus): done where the duties run."""

        async def handle(event: dict[str, Any]) -> None:
            if self.duties.active:
                await handler(event)

        return handle

    def _calls_on_pbx(self) -> list[dict[str, Any]] | None:
        """The calls the active bridge tracks (after its resync), or None while it is not live here."""
        if not self.bridge.connected:
            return None
        calls = self.bridge.tracker.snapshot().get("calls")
        return list(calls) if isinstance(calls, list) else []

    # --- consumers -------------------------------------------------------------------------------
    def _consume(self, name: str, handler: Handler, types: Iterable[str] | None) -> None:
        subscription = self.bus.subscribe(types)
        self._subscriptions.append(subscription)

        async def run() -> None:
            async for event in subscription:
                try:
                    await handler(event)
                except Exception:
                    log.exception("%s failed on %s", name, event.get("type"))

        self._tasks.append(asyncio.get_running_loop().create_task(run(), name=name))

    async def _board_apply(self, event: dict[str, Any]) -> None:
        """Every node keeps its board from the bus (its wallboard page); the node on duty publishes."""
        for out in self.board.apply(event, time.time()):
            if self.duties.active:
                await self.bus.publish(out)

    async def _board_flush(self) -> None:
        while True:
            await asyncio.sleep(min(0.5, max(0.05, self.board.min_interval_s)))
            try:
                for out in self.board.flush(time.time()):
                    await self.bus.publish(out)
            except Exception:
                log.exception("live board flush failed")

    async def _resync_forever(self) -> None:
        """Calls the PBX no longer reports (a Hangup never seen) are ended: nobody stays "on call" for good."""
        while True:
            await asyncio.sleep(self.settings.resync_interval_s)
            resync = getattr(self.bridge, "resync", None)
            if resync is None:
                return
            try:
                await resync()
            except Exception:
                log.exception("periodic PBX resync failed")

    async def _pool_return_forever(self) -> None:
        """Claimed customers with no follow-up for ``pool_return_days`` go back to the public pool."""
        from crm_core.services.customers import return_stale_to_pool

        def run_once() -> int:
            with self.sessionmaker() as session:
                returned = return_stale_to_pool(session, self.settings.pool_return_days)
                session.commit()
                return len(returned)

        while True:
            try:
                count = await asyncio.to_thread(run_once)
                if count:
                    log.info("%d customers returned to the public pool", count)
            except Exception:
                log.exception("returning stale customers to the pool failed")
            await asyncio.sleep(POOL_RETURN_INTERVAL_S)

    def _on_ami(self, msg: dict[str, Any]) -> None:
        """Raw AMI events that name files: recordings (MixMonitor) and voicemail (MessageWaiting)."""
        event = msg.get("Event")
        if event in ("VarSet", "MixMonitorStart", "MixMonitorStop"):
            work = self.recordings.on_ami(msg)
            if work is not None:
                self._background(work)
        elif event == "MessageWaiting":
            self._background(self._voicemail_new(msg))

    async def _voicemail_new(self, msg: dict[str, Any]) -> None:
        for event in await asyncio.to_thread(self.voicemail.on_message_waiting, msg):
            await self.bus.publish(event)

    def _background(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)
        task.add_done_callback(_log_failure)

    # --- demo ------------------------------------------------------------------------------------
    async def _start_demo(self) -> None:
        from crm_core.models import User
        from crm_core.seed import seed_demo

        def seed() -> bool:
            with self.sessionmaker() as session:
                if session.scalar(select(User.id).limit(1)) is not None:
                    return False
                seed_demo(session, customers=self.settings.demo_customers, password=self.demo_password or "")
                session.commit()
                return True

        self.demo_password = secrets.token_urlsafe(9)
        if await asyncio.to_thread(seed):
            print(f"demo users: admin, supervisor, 1001..1010 — password: {self.demo_password}", flush=True)
        else:
            self.demo_password = None
            print("demo database already seeded: use the passwords printed when it was created", flush=True)
        if self.settings.demo_pbx == "asterisk":
            print(self._demo_pbx_banner(), flush=True)
        if self.simulator is not None:
            await self.simulator.start()

    async def _demo_traffic(self) -> None:
        assert self.simulator is not None
        for _ in range(100):
            if self.bridge.connected:
                break
            await asyncio.sleep(0.1)
        callers = await asyncio.to_thread(self._demo_callers)
        await self.simulator.run_traffic(
            self.settings.sim_calls_per_minute,
            self._stop,
            agents=self.settings.demo_agents,
            callers=callers,
            agi=(self.settings.agi_host, self.ivr.port),
        )

    async def _demo_pbx_traffic(self) -> None:
        """Simulated agents 1001.. and callers on the real PBX, until stop; then they leave it."""
        from cti.pbx_traffic import PBXTraffic, TrafficPlanner

        while not self.bridge.connected:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=0.1)
            if self._stop.is_set():
                return
        callers = await asyncio.to_thread(self._demo_callers)
        planner = TrafficPlanner(
            random.Random(), callers, self.settings.sim_calls_per_minute, self.settings.demo_agents
        )
        self.pbx_traffic = traffic = PBXTraffic(
            planner,
            [f"{1001 + i}" for i in range(self.settings.demo_agents)],
            max_calls=self.settings.demo_max_calls,
        )
        s = self.settings
        try:
            await traffic.connect(s.ami_host, s.ami_port, s.ami_user, s.ami_secret, s.ami_auth)
            await traffic.run(self._stop)
        except Exception:
            log.exception("demo traffic on the PBX stopped")
        finally:
            await traffic.close()

    def _demo_pbx_banner(self) -> str:
        agents = self.settings.demo_agents
        simulated = f"1001..{1000 + agents}"
        free = f"{1001 + agents}..1010" if agents < 10 else "-"
        info = self.demo_pbx_info
        url = f"http://{self.settings.http_host}:{self.settings.http_port}"
        lines = [
            f"演示交换机 / demo PBX: Asterisk (asterisk-dev {info.instance if info else '?'}), "
            f"AMI {info.ami if info else self.settings.ami_port}",
            f"模拟坐席（拨号方案自动应答）/ simulated agents (answered by the dialplan): {simulated} "
            "in queues support, sales",
            f"空闲分机，留给您 / free for you: {free} — 在 {url}/login 以该分机号登录 / log in there as "
            "that extension (the demo password above), 签入队列 / log in to the queues",
        ]
        if self.settings.sip_wss_url:
            lines.append(
                f"网页软电话 / browser softphone: {self.settings.sip_wss_url}, SIP 密码 / password: "
                f"{info.webrtc_password if info else '?'} — 先在浏览器打开 / first open "
                f"{self.settings.sip_wss_url.replace('wss://', 'https://', 1)} 并接受自签名证书 / and "
                "accept the self-signed certificate"
            )
        return "\n".join(lines)

    def _demo_callers(self, known: int = 300, unknown: int = 60) -> list[tuple[str, str]]:
        """Seeded customers' numbers (screen-pops find them) and some numbers nobody knows."""
        from crm_core.models import Customer, Phone
        from cti.simulator.traffic import make_callers

        with self.sessionmaker() as session:
            rows = session.execute(
                select(Phone.raw, Customer.name).join(Customer, Phone.customer_id == Customer.id).limit(known)
            ).all()
        callers = [("".join(ch for ch in raw if ch.isdigit()), name) for raw, name in rows]
        return [c for c in callers if c[0]] + make_callers(unknown, random.Random(7))


def _log_failure(task: asyncio.Task[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("background task failed", exc_info=task.exception())


def _make_hub(bus: EventBus, settings: Settings) -> Any:
    from agent_desk.ws import WebSocketHub

    return WebSocketHub(
        bus,
        buffer_len=settings.ws_replay_buffer,
        max_socket_buffer=settings.ws_max_socket_buffer,
        batch_ms=settings.wallboard_batch_ms,
    )


def _make_ivr(settings: Settings, publish: Callable[[dict[str, Any]], Awaitable[Any]], factory: Any) -> Any:
    from ivr.agi import IVRServer
    from ivr.calendar import CalendarFile
    from ivr.crm_directory import CrmDirectory

    calendar = CalendarFile(settings.ivr_calendar_file)
    directory = CrmDirectory(factory, settings.default_region, settings.callback_queue)
    return IVRServer(settings, publish, directory, calendar=calendar)


def _make_dialer(
    settings: Settings,
    factory: sessionmaker[Session],
    commands: Callable[[], Any],
    calls_on_pbx: Callable[[], list[dict[str, Any]] | None] | None = None,
) -> Any:
    """The campaign dialer; a campaign that follows the business calendar dials on its working days."""
    from cti.dialer.shell import Dialer
    from ivr.calendar import CalendarFile

    calendar = CalendarFile(settings.ivr_calendar_file)

    def working_day(local: Any) -> bool | None:
        try:
            return calendar.current().day_kind(local.date()) in ("weekday", "workday")
        except Exception:  # an unreadable calendar: the campaign's own days decide
            return None

    return Dialer(
        factory,
        commands,
        region=settings.default_region,
        timezone=settings.timezone,
        callee_context=settings.dialer_callee_context,
        connect_context=settings.dialer_connect_context,
        drop_s=settings.dialer_drop_s,
        ring_timeout_s=settings.dialer_ring_timeout_s,
        tick_s=settings.dialer_tick_s,
        working_day=working_day,
        callback_missed_after_s=settings.callback_missed_after_s,
        calls_on_pbx=calls_on_pbx,
    )


def _make_voicemail_index(settings: Settings) -> Any:
    from recordings.voicemail import VoicemailIndex

    return VoicemailIndex(settings.voicemail_dir, settings.pbx)


def _make_history_writer(factory: sessionmaker[Session]) -> Any:
    from stats.writer import HistoryWriter

    return HistoryWriter(factory)


def _make_live_board(settings: Settings) -> Any:
    from stats.kpi import KpiSettings
    from stats.live import LiveBoard

    kpi = KpiSettings(sl_threshold_s=settings.sl_threshold_s, short_abandon_s=settings.short_abandon_s)
    rate = settings.wallboard_updates_per_s
    return LiveBoard(kpi, settings.desk_queues, tz=settings.timezone, min_interval_s=1 / rate if rate > 0 else 0.0)


def build_runtime(settings: Settings, *, demo: bool = False) -> Runtime:
    """A runtime for ``serve`` (or ``demo``: with the PBX simulator on ``sim_host:sim_port``)."""
    if not demo:
        return Runtime(settings)
    if settings.demo_pbx == "asterisk":  # already pointed at it (agent_desk.demo_pbx.demo_settings)
        return Runtime(settings, demo=True)
    from cti.simulator import PBXSimulator

    secret = settings.ami_secret or secrets.token_urlsafe(16)
    settings = settings.model_copy(
        update={
            "ami_host": settings.sim_host,
            "ami_port": settings.sim_port,
            "ami_secret": secret,
        }
    )
    simulator = PBXSimulator(
        settings.sim_host,
        settings.sim_port,
        settings.ami_user,
        secret,
        timestamps=settings.sim_timestamps,
        speed=settings.sim_speed,
    )
    return Runtime(settings, demo=True, simulator=simulator)

"""The product, started in-process against the real Asterisk of asterisk-dev (``tests/live_pbx.py``).

``Product`` runs what ``callcenter serve`` runs (``agent_desk.runtime.Runtime``: AMI bridge, FastAGI server
on the port the PBX dialplan calls, statistics writer, live board, recording index, websocket hub) and
the web app (``agent_desk.app.create_app``) under uvicorn on a free port, all on the test's event loop,
with a fresh SQLite database and flows folder in a temporary folder. It keeps every bus event it sees
(``events``), and drives the PBX the way the recorded transcripts do, through its own AMI login
(``ami``, an ``AMIRecorder``): callers are ``Originate Local/<number>@from-pstn`` playing music on hold,
agents are ``QueueAdd Local/10XX@agents/n`` with ``StateInterface=Custom:10XX``, or the desk's own
REST API (``client``), which is what a user does.

A caller's call id is known before it rings: the Originate names the Local pair's Uniqueids
(``ChannelId``/``OtherChannelId``), and the call id of the tracker is the Linkedid, the first one.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import shutil
import socket
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy.orm import Session

from agent_desk.app import create_app
from agent_desk.runtime import Runtime, build_runtime
from config import Settings
from crm_core.db import make_engine, make_sessionmaker, migrate
from crm_core.models import Department
from crm_core.services.users import create_user
from cti.ami.parser import Message
from cti.simulator.recorder import AMIRecorder, logged_in
from tests.live_pbx import RealPBX

Event = dict[str, Any]
Predicate = Callable[[Event], bool]

PASSWORD = "live-test-password"
AGENTS = ("1001", "1002", "1003", "1004")
SAMPLE_FLOWS = Path(__file__).resolve().parents[2] / "config" / "flows"

# The "ivr" flow every inbound call meets first (the dialplan runs AGI(.../ivr)): it hands the caller
# straight to a queue, sales for numbers 137..., support for the others (a flow sees the caller's number,
# not the channel's variables). The IVR test puts the sample main menu in its place through the admin API,
# as an administrator does.
ROUTER_FLOW = """\
description: live tests / 测试：直接进入队列
start: route
nodes:
  route:
    type: branch
    rules:
      - if: {var: caller, matches: "137[0-9]*"}
        next: sales
    else: support
  sales:
    type: queue
    queue: sales
  support:
    type: queue
    queue: support
"""

# Open round the clock, so that the sample flow's business-hours branch does not depend on the hour.
OPEN_CALENDAR = """\
timezone: Asia/Shanghai
hours: {mon: [["00:00", "24:00"]], tue: [["00:00", "24:00"]], wed: [["00:00", "24:00"]],
        thu: [["00:00", "24:00"]], fri: [["00:00", "24:00"]], sat: [["00:00", "24:00"]],
        sun: [["00:00", "24:00"]]}
workday_hours: [["00:00", "24:00"]]
holidays: []
workdays: []
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def describe(event: Event) -> str:
    """One line per event for failure messages."""
    keys = ("call_id", "agent", "state", "queue", "disposition", "kind", "node", "result", "score")
    fields = " ".join(f"{k}={event[k]}" for k in keys if event.get(k) not in (None, ""))
    return f"#{event.get('seq')} {event.get('type')} {fields}"


@dataclass
class PlacedCall:
    """A caller placed with :meth:`Product.call`."""

    call_id: str  # the Uniqueid of the caller's Local ;1 leg, which is the call's Linkedid
    inbound_uniqueid: str  # the ;2 leg, which runs the from-pstn dialplan (its MixMonitor file is named by it)
    number: str
    since: int  # index in Product.events when the call was placed
    ami_since: int  # index in Product.ami.messages


@dataclass
class Product:
    """The running product; see the module docstring. Build with :func:`start_product`."""

    pbx: RealPBX
    root: Path
    settings: Settings
    runtime: Runtime
    url: str
    ami: AMIRecorder
    events: list[Event] = field(default_factory=list)
    loop: asyncio.AbstractEventLoop | None = None
    _tick: asyncio.Future[None] | None = None
    _members: set[tuple[str, str]] = field(default_factory=set)
    _calls: list[PlacedCall] = field(default_factory=list)
    _clients: list[httpx.AsyncClient] = field(default_factory=list)
    _tokens: dict[str, str] = field(default_factory=dict)

    # --- events ----------------------------------------------------------------------------------
    def mark(self) -> int:
        """The index of the next event: pass it as ``since`` to look only at what comes after."""
        return len(self.events)

    def seen(self, event: Event) -> None:
        self.events.append(event)
        if self._tick is not None and not self._tick.done():
            self._tick.set_result(None)

    def find(self, predicate: Predicate, since: int = 0) -> list[Event]:
        return [e for e in self.events[since:] if predicate(e)]

    def of_call(self, call_id: str, kind: str | None = None, since: int = 0) -> list[Event]:
        """The call's events (``call_id`` equal), optionally of one ``type``."""
        return self.find(lambda e: e.get("call_id") == call_id and (kind is None or e.get("type") == kind), since)

    async def wait_event(
        self,
        predicate: Predicate,
        timeout: float = 60.0,  # noqa: ASYNC109 - the test's bound, reported in its failure
        since: int = 0,
        what: str = "the event",
    ) -> Event:
        """The first event from index ``since`` on that matches; after ``timeout`` s fails, listing what came."""
        if asyncio.get_running_loop() is not self.loop:
            pytest.fail("a live test must run on the product's loop: pytestmark asyncio(loop_scope='module')")
        index = since
        deadline = time.monotonic() + timeout
        while True:
            while index < len(self.events):
                if predicate(self.events[index]):
                    return self.events[index]
                index += 1
            left = deadline - time.monotonic()
            if left <= 0:
                recent = "\n".join(describe(e) for e in self.events[since:][-40:])
                pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}; events since:\n{recent}")
            if self._tick is None or self._tick.done():
                self._tick = asyncio.get_running_loop().create_future()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._tick), left)

    async def wait_call_event(
        self, call: PlacedCall | str, kind: str, timeout: float = 60.0, **match: Any  # noqa: ASYNC109
    ) -> Event:
        """The call's first event of type ``kind`` whose fields equal ``match``."""
        call_id = call if isinstance(call, str) else call.call_id
        since = 0 if isinstance(call, str) else call.since
        return await self.wait_event(
            lambda e: e.get("type") == kind
            and e.get("call_id") == call_id
            and all(e.get(k) == v for k, v in match.items()),
            timeout,
            since,
            what=f"{kind} {match or ''} of call {call_id}",
        )

    async def ended(self, call: PlacedCall, timeout: float = 90.0) -> Event:  # noqa: ASYNC109
        """Waits for the call's ``call.ended`` and for every consumer (history, board, index) to take it."""
        event = await self.wait_call_event(call, "call.ended", timeout)
        await self.settled()
        return event

    async def settled(self) -> None:
        """Until every bus consumer of the runtime has taken what was published and the writer has written it."""
        runtime: Any = self.runtime
        for _ in range(2):
            # a subscription signals nothing when it is drained: look again after each turn of the loop
            while any(sub.pending() for sub in runtime._subscriptions):  # noqa: ASYNC110
                await asyncio.sleep(0.01)
            await runtime.history.drain()

    # --- database and web ------------------------------------------------------------------------
    def db(self) -> Session:
        """A session on the product's database (use it as a context manager)."""
        return self.runtime.sessionmaker()

    async def client(self, username: str = "supervisor") -> httpx.AsyncClient:
        """An HTTP client logged in as ``username`` with a bearer token (closed when the module ends)."""
        token = self._tokens.get(username)
        if token is None:
            async with httpx.AsyncClient(base_url=self.url) as anonymous:
                reply = await anonymous.post("/api/auth/token", json={"username": username, "password": PASSWORD})
                reply.raise_for_status()
                token = self._tokens[username] = str(reply.json()["access_token"])
        client = httpx.AsyncClient(base_url=self.url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
        self._clients.append(client)
        return client

    async def wallboard_queue(self, queue: str) -> dict[str, Any]:
        """The queue's row of ``/api/monitor/wallboard``, as the supervisor's page gets it."""
        client = await self.client("supervisor")
        reply = await client.get("/api/monitor/wallboard")
        reply.raise_for_status()
        rows = reply.json()["queues"]
        found = [row for row in (rows.values() if isinstance(rows, dict) else rows) if row.get("queue") == queue]
        assert found, f"queue {queue} is not on the wallboard: {rows}"
        return dict(found[0])

    # --- the PBX ---------------------------------------------------------------------------------
    async def action(self, name: str, **fields: str | list[str]) -> Message:
        """One AMI action on the test's own login; fails the test when Asterisk refuses it."""
        reply = await self.ami.request(name, **fields)
        assert reply.get("Response") == "Success", f"{name} {fields}: {reply}"
        return reply

    async def cli(self, command: str) -> str:
        """An Asterisk CLI command through AMI; its output."""
        reply = await self.action("Command", Command=command)
        output = reply.get("Output", "")
        return "\n".join(output) if isinstance(output, list) else str(output)

    async def queue_add(self, queue: str, extension: str, *, paused: bool = False) -> None:
        """An agent logs in to ``queue`` (AMI QueueAdd as in the transcripts); waits until the product shows it."""
        since = self.mark()
        await self.action(
            "QueueAdd",
            Queue=queue,
            Interface=f"Local/{extension}@agents/n",
            StateInterface=f"Custom:{extension}",
            MemberName=f"Agent {extension}",
            Penalty="0",
            Paused="true" if paused else "false",
        )
        self._members.add((queue, extension))
        await self.wait_event(
            lambda e: e.get("type") == "agent.state" and e.get("agent") == extension and queue in e.get("queues", []),
            since=since,
            what=f"agent.state of {extension} in {queue}",
        )

    async def queue_remove(self, queue: str, extension: str) -> None:
        since = self.mark()
        await self.action("QueueRemove", Queue=queue, Interface=f"Local/{extension}@agents/n")
        self._members.discard((queue, extension))
        await self.wait_event(
            lambda e: e.get("type") == "agent.state"
            and e.get("agent") == extension
            and queue not in e.get("queues", []),
            since=since,
            what=f"agent.state of {extension} out of {queue}",
        )

    def forget_member(self, queue: str, extension: str) -> None:
        """A member added by other means (the desk API) that the end of the test must remove."""
        self._members.add((queue, extension))

    async def call(
        self,
        number: str,
        *,
        queue: str | None = None,
        agent_talk: int | str | None = None,
        caller_s: int = 60,
        record: bool = False,
        survey: bool = False,
        variables: Sequence[str] = (),
    ) -> PlacedCall:
        """A PSTN caller ``number`` through from-pstn, listening to music for ``caller_s`` seconds then hanging up.

        ``agent_talk``: how long a simulated agent who answers talks before hanging up (``__AGENT_TALK``).
        ``queue``: sales needs a number 137... (the harness's ``ivr`` flow routes by number).
        """
        assert (queue == "sales") == number.startswith("137"), "callers 137... go to sales, the others to support"
        first, second = _uniqueids()
        variable = [f"RECORD={'yes' if record else 'no'}", f"SURVEY={'yes' if survey else 'no'}", *variables]
        if queue:
            variable.append(f"QUEUE={queue}")
        if agent_talk is not None:
            variable.append(f"__AGENT_TALK={agent_talk}")
        placed = PlacedCall(first, second, number, self.mark(), len(self.ami.messages))
        self._calls.append(placed)
        await self.action(
            "Originate",
            Channel=f"Local/{number}@from-pstn",
            Application="MusicOnHold",
            Data=f"default,{caller_s}",
            CallerID=f'"PSTN {number}" <{number}>',
            Timeout="30000",
            Async="true",
            ChannelId=first,
            OtherChannelId=second,
            Variable=variable,
        )
        return placed

    async def channel_of(self, uniqueid: str, since: int = 0) -> str:
        """The channel name Asterisk gave ``uniqueid`` (its Newchannel)."""
        found = await self.ami.wait_for(
            lambda m: m.get("Event") == "Newchannel" and m.get("Uniqueid") == uniqueid, since
        )
        return str(found["Channel"])

    async def hangup_caller(self, call: PlacedCall) -> None:
        """The caller hangs up (his own Local ;1 leg)."""
        await self.action("Hangup", Channel=await self.channel_of(call.call_id, call.ami_since))

    async def press(self, call: PlacedCall, digits: str) -> None:
        """The caller presses keys: DTMF played on his ;1 leg reaches the dialplan's ;2 leg."""
        channel = await self.channel_of(call.call_id, call.ami_since)
        for digit in digits:
            await self.action("PlayDTMF", Channel=channel, Digit=digit, Duration="250")

    def bridge_session_fd(self) -> int:
        """The file descriptor Asterisk holds for the bridge's AMI session (what ``manager kick session`` takes).

        Found as the PBX's socket whose peer is the bridge's local port (``/proc/net/tcp``), among the
        descriptors of the Asterisk process (its pid file in the instance's folder).
        """
        protocol = self.runtime.bridge.connection.protocol
        assert protocol is not None and not protocol.closed, "the bridge has no AMI connection"
        client_port = int(protocol.transport.get_extra_info("sockname")[1])
        inodes = set()
        for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
            fields = line.split()
            local, remote, inode = fields[1], fields[2], fields[9]
            if int(local.split(":")[1], 16) == self.pbx.ami_port and int(remote.split(":")[1], 16) == client_port:
                inodes.add(f"socket:[{inode}]")
        pid = int((self.pbx.home / "run" / "asterisk.pid").read_text().strip())
        for fd in os.listdir(f"/proc/{pid}/fd"):
            with contextlib.suppress(OSError):
                if os.readlink(f"/proc/{pid}/fd/{fd}") in inodes:
                    return int(fd)
        raise AssertionError(f"no AMI session of Asterisk (pid {pid}) for the bridge's port {client_port}")

    async def kick_bridge(self) -> None:
        """Asterisk drops the bridge's AMI connection (``manager kick session``), as a PBX-side failure would;
        returns once the bridge has noticed (it reconnects on its own, after its backoff)."""
        fd = self.bridge_session_fd()
        output = await self.cli(f"manager kick session {fd}")
        assert "kicking" in output.lower(), output
        bridge = self.runtime.bridge
        async with asyncio.timeout(30):
            while bridge.connected:  # noqa: ASYNC110 - the bridge signals its state by this flag only
                await asyncio.sleep(0.005)

    async def reset(self) -> None:
        """After each test: the members it added leave, its calls are hung up, the agents' devices are idle."""
        for queue, extension in sorted(self._members):
            with contextlib.suppress(AssertionError):
                await self.queue_remove(queue, extension)
        self._members.clear()
        for placed in self._calls:
            await self.ami.request("Hangup", Channel=f"/^Local\\/{placed.number}@from-pstn-.*$/")
        self._calls.clear()
        for extension in AGENTS:
            await self.ami.request("Command", Command=f"devstate change Custom:{extension} NOT_INUSE")

    async def close_clients(self) -> None:
        for client in self._clients:
            await client.aclose()
        self._clients.clear()


_ids = itertools.count(int(time.time()) % 100_000 * 10 + os.getpid() % 10)


def _uniqueids() -> tuple[str, str]:
    """Two Uniqueids shaped as Asterisk's (``<epoch>.<n>``: the recording index reads them from file names)
    that Asterisk itself will not hand out (its counter starts at 0 with each start)."""
    epoch = int(time.time())
    n = 9_000_000 + next(_ids) * 2
    return f"{epoch}.{n}", f"{epoch}.{n + 1}"


def settings_for(pbx: RealPBX, root: Path, http_port: int) -> Settings:
    return Settings(
        data_dir=root,
        database_url=f"sqlite:///{root / 'live.db'}",
        pbx="pbx1",
        ami_host=pbx.host,
        ami_port=pbx.ami_port,
        ami_user=pbx.ami_user,
        ami_secret=pbx.ami_secret,
        ami_auth="md5",
        agi_host="127.0.0.1",
        agi_port=pbx.agi_port,
        ivr_flows_dir=root / "flows",
        ivr_calendar_file=root / "calendar.yaml",
        recordings_dir=pbx.recordings_dir,
        recordings_pbx_dir=pbx.recordings_pbx_dir,
        recordings_cache_dir=root / "recording-cache",
        voicemail_dir=pbx.voicemail_dir,
        wrapup_s=0,
        http_host="127.0.0.1",
        http_port=http_port,
        redis_url="",
    )


def prepare(root: Path, url: str) -> None:
    """Flows, calendar and the users: an administrator, a supervisor and the agents (user = extension's agent)."""
    flows = root / "flows"
    flows.mkdir(parents=True, exist_ok=True)
    for sample in SAMPLE_FLOWS.glob("*.yaml"):
        shutil.copy(sample, flows / sample.name)
    (flows / "ivr.yaml").write_text(ROUTER_FLOW, encoding="utf-8")
    (root / "calendar.yaml").write_text(OPEN_CALENDAR, encoding="utf-8")
    migrate(url)
    engine = make_engine(url)
    with make_sessionmaker(engine)() as session:
        create_user(session, "admin", PASSWORD, display_name="Admin", roles=["admin"])
        # the supervisor and the agents work in one department: a supervisor sees his departments' agents
        service = Department(name="客服部 Service", path="/")
        session.add(service)
        session.flush()
        service.path = f"/{service.id}/"
        create_user(
            session, "supervisor", PASSWORD, display_name="Supervisor", roles=["supervisor"],
            department_id=service.id,
        )
        for extension in AGENTS:
            create_user(
                session, f"agent{extension}", PASSWORD, display_name=f"Agent {extension}", roles=["agent"],
                extension=extension, department_id=service.id,
            )
        session.commit()
    engine.dispose()


async def start_product(pbx: RealPBX, root: Path) -> tuple[Product, Callable[[], Any]]:
    """Start the product; returns it and the coroutine function that stops it."""
    port = free_port()
    settings = settings_for(pbx, root, port)
    await asyncio.to_thread(prepare, root, settings.effective_database_url)
    runtime = build_runtime(settings)
    subscription = runtime.bus.subscribe(None, maxsize=1_000_000)
    server = uvicorn.Server(uvicorn.Config(create_app(settings, runtime), host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="on"))
    serving = asyncio.ensure_future(server.serve())
    ami_cm = logged_in(pbx.host, pbx.ami_port, pbx.ami_user, pbx.ami_secret, timeout_s=60.0)
    ami = await ami_cm.__aenter__()
    product = Product(pbx, root, settings, runtime, f"http://127.0.0.1:{port}", ami, loop=asyncio.get_running_loop())

    async def collect() -> None:
        async for event in subscription:
            product.seen(event)

    collector = asyncio.ensure_future(collect())
    deadline = time.monotonic() + 60
    while not (server.started and runtime.bridge.connected):
        if serving.done():
            serving.result()
            raise RuntimeError("the web server stopped while starting")
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"the product did not come up: web started={server.started}, AMI live={runtime.bridge.connected}"
            )
        await asyncio.sleep(0.05)
    await product.reset()

    async def stop() -> None:
        with contextlib.suppress(Exception):
            await product.reset()
        await product.close_clients()
        server.should_exit = True
        with contextlib.suppress(Exception):
            await asyncio.wait_for(serving, 30)
        subscription.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(collector, 5)
        await ami_cm.__aexit__(None, None, None)

    return product, stop


def rows_by_call(rows: Iterable[Any]) -> dict[str, Any]:
    return {row.call_id: row for row in rows}

"""Two ``callcenter serve`` nodes on one PostgreSQL and one Redis, against the PBX simulator.

Node A starts first and takes the PBX's bridge lock; node B stands by. An agent connected to node B
gets the screen-pop of a call that node A's bridge tracked. Node A is killed (SIGKILL) while the call is
up; node B takes the lock once it lapses, resyncs from the PBX, and tracks the call to its end. The call
has exactly one complete history row, and the wallboards agree: A's and B's while both run, then B's
live board and a restarted node A's board rebuilt from the history.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis
import websockets
from sqlalchemy import select
from sqlalchemy.orm import Session

from agent_desk.serve_process import ServeProcess
from crm_core.db import make_engine
from crm_core.models import Attempt, Customer, Lead, Phone
from crm_core.seed import seed_demo
from crm_core.services import outbound as svc
from crm_core.testing import postgres_database
from cti.simulator import PBXSimulator
from cti.simulator.recorder import AMIRecorder
from stats.models import CallRow

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

REDIS_URL = os.environ.get("CC_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
LOCK_TTL_S = 2.0  # short, so the takeover is quick; the standby polls every third of it
PASSWORD = "two-nodes-pw"
AGENT = "1001"


async def token(client: httpx.AsyncClient, node: ServeProcess, username: str) -> str:
    reply = await client.post(f"{node.url}/api/auth/token", json={"username": username, "password": PASSWORD})
    reply.raise_for_status()
    return str(reply.json()["access_token"])


async def bridge_live(client: httpx.AsyncClient, node: ServeProcess, admin: str) -> bool:
    reply = await client.get(f"{node.url}/api/monitor/health", headers={"Authorization": f"Bearer {admin}"})
    reply.raise_for_status()
    ami = reply.json()["ami"] or {}
    return bool(ami.get("connected"))


async def wallboard(client: httpx.AsyncClient, node: ServeProcess, admin: str) -> dict[str, Any]:
    """The queues' counts and the agents' states, without what moves with the clock."""
    reply = await client.get(f"{node.url}/api/monitor/wallboard", headers={"Authorization": f"Bearer {admin}"})
    reply.raise_for_status()
    board = reply.json()
    # AHT to the second: the live board times talk from the events, a board rebuilt from the history from
    # the call rows, which may differ by milliseconds
    queues = {
        q["queue"]: {
            "today": {**q["today"], "aht_s": None if q["today"]["aht_s"] is None else round(q["today"]["aht_s"])},
            "waiting": q["waiting"],
            "agents": q["agents"],
        }
        for q in board["queues"]
    }
    agents = {a["agent"]: (a["state"], a["calls_today"]) for a in board["agents"]}
    return {"queues": queues, "agents": agents}


async def boards_agree(client: httpx.AsyncClient, nodes: list[ServeProcess], admin: str) -> list[dict[str, Any]]:
    """The nodes' wallboards once the last events reached them all (each reads the same bus)."""
    boards: list[dict[str, Any]] = []
    for _ in range(50):
        boards = [await wallboard(client, node, admin) for node in nodes]
        if all(b == boards[0] for b in boards):
            return boards
        await asyncio.sleep(0.2)
    return boards


@pytest.fixture
def database() -> Iterator[tuple[str, str]]:
    """A fresh migrated PostgreSQL database with the demo organisation, and a customer's number."""
    with postgres_database("twonodes") as url:
        engine = make_engine(url)
        with Session(engine) as session:
            seed_demo(session, customers=40, password=PASSWORD)
            session.commit()
            phone = session.execute(
                select(Phone.raw, Customer.id).join(Customer, Phone.customer_id == Customer.id).limit(1)
            ).one()
        engine.dispose()
        yield url, "".join(ch for ch in phone.raw if ch.isdigit())


@pytest.fixture
async def redis_prefix() -> AsyncIterator[str]:
    prefix = f"cc-test-2n-{uuid.uuid4().hex[:10]}:"
    yield prefix
    client = aioredis.from_url(REDIS_URL)
    keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


def node_env(url: str, redis_prefix: str, pbx: str, sim: PBXSimulator) -> dict[str, str]:
    """The settings of every node: one database, one Redis (the test's prefix), the simulator's AMI."""
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("CC_")},
        "CC_DATABASE_URL": url,
        "CC_REDIS_URL": REDIS_URL,
        "CC_REDIS_PREFIX": redis_prefix,
        "CC_PBX": pbx,
        "CC_AMI_HOST": "127.0.0.1",
        "CC_AMI_PORT": str(sim.port),
        "CC_AMI_USER": sim.username,
        "CC_AMI_SECRET": sim.secret,
        "CC_AMI_AUTH": "md5",
        "CC_AMI_RECONNECT_MAX_S": "1",
        "CC_BRIDGE_LOCK_TTL_S": str(LOCK_TTL_S),
        "CC_SECRET_KEY": uuid.uuid4().hex,
    }


def call_rows(url: str, pbx: str) -> list[CallRow]:
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            rows = list(session.scalars(select(CallRow).where(CallRow.pbx == pbx)))
            session.expunge_all()
            return rows
    finally:
        engine.dispose()


async def test_the_standby_takes_over_a_killed_nodes_bridge_and_the_call_counts_once(
    database: tuple[str, str], redis_prefix: str, tmp_path: Path
) -> None:
    url, caller = database
    pbx = f"pbx-{redis_prefix[11:21]}"
    sim = PBXSimulator(speed=4.0)  # the recorded call timings four times faster
    await sim.start()
    env = {**node_env(url, redis_prefix, pbx, sim), "CC_DIALER_ENABLED": "false"}
    a, b = ServeProcess("a", env, tmp_path / "a"), ServeProcess("b", env, tmp_path / "b")
    a_again = ServeProcess("a2", env, tmp_path / "a2")
    nodes = [a, b, a_again]
    try:
        async with httpx.AsyncClient(timeout=10) as client, sim.client(timeout_s=60) as ami:
            a.start()
            await a.wait_up(client)
            admin = await token(client, a, "admin")
            async with asyncio.timeout(30):
                while not await bridge_live(client, a, admin):  # noqa: ASYNC110 (another process)
                    await asyncio.sleep(0.1)
            b.start()
            await b.wait_up(client)
            await asyncio.sleep(LOCK_TTL_S)  # B has tried the lock and stands by
            assert not await bridge_live(client, b, admin)

            # the agent's desk is on node B; node A's bridge tracks the call
            agent_token = await token(client, b, AGENT)
            ticket = await client.post(
                f"{b.url}/api/auth/ws-ticket", headers={"Authorization": f"Bearer {agent_token}"}
            )
            ticket.raise_for_status()
            ws_url = f"ws://127.0.0.1:{b.port}/ws?ticket={ticket.json()['ticket']}"
            async with websockets.connect(ws_url) as ws:
                assert json.loads(await ws.recv())["type"] == "hub.hello"
                sim.pbx.login_agent("support", AGENT)
                run = sim.start_scenario("inbound_answered", caller=caller, agent=AGENT, talk=300)
                pop = await next_frame(ws, "screen.pop")
            assert pop["agent"] == AGENT and pop["caller"]["number"].endswith(caller[-8:])
            assert pop["customer"] is not None, pop
            call_id = pop["call_id"]
            await talking(ami)
            before = await boards_agree(client, [a, b], admin)
            assert before[0] == before[1], before
            assert before[0]["agents"][AGENT][0] == "on_call"

            # node A dies mid-call; B takes the lock once it lapses and resyncs from the PBX
            killed = time.monotonic()
            a.kill()
            async with asyncio.timeout(10 * LOCK_TTL_S):
                while not await bridge_live(client, b, admin):  # noqa: ASYNC110 (another process)
                    await asyncio.sleep(0.05)
            takeover_s = time.monotonic() - killed
            # the standby polls every TTL/3: the lock lapses at most one TTL after A's last renewal
            assert takeover_s < LOCK_TTL_S * 4, takeover_s

            sim.pbx.hangup(run)
            await run.done.wait()
            async with asyncio.timeout(30):
                while not [r for r in await asyncio.to_thread(call_rows, url, pbx) if r.ended_at]:  # noqa: ASYNC110
                    await asyncio.sleep(0.2)
            (row,) = await asyncio.to_thread(call_rows, url, pbx)
            assert row.call_id == call_id
            assert row.disposition == "answered" and row.answered_at is not None
            assert (row.queue, row.agent) == ("support", AGENT)
            assert row.duration_s is not None and row.talk_s is not None and row.talk_s > 0

            # B's live board and a fresh node's board (rebuilt from the history) count the call once
            a_again.start()
            await a_again.wait_up(client)
            after = await boards_agree(client, [b, a_again], admin)
            assert after[0] == after[1], json.dumps(after, indent=1)
            today = after[0]["queues"]["support"]["today"]
            assert (today["offered"], today["answered"], today["abandoned"]) == (1, 1, 0), today
            assert after[0]["agents"][AGENT][1] == 1
            print(f"\ntwo nodes: takeover {takeover_s:.2f} s after SIGKILL (lock TTL {LOCK_TTL_S} s)")
    finally:
        for node in nodes:
            node.stop()
        await sim.stop()


async def next_frame(ws: Any, kind: str, timeout_s: float = 20.0) -> dict[str, Any]:
    async with asyncio.timeout(timeout_s):
        while True:
            frame = json.loads(await ws.recv())
            if frame.get("type") == kind:
                return dict(frame)


async def talking(ami: AMIRecorder) -> None:
    """The agent answered and talks (the dialplan's Wait of the talk time)."""
    await ami.wait_for(lambda m: m.get("Event") == "AgentConnect")
    await ami.wait_for(lambda m: m.get("Event") == "Newexten" and m.get("Application") == "Wait")


# --- the center's duties: the dialer and the wallboard's publishing on one node ----------------------

CAMPAIGN_AGENTS = ("1001", "1002")
CAMPAIGN_LEADS = [f"1390013{9000 + i:04d}" for i in range(6)]
MIN_UPDATE_GAP_S = 0.45  # CC_WALLBOARD_UPDATES_PER_S is 2: a node sends a queue's numbers 0.5 s apart at least


def campaign_state(url: str, cid: int) -> tuple[dict[str, str], dict[str, list[Attempt]]]:
    """The leads' states and each number's attempts, from the database."""
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            leads = {lead.phone: lead.state for lead in session.scalars(select(Lead).where(Lead.campaign_id == cid))}
            attempts: dict[str, list[Attempt]] = {}
            for attempt in session.scalars(select(Attempt).where(Attempt.campaign_id == cid).order_by(Attempt.id)):
                attempts.setdefault(attempt.number, []).append(attempt)
            session.expunge_all()
            return leads, attempts
    finally:
        engine.dispose()


def start_campaign(url: str) -> int:
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            schedule = {"days": list(range(7)), "start": "00:00", "end": "23:59", "calendar": False}
            campaign = svc.create_campaign(
                session, {"name": "两节点", "mode": "progressive", "queue": "sales", "schedule": schedule}
            )
            svc.add_leads(session, campaign.id, [{"phone": n} for n in CAMPAIGN_LEADS])
            svc.set_status(session, campaign.id, "running")
            session.commit()
            return campaign.id
    finally:
        engine.dispose()


def wrap_up_connected(url: str, cid: int, wrapped: set[str]) -> None:
    """The agents' dispositions, as the desk stores them (a connected lead is closed by it)."""
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            query = select(Attempt).where(Attempt.campaign_id == cid, Attempt.outcome == "connected")
            for attempt in session.scalars(query):
                if attempt.call_id and attempt.call_id not in wrapped:
                    now = datetime.now(UTC).replace(tzinfo=None)
                    svc.record_disposition(session, attempt.call_id, "not_interested", agent=attempt.agent, now=now)
                    wrapped.add(attempt.call_id)
            session.commit()
    finally:
        engine.dispose()


async def until_attempts(url: str, cid: int, wrapped: set[str], check: Callable[[list[Attempt]], bool]) -> None:
    """Wait until the campaign's attempts pass ``check``, wrapping up its connected calls meanwhile."""
    async with asyncio.timeout(60):
        while True:
            await asyncio.to_thread(wrap_up_connected, url, cid, wrapped)
            _, attempts = await asyncio.to_thread(campaign_state, url, cid)
            if check([x for v in attempts.values() for x in v]):
                return
            await asyncio.sleep(0.05)


async def supervisor_frames(client: httpx.AsyncClient, node: ServeProcess, into: list[dict[str, Any]]) -> None:
    """Every ``queue.stats`` a supervisor's wallboard on ``node`` receives, until cancelled."""
    access = await token(client, node, "supervisor")
    ticket = await client.post(f"{node.url}/api/auth/ws-ticket", headers={"Authorization": f"Bearer {access}"})
    ticket.raise_for_status()
    async with websockets.connect(f"ws://127.0.0.1:{node.port}/ws?ticket={ticket.json()['ticket']}") as ws:
        async for raw in ws:
            frame = json.loads(raw)
            if frame.get("type") == "queue.stats":
                into.append(frame)


def doubled(frames: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """Pairs of a queue's ``queue.stats`` closer than one node ever sends them. A node's board sends a
    queue's numbers at most once per ``1 / CC_WALLBOARD_UPDATES_PER_S`` (0.5 s), stamped with the time it
    computed them; two nodes publishing each send their own, milliseconds apart."""
    last: dict[str, datetime] = {}
    close = []
    for frame in frames:
        queue, at = str(frame.get("queue")), datetime.fromisoformat(str(frame["ts"]).replace("Z", "+00:00"))
        if queue in last and (at - last[queue]).total_seconds() < MIN_UPDATE_GAP_S:
            close.append((last[queue].isoformat(), at.isoformat()))
        last[queue] = at
    return close


async def test_the_dialer_and_the_wallboard_run_on_one_node_and_move_to_the_standby_when_it_dies(
    database: tuple[str, str], redis_prefix: str, tmp_path: Path
) -> None:
    url, _ = database
    pbx = f"pbx-{redis_prefix[11:21]}"
    sim = PBXSimulator(speed=20.0)  # the recorded call timings twenty times faster (talk 30 s -> 1.5 s)
    await sim.start()
    env = {
        **node_env(url, redis_prefix, pbx, sim),
        "CC_DIALER_ENABLED": "true",
        "CC_DIALER_TICK_S": "0.2",
        "CC_DIALER_RING_TIMEOUT_S": "5",
        "CC_WRAPUP_S": "0",
    }
    a, b = ServeProcess("a", env, tmp_path / "a"), ServeProcess("b", env, tmp_path / "b")
    on_a: list[dict[str, Any]] = []
    on_b: list[dict[str, Any]] = []
    wrapped: set[str] = set()
    watchers: list[asyncio.Task[None]] = []
    try:
        async with httpx.AsyncClient(timeout=10) as client:
            a.start()
            b.start()
            await a.wait_up(client)
            await b.wait_up(client)
            admin = await token(client, a, "admin")
            async with asyncio.timeout(30):
                while not (await bridge_live(client, a, admin) or await bridge_live(client, b, admin)):  # noqa: ASYNC110
                    await asyncio.sleep(0.1)
            first, second = (a, b) if await bridge_live(client, a, admin) else (b, a)
            watchers = [
                asyncio.get_running_loop().create_task(supervisor_frames(client, a, on_a)),
                asyncio.get_running_loop().create_task(supervisor_frames(client, b, on_b)),
            ]
            for agent in CAMPAIGN_AGENTS:
                sim.pbx.login_agent("sales", agent)
            await asyncio.sleep(1.0)  # the agents' states reached both nodes' dialers
            cid = await asyncio.to_thread(start_campaign, url)

            # the first node dials; both wallboards get its numbers once its first call has ended
            await until_attempts(url, cid, wrapped, lambda calls: any(x.ended_at is not None for x in calls))
            boards = await boards_agree(client, [a, b], admin)
            assert boards[0] == boards[1], boards
            # one node published the board's numbers (each update once), both nodes' wallboards got them all
            assert on_a and not doubled(on_a), doubled(on_a)
            assert on_b and not doubled(on_b), doubled(on_b)
            common = max(on_a[0]["seq"], on_b[0]["seq"])  # from when both wallboards were open
            seen_a, seen_b = ([f["seq"] for f in frames if f["seq"] >= common] for frames in (on_a, on_b))
            assert seen_a[: len(seen_b)] == seen_b[: len(seen_a)]

            # kill it while one of its calls is still up on the PBX, not yet answered by an agent, and leads are
            # left to dial; the calls in flight last until the standby has taken over (a long call: one that
            # ended while no node watched it is dialled again, as nobody can tell how it ended)
            async with asyncio.timeout(60):
                while True:
                    _, attempts = await asyncio.to_thread(campaign_state, url, cid)
                    tried = [x for v in attempts.values() for x in v]
                    if len(tried) < len(CAMPAIGN_LEADS) and any(
                        x.outcome == "pending" and x.ended_at is None and sim.pbx.linger(x.number) for x in tried
                    ):
                        break
                    await asyncio.to_thread(wrap_up_connected, url, cid, wrapped)
                    await asyncio.sleep(0.02)
            lingering = [n for n in CAMPAIGN_LEADS if sim.pbx.linger(n)]
            survivor = on_b if second is b else on_a
            first.kill()
            killed_at = datetime.now(UTC).replace(tzinfo=None)
            await asyncio.sleep(0.3)  # what the first node published just before it died has arrived
            frames_before = len(survivor)
            _, attempts = await asyncio.to_thread(campaign_state, url, cid)
            left = [x.number for v in attempts.values() for x in v if x.outcome == "pending"]
            assert left and set(left) <= set(lingering), (left, lingering)
            async with asyncio.timeout(60):  # the standby follows each call its predecessor left
                while second.log_tail(100_000).count("dialer: following call") < len(left):  # noqa: ASYNC110
                    await asyncio.sleep(0.1)
            for number in lingering:
                sim.pbx.linger(number, False)

            # the standby takes over the dialer: every lead is dialled, each once
            async with asyncio.timeout(90):
                while True:
                    await asyncio.to_thread(wrap_up_connected, url, cid, wrapped)
                    leads, attempts = await asyncio.to_thread(campaign_state, url, cid)
                    if all(state in ("done", "exhausted") for state in leads.values()):
                        break
                    await asyncio.sleep(0.1)
            once = {number: [x.outcome for x in tried] for number, tried in attempts.items()}
            assert set(once) == set(CAMPAIGN_LEADS), once
            assert all(outcomes == ["connected"] for outcomes in once.values()), json.dumps(once)
            for number in left:  # the calls left on the PBX: followed to their end, not dialled again
                (followed,) = attempts[number]
                assert followed.started_at < killed_at
                assert followed.ended_at is not None and followed.ended_at > killed_at
            after = [x for v in attempts.values() for x in v if x.started_at >= killed_at]
            assert after, "the survivor dialled the leads left"
            assert await bridge_live(client, second, admin)

            # and publishes the board: the wallboard on the survivor gets its numbers from it
            assert len(survivor) > frames_before and not doubled(survivor), doubled(survivor)
            today = (await wallboard(client, second, admin))["queues"]["sales"]["today"]
            assert today["offered"] == len(CAMPAIGN_LEADS), today  # each lead's call reached the queue once
            before = len(CAMPAIGN_LEADS) - len(after)
            print(f"\ntwo nodes, a campaign: {before} leads dialled before the kill, {len(after)} after")
    finally:
        for watcher in watchers:
            watcher.cancel()
        await asyncio.gather(*watchers, return_exceptions=True)
        for node in (a, b):
            node.stop()
        await sim.stop()

"""Screen-pop across two nodes: node A holds the PBX's bridge, the agents' desks are on node B or on A.

Two ``callcenter serve`` processes on one PostgreSQL and one Redis, the PBX simulator in this process.
Agents 1001-1005 hold their desk's websocket on node B (the pop crosses Redis from A's screen-pop to B's
hub), agents 1006-1010 on node A itself: the same-run baseline. A call's clock starts when the simulator
writes the AMI event that rings the agent (AgentCalled, or a Dial to the agent's leg) to the bridge's socket,
and stops when the pop frame arrives at the agent's socket. The sockets are held by light client processes
(``bench/ws_clients.py``, CLOCK_MONOTONIC is one clock for every process), so the simulator's own work in
this process never delays a reading. Each run starts both nodes afresh; the median of the runs' p50 and p99
is printed with the range.

    .venv/bin/python bench/two_nodes.py --runs 3 --calls 60 --rate 2
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
sys.path.append(str(ROOT / "bench"))  # after the packages: bench/recordings.py must not shadow them

import httpx  # noqa: E402
import redis.asyncio as aioredis  # noqa: E402
from sqlalchemy import select  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402
from ws_clients import ClientProcesses, first_arrivals  # noqa: E402

from agent_desk.serve_process import ServeProcess  # noqa: E402
from crm_core.auth import open_session  # noqa: E402
from crm_core.db import make_engine  # noqa: E402
from crm_core.models import Customer, Phone, User  # noqa: E402
from crm_core.seed import seed_demo  # noqa: E402
from crm_core.testing import postgres_database  # noqa: E402
from cti.simulator import PBXSimulator  # noqa: E402
from cti.simulator.server import Session as AMISession  # noqa: E402

REDIS_URL = os.environ.get("CC_BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")
PASSWORD = "two-nodes-bench"
CROSS = [str(n) for n in range(1001, 1006)]  # desks on node B
LOCAL = [str(n) for n in range(1006, 1011)]  # desks on node A, beside the bridge


def rings_an_agent(fields: dict[str, str]) -> bool:
    """The AMI event on which an agent's phone rings: the queue's AgentCalled, or a Dial to an agent's leg
    (not the Dial that brings the caller in from the trunk, which comes earlier)."""
    name = fields.get("Event")
    return name == "AgentCalled" or (name == "DialBegin" and "@agents-" in fields.get("DestChannel", ""))


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(len(ordered) * pct / 100) - 1))]


def seed(url: str, customers: int) -> tuple[list[str], dict[str, str]]:
    """The demo's data with ``customers`` customers: their numbers, and a desk session cookie per agent."""
    engine = make_engine(url)
    with Session(engine) as session:
        seed_demo(session, customers=customers, password=PASSWORD)
        session.commit()
        raws = session.scalars(select(Phone.raw).join(Customer, Phone.customer_id == Customer.id)).all()
        cookies = {
            agent: open_session(session, user, "cookie", timedelta(hours=2)).token
            for agent in CROSS + LOCAL
            for user in session.scalars(select(User).where(User.username == agent))
        }
        session.commit()
    engine.dispose()
    return ["".join(ch for ch in raw if ch.isdigit()) for raw in raws], cookies


SIMULATOR_FLUSH = AMISession.flush  # each run's clock wraps this one, not the previous run's wrapper


class DueClock:
    """When the PBX sent each call's first event that rings an agent: the moment the simulator wrote it to
    the bridge's socket (it builds a burst of a call's events in one turn and writes them together, so the
    time it made the event is earlier than any PBX would send it)."""

    def __init__(self, sim: PBXSimulator) -> None:
        self.due: dict[str, float] = {}
        made: list[str] = []
        sink = sim.pbx._sink

        def timed(headers: list[tuple[str, str]]) -> None:
            fields = dict(headers)
            if rings_an_agent(fields) and fields.get("Linkedid"):
                made.append(fields["Linkedid"])
            sink(headers)

        def flushed(session: AMISession) -> None:
            SIMULATOR_FLUSH(session)
            now = time.monotonic()
            for linkedid in made:
                self.due.setdefault(linkedid, now)
            made.clear()

        sim.pbx._sink = timed
        AMISession.flush = flushed  # type: ignore[method-assign]


async def bridge_live(client: httpx.AsyncClient, node: ServeProcess, token: str) -> bool:
    reply = await client.get(f"{node.url}/api/monitor/health", headers={"Authorization": f"Bearer {token}"})
    return bool((reply.json().get("ami") or {}).get("connected"))


def desks(node: ServeProcess, agents: list[str], cookies: dict[str, str], seconds: float) -> ClientProcesses:
    """The agents' desk sockets on ``node``, held by a light client process (``bench/ws_clients.py``) that
    notes when each frame arrives, so this process's simulator never delays a reading."""
    url = f"ws://127.0.0.1:{node.port}/ws"
    return ClientProcesses(url, [cookies[a] for a in agents], 0, 1, parse=True, seconds=seconds)


async def one_run(
    args: argparse.Namespace, url: str, callers: list[str], cookies: dict[str, str], folder: Path
) -> dict[str, list[float]]:
    prefix = f"cc-bench-2n-{uuid.uuid4().hex[:10]}:"
    sim = PBXSimulator(speed=args.speed)
    await sim.start()
    clock = DueClock(sim)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("CC_")},
        "CC_DATABASE_URL": url,
        "CC_REDIS_URL": REDIS_URL,
        "CC_REDIS_PREFIX": prefix,
        "CC_PBX": f"pbx-{prefix[12:22]}",
        "CC_AMI_PORT": str(sim.port),
        "CC_AMI_USER": sim.username,
        "CC_AMI_SECRET": sim.secret,
        "CC_BRIDGE_LOCK_TTL_S": "2",
        "CC_SECRET_KEY": uuid.uuid4().hex,
        "CC_DIALER_ENABLED": "false",
    }
    a, b = ServeProcess("a", env, folder / f"{prefix}a"), ServeProcess("b", env, folder / f"{prefix}b")
    got: dict[str, float] = {}
    placed: dict[str, str] = {}  # call id -> agent
    seconds = args.calls / args.rate + 60 / args.speed + 2  # the last call rung and its pop delivered
    try:
        async with httpx.AsyncClient(timeout=10) as client:
            a.start()
            await a.wait_up(client)
            reply = await client.post(f"{a.url}/api/auth/token", json={"username": "admin", "password": PASSWORD})
            admin = reply.json()["access_token"]
            async with asyncio.timeout(30):
                while not await bridge_live(client, a, admin):  # noqa: ASYNC110 (another process)
                    await asyncio.sleep(0.1)
            b.start()
            await b.wait_up(client)
            clients = [desks(b, CROSS, cookies, seconds), desks(a, LOCAL, cookies, seconds)]
            for side in clients:
                await side.start()
            agents = CROSS + LOCAL
            for agent in agents:
                sim.pbx.login_agent("support", agent)
            for side in clients:
                await side.go()
            runs = []
            begin = time.monotonic()
            for i in range(args.calls):
                await asyncio.sleep(max(0.0, begin + i / args.rate - time.monotonic()))
                agent = agents[i % len(agents)]
                run = sim.start_scenario("inbound_answered", caller=callers[i % len(callers)], agent=agent, talk=2)
                runs.append((run, agent))
            async with asyncio.timeout(120):
                for run, agent in runs:
                    await run.done.wait()
                    placed[run.result.linkedid] = agent
            for side in clients:
                got.update(first_arrivals(await side.results(), "screen.pop"))
    finally:
        a.stop()
        b.stop()
        await sim.stop()
        client_redis = aioredis.from_url(REDIS_URL)
        keys = [key async for key in client_redis.scan_iter(match=f"{prefix}*")]
        if keys:
            await client_redis.delete(*keys)
        await client_redis.aclose()
    out: dict[str, list[float]] = {"cross": [], "local": [], "missing": []}
    for call_id, agent in placed.items():
        if call_id not in got or call_id not in clock.due:
            out["missing"].append(1.0)
            continue
        out["cross" if agent in CROSS else "local"].append((got[call_id] - clock.due[call_id]) * 1000)
    return out


def line(label: str, runs: list[list[float]]) -> str:
    def fig(values: list[float]) -> str:
        return f"{statistics.median(values):.1f} ms ({min(values):.1f}-{max(values):.1f})"

    p50 = [statistics.median(r) for r in runs if r]
    p99 = [percentile(r, 99) for r in runs if r]
    return f"  {label}: p50 {fig(p50)}  p99 {fig(p99)}  [{sum(len(r) for r in runs)} pops]"


async def bench(args: argparse.Namespace) -> None:
    with postgres_database("twonodesbench") as url, tempfile.TemporaryDirectory() as folder:
        callers, cookies = seed(url, args.customers)
        results = [await one_run(args, url, callers, cookies, Path(folder)) for _ in range(args.runs)]
    print(line("agents on node B (pop crosses Redis from node A)", [r["cross"] for r in results]))
    print(line("baseline, agents on node A beside the bridge (same runs)", [r["local"] for r in results]))
    ratio = statistics.median(
        percentile(r["cross"], 99) / percentile(r["local"], 99) for r in results if r["cross"] and r["local"]
    )
    missing = sum(len(r["missing"]) for r in results)
    print(
        f"  p99 cross-node/same-node {ratio:.2f}x; {missing} pops missing; {args.runs} fresh runs; "
        f"load average {os.getloadavg()[0]:.1f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--calls", type=int, default=120, help="calls per run")
    parser.add_argument("--rate", type=float, default=4.0, help="calls per second")
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--speed", type=float, default=4.0, help="simulator time factor")
    args = parser.parse_args()
    print(f"two nodes: {args.calls} calls per run at {args.rate:g}/s, 10 agents, {args.customers:,} customers")
    asyncio.run(bench(args))


if __name__ == "__main__":
    main()

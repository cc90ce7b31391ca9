"""Screen-pop latency: from when the ringing AMI event was due to the pop frame at the agent's socket.

The server side is the product's own path in one process: AMI bytes -> ``AMIParser`` -> ``CallTracker``
-> bus -> ``ScreenPopService`` (caller lookup and the agent's data scope, as ``serve`` wires them:
``cti.screen_pop.crm_screen_pop``, on SQLite or PostgreSQL) -> bus -> ``WebSocketHub`` -> uvicorn websocket.
The agents are real websocket clients (``websockets``) in another process; both sides read CLOCK_MONOTONIC.
Call ``i`` is due at ``start + i / rate``: the latency is the pop's receipt time minus that due time, so a
driver that falls behind counts against the product. The CRM is ``bench/lookup.py``'s: every customer has
open tickets, orders and linked calls, so every part of the lookup returns rows. Ten departments under a head
office: two customers in three belong to one (owned by one of its agents), the third is in the public pool;
the agents are in the departments with the agent role (department scope), one in twenty with the supervisor
role (department and below); half the calls ring an agent of the caller's department, so pops show the
record or hide it (``hidden_matches``).

Each figure is the median of ``--runs`` fresh server processes, with the range; in the same runs, in turns:
the baseline, the same bench on a CRM of ``--baseline-customers`` customers, and with ``--old-path`` the pop
path before (a session per lookup, the agent as an ORM user in up to three queries, one more query for the
visible customers). CPU is printed per pop: the CRM work in the pop's threads (lookup and scope), the whole
server process per call (tracker, bus, hub, websockets too) and, on PostgreSQL, its backends per pop.

    .venv/bin/python bench/screen_pop.py --db postgres        # 1,000,000 customers, 1,000 agents, 100 calls/s
    .venv/bin/python bench/screen_pop.py --db sqlite --customers 100000 --calls 1000

Budget (ARCHITECTURE section 9): p99 <= 20 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import importlib.util
import json
import multiprocessing as mp
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import uvicorn  # noqa: E402
import websockets  # noqa: E402
from sqlalchemy import select, text  # noqa: E402

from agent_desk.app import create_app  # noqa: E402
from agent_desk.ws import WebSocketHub  # noqa: E402
from config import Settings  # noqa: E402
from crm_core.auth import open_session  # noqa: E402
from crm_core.db import make_engine, make_sessionmaker, migrate  # noqa: E402
from crm_core.models import Customer, Department, Role, User  # noqa: E402
from crm_core.permissions import visible_customer_ids, visible_lookup  # noqa: E402
from cti.ami.parser import AMIParser  # noqa: E402
from cti.bus.memory import InProcessBus  # noqa: E402
from cti.screen_pop import ScreenPopService, crm_lookup, crm_screen_pop  # noqa: E402
from cti.tracker import CallTracker  # noqa: E402

TRANSCRIPT = ROOT / "tests" / "fixtures" / "ami" / "02_inbound_answered_agent_hangup.raw"
SEP = b"\r\n\r\n"
FIRST_EXTENSION = 2000
DEPARTMENTS = 10


def load_bench(name: str) -> Any:
    """Another benchmark script as a module (its data generators are reused, not copied)."""
    spec = importlib.util.spec_from_file_location(f"bench_{name}", ROOT / "bench" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(len(ordered) * pct / 100) - 1))]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- database: customers (from bench/lookup.py) and users with a login each ------------------------------
def add_users(url: str, count: int) -> list[str]:
    """``DEPARTMENTS`` departments under a head office and ``count`` users with extensions from FIRST_EXTENSION,
    user ``i`` in department ``i % DEPARTMENTS`` (agent role; supervisor for one in twenty); the customers
    handed to the departments (two in three, each owned by one of its agents; the rest stay in the pool);
    a cookie login per user: their tokens."""
    engine = make_engine(url)
    with make_sessionmaker(engine)() as session:
        roles = {r.name: r for r in session.query(Role).filter(Role.name.in_(["agent", "supervisor"]))}
        head = Department(name="总部", path="/")
        session.add(head)
        session.flush()
        head.path = f"/{head.id}/"
        departments = [Department(name=f"客服{d + 1}组", parent_id=head.id, path=head.path) for d in range(DEPARTMENTS)]
        session.add_all(departments)
        session.flush()
        for department in departments:
            department.path = f"{head.path}{department.id}/"
        users = [
            User(
                username=f"bench{i}",
                display_name=f"Bench {i}",
                extension=str(FIRST_EXTENSION + i),
                department_id=departments[i % DEPARTMENTS].id,
                roles=[roles["supervisor" if i % 20 == 0 else "agent"]],
            )
            for i in range(count)
        ]
        session.add_all(users)
        session.flush()
        first_department, first_user = departments[0].id, users[0].id
        assert [d.id for d in departments] == list(range(first_department, first_department + DEPARTMENTS))
        assert [u.id for u in users] == list(range(first_user, first_user + count))
        tokens = [open_session(session, user, "cookie", timedelta(hours=2)).token for user in users]
        c = Customer.__table__.c
        per_department = count // DEPARTMENTS
        session.execute(
            Customer.__table__.update()
            .where(c.id % 3 != 0)
            .values(
                department_id=first_department + c.id % DEPARTMENTS,
                owner_id=first_user + c.id % DEPARTMENTS + DEPARTMENTS * ((c.id // DEPARTMENTS) % per_department),
            )
        )
        session.commit()
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE customers")
    engine.dispose()
    return tokens


def agent_for(call: int, customer: int, agents: int) -> int:
    """Half the calls ring an agent of the caller's department (``customer % DEPARTMENTS``), half anyone."""
    if call % 2:
        return call % agents
    return customer % DEPARTMENTS + DEPARTMENTS * ((call // 2) % (agents // DEPARTMENTS))


# --- AMI traffic: transcript 02 renumbered per call --------------------------------------------------
AGENT_1001 = re.compile(rb"(?<![\d.])1001(?!\d)")
CALLER_5551234 = re.compile(rb"(?<![\d.])5551234(?!\d)")


class CallTemplate:
    """Transcript 02's event frames, split where the agent starts ringing, renumbered per call."""

    def __init__(self) -> None:
        self.ingest = load_bench("ingest")
        raw = TRANSCRIPT.read_bytes()
        self.events = b"".join(f + SEP for f in raw.split(SEP) if f.startswith(b"Event: "))
        self.ring = split_at_ringing(self.frames(0, "1001", "5551234"))

    def frames(self, copy: int, extension: str, caller: str) -> list[bytes]:
        """The event frames of one inbound answered call with its own ids, agent and caller number."""

        def renumber(match: re.Match[bytes]) -> bytes:
            return bytes(self.ingest._renumber(match.group(), match.lastgroup or "uid", copy))

        events = self.ingest._IDS.sub(renumber, self.events)
        events = AGENT_1001.sub(extension.encode(), events)
        events = CALLER_5551234.sub(caller.encode(), events)
        return [f + SEP for f in events.split(SEP) if f]

    def call(self, copy: int, extension: str, caller: str) -> tuple[bytes, bytes, bytes]:
        """(frames before the ringing one, the ringing frame, the rest of the call)."""
        frames = self.frames(copy, extension, caller)
        return b"".join(frames[: self.ring]), frames[self.ring], b"".join(frames[self.ring + 1 :])


def split_at_ringing(frames: list[bytes]) -> int:
    """Index of the frame whose arrival makes the tracker announce the agent's ringing."""
    parser, tracker = AMIParser(), CallTracker()
    for index, frame in enumerate(frames):
        for message in parser.feed(frame):
            if any(e["type"] == "call.ringing" for e in tracker.feed(message, time.time())):
                return index
    raise RuntimeError("the transcript never rings an agent")


# --- agents: websocket clients in another process -------------------------------------------------------
def run_clients(url: str, tokens: list[str], expect: int, ready: Any, results: Any, timeout: float) -> None:
    asyncio.run(_clients(url, tokens, expect, ready, results, timeout))


async def _clients(url: str, tokens: list[str], expect: int, ready: Any, results: Any, wait_s: float) -> None:
    """Hold one socket per token; record when each pop (or stats round) frame arrives on each socket."""
    received: dict[str, list[float]] = {}
    count = 0
    done = asyncio.Event()
    sockets = []

    async def one(token: str) -> None:
        ws = await websockets.connect(
            url,
            additional_headers={"Cookie": f"cc_session={token}"},
            compression=None,
            max_queue=None,
            open_timeout=60,
        )
        sockets.append(ws)
        await ws.recv()  # hub.hello

    async def read(ws: Any) -> None:
        nonlocal count
        with contextlib.suppress(websockets.ConnectionClosed):
            async for frame in ws:
                now = time.monotonic()
                key = _pop_key(frame)
                if key is not None:
                    received.setdefault(key, []).append(now)
                    count += 1
                    if count >= expect:
                        done.set()

    for start in range(0, len(tokens), 100):
        await asyncio.gather(*(one(t) for t in tokens[start : start + 100]))
    readers = [asyncio.create_task(read(ws)) for ws in sockets]
    ready.set()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(done.wait(), wait_s)
    results.put(received)
    for task in readers:
        task.cancel()
    for ws in sockets:
        await ws.close()


def _pop_key(frame: str | bytes) -> str | None:
    event = json.loads(frame)
    if event.get("type") == "screen.pop":
        return str(event["call_id"])
    if event.get("type") == "queue.stats":
        return f"{event['queue']}#{event['round']}"
    return None


# --- the server ------------------------------------------------------------------------------------------
class BenchRuntime:
    """The parts of the runtime on the pop path: bus, screen-pop service, websocket hub."""

    def __init__(self, settings: Settings, make_pop: Callable[[Any], ScreenPopService] | None) -> None:
        self.bus = InProcessBus()
        self.hub = WebSocketHub(self.bus, max_socket_buffer=settings.ws_max_socket_buffer)
        self.screen_pop = make_pop(self.bus.publish) if make_pop else None
        self.commands = None

    async def start(self) -> None:
        await self.hub.start()
        if self.screen_pop is not None:
            await self.screen_pop.start(self.bus)

    async def stop(self) -> None:
        if self.screen_pop is not None:
            await self.screen_pop.stop()
        await self.hub.stop()


async def serve(app: Any, port: int) -> tuple[uvicorn.Server, asyncio.Task[None]]:
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", ws_per_message_deflate=False)
    )
    task = asyncio.create_task(server.serve())
    for _ in range(3000):
        if server.started:
            return server, task
        await asyncio.sleep(0.01)
    raise RuntimeError("uvicorn did not start")


async def start_clients(
    url: str, tokens: list[str], expect: int, processes: int, wait_s: float
) -> tuple[list[Any], Any]:
    ctx = mp.get_context("spawn")
    results = ctx.Queue()
    workers, readies = [], []
    share = -(-len(tokens) // processes)
    for n in range(processes):
        ready = ctx.Event()
        part = tokens[n * share : (n + 1) * share]
        worker = ctx.Process(target=run_clients, args=(url, part, expect, ready, results, wait_s), daemon=True)
        worker.start()
        workers.append(worker)
        readies.append(ready)
    for ready in readies:
        if not await asyncio.to_thread(ready.wait, 120):
            raise RuntimeError("the websocket clients did not connect")
    return workers, results


async def drive_calls(runtime: BenchRuntime, plans: list[tuple[bytes, bytes, bytes]], rate: float) -> dict[str, float]:
    """Feed the calls at ``rate`` per second as a bridge would; when each ringing frame was due."""
    parser, tracker = AMIParser(), CallTracker()
    arrivals: dict[str, float] = {}
    due_at = 0.0

    async def feed(data: bytes, mark: bool) -> None:
        for message in parser.feed(data):
            for event in tracker.feed(message, time.time()):
                if mark and event["type"] == "call.ringing":
                    arrivals[event["call_id"]] = due_at
                await runtime.bus.publish(event)

    async def later(rest: bytes) -> None:
        await asyncio.sleep(2.0)
        await feed(rest, False)

    tails: list[asyncio.Future[None]] = []
    begin = time.monotonic() + 0.05  # the clock the clients read, not the loop's own
    for i, (head, ringing, tail) in enumerate(plans):
        due_at = begin + i / rate
        delay = due_at - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        await feed(head, False)
        await feed(ringing, True)
        # The rest of the call (answer, talk, hangup) follows later, as on a PBX.
        tails.append(asyncio.ensure_future(later(tail)))
    await asyncio.gather(*tails)
    return arrivals


def prepare(kind: str, folder: Path, customers: int, agents: int) -> tuple[str, list[str], Any]:
    """A filled CRM (bench/lookup.py's data) with ``agents`` agent logins: url, tokens, and its cleanup."""
    lookup_bench = load_bench("lookup")
    t0 = time.perf_counter()
    if kind == "sqlite":
        url = f"sqlite:///{folder / f'crm-{customers}.db'}"
        migrate(url)
        done: Any = contextlib.nullcontext()
    else:
        from crm_core.testing import postgres_database

        done = postgres_database("popbench")
        url = done.__enter__()
    lookup_bench.fill(url, customers)
    tokens = add_users(url, agents)
    print(f"  {kind}, {customers:,} customers: ready in {time.perf_counter() - t0:.1f} s")
    return url, tokens, done


class ThreadCPU:
    """CPU time spent in the wrapped blocking functions (the pop's threads), and how many calls."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.calls = 0

    def wrap(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any) -> Any:
            t0 = time.thread_time()
            try:
                return fn(*args)
            finally:
                self.seconds += time.thread_time() - t0
                self.calls += 1

        return timed


def old_scope(factory: Any) -> Callable[[str, dict[str, Any]], dict[str, Any]]:
    """The pop's scope as it was: a session, the agent as an ORM user (extension, agent number, user name: up
    to three queries), the query for his visible customers, then the cut."""

    def run(agent: str, crm: dict[str, Any]) -> dict[str, Any]:
        with factory() as session:
            user = None
            for column in (User.extension, User.agent_number, User.username):
                user = session.scalar(select(User).where(column == agent))
                if user is not None:
                    break
            if user is not None:
                visible_customer_ids(session, user, [c["id"] for c in crm.get("candidates") or []])
            return visible_lookup(session, user, crm)

    return run


def make_service(path: str, engine: Any, settings: Settings, cpu: ThreadCPU) -> Callable[[Any], ScreenPopService]:
    """The pop service of ``path``: ``new`` as ``serve`` builds it, ``old`` the path before."""

    def build(publish: Any) -> ScreenPopService:
        if path == "old":
            factory = make_sessionmaker(engine)
            lookup = cpu.wrap(crm_lookup(factory, settings.default_region))
            return ScreenPopService(lookup, publish, scope_fn=cpu.wrap(old_scope(factory)))
        service = crm_screen_pop(engine, settings, publish)
        assert service.scope_fn is not None and service.first_pop_fn is not None
        service.lookup_fn = cpu.wrap(service.lookup_fn)
        service.scope_fn = cpu.wrap(service.scope_fn)
        service.first_pop_fn = cpu.wrap(service.first_pop_fn)
        return service

    return build


def backend_cpu(url: str) -> float:
    """CPU seconds of the PostgreSQL backends serving this database (0 on SQLite)."""
    if not url.startswith("postgresql"):
        return 0.0
    engine = make_engine(url)
    with engine.connect() as conn:
        pids = list(conn.scalars(text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")))
        mine = conn.scalar(text("SELECT pg_backend_pid()"))
    engine.dispose()
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            if pid != mine:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


async def warm_up(runtime: BenchRuntime, count: int, customers: int, agents: int) -> None:
    """Lookups before the clock starts, as a server that has run a while has made (connections open,
    statements prepared)."""
    assert runtime.screen_pop is not None
    lookup_bench = load_bench("lookup")
    pop = runtime.screen_pop
    for i in range(count):
        number, agent = lookup_bench.mobile_of(1 + (i * 104729) % customers), str(FIRST_EXTENSION + i % agents)
        if pop.first_pop_fn is not None:
            await pop._in_thread(pop.first_pop_fn, number, agent)
        else:
            card = await pop._lookup(number)
            await pop._scoped(agent, card)


async def one_run(args: argparse.Namespace, tokens: list[str]) -> dict[str, Any]:
    """One fresh server on the filled CRM at ``args.url``: the pops' latencies from their due times."""
    lookup_bench = load_bench("lookup")
    folder = Path(args.folder)
    settings = Settings(database_url=args.url, data_dir=folder)
    engine = make_engine(args.url)
    cpu = ThreadCPU()
    runtime = BenchRuntime(settings, make_service(args.path, engine, settings, cpu))
    app = create_app(settings, runtime)
    port = free_port()
    server, serving = await serve(app, port)
    template = CallTemplate()
    callers = [1 + i * 7919 % args.customers for i in range(args.calls)]
    plans = [
        template.call(i, str(FIRST_EXTENSION + agent_for(i, c, args.agents)), lookup_bench.mobile_of(c))
        for i, c in enumerate(callers)
    ]
    url_ws = f"ws://127.0.0.1:{port}/ws"
    workers, results = await start_clients(url_ws, tokens, args.calls, args.processes, args.timeout)
    await warm_up(runtime, 50, args.customers, args.agents)
    if args.gc_freeze:
        # What a latency-minded server does once it has started: the objects made at start-up are
        # never collected again, so a full collection scans only what the traffic creates.
        gc.collect()
        gc.freeze()
    cpu.seconds, cpu.calls = 0.0, 0
    backend_before = await asyncio.to_thread(backend_cpu, args.url)
    process_before = time.process_time()
    arrivals = await drive_calls(runtime, plans, args.rate)
    received: dict[str, list[float]] = {}
    for _ in workers:
        for key, times in (await asyncio.to_thread(results.get, True, args.timeout + 30)).items():
            received.setdefault(key, []).extend(times)
    process_cpu = time.process_time() - process_before
    backend = await asyncio.to_thread(backend_cpu, args.url) - backend_before
    server.should_exit = True
    await serving
    assert runtime.screen_pop is not None
    published = runtime.screen_pop.published
    await runtime.screen_pop.stop()
    engine.dispose()
    latencies = [(min(received[c]) - t) * 1000 for c, t in arrivals.items() if c in received]
    return {
        "delivered": len(latencies),
        "expected": len(arrivals),
        "p50": statistics.median(latencies) if latencies else None,
        "p99": percentile(latencies, 99) if latencies else None,
        "max": max(latencies) if latencies else None,
        "failed_lookups": runtime.screen_pop.failed_lookups,
        "dropped": runtime.hub.stats.dropped_sockets,
        "crm_cpu_ms": cpu.seconds * 1000 / max(1, published),
        "process_cpu_ms": process_cpu * 1000 / max(1, len(arrivals)),
        "backend_cpu_ms": backend * 1000 / max(1, published),
    }


def fresh_runs(
    args: argparse.Namespace, url: str, customers: int, tokens: list[str], folder: Path, path: str = "new"
) -> dict[str, Any]:
    """One fresh process's run (a subprocess: nothing warm is carried over from the last run)."""
    token_file = folder / f"tokens-{customers}.json"
    token_file.write_text(json.dumps(tokens))
    command = [
        sys.executable,
        __file__,
        "--one-run",
        "--url",
        url,
        "--tokens",
        str(token_file),
        "--folder",
        str(folder),
        "--customers",
        str(customers),
        "--agents",
        str(args.agents),
        "--calls",
        str(args.calls),
        "--rate",
        str(args.rate),
        "--processes",
        str(args.processes),
        "--timeout",
        str(args.timeout),
        "--path",
        path,
    ]
    if not args.gc_freeze:
        command.append("--no-gc-freeze")
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"a run failed:\n{done.stderr[-3000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def figure(runs: list[dict[str, Any]], key: str, unit: str = "ms", digits: int = 1) -> str:
    values = [r[key] for r in runs if r[key] is not None]
    if not values:
        return "-"
    return f"{statistics.median(values):.{digits}f} {unit} ({min(values):.{digits}f}-{max(values):.{digits}f})"


def summary(label: str, runs: list[dict[str, Any]]) -> str:
    delivered = sum(r["delivered"] for r in runs)
    expected = sum(r["expected"] for r in runs)
    failed = sum(r["failed_lookups"] for r in runs)
    cpu = f"CPU per pop: CRM {figure(runs, 'crm_cpu_ms', digits=2)}"
    if any(r["backend_cpu_ms"] for r in runs):
        cpu += f", PostgreSQL {figure(runs, 'backend_cpu_ms', digits=2)}"
    return (
        f"  {label}: p50 {figure(runs, 'p50')}  p99 {figure(runs, 'p99')}  max {figure(runs, 'max')}  "
        f"[{delivered}/{expected} pops delivered, {failed} lookups failed]\n"
        f"    {cpu}; server process per call {figure(runs, 'process_cpu_ms', digits=2)}"
    )


def ratio(product: list[dict[str, Any]], baseline: list[dict[str, Any]], key: str) -> str:
    values = [p[key] / b[key] for p, b in zip(product, baseline, strict=True) if p[key] and b[key]]
    if not values:
        return "-"
    return f"{statistics.median(values):.2f}x ({min(values):.2f}-{max(values):.2f})"


def bench(args: argparse.Namespace, folder: Path) -> None:
    sizes = [args.customers, args.baseline_customers]
    prepared = {n: prepare(args.db, folder, n, args.agents) for n in sizes}
    loads = []
    try:
        runs: dict[str, list[dict[str, Any]]] = {"product": [], "baseline": [], "old": []}
        for _ in range(args.runs):  # product and baselines in turns, under the same machine load
            url, tokens, _done = prepared[args.customers]
            runs["product"].append(fresh_runs(args, url, args.customers, tokens, folder))
            loads.append(os.getloadavg()[0])
            small_url, small_tokens, _done = prepared[args.baseline_customers]
            runs["baseline"].append(fresh_runs(args, small_url, args.baseline_customers, small_tokens, folder))
            if args.old_path:
                runs["old"].append(fresh_runs(args, url, args.customers, tokens, folder, "old"))
    finally:
        for _url, _tokens, done in prepared.values():
            done.__exit__(None, None, None)
    product, baseline, old = runs["product"], runs["baseline"], runs["old"]
    print(summary(f"{args.customers:,} customers", product))
    print(summary(f"baseline, {args.baseline_customers:,} customers (same runs)", baseline))
    if old:
        print(summary(f"the path before, {args.customers:,} customers (same runs)", old))
    print(f"  p99 {args.customers:,}/{args.baseline_customers:,} customers: {ratio(product, baseline, 'p99')}")
    if old:
        print(
            f"  the path before/now: CRM CPU per pop {ratio(old, product, 'crm_cpu_ms')}, "
            f"server CPU per call {ratio(old, product, 'process_cpu_ms')}, p99 {ratio(old, product, 'p99')}"
        )
    p99 = statistics.median(r["p99"] for r in product)
    print(
        f"  target p99 <= 20 ms: {'met' if p99 <= 20 else 'missed'}; {args.runs} fresh runs; "
        f"load average {min(loads):.1f}-{max(loads):.1f} (1 min, after each product run)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="postgres")
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--baseline-customers", type=int, default=10_000)
    parser.add_argument("--agents", type=int, default=1_000)
    parser.add_argument("--calls", type=int, default=3_000, help="calls to place (30 s at 100/s)")
    parser.add_argument("--rate", type=float, default=100.0, help="calls per second")
    parser.add_argument("--runs", type=int, default=3, help="fresh server processes per size; medians printed")
    parser.add_argument("--processes", type=int, default=1, help="client processes holding the sockets")
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument(
        "--no-gc-freeze",
        dest="gc_freeze",
        action="store_false",
        help="leave start-up objects to the cyclic garbage collector",
    )
    parser.add_argument("--old-path", action="store_true", help="also run the pop path before, in the same runs")
    parser.add_argument("--path", choices=["new", "old"], default="new", help=argparse.SUPPRESS)
    parser.add_argument("--one-run", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--tokens", help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one_run:
        tokens = json.loads(Path(args.tokens).read_text())
        print(json.dumps(asyncio.run(one_run(args, tokens))))
        return
    print(
        f"screen-pop on {args.db}: {args.customers:,} customers (baseline {args.baseline_customers:,}), "
        f"{args.agents:,} agents, {args.rate:g} calls/s, {args.calls} calls per run"
    )
    with tempfile.TemporaryDirectory() as folder:
        bench(args, Path(folder))


if __name__ == "__main__":
    main()

"""Capacity of one node: 2,000 agent sockets and 200 wallboards at 100 calls/s; prints one table.

The server is the live path of ``callcenter serve`` in one process on uvloop: AMI bytes of a recorded call
(transcript 02, renumbered per call, its agent and caller replaced) -> ``AMIParser`` -> ``CallTracker`` ->
the event journal and bus (``cti.bus.make_durable_bus``, as ``serve`` builds them) -> the screen-pop
service, ``HistoryWriter`` (the call rows, fed from the journal by its consumer, at the duty ``serve`` gives
it) and ``LiveBoard`` (``queue.stats``,
coalesced to ``CC_WALLBOARD_UPDATES_PER_S``) -> bus -> ``WebSocketHub`` -> uvicorn. The pop is built by the
same call as in ``agent_desk.runtime`` (``cti.screen_pop.crm_screen_pop``): the caller's card and the ringing
agent's data scope in one statement (``CrmCards``), in its own ``CC_SCREEN_POP_THREADS`` threads; with
``--old-pop`` it is the path before, to compare (a session per lookup, another per agent's scope). Agents are
spread over departments; each wallboard is a supervisor of one department (``--wallboard-scope department``)
or an administrator (``all``), so the hub filters the agent states per scope. The sockets are held by light
client processes (``bench/ws_clients.py``).

The database is SQLite (``--db sqlite``, a copy of one filled template per run) or PostgreSQL (``--db
postgres``: a new database per run on the server of ``CC_TEST_DATABASE_URL``, by default
``postgres@127.0.0.1:5432/test``, filled, then dropped after the run); the pop and the history writer both
use it, as ``serve`` does with ``CC_DATABASE_URL``.

Figures: server CPU over the traffic (cores), memory per socket (RSS growth while the sockets connect),
pop latency from when the ringing AMI frame was due to the pop at the agent's socket, wallboard latency
from the bus publish of a frame (``queue.stats``, ``agent.state``) to each wallboard socket, and the client
processes' CPU (they must not starve the server); on PostgreSQL also its backends' CPU (the server's
connections that stay open through the traffic: the pop's and the history writer's pools), which a node with
its database on the same machine spends too; and the garbage collector's full runs and longest pause in the
traffic (a collection holds the interpreter lock, so every pop waits for it). ``--without pop`` (or
``history``, ``board``) leaves a part out: the difference is its cost. The median of ``--runs`` fresh runs,
with the range.

    .venv/bin/python bench/capacity.py                          # 2,000 agents, 200 wallboards, 100 calls/s, 30 s
    .venv/bin/python bench/capacity.py --db postgres
    .venv/bin/python bench/capacity.py --without pop            # the same without the pop: its cost
    .venv/bin/python bench/capacity.py --old-pop                # the pop path before crm_screen_pop
    .venv/bin/python bench/capacity.py --seconds 60 --wallboard-scope all

Budgets (docs/architecture.md): pop p99 <= 20 ms, wallboard p99 <= 50 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import pickle
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
sys.path.append(str(ROOT / "bench"))  # after the packages: bench/recordings.py must not shadow them

FIRST_EXTENSION = 2000


def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def thread_cpu_s() -> dict[int, float]:
    """CPU seconds of each thread of this process (the event loop's and the worker threads')."""
    ticks = os.sysconf("SC_CLK_TCK")
    out: dict[int, float] = {}
    for task in Path("/proc/self/task").iterdir():
        with contextlib.suppress(OSError):
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
            out[int(task.name)] = (int(fields[11]) + int(fields[12])) / ticks
    return out


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(len(ordered) * pct / 100) - 1))]


class GcPauses:
    """The garbage collector's runs while it watches: how many of each generation, how long in all and at
    the longest (ms). A collection holds the interpreter lock: the event loop and every worker thread wait."""

    def __init__(self) -> None:
        self.count, self.total_ms, self.longest = [0, 0, 0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]
        self._began = 0.0
        gc.callbacks.append(self._watch)

    @property
    def full(self) -> int:
        return self.count[2]

    @property
    def longest_ms(self) -> float:
        return max(self.longest)

    def _watch(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._began = time.perf_counter()
            return
        ms, generation = (time.perf_counter() - self._began) * 1000, info["generation"]
        self.count[generation] += 1
        self.total_ms[generation] += ms
        self.longest[generation] = max(self.longest[generation], ms)

    def stop(self) -> None:
        gc.callbacks.remove(self._watch)


# --- the database: customers, departments, agents, supervisors and a login each ------------------------
def prepare(url: str, folder: Path, args: argparse.Namespace) -> None:
    """Fill the migrated database at ``url``; the logins' tokens go to ``folder/tokens.json``."""
    from lookup import fill

    from crm_core.auth import open_session
    from crm_core.db import make_engine, make_sessionmaker
    from crm_core.models import Role, User
    from crm_core.testing import add_department

    fill(url, args.customers)
    engine = make_engine(url)
    with make_sessionmaker(engine)() as session:
        roles = {r.name: r for r in session.query(Role)}
        center = add_department(session, "总部")
        departments = [add_department(session, f"客服{n + 1}组", center) for n in range(args.departments)]
        agents = [
            User(
                username=f"agent{i}",
                display_name=f"Agent {i}",
                extension=str(FIRST_EXTENSION + i),
                roles=[roles["agent"]],
                department_id=departments[i % args.departments].id,
            )
            for i in range(args.agents)
        ]
        boards = [
            User(
                username=f"board{i}",
                display_name=f"Board {i}",
                roles=[roles["supervisor"]],
                department_id=departments[i % args.departments].id,
            )
            if args.wallboard_scope == "department"
            else User(username=f"board{i}", display_name=f"Board {i}", roles=[roles["admin"]], department_id=center.id)
            for i in range(args.wallboards)
        ]
        session.add_all(agents + boards)
        session.flush()
        tokens = {
            kind: [open_session(session, u, "cookie", timedelta(hours=2)).token for u in people]
            for kind, people in (("agents", agents), ("boards", boards))
        }
        session.commit()
    engine.dispose()
    (folder / "tokens.json").write_text(json.dumps(tokens))


def prepare_template(folder: Path, args: argparse.Namespace) -> None:
    """On SQLite the runs copy one filled database (``template.db``); on PostgreSQL each run fills its own."""
    from crm_core.db import migrate

    if args.db == "sqlite":
        url = f"sqlite:///{folder / 'template.db'}"
        migrate(url)
        prepare(url, folder, args)


@contextlib.contextmanager
def run_database(folder: Path, args: argparse.Namespace) -> Iterator[str]:
    """A fresh filled database for one run, its url: a copy of the SQLite template, or a new PostgreSQL
    database (migrated by ``crm_core.testing.postgres_database``), dropped when the run is over."""
    if args.db == "sqlite":
        shutil.copyfile(folder / "template.db", folder / "capacity.db")
        yield f"sqlite:///{folder / 'capacity.db'}"
        return
    from crm_core.testing import postgres_database

    with postgres_database("capacity") as url:
        prepare(url, folder, args)
        yield url


# --- the server: the live path of serve --------------------------------------------------------------
class CapacityRuntime:
    """Bus, screen-pop, history writer, live board and websocket hub, wired as ``agent_desk.runtime``."""

    def __init__(
        self, settings: Any, engine: Any, factory: Any, without: frozenset[str] = frozenset(), old_pop: bool = False
    ) -> None:
        from agent_desk.event_path import journal_history
        from agent_desk.ws import WebSocketHub
        from cti.bus import make_durable_bus
        from cti.screen_pop import ScreenPopService, crm_lookup, crm_scope, crm_screen_pop
        from stats.kpi import KpiSettings
        from stats.live import LiveBoard
        from stats.writer import HistoryWriter

        self.bus: Any = make_durable_bus(settings)  # the journal first, then the in-process bus, as serve
        inner: Any = getattr(self.bus, "inner", self.bus)  # the in-process bus behind the journal
        self.published_at: dict[int, float] = {}
        due: dict[str, float] = {}  # a journaled event's id -> when it was published, until the bus numbers it
        now_publishing = [0.0]  # when the publish under way began: its live-only events are numbered in it
        publish_many, inner_publish = self.bus.publish_many, inner.publish

        async def timed_publish_many(events: list[dict[str, Any]]) -> Any:
            started = now_publishing[0] = time.monotonic()
            out = await publish_many(events)
            for event in events:  # the journal gave them their ids; its bus consumer numbers them later
                if "event_id" in event and "seq" not in event:
                    due[event["event_id"]] = started
            return out

        async def numbered(event: dict[str, Any]) -> Any:
            out = await inner_publish(event)
            eid = event.get("event_id")
            started = due.pop(eid, None) if eid else now_publishing[0]
            self.published_at[int(out["seq"])] = time.monotonic() if started is None else started
            return out

        self.bus.publish_many = timed_publish_many
        inner.publish = numbered
        self.hub = WebSocketHub(
            self.bus, buffer_len=settings.ws_replay_buffer, max_socket_buffer=settings.ws_max_socket_buffer
        )
        if old_pop:
            self.screen_pop = ScreenPopService(
                crm_lookup(factory, settings.default_region), self.bus.publish, scope_fn=crm_scope(factory)
            )
        else:  # one node without Redis: always active, as serve builds it
            self.screen_pop = crm_screen_pop(engine, settings, self.bus.publish)
        rate = settings.wallboard_updates_per_s
        kpi = KpiSettings(sl_threshold_s=settings.sl_threshold_s, short_abandon_s=settings.short_abandon_s)
        self.board = LiveBoard(kpi, settings.desk_queues, tz=settings.timezone, min_interval_s=1 / rate)
        self.writer = HistoryWriter(factory)
        # fed from the journal (serve's default), or by a bus subscription when the journal is off
        self.history = journal_history(self.bus, self.writer) if "history" not in without else self.writer
        self.commands = None
        self._tasks: list[asyncio.Task[None]] = []
        self.without = without  # parts left out to see what each costs (--without)

    @property
    def history_pending(self) -> int:
        """Events the history writer has not taken yet: how far behind it is."""
        if getattr(self.history, "journal_fed", False):
            return int(self.bus.journal.pending("history"))
        return self.writer.pending

    async def start(self) -> None:
        if hasattr(self.bus, "start"):
            await self.bus.start()
        await self.hub.start()
        if "pop" not in self.without:
            await self.screen_pop.start(self.bus)
        loop = asyncio.get_running_loop()
        if "board" not in self.without:
            self._tasks += [loop.create_task(self._board()), loop.create_task(self._flush())]
        if "history" not in self.without and not getattr(self.history, "journal_fed", False):
            self._tasks.append(loop.create_task(self._write()))

    async def _board(self) -> None:
        async for event in self.bus.subscribe():
            for out in self.board.apply(event, time.time()):
                await self.bus.publish(out)

    async def _flush(self) -> None:
        while True:
            await asyncio.sleep(min(0.5, self.board.min_interval_s))
            for out in self.board.flush(time.time()):
                await self.bus.publish(out)

    async def _write(self) -> None:
        async for event in self.bus.subscribe():
            await self.writer.handle(event)

    async def stop(self) -> None:
        for task in self._tasks:  # what the history writer has not written yet is not waited for
            task.cancel()
        if "pop" not in self.without:
            await self.screen_pop.stop()
        await self.hub.stop()
        await self.bus.close()


async def drive_calls(
    runtime: CapacityRuntime, plans: list[tuple[bytes, bytes, bytes]], args: argparse.Namespace
) -> dict[str, float]:
    """Each call's head and ringing frame when due (``rate`` per second), its rest ``talk_s`` later; the
    time each call's ringing frame was due, by call id."""
    from cti.ami.parser import AMIParser
    from cti.tracker import CallTracker

    parser, tracker = AMIParser(), CallTracker()
    due: dict[str, float] = {}
    tails: list[asyncio.Task[None]] = []

    async def feed(data: bytes, when: float | None) -> None:
        for message in parser.feed(data):
            for event in tracker.feed(message, time.time()):
                if when is not None and event["type"] == "call.ringing":
                    due[event["call_id"]] = when
                await runtime.bus.publish(event)

    async def later(delay: float, rest: bytes) -> None:
        await asyncio.sleep(delay)
        await feed(rest, None)

    begin = time.monotonic() + 0.1
    for i, (head, ringing, tail) in enumerate(plans):
        when = begin + i / args.rate
        delay = when - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        await feed(head, None)
        await feed(ringing, min(when, time.monotonic()))
        tails.append(asyncio.create_task(later(args.talk_s, tail)))
    await asyncio.gather(*tails)
    return due


async def one_run(args: argparse.Namespace) -> dict[str, Any]:
    from lookup import mobile_of
    from screen_pop import CallTemplate, backend_cpu, free_port, serve
    from ws_clients import ClientProcesses, first_arrivals

    from agent_desk.app import create_app
    from config import Settings
    from crm_core.db import make_engine, make_sessionmaker

    folder = Path(args.folder)
    tokens = json.loads((folder / "tokens.json").read_text())
    url = args.url
    journal = folder / "journal"  # each run's own: a journal left by a run before would be replayed
    shutil.rmtree(journal, ignore_errors=True)
    settings = Settings(
        database_url=url, data_dir=folder, journal_dir=journal, wallboard_updates_per_s=args.updates_per_s
    )
    engine = make_engine(url)
    factory = make_sessionmaker(engine)
    without = frozenset(filter(None, args.without.split(",")))
    runtime = CapacityRuntime(settings, engine, factory, without, old_pop=args.old_pop)
    app = create_app(settings, runtime)
    app.state.sessionmaker = factory
    calls = int(args.rate * args.seconds)
    cached = folder / f"plans-{calls}-{args.agents}-{args.customers}.pickle"
    if cached.exists():  # the calls' AMI bytes are the same in every run: made once (it takes a while)
        plans = pickle.loads(cached.read_bytes())
    else:
        template = CallTemplate()
        plans = [
            template.call(i, str(FIRST_EXTENSION + i % args.agents), mobile_of(1 + i * 7919 % args.customers))
            for i in range(calls)
        ]
        cached.write_bytes(pickle.dumps(plans))
    port = free_port()
    server, serving = await serve(app, port)
    ws_url = f"ws://127.0.0.1:{port}/ws"
    wait_s = args.seconds + args.talk_s + args.grace_s  # frames later than this are counted as missing
    agents = ClientProcesses(ws_url, tokens["agents"], 10**9, args.processes, parse=True, timeout=wait_s)
    boards = ClientProcesses(ws_url, tokens["boards"], 10**9, 1, parse=True, timeout=wait_s)
    rss0 = rss_bytes()
    connected = await agents.start() + await boards.start()
    await asyncio.sleep(1.0)
    rss1 = rss_bytes()
    await agents.go()
    await boards.go()
    pauses = GcPauses()
    frames0, cpu0, t0 = runtime.hub.stats.frames, time.process_time(), time.monotonic()
    threads0 = thread_cpu_s()
    db0 = await asyncio.to_thread(backend_cpu, url)
    due = await drive_calls(runtime, plans, args)
    busy_s = time.monotonic() - t0
    pauses.stop()
    cpu = time.process_time() - cpu0
    threads1 = thread_cpu_s()
    behind = runtime.history_pending  # the history writer's backlog when the last call ended
    drained = time.monotonic()
    await runtime.history.drain()
    behind_s = time.monotonic() - drained if "history" not in runtime.without else 0.0
    db_cpu = await asyncio.to_thread(backend_cpu, url) - db0
    loop_thread = threading.get_native_id()
    loop_cpu = threads1.get(loop_thread, 0.0) - threads0.get(loop_thread, 0.0)
    frames = runtime.hub.stats.frames - frames0
    dropped = runtime.hub.stats.dropped_sockets
    agent_out, board_out = await agents.results(), await boards.results()
    server.should_exit = True
    await serving
    if "pop" not in runtime.without:  # its own connections closed before the database is dropped
        await runtime.screen_pop.stop()
    engine.dispose()
    pops = first_arrivals(agent_out, "screen.pop")
    pop_ms = [(pops[c] - when) * 1000 for c, when in due.items() if c in pops]
    board_ms: dict[str, list[float]] = {"queue.stats": [], "agent.state": []}
    for keys, times in zip(board_out["keys"], board_out["times"], strict=True):
        for key, t in zip(keys, times, strict=True):
            kind, _, seq = key.partition(":")
            if kind in board_ms and seq.isdigit() and int(seq) in runtime.published_at:
                board_ms[kind].append((t - runtime.published_at[int(seq)]) * 1000)
    sockets = len(tokens["agents"]) + len(tokens["boards"])
    return {
        "connected": connected,
        "calls": len(due),
        "pops": len(pop_ms),
        "cpu_cores": cpu / busy_s,
        "cpu_ms_per_call": cpu * 1000 / max(1, len(due)),
        "loop_cores": loop_cpu / busy_s,
        "db_cores": db_cpu / busy_s,
        "kib_per_socket": (rss1 - rss0) / sockets / 1024,
        "rss_mib": rss_bytes() / 2**20,
        "pop_p50": percentile(pop_ms, 50),
        "pop_p99": percentile(pop_ms, 99),
        "stats_p50": percentile(board_ms["queue.stats"], 50),
        "stats_p99": percentile(board_ms["queue.stats"], 99),
        "state_p99": percentile(board_ms["agent.state"], 99),
        "board_frames": sum(len(v) for v in board_ms.values()),
        "frames_per_s": frames / busy_s,
        "dropped": dropped,
        "clients_cores": (agent_out["cpu_s"] + board_out["cpu_s"]) / busy_s,
        "history_behind": behind,
        "history_behind_s": behind_s,
        "gc_full": pauses.full,
        "gc_longest_ms": pauses.longest_ms,
        **{f"gc{g}_per_s": pauses.count[g] / busy_s for g in (0, 1)},
        **{f"gc{g}_longest_ms": pauses.longest[g] for g in (0, 1)},
        "gc_share_pct": sum(pauses.total_ms) / 10 / busy_s,
    }


def child(args: argparse.Namespace, folder: Path, url: str) -> dict[str, Any]:
    command = [sys.executable, __file__, "--one", "--folder", str(folder), "--url", url]
    if args.old_pop:
        command.append("--old-pop")
    names = (
        "agents",
        "wallboards",
        "rate",
        "seconds",
        "talk_s",
        "grace_s",
        "customers",
        "updates_per_s",
        "processes",
        "without",
    )
    for name in names:
        command += [f"--{name.replace('_', '-')}", str(getattr(args, name))]
    done = subprocess.run(command, capture_output=True, text=True, timeout=args.seconds * 4 + 600)
    if done.returncode != 0:
        raise RuntimeError(f"the capacity run failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def load_average() -> str:
    """The machine's load over 1, 5 and 15 minutes (as ``uptime`` prints it)."""
    return ", ".join(f"{load:.2f}" for load in os.getloadavg())


def spread(values: list[float], digits: int = 1) -> str:
    return f"{statistics.median(values):.{digits}f} ({min(values):.{digits}f}-{max(values):.{digits}f})"


ROWS = (
    ("calls placed", "calls", 0),
    ("screen-pops delivered while the clients waited", "pops", 0),
    ("server CPU, cores (of 1) during traffic", "cpu_cores", 2),
    ("of which the event loop's thread, cores", "loop_cores", 2),
    ("server CPU per call, ms", "cpu_ms_per_call", 2),
    ("PostgreSQL backends' CPU, cores (its open connections)", "db_cores", 2),
    ("memory per socket, KiB (RSS growth while connecting)", "kib_per_socket", 1),
    ("server RSS at the end, MiB", "rss_mib", 0),
    ("screen-pop p50, ms (from the ringing frame's due time)", "pop_p50", 1),
    ("screen-pop p99, ms (budget 20)", "pop_p99", 1),
    ("wallboard queue.stats p50, ms (from publish)", "stats_p50", 1),
    ("wallboard queue.stats p99, ms (budget 50)", "stats_p99", 1),
    ("wallboard agent.state p99, ms (from publish)", "state_p99", 1),
    ("frames written by the hub per second", "frames_per_s", 0),
    ("client processes' CPU, cores", "clients_cores", 2),
    ("history events not yet written when the traffic ended", "history_behind", 0),
    ("seconds the history writer took to catch up after it", "history_behind_s", 1),
    ("full garbage collections (generation 2) during traffic", "gc_full", 0),
    ("longest garbage collection, ms (every thread waits)", "gc_longest_ms", 1),
    ("youngest-generation collections per second", "gc0_per_s", 1),
    ("longest youngest-generation collection, ms", "gc0_longest_ms", 1),
    ("middle-generation collections per second", "gc1_per_s", 2),
    ("longest middle-generation collection, ms", "gc1_longest_ms", 1),
    ("share of the traffic's time in collections, %", "gc_share_pct", 1),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--agents", type=int, default=2_000)
    parser.add_argument("--wallboards", type=int, default=200)
    parser.add_argument("--departments", type=int, default=10)
    parser.add_argument("--wallboard-scope", choices=("department", "all"), default="department")
    parser.add_argument("--rate", type=float, default=100.0, help="calls per second")
    parser.add_argument("--seconds", type=float, default=30.0, help="seconds of calls")
    parser.add_argument("--talk-s", type=float, default=8.0, help="seconds from ringing to the rest of a call")
    parser.add_argument("--grace-s", type=float, default=60.0, help="how long clients wait after the last call")
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--updates-per-s", type=float, default=2.0, help="CC_WALLBOARD_UPDATES_PER_S")
    parser.add_argument("--processes", type=int, default=2, help="client processes for the agents' sockets")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--without", default="", help="parts to leave out to see their cost: pop,history,board")
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite", help="the CRM and history database")
    parser.add_argument("--old-pop", action="store_true", help="the pop path before crm_screen_pop, to compare")
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if args.one:
        import uvloop

        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as run:
            print(json.dumps(run.run(one_run(args))))
        return
    pop = "the pop path before" if args.old_pop else "crm_screen_pop"
    print(
        f"capacity: {args.agents:,} agents, {args.wallboards} wallboards ({args.wallboard_scope} scope, "
        f"{args.departments} departments), {args.rate:g} calls/s for {args.seconds:g} s, {args.customers:,} "
        f"customers on {args.db}, {pop}, without {args.without or 'nothing'}, {args.runs} fresh runs on uvloop; "
        f"load average {load_average()}"
    )
    results = []
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        prepare_template(folder, args)
        for run_no in range(args.runs):
            with run_database(folder, args) as url:
                r = child(args, folder, url)
            results.append(r)
            print(
                f"  run {run_no + 1}: {r['connected']} sockets, {r['calls']} calls, {r['pops']} pops, "
                f"{r['board_frames']} wallboard frames, sockets dropped {r['dropped']}; "
                f"CPU {r['cpu_cores']:.2f} cores, pop p99 {r['pop_p99']:.1f} ms, "
                f"queue.stats p99 {r['stats_p99']:.1f} ms; load average {load_average()}",
                flush=True,
            )
    print(f"load average at the end {load_average()}\n")
    print("| figure | median (range) |\n|---|---|")
    for label, key, digits in ROWS:
        if key != "db_cores" or args.db == "postgres":
            print(f"| {label} | {spread([r[key] for r in results], digits)} |")


if __name__ == "__main__":
    main()

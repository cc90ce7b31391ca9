"""Screen-pop latency: from the AMI event's arrival to the agent's websocket; prints p50 and p99.

The server side is the product's own path in one process: AMI bytes -> ``AMIParser`` -> ``CallTracker``
-> bus -> ``ScreenPopService`` (caller lookup in SQLite with N customers) -> bus -> ``WebSocketHub`` ->
uvicorn websocket. The agents are real websocket clients (``websockets``) in another process; both sides
read CLOCK_MONOTONIC, so the latency is receipt time minus the time the ringing call's AMI frame was
handed to the parser.

    .venv/bin/python bench/screen_pop.py                      # 1,000,000 customers, 1,000 agents, 100 calls/s
    .venv/bin/python bench/screen_pop.py --customers 100000 --calls 1000

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
import re
import socket
import statistics
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

from agent_desk.app import create_app  # noqa: E402
from agent_desk.ws import WebSocketHub  # noqa: E402
from config import Settings  # noqa: E402
from crm_core.auth import open_session  # noqa: E402
from crm_core.db import make_engine, make_sessionmaker, migrate  # noqa: E402
from crm_core.models import Role, User  # noqa: E402
from cti.ami.parser import AMIParser  # noqa: E402
from cti.bus.memory import InProcessBus  # noqa: E402
from cti.screen_pop import ScreenPopService, crm_lookup  # noqa: E402
from cti.tracker import CallTracker  # noqa: E402

TRANSCRIPT = ROOT / "tests" / "fixtures" / "ami" / "02_inbound_answered_agent_hangup.raw"
SEP = b"\r\n\r\n"
FIRST_EXTENSION = 2000


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
def add_users(url: str, count: int, role: str) -> list[str]:
    """``count`` users with extensions from FIRST_EXTENSION and a cookie login each; their tokens."""
    engine = make_engine(url)
    tokens: list[str] = []
    with make_sessionmaker(engine)() as session:
        granted = session.query(Role).filter(Role.name == role).one()
        users = [
            User(
                username=f"bench{i}",
                display_name=f"Bench {i}",
                extension=str(FIRST_EXTENSION + i),
                roles=[granted],
            )
            for i in range(count)
        ]
        session.add_all(users)
        session.flush()
        tokens = [open_session(session, user, "cookie", timedelta(hours=2)).token for user in users]
        session.commit()
    engine.dispose()
    return tokens


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


async def _clients(
    url: str, tokens: list[str], expect: int, ready: Any, results: Any, wait_s: float
) -> None:
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

    def __init__(self, settings: Settings, lookup_fn: Callable[[str], Any] | None) -> None:
        self.bus = InProcessBus()
        self.hub = WebSocketHub(self.bus, max_socket_buffer=settings.ws_max_socket_buffer)
        self.screen_pop = ScreenPopService(lookup_fn, self.bus.publish) if lookup_fn else None
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
        worker = ctx.Process(
            target=run_clients, args=(url, part, expect, ready, results, wait_s), daemon=True
        )
        worker.start()
        workers.append(worker)
        readies.append(ready)
    for ready in readies:
        if not await asyncio.to_thread(ready.wait, 120):
            raise RuntimeError("the websocket clients did not connect")
    return workers, results


async def drive_calls(runtime: BenchRuntime, plans: list[tuple[bytes, bytes, bytes]], rate: float) -> dict[str, float]:
    """Feed the calls at ``rate`` per second as a bridge would; the arrival time of each ringing frame."""
    parser, tracker = AMIParser(), CallTracker()
    arrivals: dict[str, float] = {}
    loop = asyncio.get_running_loop()

    async def feed(data: bytes, mark: bool) -> None:
        arrived = time.monotonic()
        for message in parser.feed(data):
            for event in tracker.feed(message, time.time()):
                if mark and event["type"] == "call.ringing":
                    arrivals[event["call_id"]] = arrived
                await runtime.bus.publish(event)

    async def later(rest: bytes) -> None:
        await asyncio.sleep(2.0)
        await feed(rest, False)

    tails: list[asyncio.Future[None]] = []
    begin = loop.time()
    for i, (head, ringing, tail) in enumerate(plans):
        delay = begin + i / rate - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        await feed(head, False)
        await feed(ringing, True)
        # The rest of the call (answer, talk, hangup) follows later, as on a PBX.
        tails.append(asyncio.ensure_future(later(tail)))
    await asyncio.gather(*tails)
    return arrivals


async def bench(args: argparse.Namespace, folder: Path) -> None:
    url = f"sqlite:///{folder / 'bench.db'}"
    lookup_bench = load_bench("lookup")
    t0 = time.perf_counter()
    migrate(url)
    lookup_bench.fill(url, args.customers)
    tokens = add_users(url, args.agents, "agent")
    print(f"  database ready in {time.perf_counter() - t0:.1f} s")
    settings = Settings(database_url=url, data_dir=folder)
    engine = make_engine(url)
    runtime = BenchRuntime(settings, crm_lookup(make_sessionmaker(engine), settings.default_region))
    app = create_app(settings, runtime)
    port = free_port()
    server, serving = await serve(app, port)
    template = CallTemplate()
    plans = [
        template.call(i, str(FIRST_EXTENSION + i % args.agents), lookup_bench.mobile_of(1 + i * 7919 % args.customers))
        for i in range(args.calls)
    ]
    url_ws = f"ws://127.0.0.1:{port}/ws"
    workers, results = await start_clients(url_ws, tokens, args.calls, args.processes, args.timeout)
    if args.gc_freeze:
        # What a latency-minded server does once it has started: the objects made at start-up are
        # never collected again, so a full collection scans only what the traffic creates.
        gc.collect()
        gc.freeze()
    print(f"  {args.agents} agents connected; {args.calls} calls at {args.rate:g}/s")
    arrivals = await drive_calls(runtime, plans, args.rate)
    received: dict[str, list[float]] = {}
    for _ in workers:
        for key, times in (await asyncio.to_thread(results.get, True, args.timeout + 30)).items():
            received.setdefault(key, []).extend(times)
    server.should_exit = True
    await serving
    engine.dispose()
    ordered = sorted(arrivals.items(), key=lambda item: item[1])
    latencies = [(min(received[c]) - t) * 1000 for c, t in ordered if c in received]
    report("screen-pop", latencies, len(arrivals), target=20.0)
    for part in range(5):
        chunk = latencies[part * len(latencies) // 5 : (part + 1) * len(latencies) // 5]
        if chunk:
            print(f"    calls {part * 20}-{part * 20 + 20}%: p50 {statistics.median(chunk):.2f} ms  "
                  f"p99 {percentile(chunk, 99):.2f} ms  max {max(chunk):.2f} ms")
    print(
        f"  lookups failed: {runtime.screen_pop.failed_lookups if runtime.screen_pop else 0}, "
        f"sockets dropped as slow: {runtime.hub.stats.dropped_sockets}"
    )


def report(what: str, latencies: list[float], expected: int, target: float) -> None:
    if not latencies:
        print(f"  {what}: nothing received")
        return
    p99 = percentile(latencies, 99)
    print(
        f"  {what}: {len(latencies)}/{expected} delivered  p50 {statistics.median(latencies):.2f} ms  "
        f"p99 {p99:.2f} ms  max {max(latencies):.2f} ms  (target p99 <= {target:g} ms: "
        f"{'met' if p99 <= target else 'missed'})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--agents", type=int, default=1_000)
    parser.add_argument("--calls", type=int, default=3_000, help="calls to place (30 s at 100/s)")
    parser.add_argument("--rate", type=float, default=100.0, help="calls per second")
    parser.add_argument("--processes", type=int, default=1, help="client processes holding the sockets")
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--no-gc-freeze", dest="gc_freeze", action="store_false",
                        help="leave start-up objects to the cyclic garbage collector")
    args = parser.parse_args()
    print(f"screen-pop: {args.customers:,} customers, {args.agents:,} agents, {args.rate:g} calls/s")
    with tempfile.TemporaryDirectory() as folder:
        asyncio.run(bench(args, Path(folder)))


if __name__ == "__main__":
    main()

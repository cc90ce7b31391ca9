"""Wallboard fan-out: one ``queue.stats`` to 2,000 websockets, timed to its arrival at every client.

Two servers, each in a fresh process per run, on each event loop (uvloop, which ``callcenter serve`` runs
on, and plain asyncio):

- **hub**: the product's path. The event is published on the bus; ``WebSocketHub`` encodes it once (JSON
  and one websocket frame) and writes that frame to each socket's transport; uvicorn serves the sockets,
  configured as ``callcenter serve`` configures it. The clock starts before ``bus.publish``.
- **broadcast**: the baseline, the ``websockets`` library's own server and ``websockets.broadcast()``
  (which frames the message per socket). The clock starts before ``json.dumps``, so both pay their encoding.

The sockets are held by light client processes (``bench/ws_clients.py``: bare asyncio protocols that
count frames, no JSON, run as SCHED_BATCH so a frame's arrival never preempts the server between two of its
writes; ``--clients normal`` to compare) so the clients do not starve the server; their CPU is printed
beside the server's.
Latency of one socket in one round = when the frame completed at the client (CLOCK_MONOTONIC, shared by the
processes) minus when the round was due. Each figure is the median of ``--runs`` fresh runs, with the range;
the hub's p99 is also given as a ratio to the baseline's p99 of the same run and loop.

    .venv/bin/python bench/fanout.py                         # 2,000 sockets, 3 runs x 2 loops x 2 servers
    .venv/bin/python bench/fanout.py --sockets 1000 --runs 5 --loops uvloop
    .venv/bin/python bench/fanout.py --coalesce --sockets 200 --runs 2     # the board behind it, 100 calls/s

``--coalesce`` runs the hub behind the runtime's live board (``CC_WALLBOARD_UPDATES_PER_S``, here
``--updates-per-s``) fed with the events of ``--calls-per-s`` calls over ``--queues`` queues, and prints
what actually reaches each wallboard socket per second, by event type, with the server's CPU per second,
in the same run: as before the batch (``queue.joined/left`` sent to the wallboards, no window: ``batch -1``),
without the window (``batch 0``) and with ``--batch-ms`` (``CC_WALLBOARD_BATCH_MS``).
Without ``--coalesce`` the hub runs without a batch window (each frame's latency is what is timed).

Budget (docs/architecture.md): p99 <= 50 ms at 2,000 sockets, and never worse than the library.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
sys.path.append(str(ROOT / "bench"))  # after the packages: bench/recordings.py must not shadow them

SERVERS = ("hub", "broadcast")


def stats_event(round_no: int) -> dict[str, Any]:
    return {
        "type": "queue.stats",
        "ts": "2026-11-23T10:00:00.000Z",
        "pbx": "pbx1",
        "queue": "support",
        "round": round_no,
        "waiting": round_no % 7,
        "longest_wait_s": 12.5,
        "agents": {"available": 40, "on_call": 120, "paused": 8, "ringing": 3, "wrap_up": 5, "logged_in": 176},
        "today": {
            "offered": 5321,
            "answered": 5102,
            "abandoned": 219,
            "sl_pct": 82.4,
            "asa_s": 14.2,
            "aht_s": 241.7,
            "abandon_pct": 3.1,
        },
    }


def iso_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class CallTraffic:
    """Bus events of a center taking ``calls_per_s`` calls over ``queues``, stamped with the time now.

    Each call joins a queue, waits ``wait_s``, is answered by an agent (who goes on call), talks
    ``talk_s`` and ends (the agent goes to wrap-up, then back to available): the tracker's events, which
    the live board turns into ``queue.stats`` and the hub routes to the wallboards like any other.
    """

    def __init__(self, calls_per_s: float, queues: list[str], wait_s: float = 1.5, talk_s: float = 3.0) -> None:
        self.calls_per_s, self.queues, self.wait_s, self.talk_s = calls_per_s, queues, wait_s, talk_s
        self.agents = [f"{6000 + n}" for n in range(int(calls_per_s * (talk_s + 2)) + 10)]
        self.calls: set[asyncio.Future[None]] = set()

    async def run(self, publish: Any, seconds: float) -> int:
        loop = asyncio.get_running_loop()
        start, calls = loop.time(), 0
        for agent in self.agents:
            await publish(self.state(agent, "available"))
        while loop.time() - start < seconds:
            due = start + calls / self.calls_per_s
            if due > loop.time():
                await asyncio.sleep(due - loop.time())
            call_id, queue = f"call-{calls}", self.queues[calls % len(self.queues)]
            agent = self.agents[calls % len(self.agents)]
            await publish(
                {
                    "type": "queue.joined",
                    "ts": iso_now(),
                    "call_id": call_id,
                    "queue": queue,
                    "position": 1,
                    "wait_s": 0,
                }
            )
            loop.call_later(self.wait_s, self.spawn, publish, self.answer(publish, call_id, queue, agent))
            calls += 1
        return calls

    def spawn(self, publish: Any, work: Any) -> None:
        task = asyncio.ensure_future(work)
        self.calls.add(task)  # a reference until it ends
        task.add_done_callback(self.calls.discard)

    def state(self, agent: str, state: str) -> dict[str, Any]:
        return {
            "type": "agent.state",
            "ts": iso_now(),
            "agent": agent,
            "extension": agent,
            "state": state,
            "reason": "",
            "queues": self.queues,
        }

    async def answer(self, publish: Any, call_id: str, queue: str, agent: str) -> None:
        await publish(
            {
                "type": "queue.left",
                "ts": iso_now(),
                "call_id": call_id,
                "queue": queue,
                "position": 1,
                "wait_s": self.wait_s,
            }
        )
        await publish(
            {
                "type": "call.answered",
                "ts": iso_now(),
                "call_id": call_id,
                "agent": agent,
                "queue": queue,
                "caller": {"number": "5551234", "name": ""},
                "wait_s": self.wait_s,
                "callee": {"number": agent, "name": "", "extension": agent},
            }
        )
        await publish(self.state(agent, "on_call"))
        await asyncio.sleep(self.talk_s)
        await publish(
            {
                "type": "call.ended",
                "ts": iso_now(),
                "call_id": call_id,
                "answered": True,
                "duration_s": self.wait_s + self.talk_s,
                "talk_s": self.talk_s,
                "wait_s": self.wait_s,
                "hold_s": 0,
                "disposition": "answered",
                "direction": "inbound",
                "queue": queue,
                "agent": agent,
                "caller": {"number": "5551234", "name": ""},
                "legs": [],
            }
        )
        await publish(self.state(agent, "wrap_up"))
        await asyncio.sleep(0.5)
        await publish(self.state(agent, "available"))


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(len(ordered) * pct / 100) - 1))]


def runner(loop: str) -> asyncio.Runner:
    if loop == "uvloop":
        import uvloop

        return asyncio.Runner(loop_factory=uvloop.new_event_loop)
    return asyncio.Runner()


# --- one run: one server on one loop, in this process --------------------------------------------------
async def hub_server(url: str, folder: Path, batch_ms: float = 0, **settings_fields: Any) -> tuple[str, Any, Any]:
    from screen_pop import BenchRuntime, free_port, serve

    from agent_desk.app import create_app
    from config import Settings

    settings = Settings(database_url=url, data_dir=folder, **settings_fields)
    runtime = BenchRuntime(settings, None)  # the bus and the hub, nothing else on the loop
    runtime.hub.batch_s = batch_ms / 1000  # CC_WALLBOARD_BATCH_MS
    app = create_app(settings, runtime)
    port = free_port()
    server, serving = await serve(app, port)

    async def stop() -> None:
        server.should_exit = True
        await serving

    return f"ws://127.0.0.1:{port}/ws", runtime, stop


async def broadcast_server() -> tuple[str, Any, Any]:
    import websockets
    from screen_pop import free_port

    connected: set[Any] = set()

    async def handler(ws: Any) -> None:
        await ws.send(json.dumps({"type": "hub.hello", "seq": 0}))
        connected.add(ws)
        try:
            await ws.wait_closed()
        finally:
            connected.discard(ws)

    port = free_port()
    server = await websockets.serve(handler, "127.0.0.1", port, compression=None, max_queue=None)

    async def send(event: dict[str, Any]) -> None:
        websockets.broadcast(connected, json.dumps(event, ensure_ascii=False, separators=(",", ":")))

    async def stop() -> None:
        server.close()
        await server.wait_closed()

    return f"ws://127.0.0.1:{port}/", send, stop


async def one_run(args: argparse.Namespace) -> dict[str, Any]:
    from ws_clients import ClientProcesses

    folder = Path(args.folder)
    tokens = json.loads((folder / "tokens.json").read_text())[: args.sockets]
    if args.one == "hub":
        url, runtime, stop = await hub_server(f"sqlite:///{folder / 'fanout.db'}", folder)
        send = runtime.bus.publish
    else:
        url, send, stop = await broadcast_server()
    total = args.warmup + args.rounds
    clients = ClientProcesses(url, tokens, total, args.processes, timeout=args.timeout, batch=args.clients == "batch")
    connected = await clients.start()
    await clients.go()
    due: list[float] = []
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    begin = time.monotonic() + 0.05
    for round_no in range(total):
        # each round is due at a fixed time; the clock starts when it was due, not when the loop got to it
        when = begin + round_no * args.interval
        delay = when - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        due.append(min(when, time.monotonic()))
        await send({**stats_event(round_no), "seq": round_no + 1} if args.one == "broadcast" else stats_event(round_no))
    result = await clients.results()
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    user, system = cpu1.ru_utime - cpu0.ru_utime, cpu1.ru_stime - cpu0.ru_stime
    await stop()
    latencies = [
        (times[r] - due[r]) * 1000 for times in result["times"] for r in range(args.warmup, min(total, len(times)))
    ]
    return {
        "connected": connected,
        "p50": percentile(latencies, 50),
        "p99": percentile(latencies, 99),
        "max": max(latencies),
        "server_cpu_ms": (user + system) * 1000 / total,
        "kernel_pct": 100 * system / max(1e-9, user + system),
        "client_cpu_ms": result["cpu_s"] * 1000 / total,
        "missing": result["missing"],
        "policy": clients.policy,
    }


async def coalesced_run(args: argparse.Namespace) -> dict[str, Any]:
    """The hub with the live board fed by ``--calls-per-s``: what reaches each wallboard socket per second.

    The board is the runtime's (``_make_live_board`` from the settings, ``CC_WALLBOARD_UPDATES_PER_S``),
    fed and flushed by the runtime's own ``_board_apply`` and ``_board_flush`` from the bus.
    """
    from ws_clients import ClientProcesses

    import agent_desk.ws
    from agent_desk.runtime import Runtime, _make_live_board
    from config import Settings

    if args.batch_ms < 0:  # the path before the batch: the queue events reach every supervisor, no window
        agent_desk.ws.SUPERVISOR_EVENT_TYPES |= {"queue.joined", "queue.left", "queue.abandoned"}
    folder = Path(args.folder)
    tokens = json.loads((folder / "tokens.json").read_text())[: args.sockets]
    queues = [f"q{n}" for n in range(args.queues)]
    fields = {"wallboard_updates_per_s": args.updates_per_s, "desk_queues": queues}
    url, runtime, stop = await hub_server(f"sqlite:///{folder / 'fanout.db'}", folder, max(0, args.batch_ms), **fields)
    bus, hub = runtime.bus, runtime.hub
    # one node, on duty: it publishes the board's queue.stats
    board_owner = SimpleNamespace(
        board=_make_live_board(Settings(**fields)), bus=bus, duties=SimpleNamespace(active=True)
    )
    subscription = bus.subscribe()

    async def feed_board() -> None:
        async for event in subscription:
            await Runtime._board_apply(board_owner, event)  # type: ignore[arg-type]

    loop = asyncio.get_running_loop()
    tasks = [loop.create_task(feed_board()), loop.create_task(Runtime._board_flush(board_owner))]  # type: ignore[arg-type]
    clients = ClientProcesses(
        url, tokens, 0, args.processes, parse=True, batch=args.clients == "batch", seconds=args.seconds
    )
    connected = await clients.start()
    traffic = CallTraffic(args.calls_per_s, queues)
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    writes0 = hub.stats.writes
    await clients.go()
    calls = await traffic.run(bus.publish, args.seconds)
    result = await clients.results()
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    writes = hub.stats.writes - writes0
    for task in tasks:
        task.cancel()
    await stop()
    kinds: dict[str, int] = {}
    for keys in result["keys"]:
        for key in keys:
            kind = key.split(":", 1)[0]
            kinds[kind] = kinds.get(kind, 0) + 1
    sockets = max(1, len(result["keys"]))
    per_socket = {kind: count / sockets / args.seconds for kind, count in sorted(kinds.items())}
    return {
        "connected": connected,
        "calls_per_s": calls / args.seconds,
        "frames_per_socket_s": sum(per_socket.values()),
        "writes_per_socket_s": writes / sockets / args.seconds,
        "by_type": per_socket,
        "stats_per_queue_s": per_socket.get("queue.stats", 0.0) / len(queues),
        "server_cpu_ms_s": (cpu1.ru_utime - cpu0.ru_utime + cpu1.ru_stime - cpu0.ru_stime) * 1000 / args.seconds,
        "client_cpu_ms_s": result["cpu_s"] * 1000 / args.seconds,
        "policy": clients.policy,
    }


# --- the whole benchmark: fresh runs in child processes -------------------------------------------------
def add_administrators(url: str, count: int) -> list[str]:
    """``count`` administrators (they watch every agent: one audience, as a center's wallboards mostly
    are) with a cookie login each; their tokens."""
    from datetime import timedelta

    from crm_core.auth import open_session
    from crm_core.db import make_engine, make_sessionmaker
    from crm_core.models import Role, User

    engine = make_engine(url)
    with make_sessionmaker(engine)() as session:
        admin = session.query(Role).filter(Role.name == "admin").one()
        users = [
            User(username=f"wall{i}", display_name=f"Wallboard {i}", extension=str(7000 + i), roles=[admin])
            for i in range(count)
        ]
        session.add_all(users)
        session.flush()
        tokens = [open_session(session, user, "cookie", timedelta(hours=2)).token for user in users]
        session.commit()
    engine.dispose()
    return tokens


def prepare(folder: Path, sockets: int) -> None:
    from crm_core.db import migrate

    url = f"sqlite:///{folder / 'template.db'}"
    migrate(url)
    (folder / "tokens.json").write_text(json.dumps(add_administrators(url, sockets)))


def child(args: argparse.Namespace, server: str, loop: str, folder: Path, **overrides: Any) -> dict[str, Any]:
    args = argparse.Namespace(**{**vars(args), **overrides})
    shutil.copyfile(folder / "template.db", folder / "fanout.db")  # a fresh database for each run
    command = [sys.executable, __file__, "--one", server, "--loop", loop, "--folder", str(folder)]
    names = ("sockets", "rounds", "warmup", "interval", "processes", "timeout", "clients")
    names += ("calls_per_s", "queues", "seconds", "updates_per_s", "batch_ms")
    for name in names:
        command += [f"--{name.replace('_', '-')}", str(getattr(args, name))]
    done = subprocess.run(command, capture_output=True, text=True, timeout=args.timeout + 600)
    if done.returncode != 0:
        raise RuntimeError(f"{server} on {loop} failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def coalesce(args: argparse.Namespace) -> None:
    loops = args.loops.split(",")
    # the same run's baselines: the queue events sent and no window (-1, the path before), no window (0)
    windows = [-1.0, 0.0] + ([args.batch_ms] if args.batch_ms > 0 else [])
    print(
        f"coalescing: {args.sockets:,} wallboard sockets (administrators), {args.calls_per_s:g} calls/s over "
        f"{args.queues} queues for {args.seconds:g} s, CC_WALLBOARD_UPDATES_PER_S={args.updates_per_s:g}, "
        f"CC_WALLBOARD_BATCH_MS {windows}, {args.runs} fresh runs per loop and window; "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    results: dict[tuple[str, float], list[dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        prepare(folder, args.sockets)
        for run_no in range(args.runs):
            for loop in loops:
                for window in windows:
                    r = child(args, "coalesced", loop, folder, batch_ms=window)
                    results.setdefault((loop, window), []).append(r)
                    report_coalesced(run_no, loop, window, r)
    print(f"load average at the end {os.getloadavg()[0]:.2f}")
    print(
        "\n| loop | batch ms | frames/s per socket | writes/s per socket | queue.stats/s per queue | server CPU ms/s "
        "| clients CPU ms/s "
        "| server CPU / before (same run) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for loop in loops:
        for window in windows:
            rows, base = results[(loop, window)], results[(loop, windows[0])]
            ratio = spread([r["server_cpu_ms_s"] / b["server_cpu_ms_s"] for r, b in zip(rows, base, strict=True)], 2)
            print(
                f"| {loop} | {window:g} | {spread([r['frames_per_socket_s'] for r in rows])} | "
                f"{spread([r['writes_per_socket_s'] for r in rows])} | "
                f"{spread([r['stats_per_queue_s'] for r in rows], 2)} | "
                f"{spread([r['server_cpu_ms_s'] for r in rows], 0)} | "
                f"{spread([r['client_cpu_ms_s'] for r in rows], 0)} | {ratio} |"
            )


def report_coalesced(run_no: int, loop: str, window: float, r: dict[str, Any]) -> None:
    kinds = "  ".join(f"{k} {v:.1f}" for k, v in r["by_type"].items())
    print(
        f"  run {run_no + 1} {loop:7} batch {window:g} ms: {r['calls_per_s']:.0f} calls/s; per socket "
        f"{r['frames_per_socket_s']:.1f} frames/s ({kinds}) in {r['writes_per_socket_s']:.1f} writes/s; "
        f"queue.stats {r['stats_per_queue_s']:.2f}/s per queue; server CPU "
        f"{r['server_cpu_ms_s']:.0f} ms/s, clients {r['client_cpu_ms_s']:.0f} ms/s ({r['policy']})",
        flush=True,
    )


def spread(values: list[float], digits: int = 1) -> str:
    return f"{statistics.median(values):.{digits}f} ({min(values):.{digits}f}-{max(values):.{digits}f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sockets", type=int, default=2_000)
    parser.add_argument("--rounds", type=int, default=30, help="measured rounds per run")
    parser.add_argument("--warmup", type=int, default=5, help="rounds sent first and not counted")
    parser.add_argument("--interval", type=float, default=0.25, help="seconds between rounds")
    parser.add_argument("--runs", type=int, default=3, help="fresh runs of each server on each loop")
    parser.add_argument("--loops", default="uvloop,asyncio")
    parser.add_argument("--servers", default=",".join(SERVERS))
    parser.add_argument("--processes", type=int, default=2, help="client processes holding the sockets")
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument(
        "--clients", choices=("batch", "normal"), default="batch", help="client processes' scheduling policy"
    )
    parser.add_argument(
        "--coalesce", action="store_true", help="the hub behind the live board at --calls-per-s: frames per socket"
    )
    parser.add_argument("--calls-per-s", type=float, default=100.0)
    parser.add_argument("--queues", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds of traffic (--coalesce)")
    parser.add_argument("--updates-per-s", type=float, default=2.0, help="CC_WALLBOARD_UPDATES_PER_S (--coalesce)")
    parser.add_argument(
        "--batch-ms",
        type=float,
        default=250.0,
        help="CC_WALLBOARD_BATCH_MS (--coalesce), run beside no batch; 0: no batch only",
    )
    parser.add_argument("--one", choices=(*SERVERS, "coalesced"), help=argparse.SUPPRESS)
    parser.add_argument("--loop", default="uvloop", help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    args = parser.parse_args()
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if args.one:
        with runner(args.loop) as run:
            print(json.dumps(run.run(coalesced_run(args) if args.one == "coalesced" else one_run(args))))
        return
    if args.coalesce:
        coalesce(args)
        return
    loops, servers = args.loops.split(","), args.servers.split(",")
    print(
        f"fan-out: one queue.stats to {args.sockets:,} sockets, {args.rounds} rounds every {args.interval:g} s "
        f"(+{args.warmup} warm-up), {args.runs} fresh runs per server and loop, {args.processes} client processes; "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    results: dict[tuple[str, str], list[dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        prepare(folder, args.sockets)
        for run_no in range(args.runs):
            for loop in loops:
                for server in servers:
                    r = child(args, server, loop, folder)
                    results.setdefault((loop, server), []).append(r)
                    print(
                        f"  run {run_no + 1} {loop:7} {server:9}: p50 {r['p50']:6.1f} ms  p99 {r['p99']:6.1f} ms  "
                        f"max {r['max']:6.1f} ms  server CPU {r['server_cpu_ms']:5.1f} ms/round "
                        f"({r['kernel_pct']:.0f}% kernel)  "
                        f"clients CPU {r['client_cpu_ms']:5.1f} ms/round  sockets {r['connected']}  "
                        f"frames missing {r['missing']}  clients {r['policy']}",
                        flush=True,
                    )
    print(f"load average at the end {os.getloadavg()[0]:.2f}")
    print(
        "\n| loop | server | p50 ms | p99 ms | max ms | server CPU ms/round | clients CPU ms/round | "
        "p99 / baseline p99 (same run) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for loop in loops:
        for server in servers:
            rows = results[(loop, server)]
            ratio = "1.00"
            if server != "broadcast" and (loop, "broadcast") in results:
                base = results[(loop, "broadcast")]
                ratio = spread([r["p99"] / b["p99"] for r, b in zip(rows, base, strict=True)], 2)
            print(
                f"| {loop} | {server} | {spread([r['p50'] for r in rows])} | {spread([r['p99'] for r in rows])} | "
                f"{spread([r['max'] for r in rows])} | {spread([r['server_cpu_ms'] for r in rows])} | "
                f"{spread([r['client_cpu_ms'] for r in rows])} | {ratio} |"
            )


if __name__ == "__main__":
    main()

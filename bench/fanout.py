"""Wallboard fan-out: one ``queue.stats`` event to 2,000 supervisor websockets; prints p50 and p99.

The event goes through the product's path: bus -> ``WebSocketHub`` (encoded once, one pre-built frame
written to each socket's transport) -> uvicorn. The sockets are held by client processes that note when
each frame arrives (CLOCK_MONOTONIC, shared by the processes); the latency of a socket is that time minus
the publish time. Also printed: how long the hub's synchronous dispatch took per event.

    .venv/bin/python bench/fanout.py                  # 2,000 sockets, 50 events
    .venv/bin/python bench/fanout.py --sockets 500 --rounds 20

Budget (ARCHITECTURE section 9): p99 <= 50 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import websockets  # noqa: E402

from agent_desk.app import create_app  # noqa: E402
from agent_desk.ws import WebSocketHub  # noqa: E402
from config import Settings  # noqa: E402
from crm_core.db import migrate  # noqa: E402

sys.path.append(str(ROOT / "bench"))  # after the packages: bench/recordings.py must not shadow them
from screen_pop import BenchRuntime, add_users, free_port, report, serve, start_clients  # noqa: E402


def stats_event(round_no: int) -> dict[str, object]:
    return {
        "type": "queue.stats",
        "ts": "2026-11-23T10:00:00.000Z",
        "pbx": "pbx1",
        "queue": "support",
        "round": round_no,
        "waiting": round_no % 7,
        "longest_wait_s": 12.5,
        "agents": {
            "available": 40,
            "on_call": 120,
            "paused": 8,
            "ringing": 3,
            "wrap_up": 5,
            "logged_in": 176,
        },
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


async def bench(args: argparse.Namespace, folder: Path) -> None:
    url = f"sqlite:///{folder / 'fanout.db'}"
    migrate(url)
    tokens = add_users(url, args.sockets, "supervisor")
    settings = Settings(database_url=url, data_dir=folder)
    runtime = BenchRuntime(settings, None)
    runtime.hub = WebSocketHub(None, max_socket_buffer=settings.ws_max_socket_buffer)  # fed here, timed
    app = create_app(settings, runtime)
    port = free_port()
    server, serving = await serve(app, port)
    expect = args.rounds * -(-args.sockets // args.processes)
    workers, results = await start_clients(
        f"ws://127.0.0.1:{port}/ws", tokens, expect, args.processes, args.timeout
    )
    print(
        f"  {runtime.hub.connection_count()} supervisor sockets connected in {args.processes} client processes"
    )
    published: dict[str, float] = {}
    dispatch_ms: list[float] = []
    hub = runtime.hub
    for round_no in range(args.rounds):
        event = {**stats_event(round_no), "seq": round_no + 1}
        t0 = time.monotonic()
        hub.dispatch(event)
        dispatch_ms.append((time.monotonic() - t0) * 1000)
        published[f"support#{round_no}"] = t0
        await asyncio.sleep(args.interval)
    received = await collect(workers, results, args.timeout)
    server.should_exit = True
    await serving
    latencies = [(t - published[key]) * 1000 for key, times in received.items() for t in times]
    report("fan-out", latencies, args.rounds * args.sockets, target=50.0)
    print(
        f"  hub dispatch (encode once + {args.sockets} transport writes): "
        f"median {statistics.median(dispatch_ms):.2f} ms, max {max(dispatch_ms):.2f} ms; "
        f"sockets dropped as slow: {hub.stats.dropped_sockets}"
    )


async def baseline(args: argparse.Namespace) -> None:
    """The same fan-out with ``websockets.broadcast()`` (per-socket framing) on a bare websockets server."""
    connected: set[Any] = set()

    async def handler(ws: Any) -> None:
        await ws.send(json.dumps({"type": "hub.hello", "seq": 0}))
        connected.add(ws)
        try:
            await ws.wait_closed()
        finally:
            connected.discard(ws)

    port = free_port()
    async with websockets.serve(handler, "127.0.0.1", port, compression=None, max_queue=None):
        tokens = ["-"] * args.sockets
        expect = args.rounds * -(-args.sockets // args.processes)
        workers, results = await start_clients(f"ws://127.0.0.1:{port}/", tokens, expect, args.processes,
                                               args.timeout)
        published: dict[str, float] = {}
        send_ms: list[float] = []
        for round_no in range(args.rounds):
            text = json.dumps({**stats_event(round_no), "seq": round_no + 1}, ensure_ascii=False)
            t0 = time.monotonic()
            websockets.broadcast(connected, text)
            send_ms.append((time.monotonic() - t0) * 1000)
            published[f"support#{round_no}"] = t0
            await asyncio.sleep(args.interval)
        received = await collect(workers, results, args.timeout)
    latencies = [(t - published[key]) * 1000 for key, times in received.items() for t in times]
    report("baseline websockets.broadcast()", latencies, args.rounds * args.sockets, target=50.0)
    print(f"  broadcast() call: median {statistics.median(send_ms):.2f} ms, max {max(send_ms):.2f} ms")


async def collect(workers: list[Any], results: Any, wait_s: float) -> dict[str, list[float]]:
    received: dict[str, list[float]] = {}
    for _ in workers:
        for key, times in (await asyncio.to_thread(results.get, True, wait_s + 30)).items():
            received.setdefault(key, []).extend(times)
    return received


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sockets", type=int, default=2_000)
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--interval", type=float, default=0.2, help="seconds between events")
    parser.add_argument("--processes", type=int, default=2, help="client processes holding the sockets")
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--loop", choices=["uvloop", "asyncio"], default="uvloop",
                        help="server event loop (callcenter serve runs on uvloop)")
    parser.add_argument("--baseline", action="store_true",
                        help="also measure the websockets library's broadcast() on a plain server, same load")
    args = parser.parse_args()
    print(f"fan-out: one queue.stats to {args.sockets:,} sockets, {args.rounds} times, {args.loop} loop")
    if args.loop == "uvloop":
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    with tempfile.TemporaryDirectory() as folder:
        asyncio.run(bench(args, Path(folder)))
    if args.baseline:
        asyncio.run(baseline(args))


if __name__ == "__main__":
    main()

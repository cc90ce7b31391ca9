"""FastAGI benchmark: N concurrent sessions walking a 5-node flow (play, menu, input, lookup, queue).

The server runs in a child process (one asyncio loop, as in ``callcenter serve``); this process plays
Asterisk for every session (cti.simulator.fastagi_client.AsteriskResponder). Per-command latency is
measured on the Asterisk side: from writing a reply to reading the next command, i.e. the server's
turn-around for one AGI command, queueing behind the other sessions included.

    .venv/bin/python bench/agi.py --sessions 500 --rounds 3
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import statistics
import sys
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from config.settings import get_settings
from cti.simulator.fastagi_client import AgiScript, AsteriskResponder
from ivr.agi import IVRServer
from ivr.directory import InMemoryDirectory

FLOW = """
description: bench flow, five nodes
nodes:
  welcome: {type: play, file: custom/welcome, next: menu}
  menu: {type: menu, prompt: custom/main-menu, options: {"3": order}}
  order: {type: input, prompt: custom/enter-order, var: order_no, min_length: 6, max_length: 12, next: lookup}
  lookup: {type: lookup, lookup: order, number: "{order_no}", found: queue, not_found: queue}
  queue: {type: queue, queue: support, vip_priority: 10}
"""


async def one_session(port: int, index: int, latencies: list[float]) -> None:
    script = AgiScript(
        "bench", caller=f"1380000{index:04d}", uniqueid=f"1800000000.{index}", dtmf=["3", "20261123"]
    )
    responder = AsteriskResponder(script)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(("".join(f"{line}\n" for line in script.env_lines("127.0.0.1", port)) + "\n").encode())
    await writer.drain()
    sent_at = time.perf_counter()
    while line := await reader.readline():
        latencies.append(time.perf_counter() - sent_at)
        writer.write((responder.answer(line.decode().rstrip("\n")) + "\n").encode())
        await writer.drain()
        sent_at = time.perf_counter()
    writer.close()
    if responder.transcript.variables.get("QUEUE_NAME") != "support":
        raise RuntimeError(f"session {index} did not reach the queue: {responder.transcript.commands}")


def serve(ready: Connection, folder: str) -> None:
    """Child process: the FastAGI server until the parent says stop; sends back its counters."""

    async def main() -> None:
        async def publish(_event: dict[str, Any]) -> None:
            return None

        directory = InMemoryDirectory(orders={"20261123": {"status": "shipped"}})
        settings = get_settings().model_copy(
            update={"agi_host": "127.0.0.1", "agi_port": 0, "agi_session_timeout_s": 60.0}
        )
        server = IVRServer(settings, publish, directory, Path(folder), None)
        await server.start()
        ready.send(server.port)
        await asyncio.get_running_loop().run_in_executor(None, ready.recv)
        await server.stop()
        ready.send(server.stats.as_dict())

    asyncio.run(main())


async def drive(port: int, sessions: int, rounds: int) -> tuple[list[float], list[float]]:
    latencies: list[float] = []
    rates = []
    for _ in range(rounds):
        started = time.perf_counter()
        await asyncio.gather(*(one_session(port, i, latencies) for i in range(sessions)))
        rates.append(sessions / (time.perf_counter() - started))
    return latencies, rates


def run(sessions: int, rounds: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "bench.yaml").write_text(FLOW)
        parent, child = multiprocessing.Pipe()
        process = multiprocessing.Process(target=serve, args=(child, folder))
        process.start()
        try:
            port = parent.recv()
            latencies, rates = asyncio.run(drive(port, sessions, rounds))
        finally:
            parent.send("stop")
            stats = parent.recv()
            process.join()
    latencies.sort()
    q = statistics.quantiles(latencies, n=100)
    return {
        "sessions": sessions * rounds,
        "commands": len(latencies),
        "sessions_per_s": max(rates),
        "sessions_per_s_median": statistics.median(rates),
        "latency_p50_ms": q[49] * 1000,
        "latency_p99_ms": q[98] * 1000,
        "latency_max_ms": latencies[-1] * 1000,
        "server": stats,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=500, help="concurrent sessions per round")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    result = run(args.sessions, args.rounds)
    print(
        f"FastAGI: {args.sessions} concurrent sessions x {args.rounds} rounds, 5-node flow "
        f"({result['commands']} AGI commands)"
    )
    print(f"  sessions/s: best {result['sessions_per_s']:.0f}, median {result['sessions_per_s_median']:.0f}")
    print(
        f"  per-command latency: p50 {result['latency_p50_ms']:.2f} ms, "
        f"p99 {result['latency_p99_ms']:.2f} ms, max {result['latency_max_ms']:.2f} ms"
    )
    server = result["server"]
    print(
        f"  server: sessions {server['sessions_total']}, fallbacks {server['fallbacks']}, "
        f"errors {server['errors']}"
    )


if __name__ == "__main__":
    main()

"""Run the PBX simulator on its own: ``python -m cti.simulator``.

Serves AMI with demo traffic until interrupted (the secret is printed, or taken from
``CC_AMI_SECRET``), or with ``--bench N`` plays N answered calls as fast as it can and prints how
many events per second one AMI client received.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import time

from cti.simulator.calls import CallRun
from cti.simulator.server import PBXSimulator


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m cti.simulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=15038)
    parser.add_argument("--cpm", type=float, default=12.0, help="calls per minute of demo traffic")
    parser.add_argument("--speed", type=float, default=1.0, help="time factor of the recorded timings")
    parser.add_argument("--agents", type=int, default=12, help="agents 1001.. logged in to the queues")
    parser.add_argument("--bench", type=int, default=0, metavar="N", help="play N calls flat out and measure")
    return parser.parse_args()


async def _serve(args: argparse.Namespace) -> None:
    secret = os.environ.get("CC_AMI_SECRET", "")
    async with PBXSimulator(args.host, args.port, secret=secret or None, speed=args.speed) as sim:
        print(f"AMI on {sim.host}:{sim.port}  user {sim.username}  secret {sim.secret}", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        await sim.run_traffic(args.cpm, stop, agents=args.agents)


async def _bench(args: argparse.Namespace) -> None:
    async with PBXSimulator(args.host, 0, speed=1e6) as sim, sim.client(timeout_s=120) as ami:
        for ext in range(1001, 1001 + args.agents):
            sim.pbx.login_agent("support", str(ext))
        start_count, started = len(ami.messages), time.perf_counter()
        runs: list[CallRun] = []
        for i in range(args.bench):
            if len(runs) >= args.agents:  # every agent busy: wait for the oldest call to end
                await runs[-args.agents].done.wait()
            runs.append(sim.start_scenario("inbound_answered", caller=f"1390000{i:04d}", talk=1))
            await asyncio.sleep(0)
        for run in runs:
            await run.done.wait()
        last = runs[-1].binding["u0"]
        await ami.wait_for(lambda m: m.get("Event") == "Hangup" and m.get("Uniqueid") == last)
        elapsed = time.perf_counter() - started
        events = len(ami.messages) - start_count
        rate = events / elapsed
        print(f"{args.bench} calls, {events} events in {elapsed:.2f}s: {rate:,.0f} events/s to one client")


def main() -> None:
    args = _arguments()
    asyncio.run(_bench(args) if args.bench else _serve(args))


if __name__ == "__main__":
    main()

"""AMI flood benchmark: HTTP latency of a running product while its PBX floods the AMI bridge.

Three processes, as in production: a fake PBX (a raw AMI server in this file) that sends recorded
Asterisk 22 call traffic (the transcripts of bench/ingest.py, renumbered per copy so every call is
distinct) at ``--rate`` events/s; the product (``callcenter serve``'s runtime and web app, SQLite,
in-process bus, journal on) whose AMI bridge logs in to that PBX; and this client, which times
``GET /login`` every ``--interval`` seconds: first without the flood, then during it, in one run.

    .venv/bin/python bench/flood.py                    # 20,000 events/s, 20 s quiet + 20 s flood
    .venv/bin/python bench/flood.py --rate 30000 --seconds 30

Prints p50/p99/max and timeouts (``--timeout``) of each phase, and the events the PBX sent and
the bridge took. Budget (issue 12): HTTP p99 under 200 ms during a 20,000 events/s flood.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent
if str(BENCH) in sys.path:  # bench/recordings.py would hide the recordings package
    sys.path.remove(str(BENCH))
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SECRET = "flood-secret"
PASSWORD = "flood-password-1"
LISTS = {
    "CoreShowChannels": ("Channels will follow", "CoreShowChannelsComplete"),
    "QueueStatus": ("Queue status will follow", "QueueStatusComplete"),
    "BridgeList": ("Bridge listing will follow", "BridgeListComplete"),
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- the fake PBX ------------------------------------------------------------------------------------
def _frame(headers: dict[str, str]) -> bytes:
    return "".join(f"{k}: {v}\r\n" for k, v in headers.items()).encode() + b"\r\n"


class FloodPBX:
    """Answers the bridge's actions; once ``start`` is set, sends events at ``rate`` per second."""

    def __init__(self, stream: bytes, rate: float, start: Any, counter: Any) -> None:
        self.frames = [f + b"\r\n\r\n" for f in stream.split(b"\r\n\r\n") if f]
        self.rate = rate
        self.start = start
        self.counter = counter

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"Asterisk Call Manager/9.0.0\r\n")
        flood: asyncio.Task[None] | None = None
        buf = b""
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    return
                buf += data
                while b"\r\n\r\n" in buf:
                    raw, buf = buf.split(b"\r\n\r\n", 1)
                    action = dict(line.split(": ", 1) for line in raw.decode().split("\r\n") if ": " in line)
                    self.reply(writer, action)
                    if action.get("Action") == "Events" and flood is None:
                        flood = asyncio.get_running_loop().create_task(self.flood(writer))
        finally:
            if flood is not None:
                flood.cancel()

    def reply(self, writer: asyncio.StreamWriter, action: dict[str, str]) -> None:
        name, aid = action.get("Action", ""), action.get("ActionID", "")
        if name in LISTS:
            message, complete = LISTS[name]
            writer.write(_frame({"Response": "Success", "ActionID": aid, "EventList": "start", "Message": message}))
            writer.write(_frame({"Event": complete, "ActionID": aid, "EventList": "Complete", "ListItems": "0"}))
        elif name == "Command":
            writer.write(_frame({"Response": "Error", "ActionID": aid, "Message": "Permission denied"}))
        else:
            writer.write(_frame({"Response": "Success", "ActionID": aid, "Message": "OK"}))
            if name == "Login":
                writer.write(_frame({"Event": "FullyBooted", "Privilege": "system,all", "Status": "Fully Booted"}))

    async def flood(self, writer: asyncio.StreamWriter) -> None:
        """``rate`` events/s in 10 ms slices; a reader that does not keep up slows it (TCP)."""
        await asyncio.to_thread(self.start.wait)
        at, step = 0, 0.01
        per_slice = max(1, int(self.rate * step))
        began = time.monotonic()
        sent = 0
        while True:
            chunk = self.frames[at : at + per_slice]
            at += per_slice
            if at >= len(self.frames):
                at = 0
            writer.write(b"".join(chunk))
            await writer.drain()
            sent += len(chunk)
            self.counter.value = sent
            delay = began + sent / self.rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)


def _ingest() -> Any:
    """bench/ingest.py, which builds the renumbered transcript stream."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_ingest", BENCH / "ingest.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_pbx(port: int, rate: float, events: int, start: Any, counter: Any, ready: Any) -> None:
    stream, _ = _ingest().build_stream(events)

    async def main() -> None:
        pbx = FloodPBX(stream, rate, start, counter)
        server = await asyncio.start_server(pbx.serve, "127.0.0.1", port)
        ready.set()
        async with server:
            await server.serve_forever()

    asyncio.run(main())


# --- the product -------------------------------------------------------------------------------------
def product_env(root: Path, http_port: int, ami_port: int) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "CC_DATA_DIR": str(root),
            "CC_DATABASE_URL": f"sqlite:///{root / 'flood.db'}",
            "CC_REDIS_URL": "",
            "CC_HTTP_PORT": str(http_port),
            "CC_AMI_HOST": "127.0.0.1",
            "CC_AMI_PORT": str(ami_port),
            "CC_AMI_USER": "cti",
            "CC_AMI_SECRET": SECRET,
            "CC_AMI_AUTH": "plain",
            "CC_AGI_PORT": str(free_port()),
            "CC_RECORDINGS_DIR": str(root / "monitor"),
            "CC_VOICEMAIL_DIR": str(root / "voicemail"),
        }
    )
    return env


def prepare_product(root: Path) -> None:
    from crm_core.db import make_engine, make_sessionmaker, migrate
    from crm_core.services.users import create_user

    url = f"sqlite:///{root / 'flood.db'}"
    migrate(url)
    engine = make_engine(url)
    with make_sessionmaker(engine)() as session:
        create_user(session, "admin", PASSWORD, display_name="Admin", roles=["admin"])
        session.commit()
    engine.dispose()


def serve_product() -> None:
    """``callcenter serve`` (the settings come from the environment)."""
    from agent_desk.cli_serve import serve

    serve()


# --- the client --------------------------------------------------------------------------------------
def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def time_requests(url: str, seconds: float, interval: float, timeout: float) -> tuple[list[float], int]:
    import httpx

    latencies: list[float] = []
    timeouts = 0
    deadline = time.monotonic() + seconds
    with httpx.Client(timeout=timeout) as client:
        while time.monotonic() < deadline:
            began = time.perf_counter()
            try:
                client.get(url).raise_for_status()
                latencies.append((time.perf_counter() - began) * 1000)
            except httpx.TimeoutException:
                timeouts += 1
            except httpx.HTTPError:
                timeouts += 1  # refused or reset: no answer either
            time.sleep(max(0.0, interval - (time.perf_counter() - began)))
    return latencies, timeouts


def bridge_stats(base: str) -> dict[str, Any]:
    import httpx

    try:
        return _bridge_stats(base)
    except (httpx.HTTPError, ValueError) as exc:
        return {"error": repr(exc)}


def _bridge_stats(base: str) -> dict[str, Any]:
    import httpx

    with httpx.Client(base_url=base, timeout=30) as client:
        token = client.post("/api/auth/token", json={"username": "admin", "password": PASSWORD}).json()
        headers = {"Authorization": f"Bearer {token.get('access_token') or token.get('token')}"}
        reply = client.get("/api/monitor/health", headers=headers)
        return dict(reply.json()) if reply.status_code == 200 else {"status": reply.status_code}


def summary(name: str, latencies: list[float], timeouts: int) -> str:
    return (
        f"{name:<14} requests {len(latencies) + timeouts:>5}  p50 {percentile(latencies, 0.5):7.1f} ms  "
        f"p99 {percentile(latencies, 0.99):7.1f} ms  max {max(latencies, default=float('nan')):7.1f} ms  "
        f"timeouts {timeouts}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=20_000, help="AMI events per second (default 20,000)")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each phase (default 20)")
    parser.add_argument("--interval", type=float, default=0.05, help="seconds between requests (default 0.05)")
    parser.add_argument("--timeout", type=float, default=3.0, help="request timeout in seconds (default 3)")
    parser.add_argument("--events", type=int, default=400_000, help="distinct events the PBX cycles through")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve_product()
        return 0

    ctx = multiprocessing.get_context("spawn")
    start, ready, counter = ctx.Event(), ctx.Event(), ctx.Value("q", 0)
    ami_port, http_port = free_port(), free_port()
    pbx = ctx.Process(target=run_pbx, args=(ami_port, args.rate, args.events, start, counter, ready), daemon=True)
    pbx.start()
    with tempfile.TemporaryDirectory(prefix="cc-flood-") as tmp:
        root = Path(tmp)
        prepare_product(root)
        product = subprocess.Popen(
            [sys.executable, __file__, "--serve"],
            env=product_env(root, http_port, ami_port),
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=open(root / "product.log", "wb"),
        )
        try:
            base = f"http://127.0.0.1:{http_port}"
            ready.wait(120)
            _wait_up(base + "/login", product)
            quiet = time_requests(base + "/login", args.seconds, args.interval, args.timeout)
            before = bridge_stats(base)
            start.set()
            began = time.monotonic()
            flood = time_requests(base + "/login", args.seconds, args.interval, args.timeout)
            elapsed = time.monotonic() - began
            sent = counter.value
            after = bridge_stats(base)
        finally:
            product.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                product.wait(30)
            pbx.terminate()
        taken = (after.get("ami") or {}).get("events_total", 0) - (before.get("ami") or {}).get("events_total", 0)
        backlog = (after.get("events") or {}).get("consumers", {})
        if "error" in after:
            print("health after the flood:", after["error"])
        log_tail = (root / "product.log").read_text(errors="replace").splitlines()[-5:]
    rate = sent / elapsed
    print(f"AMI flood: {sent:,} events sent in {elapsed:.1f} s = {rate:,.0f} events/s (asked {args.rate:,.0f})")
    print(f"bridge took {taken:,} events = {taken / elapsed:,.0f} events/s; journal backlog at the end: "
          + json.dumps({k: v.get("pending") for k, v in backlog.items()}))
    print(summary("without flood", *quiet))
    print(summary("during flood", *flood))
    if os.environ.get("CC_BENCH_VERBOSE"):
        print("\n".join(log_tail))
    return 0


def _wait_up(url: str, product: subprocess.Popen[bytes]) -> None:
    import httpx

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if product.poll() is not None:
            raise SystemExit("the product exited; see its log")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    raise SystemExit("the product did not come up")


if __name__ == "__main__":
    raise SystemExit(main())

"""Light websocket clients for the fan-out and capacity benchmarks, run as their own process.

A client process holds many sockets with bare asyncio protocols (no websockets library, no JSON unless
asked), so that it spends far less CPU than the server it measures. It notes, with CLOCK_MONOTONIC (one
clock for every process of the machine), when each complete text frame arrives on each socket, and answers
the server's pings. Driven over stdin/stdout, one JSON line each way:

    in:  {"url": "ws://127.0.0.1:8000/ws", "cookies": ["token", ...], "frames": 31, "parse": false,
          "batch": true, "seconds": 0}
    out: {"ready": true, "connected": N}              once every socket has its first frame (the hello)
    in:  "go"                                         start of the measured window (CPU is counted from here)
    out: {"times": [[t, ...] per socket], "keys": [[key, ...]] (parse only), "cpu_s": s, "missing": n}

``frames`` is how many frames after the first one each socket waits for (with ``seconds``, the sockets
count what arrives in that many seconds after "go" instead); with ``parse`` each frame's
``type``/``seq``/``call_id`` becomes its key (``screen.pop:<call_id>``, ``queue.stats:<seq>``...).
With ``batch`` (the default) the process runs as SCHED_BATCH, so that a frame's arrival never preempts
the server it measures (``policy`` in the ready line says whether the kernel allowed it).
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import resource
import sys
import time
from typing import Any
from urllib.parse import urlsplit


def cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Client(asyncio.Protocol):
    """One socket: the upgrade, then unmasked server frames parsed just enough to count them."""

    def __init__(self, request: bytes, parse: bool) -> None:
        self.request = request
        self.parse = parse
        self.buffer = b""
        self.upgraded = False
        self.times: list[float] = []
        self.keys: list[str] = []
        self.hello: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None
        self.wanted = 0
        self.finished: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        transport.write(self.request)

    def connection_lost(self, exc: Exception | None) -> None:
        for future in (self.hello, self.finished):
            if not future.done():
                future.set_result(None)

    def data_received(self, data: bytes) -> None:
        now = time.monotonic()
        buffer = self.buffer + data
        if not self.upgraded:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                self.buffer = buffer
                return
            if not buffer.startswith(b"HTTP/1.1 101"):
                raise ConnectionError(buffer[:200].decode(errors="replace"))
            self.upgraded = True
            buffer = buffer[end + 4 :]
        pos = 0
        while len(buffer) - pos >= 2:
            opcode, size = buffer[pos] & 0x0F, buffer[pos + 1] & 0x7F
            head = 2
            if size == 126:
                if len(buffer) - pos < 4:
                    break
                size, head = int.from_bytes(buffer[pos + 2 : pos + 4], "big"), 4
            elif size == 127:
                if len(buffer) - pos < 10:
                    break
                size, head = int.from_bytes(buffer[pos + 2 : pos + 10], "big"), 10
            if len(buffer) - pos < head + size:
                break
            payload = buffer[pos + head : pos + head + size]
            pos += head + size
            if opcode == 0x9:  # ping: a masked pong with the same payload (mask of zeros)
                assert self.transport is not None
                self.transport.write(bytes((0x8A, 0x80 | len(payload))) + b"\0\0\0\0" + payload)
            elif opcode == 0x1:
                self.frame(now, payload)
        self.buffer = buffer[pos:]

    def frame(self, now: float, payload: bytes) -> None:
        if not self.hello.done():
            self.hello.set_result(None)
            return
        self.times.append(now)
        if self.parse:
            event = json.loads(payload)
            kind = event.get("type")
            key = event.get("call_id") if kind == "screen.pop" else event.get("seq")
            self.keys.append(f"{kind}:{key}")
        if self.wanted and len(self.times) >= self.wanted and not self.finished.done():
            self.finished.set_result(None)


def upgrade_request(url: str, cookie: str) -> bytes:
    parts = urlsplit(url)
    key = base64.b64encode(os.urandom(16)).decode()
    lines = [
        f"GET {parts.path or '/'}{'?' + parts.query if parts.query else ''} HTTP/1.1",
        f"Host: {parts.netloc}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}",
        "Sec-WebSocket-Version: 13",
    ]
    if cookie and cookie != "-":
        lines.append(f"Cookie: cc_session={cookie}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def run(config: dict[str, Any]) -> None:
    loop = asyncio.get_running_loop()
    parts = urlsplit(config["url"])
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    clients: list[Client] = []
    cookies: list[str] = config["cookies"]
    for start in range(0, len(cookies), 50):
        batch = []
        for cookie in cookies[start : start + 50]:
            request = upgrade_request(config["url"], cookie)
            batch.append(loop.create_connection(lambda r=request: Client(r, config.get("parse", False)), host, port))
        for _, client in await asyncio.gather(*batch):
            clients.append(client)
        await asyncio.wait_for(asyncio.gather(*(c.hello for c in clients[start:])), 120)
    print(json.dumps({"ready": True, "connected": len(clients), "policy": config.get("policy")}), flush=True)
    await loop.run_in_executor(None, sys.stdin.readline)  # "go"
    started = cpu_s()
    for client in clients:
        client.wanted = int(config["frames"])
        if len(client.times) >= client.wanted and not client.finished.done():
            client.finished.set_result(None)
    if config.get("seconds"):  # count what arrives in a window instead of waiting for a number of frames
        for client in clients:
            client.times.clear()
            client.keys.clear()
        await asyncio.sleep(float(config["seconds"]))
    else:
        await asyncio.wait([c.finished for c in clients], timeout=float(config.get("timeout", 120)))
    spent = cpu_s() - started
    out: dict[str, Any] = {
        "times": [c.times for c in clients],
        "cpu_s": spent,
        "missing": 0 if config.get("seconds") else sum(max(0, c.wanted - len(c.times)) for c in clients),
    }
    if config.get("parse"):
        out["keys"] = [c.keys for c in clients]
    for client in clients:
        if client.transport is not None:
            client.transport.abort()
    sys.stdout.write(json.dumps(out) + "\n")
    sys.stdout.flush()


class ClientProcesses:
    """The benchmark's side: start client processes over a share of the cookies each, then go, then results."""

    def __init__(
        self,
        url: str,
        cookies: list[str],
        frames: int,
        processes: int,
        *,
        parse: bool = False,
        timeout: float = 120.0,
        batch: bool = True,
        seconds: float = 0.0,
    ) -> None:
        share = -(-len(cookies) // processes)
        self.parts = [cookies[n * share : (n + 1) * share] for n in range(processes)]
        self.config = {
            "url": url,
            "frames": frames,
            "parse": parse,
            "timeout": timeout,
            "batch": batch,
            "seconds": seconds,
        }
        self.policy = "normal"
        self.procs: list[asyncio.subprocess.Process] = []

    async def start(self) -> int:
        for part in self.parts:
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                __file__,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                limit=1 << 30,
            )
            assert proc.stdin is not None
            proc.stdin.write((json.dumps({**self.config, "cookies": part}) + "\n").encode())
            await proc.stdin.drain()
            self.procs.append(proc)
        connected = 0
        for proc in self.procs:
            assert proc.stdout is not None
            line = await asyncio.wait_for(proc.stdout.readline(), 300)
            if not line:
                raise RuntimeError("a websocket client process failed to connect")
            ready = json.loads(line)
            connected += int(ready["connected"])
            self.policy = ready.get("policy") or "normal"
        return connected

    async def go(self) -> None:
        for proc in self.procs:
            assert proc.stdin is not None
            proc.stdin.write(b"go\n")
            await proc.stdin.drain()

    async def results(self) -> dict[str, Any]:
        """Every socket's frame times (and keys), the client processes' CPU seconds and frames missing."""
        out: dict[str, Any] = {"times": [], "keys": [], "cpu_s": 0.0, "missing": 0}
        for proc in self.procs:
            assert proc.stdout is not None
            part = json.loads(await proc.stdout.readline())
            out["times"] += part["times"]
            out["keys"] += part.get("keys", [])
            out["cpu_s"] += part["cpu_s"]
            out["missing"] += part["missing"]
            await proc.wait()
        return out


def first_arrivals(result: dict[str, Any], kind: str) -> dict[str, float]:
    """From parsed ``results()``: when the first ``kind`` frame of each id arrived (``screen.pop`` by call id)."""
    first: dict[str, float] = {}
    for keys, times in zip(result["keys"], result["times"], strict=True):
        for key, when in zip(keys, times, strict=True):
            frame_kind, _, ident = str(key).partition(":")
            if frame_kind == kind:
                first[ident] = min(when, first.get(ident, when))
    return first


def yield_to_the_server() -> str:
    """SCHED_BATCH: the kernel never lets a frame's arrival here preempt the server mid-round.

    The browsers of a real center sit on other machines; these clients share its cores. As batch tasks
    they still get their fair share of the CPU (their CPU is measured and printed), but a wake-up on a
    socket no longer switches the server out between two of its writes.
    """
    try:
        os.sched_setscheduler(0, os.SCHED_BATCH, os.sched_param(0))
    except (AttributeError, OSError):
        return "normal"
    return "batch"


def main() -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    config = json.loads(sys.stdin.readline())
    if config.get("batch", True):
        config["policy"] = yield_to_the_server()
    try:
        import uvloop

        runner = asyncio.Runner(loop_factory=uvloop.new_event_loop)
    except ImportError:
        runner = asyncio.Runner()
    with runner:
        runner.run(run(config))


if __name__ == "__main__":
    main()

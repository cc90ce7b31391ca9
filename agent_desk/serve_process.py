"""``callcenter serve`` in a child process, for tests and benchmarks of several nodes on one machine.

``ServeProcess`` starts one node with its own data folder, HTTP port and FastAGI port (the rest of its
settings come from the environment given), logs to ``serve.log`` in that folder, and is stopped with
SIGTERM or killed with SIGKILL (a node that dies without cleaning up).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServeProcess:
    """One ``callcenter serve`` process; ``env`` holds its ``CC_...`` settings."""

    def __init__(self, name: str, env: dict[str, str], data: Path) -> None:
        self.name = name
        self.port = free_port()
        self.data = data
        self.env = {
            **env,
            "CC_DATA_DIR": str(data),
            "CC_HTTP_PORT": str(self.port),
            "CC_AGI_PORT": "0",
            "CC_RECORDINGS_DIR": str(data / "monitor"),
            "CC_VOICEMAIL_DIR": str(data / "voicemail"),
        }
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.data.mkdir(parents=True, exist_ok=True)
        with (self.data / "serve.log").open("ab") as log:
            command = [sys.executable, "-c", "from agent_desk.cli import main; main()", "serve"]
            self.proc = subprocess.Popen(command, env=self.env, stdout=log, stderr=subprocess.STDOUT)

    async def wait_up(self, client: httpx.AsyncClient, timeout_s: float = 180.0) -> None:
        """Wait until the node answers HTTP; fails at once if the process has ended."""
        deadline = asyncio.get_running_loop().time() + timeout_s
        while True:
            if self.proc is None or self.proc.poll() is not None:
                raise RuntimeError(f"serve {self.name} ended:\n{self.log_tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(f"{self.url}/login")).status_code == 200:
                    return
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"serve {self.name} not up after {timeout_s:g} s:\n{self.log_tail()}")
            await asyncio.sleep(0.2)

    def kill(self) -> None:
        """SIGKILL: the node dies mid-work, as on a crash or a power cut."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)

    def log_tail(self, chars: int = 3000) -> str:
        path = self.data / "serve.log"
        return path.read_text(errors="replace")[-chars:] if path.exists() else ""

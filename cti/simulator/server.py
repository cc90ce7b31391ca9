"""``PBXSimulator``: an asyncio TCP server that speaks AMI like Asterisk 22.

It greets with ``Asterisk Call Manager/11.0.0``, logs clients in with a plain secret or the MD5
challenge, answers actions with their ActionID, and broadcasts the events of the simulated calls
to every logged-in client (with ``Timestamp`` after ``Privilege`` when ``timestamps`` is on, as
``timestampevents=yes`` does). The call logic lives in ``pbx.SimulatedPBX``; the actions in
``actions``; this module only moves bytes and keeps sessions.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager

from cti.simulator.actions import ActionHandler
from cti.simulator.calls import CallRun, ScenarioResult
from cti.simulator.pbx import SimulatedPBX
from cti.simulator.protocol import BANNER, ActionReader, Message, encode
from cti.simulator.recorder import AMIRecorder, logged_in

log = logging.getLogger(__name__)
MAX_PENDING_WRITE = 8 << 20  # a client this far behind is cut off, as Asterisk drops slow sessions


class Session:
    """One AMI client connection."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.authenticated = False
        self.username = ""
        self.challenge = ""
        self.event_classes: set[str] | None = None  # None: every class; empty: events off
        self._pending: list[bytes] = []
        peer = writer.get_extra_info("peername") or ("", 0)
        self.peer = f"{peer[0]}/{peer[1]}" if isinstance(peer, tuple) and len(peer) >= 2 else str(peer)

    def send(self, message: Message) -> None:
        self.send_bytes(encode(message))

    def send_bytes(self, data: bytes) -> None:
        """Queue bytes; everything queued in one loop turn goes out in one write."""
        if self.writer.is_closing():
            return
        if not self._pending:
            asyncio.get_running_loop().call_soon(self.flush)
        self._pending.append(data)

    def flush(self) -> None:
        pending, self._pending = self._pending, []
        if not pending or self.writer.is_closing():
            return
        if self.writer.transport.get_write_buffer_size() > MAX_PENDING_WRITE:
            log.warning("AMI client %s too slow, disconnecting", self.peer)
            self.writer.transport.abort()
            return
        self.writer.write(b"".join(pending))

    def wants(self, privilege: str) -> bool:
        if not self.authenticated:
            return False
        if self.event_classes is None:
            return True
        return bool(self.event_classes & set(privilege.split(",")))


class PBXSimulator:
    """A PBX for the demo and the tests: AMI on TCP, recorded Asterisk 22 call scenarios."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        username: str = "cti",
        secret: str | None = None,
        timestamps: bool = True,
        speed: float = 1.0,
        queues: dict[str, str] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.host = host
        self.username = username
        self.secret = secret if secret else secrets.token_urlsafe(16)
        self.timestamps = timestamps
        self._requested_port = port
        self._clock = clock
        self._server: asyncio.Server | None = None
        self._sessions: set[Session] = set()
        self._started = clock()
        self.pbx = SimulatedPBX(self._broadcast, clock, speed, queues)
        self._actions = ActionHandler(self)

    # --- lifecycle ------------------------------------------------------------------------------
    @property
    def port(self) -> int:
        if self._server is None or not self._server.sockets:
            return self._requested_port
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def uptime(self) -> int:
        return int(self._clock() - self._started)

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.host, self._requested_port)
        log.info("PBX simulator AMI listening on %s:%s", self.host, self.port)

    async def stop(self) -> None:
        await self.pbx.stop()
        if self._server is not None:
            self._server.close()
        await self.drop_connections()
        if self._server is not None:
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
            self._server = None

    async def drop_connections(self) -> None:
        """Close every AMI client socket abruptly (reconnect tests)."""
        for session in list(self._sessions):
            session.writer.transport.abort()
        self._sessions.clear()
        await asyncio.sleep(0)

    async def __aenter__(self) -> PBXSimulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # --- scenarios ------------------------------------------------------------------------------
    def start_scenario(self, name: str, **params: object) -> CallRun:
        """Start a call in the background; ``await run.done.wait()`` or read ``run.result``."""
        return self.pbx.start(name, {k: str(v) for k, v in params.items()})

    async def run_scenario(self, name: str, **params: object) -> ScenarioResult:
        """Play one scenario to its end; its Linkedid and channels come back."""
        if name == "agent_login_pause":
            return await self.pbx.agent_login_pause({k: str(v) for k, v in params.items()})
        run = self.start_scenario(name, **params)
        await run.done.wait()
        return run.result

    async def run_traffic(
        self,
        calls_per_minute: float,
        stop: asyncio.Event,
        *,
        agents: int = 10,
        callers: Sequence[tuple[str, str]] | None = None,
        agi: tuple[str, int] | None = None,
        seed: int | None = None,
    ) -> None:
        """Demo traffic until ``stop`` is set: a realistic mix of calls, callers and agents.

        ``agents``: extensions 1001.. logged in to the queues; ``callers``: (number, name) pairs to
        call from (for instance the seeded customers, so screen pops find them); ``agi``: the
        FastAGI server every inbound call runs its IVR on.
        """
        from cti.simulator.traffic import TrafficGenerator

        generator = TrafficGenerator(self, agents=agents, callers=callers, seed=seed, agi=agi, paced=True)
        await generator.run(calls_per_minute, stop)

    def client(self, timeout_s: float = 5.0) -> AbstractAsyncContextManager[AMIRecorder]:
        """A logged-in AMI client of this simulator (``async with sim.client() as ami``)."""
        return logged_in("127.0.0.1", self.port, self.username, self.secret, timeout_s)

    # --- sessions -------------------------------------------------------------------------------
    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        session = Session(reader, writer)
        self._sessions.add(session)
        parser = ActionReader()
        try:
            writer.write(BANNER)
            while not writer.is_closing():
                data = await reader.read(65536)
                if not data:
                    break
                for action in parser.feed(data):
                    if not self._actions.handle(session, action):
                        session.flush()
                        await writer.drain()
                        writer.close()
                        break
                session.flush()
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        except Exception:
            log.exception("AMI session %s failed", session.peer)
        finally:
            self._sessions.discard(session)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    def _broadcast(self, headers: list[tuple[str, str]]) -> None:
        privilege = ""
        out: Message = []
        for key, value in headers:
            out.append((key, value))
            if key == "Privilege":
                privilege = value
                if self.timestamps:
                    out.append(("Timestamp", f"{self._clock():.6f}"))
        data = encode(out)
        for session in list(self._sessions):
            if session.wants(privilege):
                session.send_bytes(data)

    def private_events(self, session: Session, messages: list[Message]) -> None:
        """Events for one session only (FullyBooted, SuccessfulAuth), timestamped like the rest."""
        for message in messages:
            out: Message = []
            for key, value in message:
                out.append((key, value))
                if key == "Privilege" and self.timestamps:
                    out.append(("Timestamp", f"{self._clock():.6f}"))
            session.send(out)

"""The FastAGI server: ``agi://HOST:4573/<flow>`` on panoramisk's ``fast_agi``.

panoramisk 1.4's own connection handler spins forever on a peer that closes before the blank line
ending the AGI environment, parses replies that lose data (``result=`` with no value, a trailing
``\\r``) and wraps non-coroutine routes with ``asyncio.coroutine`` (gone in Python 3.11). So
:class:`FastAGIApplication` keeps panoramisk's Application and Request but replaces the handler
(bounded reads, any flow name routed to the flow library) and the reply reading (``ivr.agi_protocol``).

Every session is bounded by ``settings.agi_session_timeout_s``; a broken or unknown flow, a missing
prompt or a crashed session sends the caller to the fallback queue, and is logged and counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from panoramisk import fast_agi

from config import Settings
from ivr.agi_protocol import AgiProtocolError, AgiReply, ReplyAssembler, parse_env
from ivr.calendar import BusinessCalendar, CalendarFile
from ivr.directory import CustomerDirectory
from ivr.flow import FlowLibrary
from ivr.session import CallerHungUp, Clock, Publish, SessionDeps, run_call

log = logging.getLogger(__name__)

ENV_TIMEOUT_S = 10.0
MAX_LINE = 8192


class AgiConnectionLost(ConnectionError):
    """The peer closed the socket before answering."""


class AgiRequest(fast_agi.Request):
    """panoramisk's request, answering each command with a parsed :class:`AgiReply`."""

    async def command(self, line: str) -> AgiReply:
        self.writer.write((line + "\n").encode(self.encoding))
        await self.writer.drain()
        assembler = ReplyAssembler()
        while True:
            raw = await self.reader.readline()
            if not raw:
                if assembler.hangup_seen:
                    raise CallerHungUp(line)
                raise AgiConnectionLost(f"connection closed while waiting for the reply to {line!r}")
            reply = assembler.feed(raw.decode(self.encoding, errors="replace"))
            if reply is not None:
                return reply


@dataclass
class IVRStats:
    sessions_active: int = 0
    sessions_total: int = 0
    fallbacks: int = 0
    errors: int = 0
    hangups: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


class FastAGIApplication(fast_agi.Application):
    """panoramisk's Application with a handler that serves every flow of the library."""

    def __init__(self, server: IVRServer, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(default_encoding="utf-8", loop=loop)
        self.server = server

    async def handler(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await self.server.serve_connection(reader, writer)


class IVRServer:
    def __init__(
        self,
        settings: Settings,
        publish: Publish,
        directory: CustomerDirectory,
        flows_dir: Path | None = None,
        calendar: BusinessCalendar | CalendarFile | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.settings = settings
        self.publish = publish
        self.directory = directory
        self.flows = FlowLibrary(flows_dir or settings.ivr_flows_dir)
        self.calendar = calendar
        self.clock: Clock = clock or (lambda: datetime.now(UTC))
        self.stats = IVRStats()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    @property
    def port(self) -> int:
        if self._server is None or not self._server.sockets:
            return self.settings.agi_port
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        app = FastAGIApplication(self, asyncio.get_running_loop())
        self._server = await asyncio.start_server(
            app.handler, self.settings.agi_host, self.settings.agi_port, limit=MAX_LINE, backlog=1024
        )
        log.info("FastAGI listening on %s:%s", self.settings.agi_host, self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            await self._server.wait_closed()
            self._server = None

    def _current_calendar(self) -> BusinessCalendar | None:
        if isinstance(self.calendar, CalendarFile):
            try:
                return self.calendar.current()
            except Exception:
                log.exception("business calendar unreadable; treating every hour as open")
                return None
        return self.calendar

    async def serve_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        self.stats.sessions_active += 1
        self.stats.sessions_total += 1
        try:
            async with asyncio.timeout(self.settings.agi_session_timeout_s):
                await self._session(reader, writer)
        except TimeoutError:
            log.warning("FastAGI session exceeded %.0f s; ended", self.settings.agi_session_timeout_s)
            self.stats.errors += 1
        except (AgiConnectionLost, ConnectionError, AgiProtocolError) as exc:
            log.info("FastAGI connection ended early: %s", exc)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("FastAGI session crashed")
            self.stats.errors += 1
        finally:
            self.stats.sessions_active -= 1
            if task is not None:
                self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(min(ENV_TIMEOUT_S, self.settings.agi_session_timeout_s)):
                env = await read_env(reader)
        except (AgiProtocolError, ValueError, TimeoutError) as exc:
            log.warning("not a FastAGI request from %s: %s", writer.get_extra_info("peername"), exc)
            self.stats.errors += 1
            return
        channel = AgiRequest(self, env, reader, writer)
        deps = SessionDeps(
            self.publish,
            self.directory,
            self.settings.pbx,
            self.clock,
            self.settings.ivr_fallback_queue,
            self.settings.ivr_transfer_context,
        )
        outcome = await run_call(channel, env, self.flows, self._current_calendar(), deps)
        self.stats.hangups += outcome.hung_up
        self.stats.fallbacks += outcome.fallback
        self.stats.errors += outcome.crashed


async def read_env(reader: asyncio.StreamReader) -> dict[str, str]:
    """Read the environment block up to its blank line; EOF or garbage raise AgiProtocolError."""
    lines: list[str] = []
    while True:
        raw = await reader.readline()
        if not raw:
            raise AgiProtocolError("connection closed inside the AGI environment")
        line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
        if not line:
            return parse_env(lines)
        lines.append(line)
        if len(lines) > 200:
            return parse_env(lines)

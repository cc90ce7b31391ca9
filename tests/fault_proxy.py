"""A TCP proxy in front of a server that a test pauses and resets (PostgreSQL, Redis): fault injection."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct


class FaultProxy:
    """A TCP proxy in front of one server: ``flow()``, ``stall()`` (hold every byte), ``reset()`` (RST all)."""

    def __init__(self, host: str, port: int) -> None:
        self.upstream = (host, port)
        self.mode = "flow"
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._server: asyncio.Server | None = None
        self._links: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self.resets = 0

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)

    async def close(self) -> None:
        self.flow()
        if self._server is not None:
            self._server.close()
        for client, server in list(self._links):
            _abort(client)
            _abort(server)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def flow(self) -> None:
        self.mode = "flow"
        self._flowing.set()

    def stall(self) -> None:
        self.mode = "stall"
        self._flowing.clear()

    def reset(self) -> None:
        self.mode = "reset"
        self._flowing.set()
        for client, server in list(self._links):
            _abort(client)
            _abort(server)
            self.resets += 1
        self._links.clear()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.mode == "reset":
            self.resets += 1
            _abort(writer)
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            _abort(writer)
            return
        link = (writer, up_writer)
        self._links.add(link)
        for source, sink in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.get_running_loop().create_task(self._pump(source, sink, link))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _pump(
        self,
        source: asyncio.StreamReader,
        sink: asyncio.StreamWriter,
        link: tuple[asyncio.StreamWriter, asyncio.StreamWriter],
    ) -> None:
        try:
            while True:
                data = await source.read(65536)
                if not data:
                    break
                await self._flowing.wait()  # a stall holds what was read, and stops reading more
                if link not in self._links:
                    return
                sink.write(data)
                await sink.drain()
        except (OSError, ConnectionError):
            pass
        finally:
            if link in self._links:
                self._links.discard(link)
                for side in link:
                    with contextlib.suppress(Exception):
                        side.close()


def _abort(writer: asyncio.StreamWriter) -> None:
    """Close with a TCP RST (SO_LINGER 0), as a crashed server or a middlebox would."""
    sock = writer.get_extra_info("socket")
    with contextlib.suppress(OSError):
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()

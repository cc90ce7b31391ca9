"""A minimal AMI client that records every message it receives, in order.

Used to capture transcripts from the simulator or from a real Asterisk (the same code for
both, so the two can be compared) and by the tests. It parses with ``cti.ami.parser.AMIParser``
and keeps each message as the dict the parser made, the bytes it received (``raw``), the
``time.monotonic()`` of the read that completed each message (``received_at``) and every action
it sent (``sent``), which is what ``transcript`` writes out as ``NN_name.raw`` / ``.jsonl`` /
``.actions.jsonl``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from cti.ami.parser import AMIParser, Message

ActionValue = str | list[str]


class AMIRecorderError(Exception):
    """The PBX refused the login or did not answer in time."""


class AMIRecorder:
    def __init__(self, host: str, port: int, timeout_s: float = 5.0, id_prefix: str = "rec") -> None:
        self.host = host
        self.port = port
        self.timeout_s = timeout_s
        self.messages: list[Message] = []
        self.banner: str | None = None
        self._parser = AMIParser()
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._task: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()
        self._ids = itertools.count(1)
        self._id_prefix = id_prefix
        self.raw = bytearray()
        self.received_at: list[float] = []  # monotonic time of the read that completed each message
        self.banner_at: float | None = None
        self.sent: list[dict[str, Any]] = []  # every action, with its "_ts" (monotonic)
        self.connected_at = 0.0

    async def connect(self) -> None:
        self.connected_at = time.monotonic()
        self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        self._task = asyncio.get_running_loop().create_task(self._read())

    async def _read(self) -> None:
        assert self._reader is not None
        while True:
            data = await self._reader.read(65536)
            if not data:
                break
            now = time.monotonic()
            self.raw.extend(data)
            new = self._parser.feed(data)
            self.messages.extend(new)
            self.received_at.extend(now for _ in new)
            if self.banner is None and self._parser.banner is not None:
                self.banner_at = now
            self.banner = self._parser.banner
            self._changed.set()
        self._changed.set()

    @property
    def closed(self) -> bool:
        return self._task is not None and self._task.done()

    def send(self, action: str, **fields: ActionValue) -> str:
        """Send an action; returns its ActionID (given in ``fields`` or made up)."""
        assert self._writer is not None
        action_id = str(fields.pop("ActionID", f"{self._id_prefix}-{next(self._ids)}"))
        lines = [f"Action: {action}", f"ActionID: {action_id}"]
        for key, value in fields.items():
            for item in value if isinstance(value, list) else [value]:
                lines.append(f"{key}: {item}")
        self.sent.append({"Action": action, "ActionID": action_id, **fields, "_ts": time.monotonic()})
        self._writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("utf-8"))
        return action_id

    def send_raw(self, data: bytes) -> None:
        assert self._writer is not None
        self._writer.write(data)

    async def wait_for(self, predicate: Callable[[Message], bool], start: int = 0) -> Message:
        """The first message from index ``start`` on that matches; waits up to the timeout."""
        async with asyncio.timeout(self.timeout_s):
            index = start
            while True:
                while index < len(self.messages):
                    if predicate(self.messages[index]):
                        return self.messages[index]
                    index += 1
                if self.closed:
                    raise AMIRecorderError("connection closed while waiting")
                self._changed.clear()
                await self._changed.wait()

    async def wait_until(self, missing: Callable[[], list[str]], timeout_s: float, what: str) -> None:
        """Until ``missing()`` (re-checked on every message) is empty; past the timeout, an
        ``AMIRecorderError`` naming what was still missing."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while True:
            left = missing()
            if not left:
                return
            remaining = deadline - loop.time()
            if remaining <= 0 or self.closed:
                why = "the connection closed" if self.closed else f"{timeout_s:g} s"
                raise AMIRecorderError(f"{what}: still missing after {why}: {'; '.join(left)}")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), timeout=remaining)

    async def reply(self, action_id: str) -> Message:
        return await self.wait_for(lambda m: "Response" in m and m.get("ActionID") == action_id)

    async def request(self, action: str, **fields: ActionValue) -> Message:
        return await self.reply(self.send(action, **fields))

    async def login(self, username: str, secret: str, md5: bool = True) -> Message:
        if md5:
            challenge = await self.request("Challenge", AuthType="MD5")
            key = hashlib.md5((str(challenge.get("Challenge", "")) + secret).encode()).hexdigest()
            reply = await self.request("Login", Username=username, AuthType="MD5", Key=key)
        else:
            reply = await self.request("Login", Username=username, Secret=secret)
        if reply.get("Response") != "Success":
            raise AMIRecorderError(f"login refused: {reply.get('Message', '')}")
        return reply

    async def wait_closed(self) -> None:
        """Until the PBX closes the connection (or the timeout)."""
        if self._task is not None:
            async with asyncio.timeout(self.timeout_s):
                await asyncio.shield(self._task)

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(Exception):
                await self._writer.wait_closed()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task


@asynccontextmanager
async def logged_in(
    host: str,
    port: int,
    username: str,
    secret: str,
    timeout_s: float = 5.0,
    md5: bool = True,
    id_prefix: str = "rec",
) -> AsyncIterator[AMIRecorder]:
    """A connected, logged-in recorder that has seen FullyBooted; closed on exit."""
    rec = AMIRecorder(host, port, timeout_s=timeout_s, id_prefix=id_prefix)
    await rec.connect()
    try:
        await rec.login(username, secret, md5=md5)
        await rec.wait_for(lambda m: m.get("Event") == "FullyBooted")
        yield rec
    finally:
        await rec.close()


def write_transcript(rec: AMIRecorder, folder: Path, name: str) -> list[Path]:
    """``name.raw``, ``name.jsonl`` and ``name.actions.jsonl`` of what ``rec`` received and sent.

    The format of the recorded transcripts: ``_kind`` (banner, response, event), ``_seq`` in
    order from 1, ``_ts`` the monotonic time of the read that completed the message, ``_t_rel``
    seconds since the TCP connect; an action's list value was sent as repeated headers.
    """
    zero = rec.connected_at

    def times(ts: float) -> dict[str, float]:
        return {"_ts": round(ts, 6), "_t_rel": round(ts - zero, 6)}

    rows: list[dict[str, Any]] = []
    if rec.banner is not None:
        rows.append({"_banner": rec.banner, "_kind": "banner", **times(rec.banner_at or zero)})
    for msg, ts in zip(rec.messages, rec.received_at, strict=True):
        kind = "event" if "Event" in msg else "response"  # OriginateResponse has both
        rows.append({**msg, "_kind": kind, **times(ts)})
    for seq, row in enumerate(rows, 1):
        row["_seq"] = seq
        # keep the recorded key order: headers, then _kind, _seq, _ts, _t_rel
        row.update({"_ts": row.pop("_ts"), "_t_rel": row.pop("_t_rel")})
    actions = [{**{k: v for k, v in a.items() if k != "_ts"}, **times(a["_ts"])} for a in rec.sent]
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"{name}.raw", folder / f"{name}.jsonl", folder / f"{name}.actions.jsonl"]
    paths[0].write_bytes(bytes(rec.raw))
    for path, items in ((paths[1], rows), (paths[2], actions)):
        text = "".join(json.dumps(item, ensure_ascii=False) + "\n" for item in items)
        path.write_text(text, encoding="utf-8")
    return paths

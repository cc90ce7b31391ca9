"""Call commands from any node: a node without the PBX's bridge relays them over Redis to the one holding it.

With several ``serve`` nodes only the holder of the bridge lock (``cti.bus.lock``) has a live AMI link, yet a
desk may be served by any node. ``RelayedCommands`` stands where ``CallCommands`` stood: on each call it runs
the command on this node's own commands while this node holds the lock, and otherwise sends it as a request
to whichever node holds it. The holder's ``CommandRelay.serve`` (one of the center's duties) runs each request
through its own commands and answers with the same reply dict, or the same ``CommandError`` (its code, both
texts and the PBX's response), so the desk shows what it would have shown beside the bridge.

Transport, under the center's Redis prefix: requests are pushed on one list per PBX,
``<prefix>command-relay:<pbx>``, taken with BLPOP by the holder only (whoever it is: the requester needs
not know); each request names its reply list ``<prefix>command-reply:<id>``, on which the holder pushes
first ``taken`` (with how long the command may take), then the answer; every reply list expires shortly after.

A request not taken within ``timeout_s`` (no holder, a takeover under way) is withdrawn (LREM) and answered
with ``CommandTimeout``: it was not carried out. A holder taking a request past its deadline answers
``expired`` and does not run it. A command taken but not answered in time (the holder died mid-command) is
answered with ``CommandTimeout`` saying it may have been carried out; nothing is ever sent twice.

Rights are checked where the request is made (the routes and ``crm_core.permissions``, on the requesting
node); the holder runs only the names of ``RELAYED``, an explicit map to ``CallCommands`` methods.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import redis.asyncio as aioredis

from cti.bus.redis_bus import raise_if_cancelled
from cti.commands import (
    CommandError,
    CommandTimeout,
    InvalidArgument,
    NotCarriedOut,
    NotConnected,
    UnknownChannel,
)

log = logging.getLogger(__name__)

CommandMethod = Callable[..., Awaitable[dict[str, Any]]]

# The commands a desk or a supervisor sends, name -> the holder's method. Nothing else is ever run.
RELAYED: dict[str, Callable[[Any], CommandMethod]] = {
    "originate_click_to_dial": lambda c: c.originate_click_to_dial,
    "hangup": lambda c: c.hangup,
    "blind_transfer": lambda c: c.blind_transfer,
    "attended_transfer": lambda c: c.attended_transfer,
    "complete_attended_transfer": lambda c: c.complete_attended_transfer,
    "cancel_attended_transfer": lambda c: c.cancel_attended_transfer,
    "hold": lambda c: c.hold,
    "unhold": lambda c: c.unhold,
    "three_way": lambda c: c.three_way,
    "queue_login": lambda c: c.queue_login,
    "queue_logout": lambda c: c.queue_logout,
    "pause": lambda c: c.pause,
    "spy": lambda c: c.spy,
}
# Commands that ring a phone first wait for it to be answered (cti.commands: Originate's ring timeout).
RINGING = {"originate_click_to_dial": 30.0, "spy": 30.0}

ERROR_CLASSES = (CommandError, InvalidArgument, UnknownChannel, CommandTimeout, NotConnected, NotCarriedOut)
ERRORS: dict[str, type[CommandError]] = {cls.code: cls for cls in ERROR_CLASSES}
REPLY_MARGIN_S = 5.0  # a reply list outlives the longest wait for it by this


# --- the pure part: requests and answers as JSON -----------------------------------------------------
def make_request(name: str, args: list[Any], kwargs: dict[str, Any], now: float, timeout_s: float) -> dict[str, Any]:
    return {"id": uuid.uuid4().hex, "name": name, "args": args, "kwargs": kwargs, "deadline": now + timeout_s}


def error_answer(exc: CommandError) -> dict[str, Any]:
    return {"ok": False, "code": exc.code, "en": exc.message, "zh": exc.text["zh-CN"], "response": exc.response}


def error_of(answer: Mapping[str, Any]) -> CommandError:
    """The ``CommandError`` an error answer carries, of the same class with the same texts."""
    cls = ERRORS.get(str(answer.get("code")), CommandError)
    return cls(str(answer.get("en") or "command failed"), zh=answer.get("zh"), response=answer.get("response"))


def refusal(name: str) -> CommandError:
    return InvalidArgument(f"command {name!r} is not run for other nodes", zh=f"不接受其他节点的命令：{name!r}")


def bound_s(name: str, commands: Any, kwargs: Mapping[str, Any]) -> float:
    """How long the holder's ``name`` may take: its AMI timeout, a ring timeout, the wait for its outcome."""
    ring = float(kwargs.get("ring_timeout_s") or RINGING.get(name, 0.0))
    return float(getattr(commands, "timeout_s", 5.0)) + ring + float(getattr(commands, "outcome_s", 10.0))


def not_taken(timeout_s: float) -> CommandTimeout:
    return CommandTimeout(
        f"no node holding the PBX took the command within {timeout_s:g} s; it was not carried out",
        zh=f"{timeout_s:g} 秒内没有连接交换机的节点接手该命令，命令未执行",
    )


def not_answered(wait_s: float) -> CommandTimeout:
    return CommandTimeout(
        f"the node holding the PBX did not answer within {wait_s:g} s; the command may have been carried out",
        zh=f"连接交换机的节点在 {wait_s:g} 秒内未答复，命令可能已执行",
    )


def redis_down(exc: Exception) -> NotConnected:
    return NotConnected(f"the node holding the PBX cannot be reached: {exc}", zh="无法联系连接交换机的节点")


# --- the I/O shell ------------------------------------------------------------------------------------
class CommandRelay:
    """Both ends of the relay for one PBX: ``call`` on any node, ``serve`` on the lock holder."""

    def __init__(self, url: str, prefix: str, pbx: str, timeout_s: float = 10.0, poll_s: float = 1.0) -> None:
        if timeout_s <= 0:
            raise ValueError("timeout_s must be positive")
        self.url = url
        self.prefix = prefix
        self.queue_key = f"{prefix}command-relay:{pbx}"
        self.timeout_s = timeout_s
        self.poll_s = poll_s  # how often a waiting BLPOP of the holder looks up (a cancel ends it at once anyway)
        self._redis: aioredis.Redis = aioredis.from_url(url, socket_timeout=None)

    def reply_key(self, request_id: str) -> str:
        return f"{self.prefix}command-reply:{request_id}"

    # --- the requesting node ---
    async def call(self, name: str, args: list[Any], kwargs: dict[str, Any]) -> dict[str, Any]:
        """Run ``name`` on the holder; its reply dict, or its ``CommandError`` raised here."""
        request = make_request(name, args, kwargs, time.time(), self.timeout_s)
        payload = json.dumps(request, default=str)
        reply_key = self.reply_key(request["id"])
        try:
            await self._redis.rpush(self.queue_key, payload)
            taken = await self._next(reply_key, self.timeout_s)
            if taken is None:
                if await self._redis.lrem(self.queue_key, 1, payload):
                    raise not_taken(self.timeout_s)
                taken = await self._next(reply_key, self.timeout_s)  # taken just now: its "taken" is on the way
                if taken is None:
                    raise not_answered(self.timeout_s)
            if not taken.get("taken"):
                raise error_of(taken) if "code" in taken else not_taken(self.timeout_s)
            wait_s = float(taken.get("wait_s") or self.timeout_s) + self.timeout_s
            answer = await self._next(reply_key, wait_s)
        except (OSError, aioredis.RedisError) as exc:
            raise redis_down(exc) from None
        if answer is None:
            raise not_answered(wait_s)
        if not answer.get("ok"):
            raise error_of(answer)
        result = answer.get("result")
        return result if isinstance(result, dict) else {}

    async def _next(self, key: str, wait_s: float) -> dict[str, Any] | None:
        popped = await self._redis.blpop([key], timeout=max(0.01, wait_s))
        if popped is None:
            return None
        answer = json.loads(popped[1])
        return answer if isinstance(answer, dict) else None

    # --- the holder ---
    async def serve(self, commands: Any, held: Callable[[], bool] = lambda: True) -> None:
        """Take requests and run them through ``commands`` while ``held()``; runs until cancelled.

        Started as one of the center's duties, so it runs only on the lock holder and stops when the lock
        is lost; ``held`` also stops the taking between the loss and that stop. Each request runs in its
        own task (a click-to-dial waits for the agent to answer); a cancel cancels those in flight.
        """
        running: set[asyncio.Task[None]] = set()
        try:
            while True:
                if not held():
                    await asyncio.sleep(self.poll_s)
                    continue
                try:
                    popped = await self._redis.blpop([self.queue_key], timeout=self.poll_s)
                except (OSError, aioredis.RedisError) as exc:
                    raise_if_cancelled()
                    log.warning("command relay %s: Redis does not answer (%s)", self.queue_key, exc)
                    await asyncio.sleep(self.poll_s)
                    continue
                if popped is None:
                    continue
                task = asyncio.get_running_loop().create_task(self._run(commands, popped[1]))
                running.add(task)
                task.add_done_callback(running.discard)
        finally:
            for task in list(running):
                task.cancel()
            await asyncio.gather(*running, return_exceptions=True)

    async def _run(self, commands: Any, payload: bytes | str) -> None:
        try:
            request = json.loads(payload)
            reply_key = self.reply_key(str(request["id"]))
            name, args, kwargs = str(request["name"]), list(request["args"]), dict(request["kwargs"])
            deadline = float(request["deadline"])
        except (ValueError, KeyError, TypeError):
            log.warning("command relay %s: malformed request dropped", self.queue_key)
            return
        if time.time() > deadline:
            await self._answer(reply_key, {"taken": False}, self.timeout_s)
            return
        method = RELAYED.get(name)
        if method is None:
            log.warning("command relay %s: %r refused (not a relayed command)", self.queue_key, name)
            await self._answer(reply_key, error_answer(refusal(name)), self.timeout_s)
            return
        wait_s = bound_s(name, commands, kwargs)
        await self._answer(reply_key, {"taken": True, "wait_s": wait_s}, wait_s + self.timeout_s)
        try:
            answer: dict[str, Any] = {"ok": True, "result": await method(commands)(*args, **kwargs)}
        except CommandError as exc:
            answer = error_answer(exc)
        except Exception as exc:  # a bug here must not leave the requester waiting
            log.exception("command relay %s: %s failed", self.queue_key, name)
            answer = error_answer(CommandError(f"{name} failed on the node holding the PBX: {type(exc).__name__}"))
        await self._answer(reply_key, answer, self.timeout_s)

    async def _answer(self, key: str, answer: dict[str, Any], expire_s: float) -> None:
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.rpush(key, json.dumps(answer, default=str))
                pipe.pexpire(key, int((expire_s + REPLY_MARGIN_S) * 1000))
                await pipe.execute()
        except (OSError, aioredis.RedisError) as exc:
            raise_if_cancelled()
            log.warning("command relay %s: answer not sent (%s)", self.queue_key, exc)

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self._redis.aclose()


class RelayedCommands:
    """``CallCommands``' interface on a node of several: local while this node holds the lock, else relayed.

    The relayed names go through ``relay`` when ``held()`` is false at the call; every other attribute is
    the local commands' own (a node without the bridge answers them as before: not connected).
    """

    def __init__(self, local: Any, relay: CommandRelay, held: Callable[[], bool]) -> None:
        self.local = local
        self.relay = relay
        self.held = held

    def __getattr__(self, name: str) -> Any:
        if name not in RELAYED:
            return getattr(self.local, name)

        async def run(*args: Any, **kwargs: Any) -> dict[str, Any]:
            if self.held():
                return await RELAYED[name](self.local)(*args, **kwargs)
            return await self.relay.call(name, list(args), kwargs)

        run.__name__ = name
        return run


def make_command_relay(settings: Any) -> CommandRelay | None:
    """The relay of the PBX's commands between nodes on one Redis; None for one process without Redis."""
    if not settings.redis_url:
        return None
    prefix = getattr(settings, "redis_prefix", "cc:")
    return CommandRelay(settings.redis_url, prefix, settings.pbx, timeout_s=settings.command_relay_timeout_s)

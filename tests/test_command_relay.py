"""The command relay on a real Redis: a desk's command on a node without the bridge runs on the lock holder.

Two relay ends in one process (each with its own Redis connections, as two nodes have), the holder's
``commands`` a fake that records each call.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis

from agent_desk.duties import Duties, run_while_held
from cti.bus.relay import CommandRelay, RelayedCommands
from cti.commands import CommandTimeout, InvalidArgument, NotCarriedOut
from tests.test_bus import REDIS_URL, _drop_keys

pytestmark = pytest.mark.redis


class FakeCommands:
    """The holder's commands: each call recorded; ``hold`` refuses as the PBX would."""

    timeout_s = 0.5
    outcome_s = 0.5

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []

    async def originate_click_to_dial(self, extension: str, number: str, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("originate_click_to_dial", (extension, number), kwargs))
        return {"Response": "Success", "Uniqueid": "1700000000.1", "Events": [{"Event": "OriginateResponse"}]}

    async def pause(self, extension: str, paused: bool, reason: str = "", queue: str | None = None) -> dict[str, Any]:
        self.calls.append(("pause", (extension, paused, reason, queue), {}))
        return {"Response": "Success"}

    async def hold(self, channel: str) -> dict[str, Any]:
        self.calls.append(("hold", (channel,), {}))
        raise NotCarriedOut("Redirect: the PBX accepted it, but no hold music", zh="交换机已接受，但没有保持音乐")

    async def originate_customer_first(self, *args: Any) -> dict[str, Any]:  # the dialer's: never relayed
        self.calls.append(("originate_customer_first", args, {}))
        return {}


@pytest.fixture
async def prefix() -> AsyncIterator[str]:
    prefix = f"cc-test-relay-{uuid.uuid4().hex}:"
    yield prefix
    await _drop_keys(prefix)


def relay(prefix: str, timeout_s: float = 2.0) -> CommandRelay:
    return CommandRelay(REDIS_URL, prefix, "pbx1", timeout_s=timeout_s, poll_s=0.1)


async def test_a_command_runs_once_on_the_holder_and_its_reply_comes_back(prefix: str) -> None:
    holder_commands, requester_local = FakeCommands(), FakeCommands()
    holder, requester = relay(prefix), relay(prefix)
    serving = asyncio.create_task(holder.serve(holder_commands))
    commands = RelayedCommands(requester_local, requester, held=lambda: False)
    try:
        reply = await commands.originate_click_to_dial("1007", "13800138000")
        paused = await commands.pause("1007", True, "lunch", "support")
    finally:
        serving.cancel()
        await asyncio.gather(serving, return_exceptions=True)
        await holder.close()
        await requester.close()
    assert reply == {"Response": "Success", "Uniqueid": "1700000000.1", "Events": [{"Event": "OriginateResponse"}]}
    assert paused == {"Response": "Success"}
    assert holder_commands.calls == [
        ("originate_click_to_dial", ("1007", "13800138000"), {}),
        ("pause", ("1007", True, "lunch", "support"), {}),
    ]
    assert requester_local.calls == []


async def test_the_holder_runs_its_commands_locally(prefix: str) -> None:
    local, requester = FakeCommands(), relay(prefix, timeout_s=0.3)
    commands = RelayedCommands(local, requester, held=lambda: True)
    try:
        assert await commands.pause("1007", False) == {"Response": "Success"}
    finally:
        await requester.close()
    assert local.calls == [("pause", ("1007", False, "", None), {})]


async def test_an_error_comes_back_as_the_same_error(prefix: str) -> None:
    holder, requester = relay(prefix), relay(prefix)
    serving = asyncio.create_task(holder.serve(FakeCommands()))
    try:
        with pytest.raises(NotCarriedOut) as raised:
            await RelayedCommands(FakeCommands(), requester, held=lambda: False).hold("PJSIP/1007-00000001")
    finally:
        serving.cancel()
        await asyncio.gather(serving, return_exceptions=True)
        await holder.close()
        await requester.close()
    assert raised.value.text == {
        "zh-CN": "交换机已接受，但没有保持音乐",
        "en": "Redirect: the PBX accepted it, but no hold music",
    }


async def test_without_a_holder_the_command_times_out_and_is_withdrawn(prefix: str) -> None:
    requester = relay(prefix, timeout_s=0.3)
    try:
        with pytest.raises(CommandTimeout) as raised:
            await RelayedCommands(FakeCommands(), requester, held=lambda: False).pause("1007", True)
        client = aioredis.from_url(REDIS_URL)
        left = await client.llen(requester.queue_key)
        await client.aclose()
    finally:
        await requester.close()
    assert "not carried out" in raised.value.text["en"] and "命令未执行" in raised.value.text["zh-CN"]
    assert left == 0  # a holder taking over later does not run it


async def test_the_holder_refuses_a_name_outside_the_allow_list(prefix: str) -> None:
    holder_commands, holder, requester = FakeCommands(), relay(prefix), relay(prefix)
    serving = asyncio.create_task(holder.serve(holder_commands))
    try:
        for name in ("originate_customer_first", "__class__", "connection"):
            with pytest.raises(InvalidArgument):
                await requester.call(name, ["13800138000"], {})
    finally:
        serving.cancel()
        await asyncio.gather(serving, return_exceptions=True)
        await holder.close()
        await requester.close()
    assert holder_commands.calls == []


class FakeLock:
    """A lock taken at once and lost when ``lose`` is set; never taken again (``standing_by`` then)."""

    def __init__(self) -> None:
        self.held = False
        self.lose = asyncio.Event()
        self.standing_by = asyncio.Event()
        self._taken = False

    async def try_acquire(self) -> bool:
        return False

    async def acquire(self) -> None:
        if self._taken:
            self.standing_by.set()  # the parts were stopped before run_while_held tries again
            await asyncio.Event().wait()
        self._taken = self.held = True

    async def keep(self) -> None:
        await self.lose.wait()
        self.held = False

    async def release(self) -> None:
        self.held = False

    async def close(self) -> None:
        self.held = False


async def test_the_holder_stops_taking_requests_once_it_loses_the_lock(prefix: str) -> None:
    holder_commands, holder, requester = FakeCommands(), relay(prefix), relay(prefix, timeout_s=0.5)
    lock, duties = FakeLock(), Duties()
    duties.add("command-relay", lambda: holder.serve(holder_commands, held=lambda: lock.held))
    elected = asyncio.create_task(run_while_held(lock, [duties]))
    commands = RelayedCommands(FakeCommands(), requester, held=lambda: False)
    try:
        await commands.pause("1007", True)  # taken by the duty once the lock is held
        lock.lose.set()
        await lock.standing_by.wait()
        assert not duties.active
        with pytest.raises(CommandTimeout):
            await commands.pause("1008", True)
    finally:
        elected.cancel()
        await asyncio.gather(elected, return_exceptions=True)
        await holder.close()
        await requester.close()
    assert [args for _, args, _ in holder_commands.calls] == [("1007", True, "", None)]

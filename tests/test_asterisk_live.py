"""The recorded scenarios against a real Asterisk (``CC_TEST_AMI=host:port``) and the simulator.

Each test sends the Local-channel actions of a transcript's ``.actions.jsonl`` and checks that
the PBX answers with the recorded shapes: for the events a call tracker relies on, the same
number of each and the same header keys. The same test functions run against the simulator in
CI, so the simulator and Asterisk are held to the same expectations. Against Asterisk, run
``asterisk-dev`` (see its README) with no other traffic.
"""

from __future__ import annotations

import secrets
from collections import Counter
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pytest

from cti.simulator import PBXSimulator, load_template
from cti.simulator.recorder import AMIRecorder, logged_in
from cti.simulator.templates import load_actions
from tests.live_pbx import real_pbx

KEY_EVENTS = (
    "Newchannel",
    "OriginateResponse",
    "QueueCallerJoin",
    "QueueCallerLeave",
    "QueueCallerAbandon",
    "AgentCalled",
    "AgentConnect",
    "AgentComplete",
    "DialBegin",
    "DialEnd",
    "BridgeCreate",
    "BridgeEnter",
    "BridgeLeave",
    "BridgeDestroy",
    "Hangup",
    "MixMonitorStart",
    "MessageWaiting",
)


@dataclass(frozen=True)
class Target:
    host: str
    port: int
    user: str
    secret: str
    timeout_s: float


def _real_asterisk() -> Target:
    pbx = real_pbx()
    return Target(pbx.host, pbx.ami_port, pbx.ami_user, pbx.ami_secret, 60.0)


@pytest.fixture(params=["simulator", pytest.param("asterisk", marks=pytest.mark.asterisk)])
async def target(request: pytest.FixtureRequest) -> AsyncIterator[Target]:
    if request.param == "asterisk":
        yield _real_asterisk()
        return
    secret = secrets.token_urlsafe(8)
    async with PBXSimulator(secret=secret, speed=50.0) as sim:
        yield Target("127.0.0.1", sim.port, "cti", secret, 10.0)


@pytest.fixture
async def ami(target: Target) -> AsyncIterator[AMIRecorder]:
    async with logged_in(target.host, target.port, target.user, target.secret, target.timeout_s) as rec:
        for ext in ("1001", "1002"):  # as before each recording; the simulator has no CLI and says so
            await rec.request("Command", Command=f"devstate change Custom:{ext} NOT_INUSE")
        yield rec


def _send(rec: AMIRecorder, action: Mapping[str, Any], **extra: str | list[str]) -> str:
    fields = {k: v for k, v in action.items() if not k.startswith("_") and k not in ("Action", "ActionID")}
    fields.update(extra)
    return rec.send(str(action["Action"]), **fields)


def _actions(file: str) -> dict[str, dict[str, Any]]:
    return {a["Action"] + ":" + a["ActionID"].split("-")[1]: a for a in load_actions(file)}


def _shapes(messages: Sequence[Mapping[str, Any]]) -> tuple[Counter[str], dict[str, set[str]]]:
    counts: Counter[str] = Counter()
    keys: dict[str, set[str]] = {}
    for msg in messages:
        name = str(msg.get("Event", ""))
        if name in KEY_EVENTS:
            counts[name] += 1
            keys.setdefault(name, set()).update(k for k in msg if not k.startswith("_") and k != "Timestamp")
    return counts, keys


def _assert_like_recording(file: str, first_seq: int, got: Sequence[Mapping[str, Any]]) -> None:
    recorded = [m for m in load_template(file) if m["_kind"] == "event" and m["_seq"] >= first_seq]
    want_counts, want_keys = _shapes(recorded)
    got_counts, got_keys = _shapes(got)
    assert got_counts == want_counts
    assert got_keys == want_keys


async def _originate_and_wait(rec: AMIRecorder, action: Mapping[str, Any], **extra: str | list[str]) -> int:
    """Send an Originate; wait until the originated ;1 leg has hung up. Returns the reply's index."""
    reply = await rec.reply(_send(rec, action, **extra))
    assert (reply["Response"], reply["Message"]) == ("Success", "Originate successfully queued")
    start = rec.messages.index(reply)
    first = await rec.wait_for(lambda m: m.get("Event") == "Newchannel", start)
    await rec.wait_for(lambda m: m.get("Event") == "Hangup" and m.get("Uniqueid") == first["Uniqueid"], start)
    return start


async def _queue_add(rec: AMIRecorder, action: Mapping[str, Any]) -> None:
    reply = await rec.reply(_send(rec, action))
    assert reply["Message"] == "Added interface to queue"


async def _queue_remove(rec: AMIRecorder, action: Mapping[str, Any]) -> None:
    reply = await rec.reply(_send(rec, action))
    assert reply["Message"] == "Removed interface from queue"


def _variables(action: Mapping[str, Any]) -> list[str]:
    value = action.get("Variable", [])
    return [*(value if isinstance(value, list) else [value]), "SURVEY=no"]


@pytest.mark.parametrize("file", ["02_inbound_answered_agent_hangup", "03_inbound_abandon"])
async def test_inbound_queue_call(ami: AMIRecorder, file: str) -> None:
    actions = _actions(file)
    await _queue_add(ami, actions["QueueAdd:2"])
    start = await _originate_and_wait(
        ami, actions["Originate:3"], Variable=_variables(actions["Originate:3"])
    )
    await _queue_remove(ami, actions["QueueRemove:4"])
    _assert_like_recording(file, 8, ami.messages[start:])


async def test_click_to_dial(ami: AMIRecorder) -> None:
    actions = _actions("05_click_to_dial")
    start = await _originate_and_wait(ami, actions["Originate:2"])
    await ami.wait_for(
        lambda m: (
            m.get("Event") == "Hangup"
            and "callers-sim" in str(m.get("Channel"))
            and str(m["Channel"])[-1] == "2"
        ),
        start,
    )
    _assert_like_recording("05_click_to_dial", 5, ami.messages[start:])


async def test_blind_transfer_with_redirect(ami: AMIRecorder) -> None:
    actions = _actions("06_blind_transfer_redirect")
    await _queue_add(ami, actions["QueueAdd:2"])
    reply = await ami.reply(_send(ami, actions["Originate:3"], Variable=_variables(actions["Originate:3"])))
    start = ami.messages.index(reply)
    join = await ami.wait_for(lambda m: m.get("Event") == "QueueCallerJoin", start)
    await ami.wait_for(lambda m: m.get("Event") == "Newexten" and m.get("AppData") == "12", start)
    redirect = await ami.request(
        "Redirect", Channel=str(join["Channel"]), Context="internal", Exten="1002", Priority="1"
    )
    assert redirect["Message"] == "Redirect successful"
    await ami.wait_for(lambda m: m.get("Event") == "Hangup" and m.get("Uniqueid") == join["Linkedid"], start)
    await _queue_remove(ami, actions["QueueRemove:5"])
    _assert_like_recording("06_blind_transfer_redirect", 8, ami.messages[start:])


async def test_voicemail_message(ami: AMIRecorder) -> None:
    actions = _actions("07_voicemail_leave")
    before = await ami.request("MailboxCount", Mailbox="100@default")
    start = await _originate_and_wait(ami, actions["Originate:3"])
    after = await ami.request("MailboxCount", Mailbox="100@default")
    assert int(str(after["NewMessages"])) == int(str(before["NewMessages"])) + 1
    _assert_like_recording("07_voicemail_leave", 6, ami.messages[start:])

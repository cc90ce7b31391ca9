"""Our AMI protocol layer matches each reply Asterisk 22.10.1 sends to its action, from recorded bytes.

``atxfer_reply.raw`` and ``queued_replies.raw`` are the bytes a real Asterisk 22.10.1 sent on an
events-off AMI connection (banner, MD5 login, then the replies): Atxfer, PlayDTMF, CancelAtxfer, a
synchronous and an asynchronous Originate, SendFlash and AOCMessage all answer "... successfully
queued". panoramisk 1.4 raises ``KeyError: 'async'`` on the first five, inside ``data_received``, which
closed the connection; the transcripts give the list replies and the asynchronous Originate.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from pathlib import Path
from typing import Any

import pytest
from panoramisk.actions import Action as PanoramiskAction
from panoramisk.message import Message as PanoramiskMessage

from cti.ami.protocol import AMIConnection, AMIReplyError, AMIStreamProtocol, raw

FIXTURES = Path(__file__).parent / "fixtures" / "ami"


class Transport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.written: list[bytes] = []
        self.closed = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written.append(bytes(data))

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed


def wired() -> tuple[AMIConnection, AMIStreamProtocol, Transport, list[dict[str, Any]]]:
    """A connection and its protocol on a fake transport, as ``AMIConnection.open`` wires them."""
    events: list[dict[str, Any]] = []
    lost: list[BaseException | None] = []
    connection = AMIConnection("127.0.0.1", 5038, "cti", "secret", on_event=events.append, on_lost=lost.append)
    transport = Transport()
    protocol = AMIStreamProtocol()
    protocol.connection_made(transport)
    protocol.factory = connection
    protocol.encoding = "utf-8"
    protocol.event_sink = connection._on_event
    connection.protocol = protocol
    connection.responses = protocol.responses
    connection._connected = True
    return connection, protocol, transport, events


def feed(protocol: AMIStreamProtocol, data: bytes, chunk: int) -> None:
    for start in range(0, len(data), chunk):
        protocol.data_received(data[start : start + chunk])


def sent_actions(file: str) -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in (FIXTURES / file).read_text().splitlines() if line.strip()]
    return [{k: v for k, v in row.items() if not k.startswith("_")} for row in rows]


@pytest.mark.parametrize("chunk", [1, 7, 4096])
async def test_the_recorded_atxfer_reply_resolves_the_action_and_keeps_the_connection(chunk: int) -> None:
    connection, protocol, transport, _ = wired()
    atxfer = protocol.send(
        {"Action": "Atxfer", "ActionID": "atxfer-1", "Channel": "Local/1001@agents-00000001;1",
         "Exten": "1002", "Context": "internal"},
        as_list=None,
    )
    feed(protocol, (FIXTURES / "atxfer_reply.raw").read_bytes(), chunk)
    reply = await asyncio.wait_for(atxfer, 1)
    assert raw(reply) == {"Response": "Success", "ActionID": "atxfer-1", "Message": "Atxfer successfully queued"}
    assert not transport.closed and connection.connected
    assert protocol.responses == {}


async def test_panoramisk_alone_breaks_on_that_reply() -> None:
    """Why the layer above exists: panoramisk 1.4's own Action raises inside the protocol."""
    action = PanoramiskAction({"Action": "Atxfer", "ActionID": "atxfer-1"}, as_list=None)
    reply = PanoramiskMessage({"Response": "Success", "ActionID": "atxfer-1", "Message": "Atxfer successfully queued"})
    with pytest.raises(KeyError):
        action.add_message(reply)


QUEUED = [
    ("q-0", {"Action": "PlayDTMF", "Channel": "Local/5551237@from-pstn-00000004;2", "Digit": "5"},
     "DTMF successfully queued"),
    ("q-1", {"Action": "CancelAtxfer", "Channel": "Local/1001@agents-00000005;1"}, "CancelAtxfer successfully queued"),
    ("q-2", {"Action": "Originate", "Channel": "Local/5550000@callers-sim/n", "Application": "Wait", "Data": "1"},
     "Originate successfully queued"),
    ("q-3", {"Action": "Originate", "Channel": "Local/5550000@callers-sim/n", "Application": "Wait", "Data": "1",
             "Async": "false"}, "Originate successfully queued"),
    ("q-4", {"Action": "SendFlash", "Channel": "Local/5551237@from-pstn-00000004;2"}, "Flash successfully queued"),
    ("q-5", {"Action": "AOCMessage", "Channel": "Local/5551237@from-pstn-00000004;2", "MsgType": "D",
             "ChargeType": "Free"}, "AOC Message successfully queued on channel"),
]


@pytest.mark.parametrize("chunk", [3, 4096])
async def test_every_recorded_successfully_queued_reply_is_one_reply(chunk: int) -> None:
    connection, protocol, transport, _ = wired()
    futures = {aid: protocol.send({**action, "ActionID": aid}, as_list=None) for aid, action, _ in QUEUED}
    feed(protocol, (FIXTURES / "queued_replies.raw").read_bytes(), chunk)
    for aid, _, message in QUEUED:
        reply = await asyncio.wait_for(futures[aid], 1)
        assert isinstance(reply, PanoramiskMessage), aid
        assert (reply["Response"], reply["Message"]) == ("Success", message)
    assert not transport.closed and connection.connected


async def test_an_async_originate_still_waits_for_its_originate_response() -> None:
    """Transcript 05: "Originate successfully queued" and, seconds later, OriginateResponse."""
    _, protocol, _, events = wired()
    originate = next(a for a in sent_actions("05_click_to_dial.actions.jsonl") if a["Action"] == "Originate")
    future = protocol.send(originate, as_list=None)
    feed(protocol, (FIXTURES / "05_click_to_dial.raw").read_bytes(), 4096)
    replies = await asyncio.wait_for(future, 1)
    assert [raw(r).get("Event") or raw(r).get("Message") for r in replies] == [
        "Originate successfully queued",
        "OriginateResponse",
    ]
    assert replies[1]["Response"] == "Success"
    assert any(e.get("Event") == "OriginateResponse" for e in events)  # the event path sees it too


async def test_queue_add_and_a_list_action_from_transcript_01() -> None:
    """QueueAdd ("Added interface to queue") is one reply; QueueStatus is a list ending in its Complete."""
    _, protocol, _, _ = wired()
    actions = sent_actions("01_agent_login_pause_remove.actions.jsonl")
    futures = {a["ActionID"]: (a["Action"], protocol.send(a, as_list=None)) for a in actions}
    feed(protocol, (FIXTURES / "01_agent_login_pause_remove.raw").read_bytes(), 512)
    for action_id, (name, future) in futures.items():
        if name == "Logoff":
            continue
        reply = await asyncio.wait_for(future, 1)
        if name == "QueueStatus":
            assert raw(reply[-1])["Event"] == "QueueStatusComplete", action_id
        else:
            assert isinstance(reply, PanoramiskMessage), (action_id, name)
            assert reply["Response"] == "Success", (action_id, name)


async def test_a_reply_the_action_layer_cannot_take_fails_that_action_only() -> None:
    connection, protocol, transport, events = wired()
    broken = protocol.send(PanoramiskAction({"Action": "Atxfer", "ActionID": "atxfer-1"}, as_list=None))
    fine = protocol.send({"Action": "Ping", "ActionID": "ping-1"}, as_list=None)
    protocol.data_received(
        b"Response: Success\r\nActionID: atxfer-1\r\nMessage: Atxfer successfully queued\r\n\r\n"
        b"Event: Hold\r\nChannel: Local/1001@agents-00000001;1\r\n\r\n"
        b"Response: Success\r\nActionID: ping-1\r\nPing: Pong\r\n\r\n"
    )
    with pytest.raises(AMIReplyError):
        await asyncio.wait_for(broken, 1)
    assert (await asyncio.wait_for(fine, 1))["Ping"] == "Pong"
    assert [e["Event"] for e in events] == ["Hold"]
    assert not transport.closed and connection.connected and protocol.responses == {}


async def test_listeners_see_every_event_until_removed() -> None:
    connection, protocol, _, _ = wired()
    seen: list[str] = []
    remove = connection.add_listener(lambda msg: seen.append(str(msg["Event"])))
    connection.add_listener(lambda msg: 1 / 0)  # a failing listener is logged, the others still run
    protocol.data_received(b"Event: Hold\r\nChannel: A\r\n\r\n")
    remove()
    protocol.data_received(b"Event: Unhold\r\nChannel: A\r\n\r\n")
    assert seen == ["Hold"]


class PausableTransport(Transport):
    """Counts pause_reading / resume_reading, as the event loop's socket transport would act on them."""

    def __init__(self) -> None:
        super().__init__()
        self.reading = True
        self.pauses = 0

    def pause_reading(self) -> None:
        self.reading = False
        self.pauses += 1

    def resume_reading(self) -> None:
        self.reading = True


async def test_a_flood_from_the_pbx_is_routed_a_slice_per_turn_with_reading_paused() -> None:
    """Finding 2 of the hardening review: a burst of AMI events must not hold the event loop. The
    protocol routes at most DISPATCH_SLICE messages per turn, pauses reading (TCP pushes back on the
    PBX) while a backlog waits, lets other work run between slices, and delivers every event in order."""
    from cti.ami.protocol import DISPATCH_SLICE

    connection, protocol, _, events = wired()
    transport = PausableTransport()
    protocol.transport = transport
    burst = 10 * DISPATCH_SLICE + 7
    frames = b"".join(
        f"Event: VarSet\r\nPrivilege: dialplan,all\r\nChannel: Local/1001@agents-0000{i % 10};1\r\n"
        f"Variable: N\r\nValue: {i}\r\nUniqueid: 1733.{i}\r\n\r\n".encode()
        for i in range(burst)
    )
    protocol.data_received(frames)
    assert len(events) == DISPATCH_SLICE and not transport.reading
    loop = asyncio.get_running_loop()
    seen_each_turn: list[int] = []  # other work of the process: one look per turn of the loop
    all_routed = asyncio.Event()

    def tick() -> None:
        seen_each_turn.append(len(events))
        if len(events) < burst:
            loop.call_soon(tick)
        else:
            all_routed.set()

    loop.call_soon(tick)
    await asyncio.wait_for(all_routed.wait(), timeout=10)
    assert transport.reading and transport.pauses == 1
    assert [int(e["Value"]) for e in events] == list(range(burst))
    assert len(seen_each_turn) >= burst // DISPATCH_SLICE
    steps = [b - a for a, b in itertools.pairwise([DISPATCH_SLICE, *seen_each_turn])]
    assert max(steps) <= DISPATCH_SLICE
    del connection

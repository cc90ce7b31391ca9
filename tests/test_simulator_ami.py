"""The simulator speaks AMI like Asterisk 22: banner, logins, replies, errors, robustness."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator

import pytest

from cti.ami.parser import AMIParser, Message
from cti.simulator import PBXSimulator
from cti.simulator.recorder import AMIRecorder, AMIRecorderError

SECRET = "ami-test-secret"


@pytest.fixture
async def sim() -> AsyncIterator[PBXSimulator]:
    async with PBXSimulator(secret=SECRET, speed=200.0) as s:
        yield s


async def _client(sim: PBXSimulator, md5: bool = True) -> AMIRecorder:
    rec = AMIRecorder("127.0.0.1", sim.port, timeout_s=3.0)
    await rec.connect()
    await rec.login("cti", SECRET, md5=md5)
    return rec


async def test_banner_then_md5_login_then_fully_booted(sim: PBXSimulator) -> None:
    rec = AMIRecorder("127.0.0.1", sim.port)
    await rec.connect()
    challenge = await rec.request("Challenge", AuthType="MD5")
    assert rec.banner == "Asterisk Call Manager/11.0.0"
    assert str(challenge["Challenge"]).isdigit()
    key = hashlib.md5((str(challenge["Challenge"]) + SECRET).encode()).hexdigest()
    reply = await rec.request("Login", ActionID="a1", Username="cti", AuthType="MD5", Key=key)
    assert list(reply.items()) == [
        ("Response", "Success"),
        ("ActionID", "a1"),
        ("Message", "Authentication accepted"),
    ]
    booted = await rec.wait_for(lambda m: m.get("Event") == "FullyBooted")
    assert booted["Status"] == "Fully Booted"
    assert list(booted)[:3] == ["Event", "Privilege", "Timestamp"]
    await rec.close()


async def test_plain_login_accepted(sim: PBXSimulator) -> None:
    rec = await _client(sim, md5=False)
    auth = await rec.wait_for(lambda m: m.get("Event") == "SuccessfulAuth")
    assert auth["AccountID"] == "cti" and auth["Service"] == "AMI"
    await rec.close()


@pytest.mark.parametrize("md5", [False, True])
async def test_bad_secret_is_refused_and_the_connection_closed(sim: PBXSimulator, md5: bool) -> None:
    rec = AMIRecorder("127.0.0.1", sim.port, timeout_s=3.0)
    await rec.connect()
    with pytest.raises(AMIRecorderError, match="Authentication failed"):
        if md5:
            challenge = await rec.request("Challenge", AuthType="MD5")
            key = hashlib.md5((str(challenge["Challenge"]) + "wrong").encode()).hexdigest()
            reply = await rec.request("Login", Username="cti", AuthType="MD5", Key=key)
            raise AMIRecorderError(str(reply.get("Message")))
        await rec.login("cti", "wrong", md5=False)
    refused = [m for m in rec.messages if m.get("Response") == "Error"]
    assert refused[-1]["Message"] == "Authentication failed"
    await rec.wait_closed()
    assert rec.closed
    await rec.close()


async def test_actions_before_login_are_denied(sim: PBXSimulator) -> None:
    rec = AMIRecorder("127.0.0.1", sim.port)
    await rec.connect()
    reply = await rec.request("CoreShowChannels")
    assert (reply["Response"], reply["Message"]) == ("Error", "Permission denied")
    await rec.close()


async def test_ping_unknown_action_and_logoff(sim: PBXSimulator) -> None:
    rec = await _client(sim)
    pong = await rec.request("Ping", ActionID="p1")
    assert pong["Response"] == "Success" and pong["Ping"] == "Pong"
    assert float(str(pong["Timestamp"])) > 1_000_000_000
    unknown = await rec.request("NoSuchThing")
    assert (unknown["Response"], unknown["Message"]) == ("Error", "Invalid/unknown command")
    bye = await rec.request("Logoff", ActionID="bye")
    assert (bye["Response"], bye["Message"]) == ("Goodbye", "Thanks for all the fish.")
    await rec.wait_closed()
    assert rec.closed


async def test_garbage_bytes_do_not_crash_the_server(sim: PBXSimulator) -> None:
    bad = AMIRecorder("127.0.0.1", sim.port)
    await bad.connect()
    bad.send_raw(
        b"\x00\xff\xfe garbage \r\n\r\n" + bytes(range(256)) * 300 + b"\n\n:::\r\n\r\nAction\r\n\r\n"
    )
    reply = await bad.wait_for(lambda m: "Response" in m)
    assert reply["Response"] == "Error"
    await bad.close()
    good = await _client(sim)
    assert (await good.request("Ping"))["Ping"] == "Pong"
    await good.close()


async def test_queue_member_replies_and_errors_are_asterisks(sim: PBXSimulator) -> None:
    rec = await _client(sim)
    member = {"Interface": "Local/1004@agents/n", "StateInterface": "Custom:1004", "MemberName": "Agent 1004"}
    added = await rec.request("QueueAdd", Queue="support", Penalty="0", Paused="false", **member)
    assert added["Message"] == "Added interface to queue"
    again = await rec.request("QueueAdd", Queue="support", **member)
    assert (again["Response"], again["Message"]) == ("Error", "Unable to add interface: Already there")
    nowhere = await rec.request("QueueAdd", Queue="nope", **member)
    assert nowhere["Message"] == "Unable to add interface to queue: No such queue"
    paused = await rec.request("QueuePause", Interface=member["Interface"], Paused="true", Reason="午休")
    assert paused["Message"] == "Interface paused successfully"
    event = await rec.wait_for(lambda m: m.get("Event") == "QueueMemberPause")
    assert (event["Paused"], event["PausedReason"]) == ("1", "午休")
    missing = await rec.request("QueuePause", Interface="Local/9999@agents/n", Paused="true")
    assert (missing["Response"], missing["Message"]) == ("Error", "Interface not found")
    removed = await rec.request("QueueRemove", Queue="support", Interface=member["Interface"])
    assert removed["Message"] == "Removed interface from queue"
    gone = await rec.request("QueueRemove", Queue="support", Interface=member["Interface"])
    assert gone["Message"] == "Unable to remove interface: Not there"
    await rec.close()


async def test_hangup_of_an_unknown_channel_is_a_clean_error(sim: PBXSimulator) -> None:
    rec = await _client(sim)
    reply = await rec.request("Hangup", Channel="Local/1@nowhere-00000000;1")
    assert (reply["Response"], reply["Message"]) == ("Error", "No such channel")
    await rec.close()


async def test_timestamps_off_gives_events_as_recorded(sim: PBXSimulator) -> None:
    async with PBXSimulator(secret=SECRET, timestamps=False) as plain:
        rec = await _client(plain)
        booted = await rec.wait_for(lambda m: m.get("Event") == "FullyBooted")
        assert "Timestamp" not in booted
        await rec.close()


async def test_events_off_silences_the_session(sim: PBXSimulator) -> None:
    quiet = await _client(sim)
    reply = await quiet.request("Events", EventMask="off")
    assert reply["Events"] == "Off"
    loud = await _client(sim)
    start_quiet, start_loud = len(quiet.messages), len(loud.messages)
    sim.pbx.login_agent("support", "1005")
    await loud.wait_for(lambda m: m.get("Event") == "QueueMemberAdded", start_loud)
    await quiet.request("Ping")
    assert [m for m in quiet.messages[start_quiet:] if "Event" in m] == []
    await quiet.close()
    await loud.close()


async def test_drop_connections_closes_every_client(sim: PBXSimulator) -> None:
    clients = [await _client(sim) for _ in range(3)]
    await sim.drop_connections()
    for c in clients:
        await c.wait_closed()
    assert all(c.closed for c in clients)
    again = await _client(sim)
    assert (await again.request("Ping"))["Ping"] == "Pong"
    for c in [*clients, again]:
        await c.close()


async def test_chinese_caller_name_survives_small_reads(sim: PBXSimulator) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", sim.port)
    writer.write(f"Action: Login\r\nUsername: cti\r\nSecret: {SECRET}\r\n\r\n".encode())
    sim.pbx.login_agent("support", "1006")
    await asyncio.sleep(0.05)
    run = sim.start_scenario(
        "inbound_answered", caller="13700000000", caller_name="欧阳娜娜", agent="1006", talk=1
    )
    await run.done.wait()
    parser = AMIParser()
    messages: list[Message] = []
    async with asyncio.timeout(3):
        while not any(
            m.get("Event") == "Hangup" and m.get("Uniqueid") == run.result.linkedid for m in messages
        ):
            chunk = await reader.read(7)
            messages += parser.feed(chunk)
    writer.close()
    joined = [m for m in messages if m.get("Event") == "QueueCallerJoin"]
    assert [m["CallerIDName"] for m in joined] == ["欧阳娜娜"]

"""Call commands over a real TCP AMI connection to a small AMI server."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from cti.ami.protocol import AMIConnection
from cti.commands import (
    CallCommands,
    CommandError,
    CommandTimeout,
    InvalidArgument,
    NotConnected,
    UnknownChannel,
    normalise_number,
)

sys.path.insert(0, str(Path(__file__).parent / "fixtures" / "bridge"))
from bridge_fake_ami import FakeAMI
from bridge_harness import fake_pbx_fixture  # noqa: F401 - pytest fixtures

AGENT_LEG = "Local/1001@agents-0000000c;1"
CALLER_LEG = "Local/5551240@from-pstn-0000000b;2"


@pytest.fixture
async def commands(pbx: FakeAMI) -> AsyncIterator[CallCommands]:
    conn = AMIConnection("127.0.0.1", pbx.port, "cti", pbx.secret, auth="md5", action_timeout_s=0.5)
    await conn.open()
    await conn.login()
    known = {AGENT_LEG, CALLER_LEG}
    talking = {CALLER_LEG: AGENT_LEG, AGENT_LEG: CALLER_LEG}
    yield CallCommands(conn, timeout_s=0.5, channel_exists=known.__contains__, peer_of=talking.get)
    conn.close()


def only(pbx: FakeAMI, name: str) -> dict:
    (action,) = pbx.sent(name)
    return action


async def test_click_to_dial_rings_the_agent_then_resolves_on_originate_response(pbx, commands) -> None:
    reply = await commands.originate_click_to_dial(
        "1001", "+86 138-0013-8000", caller_id='"Agent 1001" <1001>', variables={"__AGENT_TALK": 8}
    )
    assert reply["Response"] == "Success"
    assert reply["Message"] == "Originate successfully queued"
    assert reply["Reason"] == "4"
    sent = only(pbx, "Originate")
    assert sent["Channel"] == "Local/1001@agents/n"
    assert (sent["Context"], sent["Exten"], sent["Priority"]) == ("outbound", "+8613800138000", "1")
    assert sent["Async"] == "true"
    assert sent["CallerID"] == '"Agent 1001" <1001>'
    assert sent["Variable"] == "__AGENT_TALK=8"
    assert reply["ActionID"] == sent["ActionID"]


async def test_click_to_dial_that_the_agent_does_not_answer_is_an_error(pbx, commands) -> None:
    pbx.originate_reason = "3"
    with pytest.raises(CommandError) as err:
        await commands.originate_click_to_dial("1001", "5559999")
    assert "did not answer" in err.value.message
    assert err.value.text["zh-CN"].startswith("外呼失败")


async def test_hangup_sends_cause_and_returns_the_ami_reply(pbx, commands) -> None:
    pbx.messages["Hangup"] = "Channel Hungup"
    reply = await commands.hangup(CALLER_LEG)
    assert reply["Message"] == "Channel Hungup"
    assert only(pbx, "Hangup") | {"ActionID": ""} == {
        "Action": "Hangup", "ActionID": "", "Channel": CALLER_LEG, "Cause": "16"
    }


async def test_unknown_channel_is_refused_before_sending(pbx, commands) -> None:
    with pytest.raises(UnknownChannel):
        await commands.hangup("Local/9999@agents-000000ff;1")
    with pytest.raises(UnknownChannel):
        await commands.blind_transfer("PJSIP/nobody-00000001", "1002")
    assert pbx.sent("Hangup") == [] and pbx.sent("Redirect") == []


async def test_ami_error_raises_with_asterisks_message(pbx, commands) -> None:
    pbx.replies["Redirect"] = {"Response": "Error", "Message": "Channel specified does not exist"}
    with pytest.raises(CommandError) as err:
        await commands.blind_transfer(CALLER_LEG, "1002")
    assert "Channel specified does not exist" in err.value.message
    assert err.value.response is not None and err.value.response["Response"] == "Error"


async def test_blind_and_attended_transfer_actions(pbx, commands) -> None:
    await commands.blind_transfer(CALLER_LEG, "1002")
    await commands.attended_transfer(AGENT_LEG, "1003", context="internal")
    redirect, atxfer = only(pbx, "Redirect"), only(pbx, "Atxfer")
    assert (redirect["Channel"], redirect["Context"], redirect["Exten"], redirect["Priority"]) == (
        CALLER_LEG, "internal", "1002", "1"
    )
    assert (atxfer["Channel"], atxfer["Context"], atxfer["Exten"]) == (AGENT_LEG, "internal", "1003")


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.originate_click_to_dial("10a1", "5559999"),
        lambda c: c.originate_click_to_dial("1001", "call me"),
        lambda c: c.originate_click_to_dial("1001", "5559999", caller_id="x\r\nAction: Hangup"),
        lambda c: c.originate_click_to_dial("1001", "5559999", variables={"BAD NAME": 1}),
        lambda c: c.blind_transfer(CALLER_LEG, "1"),
        lambda c: c.blind_transfer(CALLER_LEG, "1002", context="in ternal"),
        lambda c: c.queue_login("sup port", "1001", "Agent 1001"),
        lambda c: c.queue_login("support", "1001;2", "Agent 1001"),
        lambda c: c.pause("1001", True, reason="Lunch\r\nAction: Logoff"),
        lambda c: c.spy("1009", AGENT_LEG, mode="shout"),
        lambda c: c.hangup(CALLER_LEG, cause=999),
    ],
)
async def test_bad_arguments_are_refused_before_sending(pbx, commands, call) -> None:
    before = len(pbx.actions)
    with pytest.raises(InvalidArgument):
        await call(commands)
    assert len(pbx.actions) == before


async def test_queue_login_logout_resolve_on_the_single_reply(pbx, commands) -> None:
    pbx.messages["QueueAdd"] = "Added interface to queue"
    pbx.messages["QueueRemove"] = "Removed interface from queue"
    added = await commands.queue_login("support", "1001", "Agent 1001", penalty=2, paused=True)
    removed = await commands.queue_logout("support", "1001")
    assert added["Message"] == "Added interface to queue"
    assert removed["Message"] == "Removed interface from queue"
    sent = only(pbx, "QueueAdd")
    assert sent["Interface"] == "Local/1001@agents/n"
    assert sent["StateInterface"] == "Custom:1001"
    assert (sent["MemberName"], sent["Penalty"], sent["Paused"]) == ("Agent 1001", "2", "true")
    assert only(pbx, "QueueRemove")["Interface"] == "Local/1001@agents/n"


async def test_pause_in_one_queue_or_all_with_reason(pbx, commands) -> None:
    await commands.pause("1001", True, reason="午休", queue="support")
    await commands.pause("1001", False)
    first, second = pbx.sent("QueuePause")
    assert (first["Queue"], first["Paused"], first["Reason"]) == ("support", "true", "午休")
    assert "Queue" not in second and second["Paused"] == "false" and "Reason" not in second


@pytest.mark.parametrize(("mode", "options"), [("listen", "q"), ("whisper", "qw"), ("barge", "qB")])
async def test_spy_originates_chanspy_on_the_target(pbx, commands, mode, options) -> None:
    reply = await commands.spy("1009", AGENT_LEG, mode=mode)
    assert reply["Reason"] == "4"
    sent = only(pbx, "Originate")
    assert sent["Channel"] == "Local/1009@agents/n"
    assert (sent["Application"], sent["Data"]) == ("ChanSpy", f"{AGENT_LEG},{options}")


async def test_a_pbx_that_never_answers_gives_command_timeout(pbx, commands) -> None:
    pbx.replies["Hangup"] = None
    async with asyncio.timeout(5):  # a bound against hanging, not a speed check
        with pytest.raises(CommandTimeout):
            await commands.hangup(CALLER_LEG)
    # the connection still works afterwards
    assert (await commands.pause("1001", False))["Response"] == "Success"


async def test_connection_lost_during_an_action_is_not_connected(pbx, commands) -> None:
    pbx.replies["Hangup"] = None
    pending = asyncio.ensure_future(commands.hangup(CALLER_LEG))
    await pbx.wait_for(lambda: pbx.sent("Hangup"))
    await pbx.drop_connections()
    with pytest.raises(NotConnected):
        await pending
    with pytest.raises(NotConnected):
        await commands.pause("1001", True)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("5559999", "5559999"), ("+86 (10) 8888-1234", "+861088881234"), ("138.0013.8000", "13800138000")],
)
def test_normalise_number(raw: str, expected: str) -> None:
    assert normalise_number(raw) == expected


@pytest.mark.parametrize("raw", ["", "+", "12a4", "1+2", "5" * 21])
def test_normalise_number_refuses(raw: str) -> None:
    with pytest.raises(InvalidArgument):
        normalise_number(raw)


async def test_hold_moves_both_parties_and_unhold_bridges_them_again(pbx, commands) -> None:
    held = await commands.hold(CALLER_LEG, AGENT_LEG)
    back = await commands.unhold(CALLER_LEG, AGENT_LEG)
    assert held["Response"] == back["Response"] == "Success"
    redirect, bridge = only(pbx, "Redirect"), only(pbx, "Bridge")
    assert (redirect["Channel"], redirect["Context"], redirect["Exten"]) == (CALLER_LEG, "cc-hold", "hold")
    assert (redirect["ExtraChannel"], redirect["ExtraContext"], redirect["ExtraExten"]) == (
        AGENT_LEG, "cc-hold", "wait"
    )
    assert (bridge["Channel1"], bridge["Channel2"]) == (CALLER_LEG, AGENT_LEG)


async def test_hold_of_an_unknown_peer_sends_nothing(pbx, commands) -> None:
    with pytest.raises(UnknownChannel):
        await commands.hold(CALLER_LEG, "Local/1009@agents-000000aa;1")
    assert pbx.actions[-1]["Action"] != "Redirect"


async def test_three_way_moves_both_into_the_room_and_rings_the_third(pbx, commands) -> None:
    reply = await commands.three_way(CALLER_LEG, AGENT_LEG, "1003", room="17954512090")
    assert reply["Response"] == "Success"
    assert reply["Invite"]["Reason"] == "4"
    redirect, originate = only(pbx, "Redirect"), only(pbx, "Originate")
    assert (redirect["Context"], redirect["Exten"], redirect["ExtraExten"]) == (
        "cc-conference", "17954512090", "17954512090"
    )
    assert (originate["Channel"], originate["Context"], originate["Exten"]) == (
        "Local/1003@agents/n", "cc-conference", "17954512090"
    )
    with pytest.raises(InvalidArgument):
        await commands.three_way(CALLER_LEG, AGENT_LEG, "1003", room="room 1")


async def test_hold_finds_the_other_party_and_unhold_remembers_it(pbx, commands) -> None:
    await commands.hold(CALLER_LEG)
    await commands.unhold(CALLER_LEG)
    assert only(pbx, "Redirect")["ExtraChannel"] == AGENT_LEG
    bridge = only(pbx, "Bridge")
    assert (bridge["Channel1"], bridge["Channel2"]) == (CALLER_LEG, AGENT_LEG)
    with pytest.raises(CommandError):
        await commands.unhold(CALLER_LEG)  # no longer on hold
    assert len(pbx.sent("Bridge")) == 1


async def test_three_way_without_a_room_opens_a_new_one(pbx, commands) -> None:
    await commands.three_way(CALLER_LEG, AGENT_LEG, "1003")
    room = only(pbx, "Redirect")["Exten"]
    assert room.isdigit() and only(pbx, "Originate")["Exten"] == room

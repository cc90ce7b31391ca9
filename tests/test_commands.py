"""Call commands over a real TCP AMI connection to a small AMI server.

Commands whose effect comes after the reply (hold, unhold, attended transfer, three-way, spy) are fed
the events Asterisk 22.10.1 sent when the same actions ran on it (``fixtures/ami/desk_outcomes.jsonl``:
per scenario, the events that prove the outcome, verbatim).
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from cti.ami.protocol import AMIConnection
from cti.commands import (
    CallCommands,
    CommandError,
    CommandTimeout,
    InvalidArgument,
    NotCarriedOut,
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
    await conn.action({"Action": "Events", "EventMask": "call"})
    known = {AGENT_LEG, CALLER_LEG}
    talking = {CALLER_LEG: AGENT_LEG, AGENT_LEG: CALLER_LEG}
    yield CallCommands(conn, timeout_s=0.5, channel_exists=known.__contains__, peer_of=talking.get, outcome_s=0.5)
    conn.close()


def recorded(scenario: str, event: str, nth: int = 0) -> dict[str, Any]:
    """The ``nth`` ``event`` of a desk scenario as Asterisk 22.10.1 sent it."""
    path = Path(__file__).parent / "fixtures" / "ami" / "desk_outcomes.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    found = [r["event"] for r in rows if r["scenario"] == scenario and r["event"]["Event"] == event]
    return dict(found[nth])


@pytest.fixture
async def live(pbx: FakeAMI) -> AsyncIterator[CallCommands]:
    """Commands for the channels of the recorded scenarios (no tracker check)."""
    conn = AMIConnection("127.0.0.1", pbx.port, "cti", pbx.secret, auth="md5", action_timeout_s=0.5)
    await conn.open()
    await conn.login()
    await conn.action({"Action": "Events", "EventMask": "call"})
    yield CallCommands(conn, timeout_s=0.5, outcome_s=0.5)
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
        "Action": "Hangup",
        "ActionID": "",
        "Channel": CALLER_LEG,
        "Cause": "16",
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


def on(channel: str, scenario: str, event: str, nth: int = 0, **more: str) -> dict[str, Any]:
    """A recorded event moved onto this test's channel names."""
    return {**recorded(scenario, event, nth), "Channel": channel, **more}


async def test_blind_and_attended_transfer_actions(pbx, commands) -> None:
    pbx.before_reply["Atxfer"] = [
        recorded("attended_transfer", "Hold") | {"Channel": AGENT_LEG},
        recorded("attended_transfer", "Newchannel") | {"Channel": "Local/1003@internal-00000002;1"},
    ]
    await commands.blind_transfer(CALLER_LEG, "1002")
    reply = await commands.attended_transfer(AGENT_LEG, "1003", context="internal")
    redirect, atxfer = only(pbx, "Redirect"), only(pbx, "Atxfer")
    assert (redirect["Channel"], redirect["Context"], redirect["Exten"], redirect["Priority"]) == (
        CALLER_LEG,
        "internal",
        "1002",
        "1",
    )
    assert (atxfer["Channel"], atxfer["Context"], atxfer["Exten"]) == (AGENT_LEG, "internal", "1003")
    assert reply["Consultation"] == "Local/1003@internal-00000002;1"
    assert [e["Event"] for e in reply["Outcome"]] == ["Newchannel"]


async def test_attended_transfer_without_a_consultation_call_is_not_carried_out(pbx, commands) -> None:
    """Asterisk says "Atxfer successfully queued" even when the feature code goes nowhere."""
    pbx.messages["Atxfer"] = "Atxfer successfully queued"
    with pytest.raises(NotCarriedOut) as err:
        await commands.attended_transfer(AGENT_LEG, "1003")
    assert "consultation call to 1003 did not start" in err.value.message
    assert "1003" in err.value.text["zh-CN"] and err.value.text["zh-CN"] != err.value.text["en"]


async def test_attended_transfer_when_the_agent_hangs_up_first_fails_at_once(pbx, commands) -> None:
    pbx.before_reply["Atxfer"] = [on(AGENT_LEG, "attended_transfer", "Hangup")]
    with pytest.raises(NotCarriedOut) as err:
        await commands.attended_transfer(AGENT_LEG, "1003")
    assert "hung up" in err.value.message


@pytest.mark.parametrize(("result", "ok"), [("Success", True), ("Fail", False)])
async def test_completing_the_transfer_reports_the_attended_transfer_result(pbx, live, result, ok) -> None:
    transfer = recorded("attended_transfer", "AttendedTransfer") | {"Result": result}
    agent = transfer["OrigTransfererChannel"]
    pbx.messages["Hangup"] = "Channel Hungup"
    pbx.before_reply["Hangup"] = [transfer]
    if ok:
        reply = await live.complete_attended_transfer(agent)
        assert reply["Message"] == "Channel Hungup"
        assert reply["Outcome"][0]["TransfereeChannel"] == transfer["TransfereeChannel"]
    else:
        with pytest.raises(NotCarriedOut) as err:
            await live.complete_attended_transfer(agent)
        assert "Fail" in err.value.message
    assert only(pbx, "Hangup")["Channel"] == agent


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
async def test_spy_originates_chanspy_and_waits_for_it_to_start(pbx, commands, mode, options) -> None:
    pbx.before_reply["Originate"] = [recorded("spy", "ChanSpyStart") | {"SpyeeChannel": AGENT_LEG}]
    reply = await commands.spy("1009", AGENT_LEG, mode=mode)
    assert reply["Reason"] == "4"
    assert [e["Event"] for e in reply["Outcome"]] == ["ChanSpyStart"]
    sent = only(pbx, "Originate")
    assert sent["Channel"] == "Local/1009@agents/n"
    assert (sent["Application"], sent["Data"]) == ("ChanSpy", f"{AGENT_LEG},{options}")


async def test_spy_that_never_starts_hangs_the_supervisor_up_and_says_so(pbx, commands) -> None:
    pbx.messages["Hangup"] = "Channel Hungup"
    with pytest.raises(NotCarriedOut) as err:
        await commands.spy("1009", AGENT_LEG)
    assert "listening did not start" in err.value.message
    assert "监听" in err.value.text["zh-CN"]
    assert only(pbx, "Hangup")["Channel"] == "Local/1009@agents/n"  # the channel OriginateResponse named


async def test_spy_on_the_recorded_call(pbx, live) -> None:
    start = recorded("spy", "ChanSpyStart")
    pbx.before_reply["Originate"] = [start]
    reply = await live.spy("1003", start["SpyeeChannel"])
    assert reply["Outcome"] == [start]


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


async def test_hold_moves_both_parties_and_unhold_bridges_them_again(pbx, live) -> None:
    music = recorded("hold", "MusicOnHoldStart")
    caller, agent = music["Channel"], recorded("hold", "BridgeEnter", 1)["Channel"]
    pbx.before_reply["Redirect"] = [music]
    pbx.before_reply["Bridge"] = [
        recorded("hold", "MusicOnHoldStop"),
        *(recorded("hold", "BridgeEnter", n) for n in (0, 1)),
    ]
    held = await live.hold(caller, agent)
    back = await live.unhold(caller, agent)
    assert held["Response"] == back["Response"] == "Success"
    assert held["Outcome"] == [music]
    assert [e["Channel"] for e in back["Outcome"]] == [caller, agent]
    redirect, bridge = only(pbx, "Redirect"), only(pbx, "Bridge")
    assert (redirect["Channel"], redirect["Context"], redirect["Exten"]) == (caller, "cc-hold", "hold")
    assert (redirect["ExtraChannel"], redirect["ExtraContext"], redirect["ExtraExten"]) == (agent, "cc-hold", "wait")
    assert (bridge["Channel1"], bridge["Channel2"]) == (caller, agent)


async def test_hold_without_music_on_hold_is_not_carried_out(pbx, commands) -> None:
    with pytest.raises(NotCarriedOut) as err:
        await commands.hold(CALLER_LEG, AGENT_LEG)
    assert "not put on hold" in err.value.message
    assert err.value.text["zh-CN"].startswith("Redirect：交换机已接受")
    with pytest.raises(CommandError):
        await commands.unhold(CALLER_LEG)  # a hold that did not happen is not remembered


async def test_hold_when_the_caller_hangs_up_fails_at_once(pbx, commands) -> None:
    pbx.before_reply["Redirect"] = [on(CALLER_LEG, "attended_transfer", "Hangup")]
    with pytest.raises(NotCarriedOut) as err:
        await commands.hold(CALLER_LEG, AGENT_LEG)
    assert CALLER_LEG in err.value.message and "hung up" in err.value.message


async def test_unhold_into_two_different_bridges_is_refused(pbx, commands) -> None:
    pbx.before_reply["Redirect"] = [on(CALLER_LEG, "hold", "MusicOnHoldStart")]
    pbx.before_reply["Bridge"] = [
        on(CALLER_LEG, "hold", "BridgeEnter", 0),
        on(AGENT_LEG, "hold", "BridgeEnter", 1, BridgeUniqueid="another-bridge"),
    ]
    await commands.hold(CALLER_LEG, AGENT_LEG)
    with pytest.raises(NotCarriedOut):
        await commands.unhold(CALLER_LEG)


async def test_hold_of_an_unknown_peer_sends_nothing(pbx, commands) -> None:
    with pytest.raises(UnknownChannel):
        await commands.hold(CALLER_LEG, "Local/1009@agents-000000aa;1")
    assert pbx.actions[-1]["Action"] != "Redirect"


def conference_events() -> tuple[str, str, list[dict[str, Any]], dict[str, Any]]:
    agent_join, caller_join, third_join = (recorded("three_way", "ConfbridgeJoin", n) for n in range(3))
    return agent_join["Channel"], caller_join["Channel"], [agent_join, caller_join], third_join


async def test_three_way_moves_both_into_the_room_and_rings_the_third(pbx, live) -> None:
    agent, caller, joins, third = conference_events()
    room = joins[0]["Conference"]
    pbx.before_reply["Redirect"] = joins
    pbx.before_reply["Originate"] = [third]
    reply = await live.three_way(agent, caller, "1002", room=room)
    assert reply["Response"] == "Success" and reply["Conference"] == room
    assert reply["Invite"]["Reason"] == "4"
    assert [e["Channel"] for e in reply["Outcome"]] == [agent, caller, third["Channel"]]
    redirect, originate = only(pbx, "Redirect"), only(pbx, "Originate")
    assert (redirect["Context"], redirect["Exten"], redirect["ExtraExten"]) == ("cc-conference", room, room)
    assert (originate["Channel"], originate["Context"], originate["Exten"]) == (
        "Local/1002@agents/n",
        "cc-conference",
        room,
    )
    with pytest.raises(InvalidArgument):
        await live.three_way(agent, caller, "1003", room="room 1")


async def test_three_way_where_the_parties_never_reach_the_conference_is_an_error(pbx, live) -> None:
    """What a PBX without ConfBridge did: both parties hung up, and the REST answer said ok."""
    agent, caller, _, _ = conference_events()
    pbx.before_reply["Redirect"] = [on(caller, "attended_transfer", "Hangup")]
    with pytest.raises(NotCarriedOut) as err:
        await live.three_way(agent, caller, "1002", room="4242")
    assert "three-way call failed" in err.value.message and err.value.text["zh-CN"].startswith("三方通话失败")
    assert pbx.sent("Originate") == []  # nobody is rung into a conference that does not exist


async def test_three_way_whose_third_party_does_not_answer_says_where_the_others_are(pbx, live) -> None:
    agent, caller, joins, _ = conference_events()
    pbx.before_reply["Redirect"] = joins
    pbx.originate_reason = "3"
    with pytest.raises(CommandError) as err:
        await live.three_way(agent, caller, "1002", room=joins[0]["Conference"])
    assert "did not answer" in err.value.message and f"conference {joins[0]['Conference']}" in err.value.message
    assert "会议" in err.value.text["zh-CN"]


async def test_three_way_without_a_room_opens_a_new_one(pbx, commands) -> None:
    pbx.before_reply["Redirect"] = []
    with pytest.raises(NotCarriedOut):  # no ConfbridgeJoin comes for a room nobody recorded
        await commands.three_way(CALLER_LEG, AGENT_LEG, "1003")
    room = only(pbx, "Redirect")["Exten"]
    assert room.isdigit() and room == only(pbx, "Redirect")["ExtraExten"]


async def test_hold_finds_the_other_party_and_unhold_remembers_it(pbx, commands) -> None:
    pbx.before_reply["Redirect"] = [on(CALLER_LEG, "hold", "MusicOnHoldStart")]
    pbx.before_reply["Bridge"] = [on(CALLER_LEG, "hold", "BridgeEnter", 0), on(AGENT_LEG, "hold", "BridgeEnter", 1)]
    await commands.hold(CALLER_LEG)
    await commands.unhold(CALLER_LEG)
    assert only(pbx, "Redirect")["ExtraChannel"] == AGENT_LEG
    bridge = only(pbx, "Bridge")
    assert (bridge["Channel1"], bridge["Channel2"]) == (CALLER_LEG, AGENT_LEG)
    with pytest.raises(CommandError):
        await commands.unhold(CALLER_LEG)  # no longer on hold
    assert len(pbx.sent("Bridge")) == 1


async def test_cancelling_the_transfer_waits_for_the_agent_to_be_back(pbx, live) -> None:
    consulted, back, unhold = (recorded("cancel_transfer", name) for name in ("Hangup", "BridgeEnter", "Unhold"))
    pbx.messages["Hangup"] = "Channel Hungup"
    pbx.before_reply["Hangup"] = [consulted, back, unhold]
    reply = await live.cancel_attended_transfer(consulted["Channel"], back["Channel"])
    assert reply["Outcome"] == [back, unhold]
    assert only(pbx, "Hangup")["Channel"] == consulted["Channel"]


async def test_cancelling_a_transfer_that_leaves_the_agent_alone_is_not_carried_out(pbx, live) -> None:
    consulted = recorded("cancel_transfer", "Hangup")
    pbx.before_reply["Hangup"] = [consulted]
    with pytest.raises(NotCarriedOut) as err:
        await live.cancel_attended_transfer(consulted["Channel"], recorded("cancel_transfer", "Unhold")["Channel"])
    assert "not put back" in err.value.message and "坐席未回到原通话" in err.value.text["zh-CN"]

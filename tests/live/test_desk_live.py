"""Desk commands on the real PBX: every REST answer is the PBX's real outcome.

A caller (``Local/<number>@from-pstn``) is answered by the simulated agent 1001 (``agent_talk="echo"``: the
agent never hangs up by itself); the agent then acts from the desk's REST API and each test checks the
answer against what Asterisk did (its AMI events on the test's own login) and what the product made of it
(bus events). The AMI connection of the product's bridge must survive every command.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select

from crm_core.models import Department, User
from crm_core.testing import add_department
from cti.commands import NotCarriedOut
from tests.live.harness import PlacedCall, Product

pytestmark = [pytest.mark.asterisk, pytest.mark.asyncio(loop_scope="module")]


async def answered_by_1001(product: Product, number: str) -> tuple[PlacedCall, httpx.AsyncClient]:
    await product.queue_add("support", "1001")
    agent = await product.client("agent1001")
    call = await product.call(number, agent_talk="echo")
    await product.wait_call_event(call, "call.answered", agent="1001")
    return call, agent


async def ami_event(product: Product, call: PlacedCall, name: str, **headers: str) -> dict[str, Any]:
    """The first AMI event ``name`` with these headers since the call was placed (waits for it)."""
    found = await product.ami.wait_for(
        lambda m: m.get("Event") == name and all(m.get(k) == v for k, v in headers.items()), call.ami_since
    )
    return dict(found)


def ami_events(product: Product, call: PlacedCall, name: str, **headers: str) -> list[dict[str, Any]]:
    return [
        dict(m)
        for m in product.ami.messages[call.ami_since :]
        if m.get("Event") == name and all(m.get(k) == v for k, v in headers.items())
    ]


async def hang_up(product: Product, channel: str) -> None:
    await product.ami.request("Hangup", Channel=channel)


def reconnects(product: Product) -> int:
    return product.runtime.bridge.stats.reconnects


async def test_attended_transfer_from_the_desk(product: Product) -> None:
    call, agent = await answered_by_1001(product, "13800000101")
    before = reconnects(product)
    reply = await agent.post(f"/api/desk/calls/{call.call_id}/transfer", json={"extension": "1002", "kind": "attended"})
    assert reply.status_code == 200, reply.text
    answer = reply.json()["response"]
    assert answer["Message"] == "Atxfer successfully queued"
    consultation = answer["Consultation"]
    assert consultation.startswith("Local/1002@internal-")
    assert (await ami_event(product, call, "Newchannel", Channel=consultation))["Linkedid"] == call.call_id
    # the consulted agent 1002 answers, then the agent leaves: Asterisk joins the caller to 1002
    await ami_event(product, call, "DialEnd", DialStatus="ANSWER", DestExten="1002")
    done = await agent.post(f"/api/desk/calls/{call.call_id}/transfer/complete")
    assert done.status_code == 200, done.text
    (transfer,) = done.json()["response"]["Outcome"]
    assert transfer["Event"] == "AttendedTransfer" and transfer["Result"] == "Success"
    assert (await ami_event(product, call, "AttendedTransfer"))["Result"] == "Success"
    transferred = await product.wait_event(
        lambda e: e.get("type") == "call.transferred" and e.get("call_id") == call.call_id,
        since=call.since,
        what="call.transferred",
    )
    assert transferred["kind"] == "attended"
    assert "1002" in str(transferred["to"]), transferred  # the caller is handed to 1002
    assert reconnects(product) == before and product.runtime.bridge.connected  # the AMI link survived
    await product.hangup_caller(call)
    ended = await product.wait_call_event(call, "call.ended")
    assert ended["disposition"] == "answered"
    assert len(product.of_call(call.call_id, "call.ended", since=call.since)) == 1


async def test_attended_transfer_to_a_missing_extension_is_refused_with_the_reason(product: Product) -> None:
    call, agent = await answered_by_1001(product, "13800000102")
    reply = await agent.post(f"/api/desk/calls/{call.call_id}/transfer", json={"extension": "7777", "kind": "attended"})
    assert reply.status_code == 409, reply.text
    detail = reply.json()["detail"]
    assert "未能发起对 7777 的咨询呼叫" in detail and "the consultation call to 7777 did not start" in detail
    created = [m["Channel"] for m in ami_events(product, call, "Newchannel")]
    assert not [name for name in created if name.startswith("Local/7777@internal-")]
    assert product.runtime.bridge.connected


async def test_hold_and_unhold_from_the_desk(product: Product) -> None:
    call, agent = await answered_by_1001(product, "13800000103")
    since = product.mark()
    reply = await agent.post(f"/api/desk/calls/{call.call_id}/hold", json={})
    assert reply.status_code == 200, reply.text
    (music,) = reply.json()["response"]["Outcome"]
    assert music["Event"] == "MusicOnHoldStart" and music["Channel"].startswith("Local/13800000103@from-pstn-")
    await ami_event(product, call, "MusicOnHoldStart", Channel=music["Channel"])
    await product.wait_event(
        lambda e: e.get("type") == "call.hold" and e.get("call_id") == call.call_id, since=since, what="call.hold"
    )
    back = await agent.post(f"/api/desk/calls/{call.call_id}/unhold", json={})
    assert back.status_code == 200, back.text
    entered = back.json()["response"]["Outcome"]
    assert [e["Event"] for e in entered] == ["BridgeEnter", "BridgeEnter"]
    assert entered[0]["BridgeUniqueid"] == entered[1]["BridgeUniqueid"]
    assert entered[0]["Channel"] == music["Channel"] and entered[1]["Channel"].startswith("Local/1001@agents-")
    await ami_event(product, call, "MusicOnHoldStop", Channel=music["Channel"])
    await product.wait_event(
        lambda e: e.get("type") == "call.unhold" and e.get("call_id") == call.call_id, since=since, what="call.unhold"
    )
    await product.hangup_caller(call)
    ended = await product.wait_call_event(call, "call.ended")
    assert ended["disposition"] == "answered"


async def test_three_way_from_the_desk(product: Product) -> None:
    call, agent = await answered_by_1001(product, "13800000104")
    reply = await agent.post(f"/api/desk/calls/{call.call_id}/conference", json={"extension": "1002"})
    assert reply.status_code == 200, reply.text
    answer = reply.json()["response"]
    room = answer["Conference"]
    joined = answer["Outcome"]
    assert [e["Event"] for e in joined] == ["ConfbridgeJoin"] * 3
    assert {e["Conference"] for e in joined} == {room}
    assert joined[0]["Channel"].startswith("Local/1001@agents-")
    assert joined[1]["Channel"].startswith("Local/13800000104@from-pstn-")
    third = answer["Invite"]["Channel"]
    assert joined[2]["Channel"] == third and third.startswith("Local/1002@agents-")
    for party in joined:  # the test's own AMI login saw the same joins
        await ami_event(product, call, "ConfbridgeJoin", Conference=room, Channel=party["Channel"])
    # the call is alive: nobody of the three has hung up since the conference began
    hung = {m.get("Channel") for m in ami_events(product, call, "Hangup")}
    assert not hung & {e["Channel"] for e in joined}
    # everybody leaves the room: the caller, the third party, the agent (whose simulated phone never hangs up)
    await product.hangup_caller(call)
    await hang_up(product, third)
    await hang_up(product, joined[0]["Channel"])
    ended = await product.wait_call_event(call, "call.ended")
    assert ended["disposition"] == "answered"
    assert len(product.of_call(call.call_id, "call.ended", since=call.since)) == 1


async def spy_as_supervisor(product: Product, extension: str) -> httpx.AsyncClient:
    """The supervisor at ``extension``, in one department with agent 1001 (whom he may listen to)."""
    with product.db() as session:
        named = select(User).where(User.username.in_(("supervisor", "agent1001")))
        users = {u.username: u for u in session.scalars(named)}
        team = session.scalar(select(Department).where(Department.name == "desk live team"))
        if team is None:
            team = add_department(session, "desk live team")
        for user in users.values():
            user.department_id = team.id
        users["supervisor"].extension = extension
        session.commit()
    return await product.client("supervisor")


@pytest.mark.parametrize("mode", ["listen", "whisper", "barge"])
async def test_supervisor_listen_whisper_barge(product: Product, mode: str) -> None:
    supervisor = await spy_as_supervisor(product, "1004")
    call, _ = await answered_by_1001(product, "13800000105")
    reply = await supervisor.post("/api/supervisor/spy", json={"extension": "1001", "mode": mode})
    assert reply.status_code == 200, reply.text
    answer = reply.json()["response"]
    (start,) = answer["Outcome"]
    assert start["Event"] == "ChanSpyStart"
    assert start["SpyerChannel"] == answer["Channel"] and answer["Channel"].startswith("Local/1004@agents-")
    assert start["SpyeeChannel"].startswith("Local/1001@agents-")
    await ami_event(product, call, "ChanSpyStart", SpyeeChannel=start["SpyeeChannel"])
    originate = await ami_event(product, call, "OriginateResponse", Channel=answer["Channel"])
    assert originate["Data"] == f"{start['SpyeeChannel']},{ {'listen': 'q', 'whisper': 'qw', 'barge': 'qB'}[mode] }"
    await hang_up(product, answer["Channel"])
    await ami_event(product, call, "ChanSpyStop", SpyerChannel=answer["Channel"])
    await product.hangup_caller(call)
    await product.wait_call_event(call, "call.ended")


async def test_cancelling_an_attended_transfer_brings_the_agent_back_to_the_caller(product: Product) -> None:
    call, agent = await answered_by_1001(product, "13800000106")
    reply = await agent.post(f"/api/desk/calls/{call.call_id}/transfer", json={"extension": "1002", "kind": "attended"})
    assert reply.status_code == 200, reply.text
    await ami_event(product, call, "DialEnd", DialStatus="ANSWER", DestExten="1002")
    mark = len(product.ami.messages)
    cancel = await agent.post(f"/api/desk/calls/{call.call_id}/transfer/cancel", json={"extension": "1002"})
    assert cancel.status_code == 200, cancel.text
    back, unhold = cancel.json()["response"]["Outcome"]
    assert (back["Event"], unhold["Event"]) == ("BridgeEnter", "Unhold")
    assert back["Channel"] == unhold["Channel"] and back["Channel"].startswith("Local/1001@agents-")
    assert back["BridgeNumChannels"] == "2"  # the agent and the caller
    stop = await product.ami.wait_for(lambda m: m.get("Event") == "MusicOnHoldStop", mark)
    assert str(stop["Channel"]).startswith("Local/13800000106@from-pstn-")  # the caller hears the agent again
    assert ami_events(product, call, "AttendedTransfer") == []
    await product.hangup_caller(call)
    ended = await product.wait_call_event(call, "call.ended")
    assert ended["disposition"] == "answered"


async def test_three_way_whose_parties_never_reach_a_conference_says_it_failed(product: Product) -> None:
    """What a PBX without ConfBridge did (both parties hung up, the desk was told ok), here with a context
    the dialplan lacks: the command reports the failure in both languages."""
    call, _ = await answered_by_1001(product, "13800000107")
    commands = product.runtime.commands
    snapshot = product.runtime.tracker_snapshot()
    legs = sorted(c["channel"] for c in snapshot["channels"] if c.get("call_id") == call.call_id and c.get("bridge"))
    agent_leg = next(name for name in legs if name.startswith("Local/1001@agents-"))
    caller_leg = next(name for name in legs if name.startswith("Local/13800000107@from-pstn-"))
    with pytest.raises(NotCarriedOut) as failed:
        await commands.three_way(agent_leg, caller_leg, "1002", context="cc-no-such-conference")
    assert failed.value.message.startswith("three-way call failed: ") and "hung up" in failed.value.message
    assert failed.value.text["zh-CN"].startswith("三方通话失败：")
    assert ami_events(product, call, "ConfbridgeJoin") == []
    assert not [m for m in ami_events(product, call, "Newchannel") if m["Channel"].startswith("Local/1002@")]
    await product.wait_call_event(call, "call.ended")

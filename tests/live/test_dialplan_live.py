"""Dialplan cases of a real PBX through the whole product: a caller number set after the Dial began,
a ringing agent picked up by another phone, and a blind transfer to a target that does not answer
(the scenarios of transcripts 20, 21 and 22).

Each test drives Asterisk as ``tests/fixtures/ami/record_dialplan_scenarios.py`` did and checks what
the product made of it: the bus events, the screen-pop's lookup and the history row.
"""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from crm_core.models import Customer
from crm_core.services.customers import add_phone
from stats.models import CallRow
from tests.live.harness import PlacedCall, Product

pytestmark = [pytest.mark.asterisk, pytest.mark.asyncio(loop_scope="module")]

_next = iter(range(10_000_000, 10_100_000, 2))


def add_customer(product: Product, name: str, number: str) -> int:
    with product.db() as session:
        customer = Customer(name=name, kind="person", level="normal", status="active")
        session.add(customer)
        session.flush()
        add_phone(session, customer.id, number)
        session.commit()
        return int(customer.id)


def call_row(product: Product, call_id: str) -> CallRow:
    with product.db() as session:
        (row,) = session.scalars(select(CallRow).where(CallRow.call_id == call_id)).all()
        session.expunge_all()
        return row


def call_rows(product: Product, call_id: str) -> list[CallRow]:
    with product.db() as session:
        rows = list(session.scalars(select(CallRow).where(CallRow.call_id == call_id)).all())
        session.expunge_all()
        return rows


async def caller_without_caller_id(product: Product, number: str, agent_talk: int) -> PlacedCall:
    """``Local/<number>@from-pstn`` originated with no CallerID (as the CLI's ``channel originate``
    does): from-pstn sets the number on the ;2 leg after the Local pair's DialBegin."""
    n = next(_next)
    first, second = f"{int(time.time())}.{n}", f"{int(time.time())}.{n + 1}"
    placed = PlacedCall(first, second, number, product.mark(), len(product.ami.messages))
    product._calls.append(placed)  # hung up by the harness's reset if the test fails midway
    await product.action(
        "Originate",
        Channel=f"Local/{number}@from-pstn",
        Application="MusicOnHold",
        Data="default,60",
        Timeout="30000",
        Async="true",
        ChannelId=first,
        OtherChannelId=second,
        Variable=["RECORD=no", "SURVEY=no", f"__AGENT_TALK={agent_talk}"],
    )
    return placed


async def test_caller_number_set_after_the_dial_is_shown_and_looked_up(product: Product) -> None:
    customer_id = add_customer(product, "Li Na", "5558001")
    await product.queue_add("support", "1001")
    call = await caller_without_caller_id(product, "5558001", agent_talk=3)

    pop = await product.wait_call_event(call, "screen.pop", agent="1001")
    assert pop["caller"]["number"] == "5558001"
    assert pop["customer"] is not None and pop["customer"]["id"] == customer_id
    ringing = await product.wait_call_event(call, "call.ringing")
    assert ringing["caller"]["number"] == "5558001"
    answered = await product.wait_call_event(call, "call.answered")
    assert answered["caller"]["number"] == "5558001" and answered["agent"] == "1001"
    ended = await product.ended(call)
    assert ended["caller"]["number"] == "5558001" and ended["disposition"] == "answered"
    row = call_row(product, call.call_id)
    assert (row.caller_number, row.agent, row.customer_id) == ("5558001", "1001", customer_id)


async def test_blind_transfer_to_a_target_that_does_not_answer_is_reported_failed(product: Product) -> None:
    await product.queue_add("support", "1001")
    call = await product.call("5558003", agent_talk=12, variables=["__AGENT_NOANSWER=1099"])
    answered = await product.wait_call_event(call, "call.answered")
    assert answered["agent"] == "1001"
    caller_leg = await product.channel_of(call.inbound_uniqueid, call.ami_since)
    await product.ami.wait_for(
        lambda m: m.get("Event") == "BridgeEnter" and m.get("Channel") == caller_leg, call.ami_since
    )
    agent = await product.client("agent1001")
    reply = await agent.post(f"/api/desk/calls/{call.call_id}/transfer", json={"kind": "blind", "extension": "1099"})
    assert reply.status_code == 200, reply.text

    failed = await product.wait_call_event(call, "call.transfer_failed")
    assert (failed["kind"], failed["from"], failed["to"], failed["reason"]) == ("blind", "1001", "1099", "noanswer")
    ended = await product.ended(call)
    assert not product.of_call(call.call_id, "call.transferred", call.since)
    assert ended["answered"] and ended["agent"] == "1001"


async def test_a_ringing_agent_picked_up_by_another_phone_is_one_call_answered_by_that_phone(product: Product) -> None:
    await product.queue_add("support", "1001")
    call = await product.call("5558002", variables=["__AGENT_NOANSWER=1001"])
    ringing = await product.wait_call_event(call, "call.ringing", agent="1001")
    agent_leg = str(ringing["channel"])
    await product.ami.wait_for(
        lambda m: m.get("Event") == "Newstate" and m.get("Channel") == agent_leg and m.get("ChannelState") == "5",
        call.ami_since,
    )
    # a phone with caller ID 1002 dials *81001: the dialplan's [phone-pickup] runs PickupChan of 1001's leg
    await product.action(
        "Originate",
        Channel="Local/*81001@phone-pickup",
        Application="MusicOnHold",
        Data="default,3",
        CallerID='"Phone 1002" <1002>',
        Timeout="30000",
        Async="true",
    )
    pickup = await product.ami.wait_for(lambda m: m.get("Event") == "Pickup", call.ami_since)
    assert pickup["TargetChannel"] == agent_leg
    answered = await product.wait_call_event(call, "call.answered")
    assert answered["channel"] == pickup["Channel"]
    assert answered["callee"]["number"] == "1002" and answered["caller"]["number"] == "5558002"
    await product.hangup_caller(call)
    ended = await product.ended(call)
    assert ended["answered"] and ended["disposition"] == "answered"
    assert [leg["number"] for leg in ended["legs"]] == ["1002"]
    # the picking phone's own originated call is no call of its own: no phantom, no abandon
    picker_call = str(pickup["Linkedid"])
    assert not product.find(lambda e: e.get("call_id") == picker_call, call.since)
    assert not product.of_call(call.call_id, "queue.abandoned", call.since)
    row = call_row(product, call.call_id)
    assert (row.caller_number, row.disposition) == ("5558002", "answered")
    assert not call_rows(product, picker_call)

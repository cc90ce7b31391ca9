"""The call path end to end on the real PBX: calls placed on Asterisk, the product's outputs checked.

Each test places callers and agents as the recorded transcripts do (``tests/live/conftest.py``), waits for
the events that end its scenario, and checks what the product made of them: the bus events, the history
rows (``stats.models``), the wallboard's numbers and the recording and voicemail indexes.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from crm_core.models import Customer
from crm_core.services.customers import add_phone
from recordings.models import Recording
from stats.models import AgentStateRow, CallLegRow, CallRow, IvrStepRow, QueueCallRow, SurveyRow
from tests.live.harness import ROUTER_FLOW, SAMPLE_FLOWS, PlacedCall, Product

pytestmark = [pytest.mark.asterisk, pytest.mark.asyncio(loop_scope="module")]

TODAY = ("offered", "answered", "abandoned")


def call_row(product: Product, call: PlacedCall) -> CallRow:
    with product.db() as session:
        rows = session.scalars(select(CallRow).where(CallRow.call_id == call.call_id)).all()
        assert len(rows) == 1, f"{len(rows)} call rows for {call.call_id}"
        session.expunge_all()
        return rows[0]


def queue_rows(product: Product, call: PlacedCall) -> list[QueueCallRow]:
    with product.db() as session:
        rows = list(session.scalars(select(QueueCallRow).where(QueueCallRow.call_id == call.call_id)))
        session.expunge_all()
        return rows


def leg_rows(product: Product, call: PlacedCall) -> list[CallLegRow]:
    with product.db() as session:
        rows = list(
            session.scalars(select(CallLegRow).where(CallLegRow.call_id == call.call_id).order_by(CallLegRow.ring_at))
        )
        session.expunge_all()
        return rows


async def today(product: Product, queue: str) -> dict[str, Any]:
    row = await product.wallboard_queue(queue)
    return {k: row["today"][k] for k in TODAY}


async def today_or_zero(product: Product, queue: str) -> dict[str, Any]:
    client = await product.client("supervisor")
    rows = (await client.get("/api/monitor/wallboard")).json()["queues"]
    found = [r for r in rows if r["queue"] == queue]
    return {k: found[0]["today"][k] for k in TODAY} if found else dict.fromkeys(TODAY, 0)


def moved(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    return {k: after[k] - before[k] for k in TODAY}


async def agent_complete(product: Product, call: PlacedCall) -> dict[str, Any]:
    """Asterisk's AgentComplete of the call: the test's own AMI link may read it after the product has
    ended the call (it comes after the agent leg's Hangup), so it is waited for; one, never two."""
    def complete(m: dict[str, Any]) -> bool:
        return m.get("Event") == "AgentComplete" and m.get("Linkedid") == call.call_id

    await product.ami.wait_for(complete, call.ami_since)
    found = [m for m in product.ami.messages[call.ami_since:] if complete(m)]
    assert len(found) == 1, f"{len(found)} AgentComplete for {call.call_id}"
    return dict(found[0])


def add_customer(product: Product, name: str, number: str) -> int:
    with product.db() as session:
        customer = Customer(name=name, kind="person", level="normal", status="active")
        session.add(customer)
        session.flush()
        add_phone(session, customer.id, number)
        session.commit()
        return int(customer.id)


async def test_answered_call_is_popped_counted_and_written_once(product: Product) -> None:
    customer_id = add_customer(product, "Zhang Wei", "13800000001")
    agent = await product.client("agent1001")
    since = product.mark()
    reply = await agent.post("/api/desk/queues/login", json={"queues": ["support"]})
    assert reply.status_code == 200, reply.text
    product.forget_member("support", "1001")
    await product.wait_event(
        lambda e: e.get("type") == "agent.state" and e.get("agent") == "1001" and e.get("state") == "available",
        since=since, what="agent 1001 available after the desk's queue login",
    )
    before = await today_or_zero(product, "support")

    call = await product.call("13800000001", agent_talk=3)
    pop = await product.wait_call_event(call, "screen.pop", agent="1001")
    assert pop["customer"]["id"] == customer_id and pop["queue"] == "support"
    answered = await product.wait_call_event(call, "call.answered")
    assert answered["agent"] == "1001" and answered["queue"] == "support"
    ended = await product.ended(call)

    assert [e["type"] for e in product.of_call(call.call_id, since=call.since) if e["type"] in (
        "call.new", "queue.joined", "call.answered", "call.ended")] == [
        "call.new", "queue.joined", "call.answered", "call.ended"]
    assert ended["disposition"] == "answered" and ended["answered"] is True
    complete = await agent_complete(product, call)
    row = call_row(product, call)
    assert (row.agent, row.queue, row.disposition, row.caller_number) == ("1001", "support", "answered", "13800000001")
    assert row.customer_id == customer_id
    assert row.talk_s == pytest.approx(float(complete["TalkTime"]), abs=1.0)
    assert row.wait_s == pytest.approx(float(complete["HoldTime"]), abs=1.0)
    (stay,) = queue_rows(product, call)
    assert (stay.queue, stay.outcome, stay.agent) == ("support", "answered", "1001")
    with product.db() as session:
        states = [s.state for s in session.scalars(
            select(AgentStateRow).where(AgentStateRow.agent == "1001", AgentStateRow.started_at >= row.started_at)
            .order_by(AgentStateRow.started_at))]
    assert states[:3] == ["ringing", "on_call", "available"]
    assert moved(before, await today(product, "support")) == {"offered": 1, "answered": 1, "abandoned": 0}
    board = await product.wallboard_queue("support")
    assert (board["waiting"], board["agents"]["available"], board["agents"]["on_call"]) == (0, 1, 0), board
    (seat,) = [a for a in (await (await product.client()).get("/api/monitor/wallboard")).json()["agents"]
               if a["agent"] == "1001"]
    assert (seat["state"], seat["calls_today"]) == ("available", 1), seat


async def test_abandoned_call(product: Product) -> None:
    before = await today_or_zero(product, "support")
    call = await product.call("13800000002", caller_s=7)  # nobody in the queue; the caller gives up after 7 s
    abandoned = await product.wait_call_event(call, "queue.abandoned", timeout=30)
    ended = await product.ended(call)
    assert abandoned["queue"] == "support" and abandoned["wait_s"] >= 5
    assert (ended["disposition"], ended["answered"]) == ("abandoned", False)
    row = call_row(product, call)
    assert (row.disposition, row.agent, row.answered_at) == ("abandoned", None, None)
    (stay,) = queue_rows(product, call)
    assert stay.outcome == "abandoned" and stay.wait_s == pytest.approx(abandoned["wait_s"], abs=0.5)
    assert product.of_call(call.call_id, "call.answered", since=call.since) == []
    assert moved(before, await today(product, "support")) == {"offered": 1, "answered": 0, "abandoned": 1}


async def test_ring_no_answer_then_the_next_agent(product: Product) -> None:
    await product.queue_add("support", "1001")
    await product.queue_add("support", "1002", paused=True)
    second = await product.client("agent1002")
    call = await product.call("13800000003", agent_talk=2, variables=["__AGENT_NOANSWER=1001"])
    await product.wait_call_event(call, "call.ringing", agent="1001")  # 1001 lets it ring
    since = product.mark()
    reply = await second.post("/api/desk/state", json={"paused": False})  # 1002 becomes ready (置闲)
    assert reply.status_code == 200, reply.text
    await product.wait_event(
        lambda e: e.get("type") == "agent.state" and e.get("agent") == "1002" and e.get("state") == "available",
        since=since, what="agent 1002 available",
    )
    answered = await product.wait_call_event(call, "call.answered", timeout=60)
    ended = await product.ended(call)
    assert answered["agent"] == "1002"
    assert ended["disposition"] == "answered"
    legs = leg_rows(product, call)
    assert [leg.agent for leg in legs][:2] == ["1001", "1002"]
    assert legs[0].answered_at is None and legs[0].ended_at is not None
    assert [leg.agent for leg in legs if leg.answered_at is not None] == ["1002"]
    row = call_row(product, call)
    assert row.agent == "1002" and row.wait_s == pytest.approx(answered["wait_s"], abs=0.5)
    assert row.wait_s >= 14  # 1001 rang for the queue's member timeout (15 s) first
    (stay,) = queue_rows(product, call)
    assert (stay.outcome, stay.agent) == ("answered", "1002")
    assert len(product.of_call(call.call_id, "call.ended", since=call.since)) == 1


async def test_ringall_queue_rings_everyone_and_one_answers(product: Product) -> None:
    for extension in ("1001", "1002", "1003"):
        await product.queue_add("sales", extension)
    before = await today_or_zero(product, "sales")
    call = await product.call("13700000004", queue="sales", agent_talk=2, variables=["__AGENT_NOANSWER=1001-1003"])
    answered = await product.wait_call_event(call, "call.answered", timeout=30)
    ended = await product.ended(call)
    assert (answered["agent"], answered["queue"]) == ("1002", "sales")
    rung = {e["agent"] for e in product.of_call(call.call_id, "call.ringing", since=call.since)}
    assert rung == {"1001", "1002", "1003"}
    assert ended["disposition"] == "answered"
    row = call_row(product, call)  # one row for the call, the members rung are legs
    assert (row.queue, row.agent) == ("sales", "1002")
    legs = leg_rows(product, call)
    assert sorted(leg.agent or "" for leg in legs) == ["1001", "1002", "1003"]
    assert [leg.agent for leg in legs if leg.answered_at is not None] == ["1002"]
    assert all(leg.ended_at is not None for leg in legs)
    assert moved(before, await today(product, "sales")) == {"offered": 1, "answered": 1, "abandoned": 0}


async def test_queue_timeout_goes_to_voicemail(product: Product) -> None:
    before = await today_or_zero(product, "support")
    supervisor = await product.client("supervisor")
    # the caller hears the mailbox greeting (about 10 s), then leaves music as his message
    call = await product.call("13800000005", caller_s=25, variables=["QUEUE_TIMEOUT=3"])
    left = await product.wait_call_event(call, "queue.left", timeout=30)
    voicemail = await product.wait_event(
        lambda e: e.get("type") == "voicemail.new" and e.get("caller") == "13800000005",
        timeout=60, since=call.since, what="voicemail.new from 13800000005",
    )
    ended = await product.ended(call)
    assert str(left.get("reason", "")).lower() == "timeout"
    assert product.of_call(call.call_id, "queue.abandoned", since=call.since) == []
    assert ended["disposition"] == "voicemail"
    assert voicemail["mailbox"].startswith("100")
    assert any(m.get("Event") == "VarSet" and m.get("Variable") == "QUEUESTATUS" and m.get("Value") == "TIMEOUT"
               and m.get("Linkedid") == call.call_id for m in product.ami.messages[call.ami_since:])
    row = call_row(product, call)
    assert (row.disposition, row.agent) == ("voicemail", None)
    (stay,) = queue_rows(product, call)
    assert stay.outcome not in ("abandoned", "answered", "waiting")  # a timeout is overflow
    listed = (await supervisor.get("/api/ivr/voicemail/100@default")).json()
    assert any(m["caller"] == "13800000005" and m["message_id"] == voicemail["message_id"] for m in listed), listed
    assert moved(before, await today(product, "support")) == {"offered": 1, "answered": 0, "abandoned": 0}


async def test_blind_transfer_from_the_desk(product: Product) -> None:
    await product.queue_add("support", "1001")
    agent = await product.client("agent1001")
    call = await product.call("13800000006", agent_talk="echo")
    await product.wait_call_event(call, "call.answered", agent="1001")
    reply = await agent.post(f"/api/desk/calls/{call.call_id}/transfer", json={"extension": "1002", "kind": "blind"})
    assert reply.status_code == 200, reply.text
    transferred = await product.wait_call_event(call, "call.transferred")
    second = await product.wait_event(
        lambda e: e.get("type") == "call.answered" and e.get("agent") == "1002"
        and e.get("call_id") in (call.call_id, transferred.get("new_call_id")),
        since=call.since, what="agent 1002 answering the transferred caller",
    )
    await product.hangup_caller(call)
    ended = await product.wait_call_event(call, "call.ended")
    await product.settled()
    assert (transferred["kind"], transferred["from"], transferred["to"]) == ("blind", "1001", "1002")
    assert second["call_id"] == call.call_id  # a Redirect keeps the caller's call
    assert ended["disposition"] == "answered"
    assert len(product.of_call(call.call_id, "call.ended", since=call.since)) == 1
    row = call_row(product, call)
    assert row.disposition == "answered" and row.ended_at is not None
    legs = {leg.agent: leg for leg in leg_rows(product, call)}
    assert legs["1001"].answered_at is not None and legs["1001"].ended_at is not None
    assert legs["1002"].answered_at is not None and legs["1002"].queue is None
    (stay,) = queue_rows(product, call)
    assert stay.outcome == "answered" and stay.agent == "1001" and stay.ended_at is not None
    assert stay.ended_at <= legs["1001"].ended_at + 1


async def test_ivr_menu_over_fastagi_with_real_prompts(product: Product) -> None:
    admin = await product.client("admin")
    sample = (SAMPLE_FLOWS / "ivr.yaml").read_text(encoding="utf-8")
    saved = await admin.put("/api/ivr/flows/ivr", content=sample.encode(), headers={"content-type": "text/yaml"})
    assert saved.status_code == 200, saved.text
    try:
        await product.queue_add("support", "1001")
        fallbacks = product.runtime.ivr.stats.fallbacks
        call = await product.call("13800000007", agent_talk=2)
        menu = await product.ami.wait_for(
            lambda m: m.get("Event") == "AGIExecStart" and "custom/main-menu" in str(m.get("Command", ""))
            and m.get("Linkedid") == call.call_id, call.ami_since,
        )
        assert menu
        await product.press(call, "2")
        answered = await product.wait_call_event(call, "call.answered", timeout=60)
        await product.ended(call)
    finally:
        restored = await admin.put("/api/ivr/flows/ivr", content=ROUTER_FLOW.encode(),
                                   headers={"content-type": "text/yaml"})
        assert restored.status_code == 200, restored.text
    steps = [(e["node"], e.get("input"), e["result"]) for e in product.of_call(call.call_id, "ivr.step", call.since)]
    assert steps == [
        ("welcome", None, "played"),  # the prompt custom/welcome was there: no fallback
        ("hours", None, "else"),  # open (the harness's calendar is open round the clock)
        ("screening", None, "else"),
        ("greeting", "13800000007", "not_found"),
        ("main_menu", "2", "option"),  # the caller's DTMF over FastAGI
        ("support_queue", None, "queue:support"),
    ]
    nodes = [node for node, _, _ in steps]
    assert product.runtime.ivr.stats.fallbacks == fallbacks  # every prompt was there: no fallback
    assert answered["queue"] == "support" and answered["agent"] == "1001"
    pop = product.of_call(call.call_id, "screen.pop", call.since)[0]
    assert [s["node"] for s in pop["ivr_path"]] == nodes
    with product.db() as session:
        rows = list(session.scalars(select(IvrStepRow).where(IvrStepRow.call_id == call.call_id)
                                    .order_by(IvrStepRow.at)))
    assert [r.node for r in rows] == nodes
    assert all(r.dwell_s is not None for r in rows[:-1])


async def test_post_call_survey_is_scored(product: Product) -> None:
    await product.queue_add("support", "1001")
    call = await product.call("13800000008", agent_talk=2, survey=True)
    await product.wait_call_event(call, "call.answered", agent="1001")
    await product.ami.wait_for(
        lambda m: m.get("Event") == "AGIExecStart" and "survey-rate" in str(m.get("Command", ""))
        and m.get("Linkedid") == call.call_id, call.ami_since,
    )
    await product.press(call, "4")
    scored = await product.wait_call_event(call, "survey.scored", timeout=30)
    ended = await product.ended(call)
    assert (scored["score"], scored["scale"], scored["extension"], scored["agent"]) == (4, 5, "1001", "Agent 1001")
    assert ended["disposition"] == "answered"
    with product.db() as session:
        (survey,) = session.scalars(select(SurveyRow).where(SurveyRow.call_id == call.call_id)).all()
        assert (survey.agent, survey.score, survey.queue) == ("1001", 4, "support")
    # talk time is the agent's: the survey after he hung up is not talk (AgentComplete TalkTime)
    complete = await agent_complete(product, call)
    assert call_row(product, call).talk_s == pytest.approx(float(complete["TalkTime"]), abs=1.0)
    (stay,) = queue_rows(product, call)
    assert stay.talk_s == pytest.approx(float(complete["TalkTime"]), abs=1.0)


async def test_recording_is_indexed_and_played_through_the_api(product: Product) -> None:
    await product.queue_add("support", "1001")
    agent = await product.client("agent1001")  # an agent hears his own calls ("own" scope)
    other = await product.client("agent1002")
    call = await product.call("13800000009", agent_talk=3, record=True)
    ready = await product.wait_call_event(call, "recording.ready", timeout=90)
    await product.ended(call)
    assert ready["duration_s"] > 2
    listed = (await agent.get("/api/recordings", params={"call_id": call.call_id})).json()
    assert listed["total"] == 1, listed
    item = listed["items"][0]
    assert item["agent"] == "1001" and item["caller_number"] == "13800000009"
    with product.db() as session:
        recording = session.get(Recording, item["id"])
        assert recording is not None and call.inbound_uniqueid in recording.file_name
    assert (await other.get("/api/recordings", params={"call_id": call.call_id})).json()["total"] == 0
    assert (await other.get(f"/api/recordings/{item['id']}/audio")).status_code in (403, 404)
    whole = await agent.get(f"/api/recordings/{item['id']}/audio")
    assert whole.status_code == 200 and whole.headers["content-type"].startswith("audio/")
    assert len(whole.content) > 1000
    part = await agent.get(f"/api/recordings/{item['id']}/audio", headers={"Range": "bytes=0-99"})
    assert part.status_code == 206 and len(part.content) == 100
    assert call_row(product, call).recording_id == str(ready["recording_id"])


async def test_ami_connection_killed_mid_call_is_accounted_once(product: Product) -> None:
    await product.queue_add("support", "1001")
    before = await today_or_zero(product, "support")
    call = await product.call("13800000010", agent_talk="echo")
    await product.wait_call_event(call, "call.answered", agent="1001")
    bridge = product.runtime.bridge
    reconnects = bridge.stats.reconnects
    await product.kick_bridge()
    await product.hangup_caller(call)  # the call ends while the bridge is away: its resync must see it gone
    ended = await product.wait_call_event(call, "call.ended", timeout=60)
    await product.settled()
    assert bridge.stats.reconnects == reconnects + 1
    assert len(product.of_call(call.call_id, "call.ended", since=call.since)) == 1
    assert len(product.of_call(call.call_id, "call.new", since=call.since)) == 1
    assert ended["disposition"] == "answered"
    row = call_row(product, call)
    assert (row.disposition, row.agent) == ("answered", "1001")
    assert len(queue_rows(product, call)) == 1
    assert moved(before, await today(product, "support")) == {"offered": 1, "answered": 1, "abandoned": 0}


async def test_burst_of_twenty_callers(product: Product) -> None:
    agents = ("1001", "1002", "1003", "1004")
    for extension in agents:
        await product.queue_add("support", extension)
    before = await today_or_zero(product, "support")
    calls = [await product.call(f"1390000{n:04d}", agent_talk=1, caller_s=180) for n in range(20)]
    for call in calls:
        await product.ended(call, timeout=180)
    with product.db() as session:
        rows = {r.call_id: r for r in session.scalars(select(CallRow).where(
            CallRow.call_id.in_([c.call_id for c in calls])))}
        stays = list(session.scalars(select(QueueCallRow).where(
            QueueCallRow.call_id.in_([c.call_id for c in calls]))))
    assert len(rows) == 20 and len(stays) == 20
    for call in calls:
        row = rows[call.call_id]
        ended = product.of_call(call.call_id, "call.ended", since=call.since)
        assert len(ended) == 1
        assert (row.disposition, row.caller_number, row.queue) == ("answered", call.number, "support")
        assert row.agent in agents and row.agent == ended[0]["agent"]
        assert row.talk_s == pytest.approx(ended[0]["talk_s"], abs=0.5)
    assert all(s.outcome == "answered" for s in stays)
    assert moved(before, await today(product, "support")) == {"offered": 20, "answered": 20, "abandoned": 0}

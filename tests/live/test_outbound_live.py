"""A campaign of 20 leads on the real PBX, through the REST API and the dialer of the running product.

The dialplan's ``dialer-callee`` context plays the customers: ``callers-sim`` answers (music), 1990XXXX is
busy the first time and answers the next, 1991XXXX is always busy; answered customers go into the queue
``sales`` (``dialer-connect``), where three simulated agents answer. The test waits for every lead to be
closed: connected calls wrapped up by their agents through the desk API, busy numbers retried (the
busy-once ones connected on the second attempt, the always-busy one exhausted after its two attempts), and
the do-not-call lead never dialled.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest
from sqlalchemy import select

from crm_core.models import Attempt, CallDisposition, Lead
from tests.live.harness import Product

pytestmark = [pytest.mark.asterisk, pytest.mark.asyncio(loop_scope="module")]

AGENTS = ("1001", "1002", "1003")


def leads() -> tuple[list[str], list[str], str, str]:
    tag = random.Random().randrange(1000, 9000)  # AstDB remembers busy-once numbers between runs
    answering = [f"138{tag:04d}{i:04d}" for i in range(16)]
    busy_once = [f"1990{tag:04d}", f"1990{(tag + 1) % 10000:04d}"]
    return answering, busy_once, f"1991{tag:04d}", f"139{tag:04d}0000"


async def test_campaign_dials_connects_retries_busy_and_skips_dnc(product: Product) -> None:
    answering, busy_once, always_busy, blocked = leads()
    numbers = answering[:8] + busy_once + [always_busy, blocked] + answering[8:]
    assert len(numbers) == 20
    product.runtime.dialer.drop_s = 10.0  # simulated agents ring 2 s before they answer
    product.runtime.dialer.extra_variables = {"__AGENT_TALK": "3", "CUSTOMER_TALK": "60"}
    admin = await product.client("supervisor")
    created = await admin.post("/api/outbound/campaigns", json={
        "name": f"live-{numbers[0]}", "mode": "progressive", "queue": "sales", "caller_id": "4008001000",
        "schedule": {"days": [0, 1, 2, 3, 4, 5, 6], "start": "00:00", "end": "23:59", "calendar": False},
        "retry": {"busy": {"max": 2, "delay_s": 1}},
    })
    assert created.status_code == 201, created.text
    cid = created.json()["id"]
    added = await admin.post(f"/api/outbound/campaigns/{cid}/leads",
                             json={"leads": [{"phone": n, "name": f"客户{i}"} for i, n in enumerate(numbers)]})
    assert added.json() == {"added": 20}
    dnc = await admin.post("/api/outbound/dnc", json={"numbers": [blocked], "note": "customer asked"})
    assert dnc.json() == {"added": 1}
    for agent in AGENTS:
        await product.queue_add("sales", agent)
    started = await admin.post(f"/api/outbound/campaigns/{cid}/status", json={"status": "running"})
    assert started.status_code == 200, started.text

    clients = {agent: await product.client(f"agent{agent}") for agent in AGENTS}
    wrapped: set[str] = set()

    async def wrap_up_connected() -> dict[str, int]:
        with product.db() as session:
            done = session.scalars(select(Attempt).where(Attempt.campaign_id == cid,
                                                         Attempt.outcome == "connected")).all()
        for attempt in done:
            if attempt.call_id in wrapped or attempt.ended_at is None:
                continue
            context = (await clients[attempt.agent].get(f"/api/outbound/calls/{attempt.call_id}/context")).json()
            assert context["campaign"]["id"] == cid and context["lead"]["phone"] == attempt.number
            assert context["required"] is True
            code = "sale" if attempt.number in busy_once else "not_interested"
            reply = await clients[attempt.agent].post(f"/api/outbound/calls/{attempt.call_id}/disposition",
                                                      json={"code": code, "answers": {"note": "ok"}})
            assert reply.status_code == 200, reply.text
            wrapped.add(attempt.call_id)
        counts = (await admin.get(f"/api/outbound/campaigns/{cid}")).json()["leads"]
        return dict(counts)

    loop = asyncio.get_running_loop()
    deadline = loop.time() + 300
    counts: dict[str, Any] = {}
    while True:
        counts = await wrap_up_connected()
        if counts.get("done", 0) + counts.get("exhausted", 0) + counts.get("dnc", 0) == 20:
            break
        if loop.time() > deadline:
            raise AssertionError(f"the campaign did not finish its leads: {counts}")
        await asyncio.sleep(0.5)
    await admin.post(f"/api/outbound/campaigns/{cid}/status", json={"status": "finished"})

    assert counts == {"done": 18, "exhausted": 1, "dnc": 1}
    with product.db() as session:
        by_number = {lead.phone: lead for lead in session.scalars(select(Lead).where(Lead.campaign_id == cid))}
        attempts = session.scalars(select(Attempt).where(Attempt.campaign_id == cid).order_by(Attempt.id)).all()
        dispositions = session.scalars(select(CallDisposition).where(CallDisposition.campaign_id == cid)).all()
    outcomes: dict[str, list[str]] = {}
    for attempt in attempts:
        outcomes.setdefault(attempt.number, []).append(attempt.outcome)
    assert blocked not in outcomes and by_number[blocked].state == "dnc"
    for number in busy_once:
        assert outcomes[number] == ["busy", "connected"], outcomes[number]
    assert outcomes[always_busy] == ["busy", "busy"] and by_number[always_busy].state == "exhausted"
    assert all(outcomes[n] == ["connected"] for n in answering)
    connected = [a for a in attempts if a.outcome == "connected"]
    assert {a.agent for a in connected} <= set(AGENTS)
    assert len(dispositions) == 18 and {d.call_id for d in dispositions} == {a.call_id for a in connected}
    assert by_number[busy_once[0]].disposition == "sale"

    report = (await admin.get("/api/outbound/reports/campaigns")).json()["items"]
    row = next(r for r in report if r["campaign_id"] == cid)
    # 16 answering + 2 busy-once twice + the always-busy one twice; busy: the first tries and both of the last
    assert (row["attempts"], row["contacts"], row["busy"], row["conversions"]) == (22, 18, 4, 2)
    assert row["abandon_pct"] == 0.0 and not row["over_cap"]
    refused = await clients["1001"].post("/api/desk/dial", json={"number": blocked})
    assert refused.status_code == 409 and "do-not-call" in refused.json()["detail"]

"""Campaigns on the real PBX, through the REST API and the dialer of the running product.

The dialplan's ``dialer-callee`` context plays the customers: ``callers-sim`` answers (music), 1990XXXX is
busy the first time and answers the next, 1991XXXX is always busy; answered customers go into the queue
``sales`` (``dialer-connect``), where three simulated agents answer after ringing 2 s and talk 3 s.

- Progressive, 20 leads: the test waits for every lead to be closed: connected calls wrapped up by their
  agents through the desk API, busy numbers retried (the busy-once ones connected on the second attempt,
  the always-busy one exhausted after its two attempts), and the do-not-call lead never dialled.
- Predictive, 75 leads of which four in five are always busy: once the dialer has seen 30 attempts end
  it dials more calls than there are free agents (with an answer rate of a third, three agents are too
  few for the model to dial ahead within the abandon cap; at a fifth it does), and every answered
  customer is connected to an agent.

An answered customer waits in the queue at most ``drop_s``; in the ringall queue customers answered at the
same moment are connected one ring after another (2 s each, and the queue's retry of 2 s between), so the
tests give them 20 s: a drop here would be the machine's slowness, not the dialer's pacing.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Iterable
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from crm_core.models import Attempt, CallDisposition, Lead
from tests.live.harness import Product

pytestmark = [pytest.mark.asterisk, pytest.mark.asyncio(loop_scope="module")]

AGENTS = ("1001", "1002", "1003")
CLOSED = ("done", "exhausted", "dnc")
SCHEDULE = {"days": [0, 1, 2, 3, 4, 5, 6], "start": "00:00", "end": "23:59", "calendar": False}


def leads() -> tuple[list[str], list[str], str, str]:
    tag = random.Random().randrange(1000, 9000)  # AstDB remembers busy-once numbers between runs
    answering = [f"138{tag:04d}{i:04d}" for i in range(16)]
    busy_once = [f"1990{tag:04d}", f"1990{(tag + 1) % 10000:04d}"]
    return answering, busy_once, f"1991{tag:04d}", f"139{tag:04d}0000"


def lead_story(product: Product, campaign_id: int) -> str:
    """Each open lead's state with its attempts' outcomes, for a failure message."""
    with product.db() as session:
        found = session.scalars(select(Lead).where(Lead.campaign_id == campaign_id)).all()
        attempts = session.scalars(select(Attempt).where(Attempt.campaign_id == campaign_id)).all()
        lines = []
        for lead in found:
            if lead.state in CLOSED:
                continue
            tried = [
                (a.outcome, a.call_id, str(a.started_at), str(a.ended_at)) for a in attempts if a.lead_id == lead.id
            ]
            lines.append(f"{lead.phone} {lead.state} next {lead.next_at} attempts {tried}")
    return "; ".join(lines)


async def start_campaign(
    product: Product, admin: httpx.AsyncClient, mode: str, numbers: list[str], retry: dict[str, Any]
) -> int:
    product.runtime.dialer.drop_s = 20.0
    product.runtime.dialer.extra_variables = {"__AGENT_TALK": "3", "CUSTOMER_TALK": "60"}
    created = await admin.post(
        "/api/outbound/campaigns",
        json={
            "name": f"live-{mode}-{numbers[0]}",
            "mode": mode,
            "queue": "sales",
            "caller_id": "4008001000",
            "schedule": SCHEDULE,
            "retry": retry,
        },
    )
    assert created.status_code == 201, created.text
    cid = int(created.json()["id"])
    added = await admin.post(
        f"/api/outbound/campaigns/{cid}/leads",
        json={"leads": [{"phone": n, "name": f"客户{i}"} for i, n in enumerate(numbers)]},
    )
    assert added.json() == {"added": len(numbers)}
    return cid


async def run_to_the_end(
    product: Product,
    admin: httpx.AsyncClient,
    cid: int,
    total: int,
    code_for: Callable[[str], str],
    timeout_s: float = 300.0,
) -> tuple[dict[str, int], list[dict[str, Any]]]:
    """Agents in, the campaign running; every connected call wrapped up by its agent on the desk API until
    every lead is closed; the campaign finished. Returns the lead counts and the dialer's decisions seen."""
    for agent in AGENTS:
        await product.queue_add("sales", agent)
    started = await admin.post(f"/api/outbound/campaigns/{cid}/status", json={"status": "running"})
    assert started.status_code == 200, started.text
    clients = {agent: await product.client(f"agent{agent}") for agent in AGENTS}
    wrapped: set[str] = set()
    decisions: list[dict[str, Any]] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        with product.db() as session:
            done = session.scalars(
                select(Attempt).where(Attempt.campaign_id == cid, Attempt.outcome == "connected")
            ).all()
        for attempt in done:
            if attempt.call_id in wrapped or attempt.ended_at is None:
                continue
            client = clients[attempt.agent]
            context = (await client.get(f"/api/outbound/calls/{attempt.call_id}/context")).json()
            assert context["campaign"]["id"] == cid and context["lead"]["phone"] == attempt.number
            assert context["required"] is True
            reply = await client.post(
                f"/api/outbound/calls/{attempt.call_id}/disposition",
                json={"code": code_for(attempt.number), "answers": {"note": "ok"}},
            )
            assert reply.status_code == 200, reply.text
            wrapped.add(attempt.call_id)
        counts = dict((await admin.get(f"/api/outbound/campaigns/{cid}")).json()["leads"])
        decision = product.runtime.dialer.status().get(cid)
        if decision and (not decisions or decision != decisions[-1]):
            decisions.append(decision)
        if sum(counts.get(state, 0) for state in CLOSED) == total:
            break
        if loop.time() > deadline:
            raise AssertionError(f"the campaign did not finish its leads: {counts}; {lead_story(product, cid)}")
        await asyncio.sleep(0.25)
    await admin.post(f"/api/outbound/campaigns/{cid}/status", json={"status": "finished"})
    return counts, decisions


def outcomes_by_number(attempts: Iterable[Attempt]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for attempt in attempts:
        out.setdefault(attempt.number, []).append(attempt.outcome)
    return out


async def test_campaign_dials_connects_retries_busy_and_skips_dnc(product: Product) -> None:
    answering, busy_once, always_busy, blocked = leads()
    numbers = answering[:8] + busy_once + [always_busy, blocked] + answering[8:]
    assert len(numbers) == 20
    admin = await product.client("supervisor")
    cid = await start_campaign(product, admin, "progressive", numbers, {"busy": {"max": 2, "delay_s": 1}})
    dnc = await admin.post("/api/outbound/dnc", json={"numbers": [blocked], "note": "customer asked"})
    assert dnc.json() == {"added": 1}
    counts, _ = await run_to_the_end(
        product, admin, cid, 20, lambda number: "sale" if number in busy_once else "not_interested"
    )

    assert counts == {"done": 18, "exhausted": 1, "dnc": 1}
    with product.db() as session:
        by_number = {lead.phone: lead for lead in session.scalars(select(Lead).where(Lead.campaign_id == cid))}
        attempts = session.scalars(select(Attempt).where(Attempt.campaign_id == cid).order_by(Attempt.id)).all()
        dispositions = session.scalars(select(CallDisposition).where(CallDisposition.campaign_id == cid)).all()
    outcomes = outcomes_by_number(attempts)
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
    refused = await product.client("agent1001")
    reply = await refused.post("/api/desk/dial", json={"number": blocked})
    assert reply.status_code == 409 and "do-not-call" in reply.json()["detail"]


async def test_predictive_campaign_dials_ahead_of_free_agents(product: Product) -> None:
    tag = random.Random().randrange(1000, 9000)
    numbers = [f"1991{(tag + i) % 10000:04d}" if i % 5 else f"137{tag:04d}{i:04d}" for i in range(75)]
    answering = [n for n in numbers if not n.startswith("1991")]
    admin = await product.client("supervisor")
    retry = {"busy": {"max": 1, "delay_s": 1}, "dropped": {"max": 3, "delay_s": 1}}
    cid = await start_campaign(product, admin, "predictive", numbers, retry)
    counts, decisions = await run_to_the_end(product, admin, cid, len(numbers), lambda number: "not_interested")

    assert counts == {"done": 15, "exhausted": 60}
    with product.db() as session:
        attempts = session.scalars(select(Attempt).where(Attempt.campaign_id == cid).order_by(Attempt.id)).all()
    outcomes = outcomes_by_number(attempts)
    assert all(outcomes[n] == ["busy"] for n in numbers if n not in answering)
    assert all(outcomes[n][-1] == "connected" for n in answering)  # a dropped one was dialled again
    assert {a.agent for a in attempts if a.outcome == "connected"} <= set(AGENTS)
    # the first 30 ends are learnt from (one call per free agent), then it dials ahead
    learning = [d for d in decisions if d["reason"] == "predictive: learning the answer rate"]
    ahead = [
        d
        for d in decisions
        if d["reason"].startswith("predictive: answer rate")
        and d["originate"] > 0
        and d["in_flight"] + d["originate"] > d["agents_free"]
    ]
    seen = [
        (d["reason"], d["originate"], d["agents_free"], d["agents_busy"], d["in_flight"], d["waiting"])
        for d in decisions
    ]
    assert learning and ahead, "\n".join(map(str, seen))
    assert all(0.1 <= d["answer_rate"] <= 0.3 for d in ahead), ahead

    report = (await admin.get("/api/outbound/reports/campaigns")).json()["items"]
    row = next(r for r in report if r["campaign_id"] == cid)
    assert (row["contacts"], row["busy"], row["mode"]) == (15, 60, "predictive")
    assert row["abandon_pct"] is not None and row["abandon_pct"] <= row["abandon_cap_pct"] and not row["over_cap"]

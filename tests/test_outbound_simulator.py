"""A progressive campaign of 20 leads against the PBX simulator, through the whole product runtime.

The dialer originates each customer first (``Local/<number>@dialer-callee/n``). The simulator plays the
asterisk-dev dialplan's customers (``cti.simulator.dialer_calls``): 1991XXXX is always busy and 1990XXXX
busy the first time, as recorded from Asterisk 22 (transcript 30: OriginateResponse Failure, Reason 5);
any other number answers as the recorded inbound queue call into the campaign's queue ``sales``. Each
answered call connects to one of the three agents, the agent's disposition is stored, the busy-once
leads connect on their second attempt, the always-busy one is exhausted after two, and the two
do-not-call leads are never dialled.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from agent_desk.runtime import Runtime
from config import Settings
from crm_core.db import migrate
from crm_core.models import Attempt, CallDisposition, Lead
from crm_core.services import outbound as svc
from cti.simulator.server import PBXSimulator

AGENTS = ("1001", "1002", "1003")
BUSY_ONCE = ["19900001", "19900002"]
ALWAYS_BUSY = "19910001"
LEADS = [f"1380013{8000 + i:04d}" for i in range(17)]
LEADS[6:6] = [*BUSY_ONCE, ALWAYS_BUSY]
DNC = {LEADS[4], LEADS[13]}


@pytest.fixture
async def product(tmp_path: Path) -> AsyncIterator[tuple[Runtime, PBXSimulator]]:
    sim = PBXSimulator("127.0.0.1", 0, "cti", "sim-secret", speed=20.0)
    await sim.start()
    settings = Settings(
        data_dir=tmp_path,
        database_url=f"sqlite:///{tmp_path / 'outbound.db'}",
        ami_host="127.0.0.1",
        ami_port=sim.port,
        ami_user="cti",
        ami_secret="sim-secret",
        ami_auth="md5",
        agi_host="127.0.0.1",
        agi_port=0,
        recordings_dir=tmp_path / "monitor",
        voicemail_dir=tmp_path / "vm",
        ivr_calendar_file=tmp_path / "calendar.yaml",
        wrapup_s=0,
        redis_url="",
        dialer_tick_s=0.2,
    )
    await asyncio.to_thread(migrate, settings.effective_database_url)
    runtime = Runtime(settings)
    runtime.dialer.extra_variables = {"__AGENT_TALK": "4"}
    await runtime.start()
    try:
        yield runtime, sim
    finally:
        await runtime.stop()
        await sim.stop()


async def until(check: Callable[[], object], what: str, timeout: float = 120.0) -> None:  # noqa: ASYNC109
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


async def test_campaign_of_20_leads_on_the_simulator(product: tuple[Runtime, PBXSimulator]) -> None:
    runtime, sim = product
    with runtime.sessionmaker() as session:
        cid = svc.create_campaign(
            session,
            {
                "name": "回访",
                "mode": "progressive",
                "queue": "sales",
                "caller_id": "4008001000",
                "schedule": {"days": [0, 1, 2, 3, 4, 5, 6], "start": "00:00", "end": "23:59", "calendar": False},
                "retry": {"busy": {"max": 2, "delay_s": 0}},
            },
        ).id
        svc.add_leads(session, cid, [{"phone": n, "name": f"客户{i}"} for i, n in enumerate(LEADS)])
        svc.add_dnc(session, sorted(DNC)[:1])  # one on the global list ...
        svc.add_dnc(session, sorted(DNC)[1:], campaign_id=cid)  # ... one on the campaign's
        session.commit()
    await until(lambda: runtime.bridge.connected, "the AMI link")
    for agent in AGENTS:
        sim.pbx.login_agent("sales", agent)
    await until(lambda: runtime.dialer.free_agents({"queue": "sales", "agents": []})[0] == 3, "3 free agents")
    with runtime.sessionmaker() as session:
        svc.set_status(session, cid, "running")
        session.commit()

    def counts() -> dict[str, int]:
        with runtime.sessionmaker() as session:
            return svc.lead_counts(session, cid)

    # every connected call is wrapped up by its agent as the desk does it (the code closes the lead)
    wrapped: set[str] = set()

    def wrap_up() -> bool:
        with runtime.sessionmaker() as session:
            for attempt in session.scalars(
                select(Attempt).where(Attempt.campaign_id == cid, Attempt.outcome == "connected")
            ):
                if attempt.call_id not in wrapped:
                    code = "sale" if len(wrapped) % 3 == 0 else "not_interested"
                    now = datetime.now(UTC).replace(tzinfo=None)
                    svc.record_disposition(session, attempt.call_id, code, agent=attempt.agent, now=now)
                    wrapped.add(attempt.call_id)
            session.commit()
        seen = counts()
        return seen.get("done", 0) + seen.get("dnc", 0) + seen.get("exhausted", 0) == len(LEADS)

    try:
        await until(wrap_up, "every lead dialled and wrapped up", timeout=240)
    except AssertionError:
        with runtime.sessionmaker() as session:
            tried = [(a.number, a.outcome) for a in session.scalars(select(Attempt).where(Attempt.campaign_id == cid))]
        raise AssertionError(f"not every lead was closed: {counts()}; attempts {tried}") from None
    with runtime.sessionmaker() as session:
        leads = {lead.phone: lead for lead in session.scalars(select(Lead).where(Lead.campaign_id == cid))}
        attempts = session.scalars(select(Attempt).where(Attempt.campaign_id == cid)).all()
        dispositions = session.scalars(select(CallDisposition).where(CallDisposition.campaign_id == cid)).all()
    assert {n for n, lead in leads.items() if lead.state == "dnc"} == DNC
    assert all(lead.attempts == 0 for n, lead in leads.items() if n in DNC)  # never dialled
    assert {a.number for a in attempts} == set(LEADS) - DNC
    outcomes: dict[str, list[str]] = {}
    for attempt in sorted(attempts, key=lambda a: a.id):
        outcomes.setdefault(attempt.number, []).append(attempt.outcome)
    assert all(outcomes[n] == ["busy", "connected"] for n in BUSY_ONCE), outcomes
    assert outcomes[ALWAYS_BUSY] == ["busy", "busy"] and leads[ALWAYS_BUSY].state == "exhausted"
    assert all(outcomes[n] == ["connected"] for n in set(LEADS) - DNC - {*BUSY_ONCE, ALWAYS_BUSY}), outcomes
    connected = [a for a in attempts if a.outcome == "connected"]
    assert len(connected) == len(LEADS) - len(DNC) - 1
    assert {a.agent for a in connected} <= set(AGENTS) and len({a.agent for a in connected}) > 1
    assert len(dispositions) == len(connected)
    assert {d.code for d in dispositions} == {"sale", "not_interested"}
    assert all(leads[a.number].disposition in ("sale", "not_interested") for a in connected)

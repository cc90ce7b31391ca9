"""The dialer's shell on recorded Asterisk 22 traffic: a campaign's calls are followed by the events in the
order the PBX sent them, whenever the task that sent the Originate gets its reply.

The recordings are the dialer's own Originate on the real PBX (``tests/fixtures/ami/record_dialer_calls.py``):
``30_dialer_busy`` (a busy customer: the ``;1`` leg hangs up, then OriginateResponse Failure, Reason 5) and
``31_dialer_answered`` (OriginateResponse Success, two seconds later the AgentConnect of agent 1001, then
the Hangups). A fake AMI link plays them to the dialer's listener the way the AMI protocol routes one read
of the socket: every message of the read in order, the Originate's reply resolved on the way, and the
dialing task resumed only after the whole read was routed. When the link is slow (a busy machine), the
OriginateResponse and the AgentConnect arrive in one read.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from crm_core.models import Attempt, Lead
from crm_core.services import outbound as svc
from cti.commands import CallCommands
from cti.dialer.shell import Dialer

pytest_plugins = ["crm_core.testing"]

FIXTURES = Path(__file__).parent / "fixtures" / "ami" / "dialer"
_UNIQUEID = re.compile(r"\b\d{10}\.\d+\b")
_ids = itertools.count(1)

BUSY_ONCE = "19900001"
ANSWERING = "13800138001"

Message = dict[str, Any]


def recorded(name: str) -> list[Message]:
    """The events of a recording, without the recorder's own keys."""
    rows = [json.loads(line) for line in (FIXTURES / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()]
    return [{k: v for k, v in row.items() if not k.startswith("_")} for row in rows if row.get("_kind") == "event"]


def as_call(messages: list[Message], attempt: str) -> list[Message]:
    """The recording as a new call: fresh Uniqueids, the attempt's CC_ATTEMPT."""
    text = json.dumps(messages)
    fresh: dict[str, str] = {}
    text = _UNIQUEID.sub(lambda m: fresh.setdefault(m.group(0), f"1800000000.{next(_ids)}"), text)
    out: list[Message] = json.loads(text)
    for msg in out:
        if msg.get("Variable") == "CC_ATTEMPT":
            msg["Value"] = attempt
    return out


class RecordedLink:
    """The part of the AMI connection ``CallCommands`` uses, playing the recordings to ``listener``."""

    def __init__(self, listener: Callable[[Message], None], split_after: str | None) -> None:
        self.listener = listener
        self.split_after = split_after  # the last event of the read with the OriginateResponse (None: all)
        self.busy_seen: set[str] = set()
        self.later: list[list[Message]] = []  # the rest of each answered call, played by ``finish``

    async def action(self, action: dict[str, Any], as_list: bool | None = None, timeout_s: float | None = None) -> Any:
        number = str(action["Channel"]).split("/", 1)[1].split("@", 1)[0]
        attempt = next(v.split("=", 1)[1] for v in action["Variable"] if v.startswith("CC_ATTEMPT="))
        busy = number == BUSY_ONCE and number not in self.busy_seen
        self.busy_seen.add(number)
        call = as_call(recorded("30_dialer_busy" if busy else "31_dialer_answered"), attempt)
        cut = connect = len(call)
        if not busy and self.split_after is not None:
            cut = 1 + next(i for i, m in enumerate(call) if m.get("Event") == self.split_after)
            connect = max(cut, 1 + next(i for i, m in enumerate(call) if m.get("Event") == "AgentConnect"))
        for msg in call[:cut]:  # one read, routed in order before the dialing task resumes
            self.listener(msg)
        # the next read (up to the agent's answer) once the loop turns; the call's end when ``finish`` says
        asyncio.get_running_loop().call_soon(lambda: [self.listener(msg) for msg in call[cut:connect]])
        self.later.append(call[connect:])
        response = next(m for m in call if m.get("Event") == "OriginateResponse")
        return [{"Response": "Success", "Message": "Originate successfully queued"}, response]

    def add_listener(self, listener: Callable[[Message], None]) -> Callable[[], None]:
        return lambda: None

    def finish(self) -> None:
        """The answered calls go on: the agent talks, then both hang up."""
        for rest in self.later:
            for msg in rest:
                self.listener(msg)
        self.later.clear()


@pytest.fixture
def campaign_id(crm_sessionmaker: sessionmaker[Session]) -> Iterator[int]:
    with crm_sessionmaker() as session:
        cid = svc.create_campaign(
            session,
            {
                "name": "race",
                "mode": "progressive",
                "queue": "sales",
                "schedule": {"days": list(range(7)), "start": "00:00", "end": "23:59", "calendar": False},
                "retry": {"busy": {"max": 2, "delay_s": 0}},
            },
        ).id
        svc.add_leads(session, cid, [{"phone": BUSY_ONCE}, {"phone": ANSWERING}])
        svc.set_status(session, cid, "running")
        session.commit()
    yield cid


async def run_campaign(factory: sessionmaker[Session], cid: int, split_after: str | None) -> dict[str, list[Attempt]]:
    dialer: Dialer
    link = RecordedLink(lambda msg: dialer.on_ami(msg), split_after)
    commands = CallCommands(link)
    dialer = Dialer(factory, lambda: commands, tick_s=0.02, drop_s=10.0)
    for agent in ("1001", "1002"):
        await dialer.handle({"type": "agent.state", "agent": agent, "state": "available", "queues": ["sales"]})
    stop = asyncio.Event()
    task = asyncio.get_running_loop().create_task(dialer.run(stop))

    def attempts() -> dict[str, list[Attempt]]:
        with factory() as session:
            rows = session.scalars(select(Attempt).where(Attempt.campaign_id == cid).order_by(Attempt.id)).all()
        out: dict[str, list[Attempt]] = {}
        for row in rows:
            out.setdefault(row.number, []).append(row)
        return out

    async def until(check: Callable[[], bool], what: str) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 20
        while not check():  # the database is the only place that says it
            if loop.time() > deadline:
                raise AssertionError(f"timed out waiting until {what}")
            await asyncio.sleep(0.02)

    def both_connected() -> bool:
        found = attempts()
        return all(any(a.outcome == "connected" for a in found.get(n, [])) for n in (BUSY_ONCE, ANSWERING))

    try:
        # the two calls were answered and taken by an agent (or ended: the wait then fails on its outcome)
        await until(
            lambda: both_connected() or any(a.outcome == "dropped" for v in attempts().values() for a in v),
            "both leads answered",
        )
        link.finish()
        await until(lambda: all(a.ended_at is not None for v in attempts().values() for a in v), "every call ended")
    finally:
        stop.set()
        await task
    return attempts()


@pytest.mark.parametrize("split_after", ["OriginateResponse", "AgentConnect"])
async def test_an_agent_connect_in_the_same_read_as_the_answer_connects_the_call(
    crm_sessionmaker: sessionmaker[Session], campaign_id: int, split_after: str
) -> None:
    """``AgentConnect``: on a slow link the answer and the agent come in one read; the call is connected,
    not dropped (a dropped lead would wait the dropped-call retry delay, 300 s by default)."""
    found = await run_campaign(crm_sessionmaker, campaign_id, split_after)
    assert [a.outcome for a in found[BUSY_ONCE]] == ["busy", "connected"]
    assert [a.outcome for a in found[ANSWERING]] == ["connected"]
    connected = [a for v in found.values() for a in v if a.outcome == "connected"]
    assert {a.agent for a in connected} == {"1001"} and all(a.call_id for a in connected)
    assert found[BUSY_ONCE][0].call_id == ""  # the busy leg was never a call of the campaign
    now = datetime.now(UTC).replace(tzinfo=None)
    with crm_sessionmaker() as session:
        for attempt in connected:
            svc.record_disposition(session, attempt.call_id, "sale", agent=attempt.agent, now=now)
        session.commit()
        leads = session.scalars(select(Lead).where(Lead.campaign_id == campaign_id)).all()
        assert {lead.phone: lead.state for lead in leads} == {BUSY_ONCE: "done", ANSWERING: "done"}


async def test_a_call_over_before_its_reply_is_resumed_is_closed_once(
    crm_sessionmaker: sessionmaker[Session], campaign_id: int
) -> None:
    """The whole answered call (answer, agent, both Hangups) in the read of its OriginateResponse."""
    found = await run_campaign(crm_sessionmaker, campaign_id, None)
    assert [a.outcome for a in found[ANSWERING]] == ["connected"]
    assert [a.outcome for a in found[BUSY_ONCE]] == ["busy", "connected"]
    with crm_sessionmaker() as session:
        lead = session.scalar(select(Lead).where(Lead.campaign_id == campaign_id, Lead.phone == ANSWERING))
        assert lead is not None and (lead.state, lead.attempts) == ("connected", 1)  # waits for its code

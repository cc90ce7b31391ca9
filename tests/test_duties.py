"""The center's duties follow the bridge lock (``agent_desk.duties``), and the dialer's handover guard.

No processes and no Redis: a lock granted and taken away by the test, parts that note what happened to
them, and the dialer on a SQLite database with leads left ``dialing`` by another node.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from agent_desk.duties import Duties, run_while_held
from crm_core.models import Attempt, Lead
from crm_core.services import outbound as svc
from cti.dialer.shell import Dialer

pytest_plugins = ["crm_core.testing"]


class GrantedLock:
    """A lock the test grants (``grant``) and takes away (``lose``)."""

    def __init__(self) -> None:
        self.held = False
        self.released = 0
        self._granted = asyncio.Event()
        self._lost = asyncio.Event()

    def grant(self) -> None:
        self._lost.clear()
        self._granted.set()

    def lose(self) -> None:
        self._granted.clear()
        self._lost.set()

    async def try_acquire(self) -> bool:
        self.held = self._granted.is_set()
        return self.held

    async def acquire(self) -> None:
        await self._granted.wait()
        self.held = True

    async def keep(self) -> None:
        await self._lost.wait()
        self.held = False

    async def release(self) -> None:
        self.held = False
        self.released += 1

    async def close(self) -> None:
        await self.release()


class NotedPart:
    def __init__(self, name: str, notes: list[str]) -> None:
        self.name, self.notes = name, notes

    async def start(self) -> None:
        self.notes.append(f"start {self.name}")

    async def stop(self) -> None:
        self.notes.append(f"stop {self.name}")


async def until(check: Callable[[], bool], what: str) -> None:
    async with asyncio.timeout(5):
        while not check():  # noqa: ASYNC110 (the condition is the code's state, not an event)
            await asyncio.sleep(0.005)
    assert check(), what


def counting_duty(runs: dict[str, int], name: str) -> Callable[[], Any]:
    async def duty() -> None:
        runs[name] = runs.get(name, 0) + 1
        try:
            await asyncio.Event().wait()
        finally:
            runs[f"{name} ended"] = runs.get(f"{name} ended", 0) + 1

    return duty


async def test_duties_run_between_start_and_stop_and_are_ended_by_stop() -> None:
    duties, runs = Duties(), {}
    duties.add("dialer", counting_duty(runs, "dialer"))
    duties.add("wallboard-publish", counting_duty(runs, "board"))
    assert not duties.active and runs == {}
    await duties.start()
    await until(lambda: runs.get("dialer") == 1 and runs.get("board") == 1, "both duties running")
    assert duties.active and duties.terms == 1
    await duties.start()  # already running: nothing doubles
    await asyncio.sleep(0.01)
    assert runs == {"dialer": 1, "board": 1}
    await duties.stop()
    assert not duties.active
    assert runs == {"dialer": 1, "board": 1, "dialer ended": 1, "board ended": 1}


async def test_a_duty_that_fails_does_not_stop_the_others() -> None:
    duties, runs = Duties(), {}

    async def broken() -> None:
        raise RuntimeError("database down")

    duties.add("broken", broken)
    duties.add("dialer", counting_duty(runs, "dialer"))
    await duties.start()
    await until(lambda: runs.get("dialer") == 1, "the dialer running")
    await asyncio.sleep(0.01)
    assert duties.active
    await duties.stop()
    assert runs["dialer ended"] == 1


async def test_the_duties_start_on_acquire_stop_on_loss_and_start_again_on_the_next_takeover() -> None:
    lock, notes, runs = GrantedLock(), [], {}
    duties = Duties()
    duties.add("dialer", counting_duty(runs, "dialer"))
    bridge = NotedPart("bridge", notes)
    held = asyncio.get_running_loop().create_task(run_while_held(lock, [bridge, duties]))
    await asyncio.sleep(0.02)
    assert notes == [] and not duties.active and runs == {}  # standing by: nothing runs

    lock.grant()
    await until(lambda: runs.get("dialer") == 1, "the dialer started on acquire")
    assert notes == ["start bridge"] and duties.active

    lock.lose()
    await until(lambda: not duties.active and notes == ["start bridge", "stop bridge"], "stopped on loss")
    assert runs["dialer ended"] == 1  # the duties ended before the bridge they use was stopped

    lock.grant()
    await until(lambda: runs.get("dialer") == 2, "started again on the next takeover")
    assert notes[-1] == "start bridge" and duties.terms == 2

    held.cancel()
    with pytest.raises(asyncio.CancelledError):
        await held
    assert not duties.active and runs["dialer ended"] == 2
    assert notes[-1] == "stop bridge" and lock.released == 1


async def test_a_part_that_fails_to_start_stops_what_started_and_stands_by() -> None:
    lock, notes = GrantedLock(), []

    class Failing(NotedPart):
        async def start(self) -> None:
            raise OSError("no PBX")

    held = asyncio.get_running_loop().create_task(
        run_while_held(lock, [NotedPart("bridge", notes), Failing("x", notes)])
    )
    lock.grant()
    await until(lambda: held.done(), "the loop ended on the failure")
    assert notes == ["start bridge", "stop bridge"]
    assert isinstance(held.exception(), OSError) and lock.released == 1


# --- the dialer's handover ------------------------------------------------------------------------

NUMBERS = ("13800138001", "13800138002", "13800138003", "13800138004")
ALWAYS = {"days": list(range(7)), "start": "00:00", "end": "23:59", "calendar": False}
HANDOVER = {"name": "handover", "mode": "progressive", "queue": "sales", "schedule": ALWAYS}


@pytest.fixture
def left_dialing(crm_sessionmaker: sessionmaker[Session]) -> Iterator[tuple[int, dict[str, int]]]:
    """A running campaign whose first three leads another node left ``dialing``: two just now, one long ago."""
    now = datetime.now(UTC).replace(tzinfo=None)
    with crm_sessionmaker() as session:
        cid = svc.create_campaign(session, dict(HANDOVER)).id
        svc.add_leads(session, cid, [{"phone": n} for n in NUMBERS])
        svc.set_status(session, cid, "running")
        leads = {lead.phone: lead for lead in session.scalars(select(Lead).where(Lead.campaign_id == cid))}
        attempts = {}
        for number, started in ((NUMBERS[0], now), (NUMBERS[1], now), (NUMBERS[2], now - timedelta(minutes=5))):
            attempts[number] = svc.start_attempt(session, leads[number], started).id
        session.commit()
    yield cid, attempts


def lead_states(factory: sessionmaker[Session], cid: int) -> dict[str, tuple[str, int]]:
    with factory() as session:
        return {
            lead.phone: (lead.state, lead.attempts)
            for lead in session.scalars(select(Lead).where(Lead.campaign_id == cid))
        }


class NoPBXLink:
    """Commands while the test wants no call placed: any Originate is a failure of the test."""

    async def originate_customer_first(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        raise AssertionError(f"dialled {args[0]}")


async def test_a_takeover_follows_the_calls_still_up_and_redials_only_leads_whose_call_is_gone(
    crm_sessionmaker: sessionmaker[Session], left_dialing: tuple[int, dict[str, int]]
) -> None:
    cid, attempts = left_dialing
    pbx: list[dict[str, Any]] | None = None  # the new bridge is not resynced yet
    commands = NoPBXLink()
    dialer = Dialer(crm_sessionmaker, lambda: commands, tick_s=0.01, calls_on_pbx=lambda: pbx)
    stop = asyncio.Event()
    task = asyncio.get_running_loop().create_task(dialer.run(stop))
    try:
        await until(lambda: len(dialer.orphans) == 3, "the three orphans read")
        await asyncio.sleep(0.05)
        # nothing is known of the PBX's calls: even the old one stays dialing, nobody is dialled
        assert lead_states(crm_sessionmaker, cid)[NUMBERS[2]] == ("dialing", 1)

        # the bridge is live: the first lead's customer talks to agent 1002 (his leg named by the Originate)
        party = {"role": "caller", "channel": f"Local/{NUMBERS[0]}@dialer-callee-0001;1", "number": ""}
        pbx = [{"call_id": "1700000000.7", "agent": "1002", "parties": [party], "caller": {"number": ""}}]
        await until(lambda: len(dialer.orphans) == 1, "the live call adopted and the old lead released")
        states = lead_states(crm_sessionmaker, cid)
        assert states[NUMBERS[0]] == ("dialing", 1)  # followed, not dialled again
        assert states[NUMBERS[1]] == ("dialing", 1)  # too young to say: its Originate may still ring
        assert states[NUMBERS[2]] == ("retry", 1)  # gone long ago: due again, as after a restart
        assert dialer.orphans[0].number == NUMBERS[1]
        assert dialer.calls["1700000000.7"].attempt_id == attempts[NUMBERS[0]]

        # the followed call ends as the tracker reports it: the attempt is closed as connected
        ended = {"type": "call.ended", "call_id": "1700000000.7", "disposition": "answered", "agent": "1002"}
        await dialer.handle(ended)
        with crm_sessionmaker() as session:
            attempt = session.get(Attempt, attempts[NUMBERS[0]])
            assert attempt is not None
            assert (attempt.outcome, attempt.agent, attempt.call_id) == ("connected", "1002", "1700000000.7")
    finally:
        stop.set()
        await task


async def test_a_lead_taken_by_another_dialer_meanwhile_is_not_taken_again(
    crm_sessionmaker: sessionmaker[Session], left_dialing: tuple[int, dict[str, int]]
) -> None:
    """Two dialers read the same due lead; the first takes it; the second's conditional update finds it
    taken and skips it (the lead's state in the database is the guard)."""
    cid, _ = left_dialing
    from cti.dialer import shell

    now = datetime.now(UTC).replace(tzinfo=None)
    with crm_sessionmaker() as first, crm_sessionmaker() as second:
        (mine,) = svc.due_leads(first, cid, now, 1)
        (theirs,) = svc.due_leads(second, cid, now, 1)
        assert mine.id == theirs.id
        assert shell._claim(first, mine)
        svc.start_attempt(first, mine, now)
        first.commit()
        assert not shell._claim(second, theirs)
        second.rollback()
    assert lead_states(crm_sessionmaker, cid)[NUMBERS[3]] == ("dialing", 1)
    dialer = Dialer(crm_sessionmaker, lambda: NoPBXLink())
    assert dialer._take_leads(cid, now, 5) == []  # nothing due any more

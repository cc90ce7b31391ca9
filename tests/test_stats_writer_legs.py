"""The history writer counts an agent's talk by his leg: a survey or a transfer after he hung up is not talk.

Seen on the real PBX (tests/live): with Queue option ``c`` the caller goes on into the post-call survey
after the agent hangs up, and after a blind transfer the first agent's leg ends while the caller rings
the next one. The agent's queue stay ends with his leg's ``call.hangup``; the call's talk ends with the
last answered leg.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from crm_core.db import Base, make_engine, make_sessionmaker
from stats.models import CallRow, IvrStepRow, QueueCallRow
from stats.writer import HistoryWriter

sys.path.insert(0, str(Path(__file__).parent / "fixtures" / "stats"))
from stats_events import EventLog

T0 = 1_790_000_000.0


@pytest.fixture
def factory(tmp_path: Path) -> sessionmaker[Session]:
    engine = make_engine(f"sqlite:///{tmp_path / 'stats.db'}")
    Base.metadata.create_all(engine, tables=[t for t in Base.metadata.sorted_tables if t.name.startswith("stats_")])
    return make_sessionmaker(engine)


def agent_hangs_up(log: EventLog, t: float, call_id: str, agent: str) -> None:
    ext = agent.removeprefix("a")
    log.add("call.hangup", t, call_id=call_id, channel=f"Local/{ext}@agents-{call_id}", cause="16",
            cause_text="Normal Clearing", hangup_by="callee")


def rows(factory: sessionmaker[Session]) -> tuple[CallRow, QueueCallRow]:
    with factory() as session:
        return session.scalars(select(CallRow)).one(), session.scalars(select(QueueCallRow)).one()


def test_the_survey_after_the_agent_hung_up_is_not_talk(factory: sessionmaker[Session]) -> None:
    log = EventLog()
    log.new_call(T0, "c1", "13800000000")
    log.join(T0 + 1, "c1", "support")
    log.ring(T0 + 1, "c1", "a1001", "support")
    log.answer(T0 + 3, "c1", "a1001", "support", 2)
    agent_hangs_up(log, T0 + 10, "c1", "a1001")  # talk 7 s, then the caller rates him for 12 s
    log.end(T0 + 22, "c1", T0, T0 + 3, "answered")
    HistoryWriter(factory).apply_many(log.ordered())
    call, stay = rows(factory)
    assert (call.talk_s, call.duration_s) == (7.0, 22.0)
    assert (stay.talk_s, stay.ended_at) == (7.0, T0 + 10)


def test_a_transferred_call_talks_until_the_last_agent_leaves(factory: sessionmaker[Session]) -> None:
    log = EventLog()
    log.new_call(T0, "c1", "13800000000")
    log.join(T0 + 1, "c1", "support")
    log.ring(T0 + 1, "c1", "a1001", "support")
    log.answer(T0 + 3, "c1", "a1001", "support", 2)
    agent_hangs_up(log, T0 + 5, "c1", "a1001")  # redirected to 1002: 1001's part ends here
    log.ring(T0 + 5, "c1", "a1002", None)
    log.answer(T0 + 7, "c1", "a1002", None, 0)
    log.add("call.transferred", T0 + 7, call_id="c1", kind="blind", **{"from": "1001", "to": "1002"})
    agent_hangs_up(log, T0 + 20, "c1", "a1002")
    log.end(T0 + 20, "c1", T0, T0 + 3, "answered")
    HistoryWriter(factory).apply_many(log.ordered())
    call, stay = rows(factory)
    assert (stay.agent, stay.talk_s, stay.ended_at) == ("a1001", 2.0, T0 + 5)
    assert (call.agent, call.talk_s) == ("a1001", 17.0)


def test_steps_in_the_same_millisecond_each_get_their_dwell(factory: sessionmaker[Session]) -> None:
    log = EventLog()
    for node in ("welcome", "hours", "screening", "greeting"):
        log.add("ivr.step", T0 + (0 if node == "welcome" else 4), call_id="c1", flow="ivr", node=node,
                input=None, result="ok")
    log.add("ivr.step", T0 + 9, call_id="c1", flow="ivr", node="main_menu", input="2", result="option")
    HistoryWriter(factory).apply_many(log.ordered())
    with factory() as session:
        steps = session.scalars(select(IvrStepRow).order_by(IvrStepRow.at, IvrStepRow.id)).all()
        assert [(s.node, s.dwell_s) for s in steps] == [
            ("welcome", 4.0), ("hours", 0.0), ("screening", 0.0), ("greeting", 5.0), ("main_menu", None)
        ]

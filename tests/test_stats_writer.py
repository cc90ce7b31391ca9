"""The history writer: malformed events, IVR dwell, CRM links, the async shell, the exact rollup."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from crm_core.db import Base, make_engine, make_sessionmaker
from stats.models import CallRollupRow, CallRow, IvrStepRow, QueueCallRow, SurveyRow
from stats.writer import HistoryWriter, link_call

sys.path.insert(0, str(Path(__file__).parent / "fixtures" / "stats"))
from stats_events import EventLog

T0 = 1_790_000_000.0


@pytest.fixture
def factory(tmp_path: Path) -> sessionmaker[Session]:
    engine = make_engine(f"sqlite:///{tmp_path / 'stats.db'}")
    stats_tables = [t for t in Base.metadata.sorted_tables if t.name.startswith("stats_")]
    Base.metadata.create_all(engine, tables=stats_tables)
    return make_sessionmaker(engine)


def test_a_malformed_event_is_skipped_and_the_rest_of_the_batch_kept(factory: sessionmaker[Session]) -> None:
    log = EventLog()
    log.new_call(T0, "c1", "1")
    log.add("queue.joined", T0 + 1, queue="support")  # no call_id
    log.join(T0 + 2, "c1", "support")
    HistoryWriter(factory).apply_many(log.ordered())
    with factory() as session:
        assert session.scalar(select(func.count()).select_from(CallRow)) == 1
        assert session.scalars(select(QueueCallRow.joined_at)).all() == [T0 + 2]


async def test_async_shell_applies_events(factory: sessionmaker[Session]) -> None:
    writer = HistoryWriter(factory, agent_department=lambda agent: "7" if agent == "a1" else None)
    log = EventLog()
    log.new_call(T0, "c1", "13800000000")
    log.join(T0 + 1, "c1", "support")
    log.answer(T0 + 4, "c1", "a1", "support", 3)
    log.end(T0 + 34, "c1", T0, T0 + 4, "answered")
    events = log.ordered()
    for event in events[:2]:
        await writer.handle(event)
    await writer.drain()
    await writer.handle_many(events[2:4])
    for event in events[4:]:
        await writer.handle(event)
    await writer.handle({"type": "call.ended", "pbx": "pbx1"})  # no ts: logged and skipped
    await writer.drain()
    with factory() as session:
        call = session.scalars(select(CallRow)).one()
        assert (call.agent, call.department, call.talk_s, call.disposition) == ("a1", "7", 30.0, "answered")
        rollup = session.scalars(select(CallRollupRow)).one()
        assert (rollup.department, rollup.calls, rollup.answered, rollup.talk_ms) == ("7", 1, 1, 30_000)


def test_ivr_dwell_is_the_time_to_the_next_step_even_out_of_order(factory: sessionmaker[Session]) -> None:
    log = EventLog()
    for offset, node in ((0, "welcome"), (7.5, "menu"), (12, "queue")):
        log.add("ivr.step", T0 + offset, call_id="c1", flow="main", node=node, input="", result="ok")
    events = log.ordered()
    writer = HistoryWriter(factory)
    writer.apply_many([events[0], events[2]])
    writer.apply_many([events[1]])
    with factory() as session:
        dwell = dict(session.execute(select(IvrStepRow.node, IvrStepRow.dwell_s)).all())
    assert dwell == {"welcome": 7.5, "menu": 4.5, "queue": None}


def test_links_to_crm_rows_fill_only_what_is_empty(factory: sessionmaker[Session]) -> None:
    log = EventLog()
    log.new_call(T0, "c1", "1")
    log.add("screen.pop", T0 + 1, call_id="c1", agent="a1", customer={"id": 42, "name": "王"})
    HistoryWriter(factory).apply_many(log.ordered())
    with factory() as session, session.begin():
        assert link_call(session, "pbx1", "c1", customer_id=7, ticket_id=3)
        assert not link_call(session, "pbx1", "unknown", order_id=1)
    with factory() as session:
        call = session.scalars(select(CallRow)).one()
        assert (call.customer_id, call.ticket_id, call.order_id) == (42, 3, None)


def test_wrap_up_after_the_call_moves_the_rollup_exactly(factory: sessionmaker[Session]) -> None:
    log = EventLog()
    log.agent(T0, "a1", "on_call")
    log.new_call(T0, "c1", "1")
    log.add("call.answered", T0, call_id="c1", agent="a1", queue=None, wait_s=0)
    log.end(T0 + 60, "c1", T0, T0, "answered")
    log.agent(T0 + 60, "a1", "wrap_up")
    log.agent(T0 + 72.25, "a1", "available")
    writer = HistoryWriter(factory)
    for event in log.ordered():
        writer.apply_in_transaction(event)
    with factory() as session:
        rows = session.scalars(select(CallRollupRow).where(CallRollupRow.calls != 0)).all()
        assert [(r.agent, r.calls, r.talk_ms, r.wrapup_ms) for r in rows] == [("a1", 1, 60_000, 12_250)]


def test_a_survey_is_filed_under_the_agents_extension_like_his_calls(factory: sessionmaker[Session]) -> None:
    log = EventLog()
    log.new_call(T0, "c1", "13800000000")
    log.join(T0 + 1, "c1", "support")
    log.answer(T0 + 4, "c1", "1001", "support", 3)
    log.end(T0 + 34, "c1", T0, T0 + 4, "answered")
    # the IVR names the agent as the queue member did (MEMBERNAME) and gives the extension apart
    log.add("survey.scored", T0 + 50, call_id="c1", agent="Agent 1001", extension="1001", score=4, scale=5)
    HistoryWriter(factory).apply_many(log.ordered())
    with factory() as session:
        call_agent = session.scalars(select(CallRow.agent)).one()
        survey = session.scalars(select(SurveyRow)).one()
        assert (survey.agent, survey.score) == (call_agent, 4) == ("1001", 4)


def test_a_stay_reported_again_by_a_takeovers_resync_is_one_row(factory: sessionmaker[Session]) -> None:
    """A second queue.joined for a stay still waiting (a takeover's resync) is that stay: one row, answered."""
    log = EventLog()
    log.new_call(T0, "c1", "13800000000")
    log.join(T0 + 1, "c1", "support")
    log.join(T0 + 3, "c1", "support")
    log.answer(T0 + 5, "c1", "a1", "support", 4)
    log.add("queue.joined", T0 + 10, call_id="c1", queue="support", position=None, wait_s=9.5)  # talking
    log.end(T0 + 30, "c1", T0, T0 + 5, "answered")
    HistoryWriter(factory).apply_many(log.ordered())
    with factory() as session:
        rows = session.scalars(select(QueueCallRow)).all()
        assert [(r.joined_at, r.outcome) for r in rows] == [(T0 + 1, "answered")]

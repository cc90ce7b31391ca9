"""KPI definitions (ARCHITECTURE section 7) on constructed event sequences, answers worked out by hand.

Each scenario goes through both consumers of the bus, the live board and the history writer, and
the figures are checked on both.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from crm_core.db import Base, make_engine, make_sessionmaker
from stats import queue_call
from stats.kpi import (
    AgentState,
    AgentStateRecord,
    KpiSettings,
    Outcome,
    QueueCallRecord,
    QueueKpis,
    count_calls,
    kpis_by,
    occupancy_by,
    queue_kpis,
)
from stats.live import LiveBoard
from stats.models import AgentStateRow, CallRow, QueueCallRow
from stats.writer import HistoryWriter

sys.path.insert(0, str(Path(__file__).parent / "fixtures" / "stats"))
from stats_events import EventLog

T0 = 1_790_000_000.0  # a fixed instant; only differences matter
SETTINGS = KpiSettings()


@pytest.fixture
def writer(tmp_path: Path) -> HistoryWriter:
    engine = make_engine(f"sqlite:///{tmp_path / 'stats.db'}")
    Base.metadata.create_all(engine, tables=[t for t in Base.metadata.sorted_tables if t.name.startswith("stats_")])
    return HistoryWriter(make_sessionmaker(engine))


def run_board(events: list[dict], settings: KpiSettings = SETTINGS) -> LiveBoard:
    board = LiveBoard(settings, ["support", "sales"])
    for event in events:
        board.apply(event, now=T0 + 10_000)
    return board


def run_writer(writer: HistoryWriter, events: list[dict]) -> None:
    for event in events:
        writer.apply_in_transaction(event)


def stored_kpis(writer: HistoryWriter, queue: str, settings: KpiSettings = SETTINGS) -> QueueKpis:
    with writer._session_factory() as session:
        rows = session.scalars(select(QueueCallRow).where(QueueCallRow.queue == queue)).all()
        return queue_kpis(count_calls([queue_call.as_record(r, r.call_id, r.queue) for r in rows], settings))


def both(writer: HistoryWriter, events: list[dict], queue: str) -> list[QueueKpis]:
    run_writer(writer, events)
    return [queue_kpis(run_board(events).queue_counts(queue)), stored_kpis(writer, queue)]


def answered_call(log: EventLog, call_id: str, queue: str, t: float, wait: float, agent: str, talk: float) -> None:
    log.new_call(t - 3, call_id, "13800000000")
    log.join(t, call_id, queue)
    log.answer(t + wait, call_id, agent, queue, wait)
    log.end(t + wait + talk, call_id, t - 3, t + wait, "answered")


def abandoned_call(log: EventLog, call_id: str, queue: str, t: float, wait: float) -> None:
    log.new_call(t - 3, call_id, "13900000000")
    log.join(t, call_id, queue)
    log.abandon(t + wait, call_id, queue, wait)
    log.end(t + wait + 0.5, call_id, t - 3, None, "abandoned")


def test_thresholds_are_inclusive_and_short_abandons_are_left_out(writer: HistoryWriter) -> None:
    log = EventLog()
    abandoned_call(log, "c1", "support", T0, 5.0)  # short abandon: exactly the threshold
    abandoned_call(log, "c2", "support", T0 + 100, 5.5)  # a real abandon, within 20 s
    answered_call(log, "c3", "support", T0 + 200, 20.0, "a1", 60)  # exactly at the SL threshold
    answered_call(log, "c4", "support", T0 + 400, 20.5, "a1", 90)  # just outside
    for kpis in both(writer, log.ordered(), "support"):
        assert (kpis.offered, kpis.answered, kpis.abandoned, kpis.short_abandons) == (4, 2, 2, 1)
        assert kpis.sl_pct == 33.33  # 1 answered within / (4 offered - 1 short)
        assert kpis.sl_asterisk_pct == 50.0  # 1 within / 2 answered
        assert kpis.sl2_pct == 75.0  # (1 answered within + 2 abandoned within) / (2 + 2)
        assert kpis.asa_s == 20.25  # (20 + 20.5) / 2
        assert kpis.abandon_pct == 33.33  # (2 - 1) / (4 - 1)
        assert kpis.aht_s == 75.0  # (60 + 90) / 2, no hold, no wrap-up
        assert kpis.longest_wait_s == 20.5


def test_timeout_is_overflow_not_abandon(writer: HistoryWriter) -> None:
    log = EventLog()
    log.new_call(T0, "c1", "1")
    log.join(T0, "c1", "support")
    log.timeout(T0 + 300, "c1", "support", 300)
    log.end(T0 + 301, "c1", T0, None, "no_answer")
    answered_call(log, "c2", "support", T0 + 10, 4, "a1", 30)
    for kpis in both(writer, log.ordered(), "support"):
        assert (kpis.offered, kpis.answered, kpis.abandoned, kpis.overflow) == (2, 1, 0, 1)
        assert kpis.abandon_pct == 0.0
        assert kpis.sl_pct == 50.0  # the overflow still counts as offered: 1 / 2


def test_leave_before_connect_is_answered_not_overflow(writer: HistoryWriter) -> None:
    # QueueCallerLeave comes before AgentConnect; the same-millisecond order may also be reversed.
    log = EventLog()
    log.new_call(T0, "c1", "1")
    log.join(T0, "c1", "support")
    log.add("call.answered", T0 + 8, call_id="c1", agent="a1", queue="support", wait_s=8)
    log.add("queue.left", T0 + 8, call_id="c1", queue="support", position=1, wait_s=8)
    log.end(T0 + 38, "c1", T0, T0 + 8, "answered")
    for kpis in both(writer, log.ordered(), "support"):
        assert (kpis.answered, kpis.overflow, kpis.asa_s, kpis.aht_s) == (1, 0, 8.0, 30.0)


def test_call_transferred_between_queues_counts_once_in_each(writer: HistoryWriter) -> None:
    log = EventLog()
    log.new_call(T0 - 5, "c1", "13700000000")
    log.join(T0, "c1", "support")
    log.answer(T0 + 10, "c1", "a1", "support", 10)
    log.add("call.transferred", T0 + 70, call_id="c1", kind="blind", **{"from": "a1", "to": "sales"})
    log.join(T0 + 70, "c1", "sales")
    log.answer(T0 + 95, "c1", "a2", "sales", 25)
    log.end(T0 + 155, "c1", T0 - 5, T0 + 10, "answered")
    support, stored_support = both(writer, log.ordered(), "support")
    sales = queue_kpis(run_board(log.ordered()).queue_counts("sales"))
    assert sales == stored_kpis(writer, "sales")
    for kpis in (support, stored_support):
        assert (kpis.offered, kpis.answered, kpis.asa_s, kpis.aht_s, kpis.sl_pct) == (1, 1, 10.0, 60.0, 100.0)
    assert (sales.offered, sales.answered, sales.asa_s, sales.aht_s, sales.sl_pct) == (1, 1, 25.0, 60.0, 0.0)
    with writer._session_factory() as session:
        call = session.scalars(select(CallRow)).one()
        assert (call.agent, call.queue, call.talk_s, call.duration_s) == ("a1", "support", 145.0, 160.0)


def test_hold_and_wrap_up_count_in_aht(writer: HistoryWriter) -> None:
    log = EventLog()
    log.agent(T0 - 100, "a1", "available")
    log.new_call(T0 - 5, "c1", "1")
    log.join(T0, "c1", "support")
    log.agent(T0 + 2, "a1", "ringing")
    log.agent(T0 + 6, "a1", "on_call")
    log.answer(T0 + 6, "c1", "a1", "support", 6)
    log.add("call.hold", T0 + 20, call_id="c1", channel="x")
    log.add("call.unhold", T0 + 50, call_id="c1", channel="x")
    log.end(T0 + 106, "c1", T0 - 5, T0 + 6, "answered")
    log.agent(T0 + 106, "a1", "wrap_up")
    log.agent(T0 + 121, "a1", "available")
    for kpis in both(writer, log.ordered(), "support"):
        assert kpis.aht_s == 115.0  # talk 70 + hold 30 + wrap-up 15
    with writer._session_factory() as session:
        call = session.scalars(select(CallRow)).one()
        assert (call.talk_s, call.hold_s, call.wrapup_s, call.ring_s) == (70.0, 30.0, 15.0, None)


def test_agent_paused_while_ringing(writer: HistoryWriter) -> None:
    log = EventLog()
    log.agent(T0, "a1", "available")
    log.agent(T0, "a2", "available")
    log.new_call(T0 + 95, "c1", "1")
    log.join(T0 + 100, "c1", "support")
    log.agent(T0 + 100, "a1", "ringing")
    log.ring(T0 + 100, "c1", "a1", "support")
    log.agent(T0 + 104, "a1", "paused", "meeting")  # paused while ringing: the call moves on
    log.agent(T0 + 105, "a2", "ringing")
    log.ring(T0 + 105, "c1", "a2", "support")
    log.agent(T0 + 108, "a2", "on_call")
    log.answer(T0 + 108, "c1", "a2", "support", 8)
    log.end(T0 + 168, "c1", T0 + 95, T0 + 108, "answered")
    log.agent(T0 + 168, "a2", "wrap_up")
    log.agent(T0 + 178, "a2", "available")
    log.agent(T0 + 200, "a1", "available")
    log.agent(T0 + 400, "a1", "logged_out")
    log.agent(T0 + 400, "a2", "logged_out")
    events = log.ordered()
    for kpis in both(writer, events, "support"):
        assert (kpis.answered, kpis.asa_s, kpis.aht_s) == (1, 8.0, 70.0)
    with writer._session_factory() as session:
        rows = session.scalars(select(AgentStateRow).order_by(AgentStateRow.agent, AgentStateRow.started_at)).all()
        a1 = [(r.state, r.reason, r.duration_s) for r in rows if r.agent == "a1"]
        assert a1 == [
            ("available", "", 100.0),
            ("ringing", "", 4.0),
            ("paused", "meeting", 96.0),
            ("available", "", 200.0),
            ("logged_out", "", None),
        ]
        call = session.scalars(select(CallRow)).one()
        assert (call.agent, call.ring_s, call.wrapup_s) == ("a2", 3.0, 10.0)
        records = [
            AgentStateRecord(r.agent, AgentState(r.state), r.started_at, r.duration_s or 0.0, r.reason) for r in rows
        ]
    occupancy = occupancy_by(records, lambda r: r.agent)
    assert occupancy["a1"] == 0.0  # never on a call: 0 busy / (100 + 4 + 200) staffed
    assert occupancy["a2"] == 17.5  # (60 on call + 10 wrap-up) / 400 staffed
    board = run_board(events)
    grid = {row["agent"]: row for row in board.agent_grid(T0 + 500)}
    assert grid["a2"]["calls_today"] == 1 and grid["a1"]["calls_today"] == 0


def test_abandon_while_still_waiting_at_call_end_counts_as_abandon() -> None:
    log = EventLog()
    log.join(T0, "c1", "support")
    log.add(
        "call.ended",
        T0 + 12,
        call_id="c1",
        answered=False,
        duration_s=12,
        talk_s=0,
        wait_s=12,
        disposition="abandoned",
    )
    kpis = queue_kpis(run_board(log.ordered()).queue_counts("support"))
    assert (kpis.offered, kpis.abandoned, kpis.short_abandons, kpis.waiting) == (1, 1, 0, 0)


def test_thresholds_are_configurable() -> None:
    records = [
        QueueCallRecord("c1", "q", T0, Outcome.ANSWERED, wait_s=25.0, talk_s=10.0),
        QueueCallRecord("c2", "q", T0, Outcome.ABANDONED, wait_s=8.0),
    ]
    default = kpis_by(records, lambda r: r.queue, KpiSettings())["q"]
    relaxed = kpis_by(records, lambda r: r.queue, KpiSettings(sl_threshold_s=30, short_abandon_s=10))["q"]
    assert (default.sl_pct, default.short_abandons, default.abandon_pct) == (0.0, 0, 50.0)
    assert (relaxed.sl_pct, relaxed.short_abandons, relaxed.abandon_pct) == (100.0, 1, 0.0)


def test_no_calls_gives_no_ratios() -> None:
    kpis = queue_kpis(count_calls([], SETTINGS))
    assert (kpis.offered, kpis.sl_pct, kpis.asa_s, kpis.aht_s, kpis.abandon_pct) == (
        0,
        None,
        None,
        None,
        None,
    )

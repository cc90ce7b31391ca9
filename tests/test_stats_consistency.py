"""A simulated day: the live board's "today" equals the report for today equals a count of the rows.

Also: replaying the day changes nothing, the rollup equals the call rows, and every report runs.
The same checks run on SQLite and, marked ``postgres``, on a throwaway PostgreSQL database.
"""

from __future__ import annotations

import random
import sys
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from crm_core.db import make_engine, make_sessionmaker, migrate
from crm_core.testing import postgres_database
from stats.kpi import KpiSettings, queue_kpis
from stats.live import LiveBoard
from stats.models import (
    AgentStateRow,
    CallLegRow,
    CallRollupRow,
    CallRow,
    CenterRollupRow,
    IvrStepRow,
    QueueCallRow,
    SurveyRow,
)
from stats.reports import ReportError, ReportKind, report
from stats.resume import resume_board
from stats.writer import HistoryWriter

sys.path.insert(0, str(Path(__file__).parent / "fixtures" / "stats"))
from stats_events import simulate_day

TZ = "Asia/Shanghai"
DAY = date(2026, 11, 20)
DAY_START = datetime(2026, 11, 20, tzinfo=ZoneInfo(TZ))
SETTINGS = KpiSettings()
TABLES = (CallRow, CallLegRow, QueueCallRow, AgentStateRow, IvrStepRow, SurveyRow, CallRollupRow, CenterRollupRow)


@pytest.fixture(scope="module")
def day_events() -> list[dict]:
    return simulate_day(DAY_START.timestamp())


@pytest.fixture(scope="module")
def sqlite_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sessionmaker[Session]]:
    url = f"sqlite:///{tmp_path_factory.mktemp('stats') / 'day.db'}"
    migrate(url)
    engine = make_engine(url)
    yield make_sessionmaker(engine)
    engine.dispose()


@pytest.fixture(scope="module")
def postgres_factory() -> Iterator[sessionmaker[Session]]:
    with postgres_database("stats") as url:
        engine = make_engine(url)
        yield make_sessionmaker(engine)
        engine.dispose()


def load(factory: sessionmaker[Session], events: list[dict]) -> None:
    writer = HistoryWriter(factory)
    for at in range(0, len(events), 500):
        writer.apply_many(events[at : at + 500])


def table_contents(factory: sessionmaker[Session]) -> dict[str, list[tuple]]:
    out = {}
    with factory() as session:
        for model in TABLES:
            cols = [c for c in model.__table__.columns if c.name != "id"]
            rows = session.execute(select(*cols)).all()
            out[model.__tablename__] = sorted(tuple(r) for r in rows)
    return out


def check_day(factory: sessionmaker[Session], events: list[dict]) -> None:
    load(factory, events)
    board = LiveBoard(SETTINGS, ["support", "sales"], tz=TZ)
    board.reset_day(DAY)
    for event in events:
        board.apply(event, now=datetime.fromisoformat(event["ts"].replace("Z", "+00:00")).timestamp())

    with factory() as session:
        table = report(session, "queue_history", DAY_START, DAY_START + timedelta(days=1), "day", tz=TZ)
        rows = session.scalars(select(QueueCallRow)).all()
        calls = session.scalar(select(func.count()).select_from(CallRow))
    by_queue = {row["queue"]: row for row in table.as_dicts()}
    assert set(by_queue) == {"support", "sales"}
    assert all(row["period"] == "2026-11-20" for row in by_queue.values())

    joined = [e for e in events if e["type"] == "queue.joined"]
    assert sum(row["offered"] for row in by_queue.values()) == len(joined)
    assert calls == len({e["call_id"] for e in events if e["type"] == "call.new"})

    for queue, row in by_queue.items():
        live = queue_kpis(board.queue_counts(queue))
        mine = [r for r in rows if r.queue == queue]
        answered = [r for r in mine if r.outcome == "answered"]
        abandoned = [r for r in mine if r.outcome == "abandoned"]
        short = [r for r in abandoned if r.wait_s <= 5]
        # counted straight from the rows
        straight = {
            "offered": len(mine),
            "answered": len(answered),
            "abandoned": len(abandoned),
            "short_abandons": len(short),
            "overflow": sum(r.outcome == "overflow" for r in mine),
            "sl_pct": round(100 * sum(r.wait_s <= 20 for r in answered) / (len(mine) - len(short)), 2),
            "asa_s": round(sum(r.wait_s for r in answered) / len(answered), 2),
            "aht_s": round(sum(r.talk_s + r.hold_s + r.wrapup_s for r in answered) / len(answered), 2),
            "abandon_pct": round(100 * (len(abandoned) - len(short)) / (len(mine) - len(short)), 2),
        }
        from_report = {k: row[k] for k in straight}
        from_board = {k: getattr(live, k) for k in straight}
        assert from_report == straight, queue
        assert from_board == straight, queue
        assert straight["answered"] > 30 and straight["abandoned"] > 5 and straight["short_abandons"] > 0
        assert straight["overflow"] > 0
        stats_event = board.snapshot(DAY_START.timestamp() + 86_000)["queues"]
        today = next(q["today"] for q in stats_event if q["queue"] == queue)
        assert today["offered"] == straight["offered"] and today["sl_pct"] == straight["sl_pct"]


def check_resume(factory: sessionmaker[Session], events: list[dict]) -> None:
    """A board restarted at noon from history ends the day with the same numbers as one that never stopped."""
    noon = (DAY_START + timedelta(hours=12)).timestamp()
    fresh = LiveBoard(SETTINGS, ["support", "sales"], tz=TZ)
    fresh.reset_day(DAY)
    with factory() as session:
        for table in TABLES:
            session.execute(table.__table__.delete())
        session.commit()
    before = [e for e in events if at(e) < noon]
    load(factory, before)
    with factory() as session:
        resume_board(session, fresh, DAY, TZ)
    load(factory, events[len(before) :])
    for event in events[len(before) :]:
        fresh.apply(event, now=at(event))
    whole = LiveBoard(SETTINGS, ["support", "sales"], tz=TZ)
    for event in events:
        whole.apply(event, now=at(event))
    for queue in ("support", "sales"):
        assert queue_kpis(fresh.queue_counts(queue)) == queue_kpis(whole.queue_counts(queue))
    assert fresh.agent_grid(noon) == whole.agent_grid(noon)


def at(event: dict) -> float:
    return datetime.fromisoformat(event["ts"].replace("Z", "+00:00")).timestamp()


def check_replay(factory: sessionmaker[Session], events: list[dict], in_order: bool = True) -> None:
    before = table_contents(factory)
    if in_order:
        load(factory, events)  # the same events again, in order
    shuffled = events[:]
    random.Random(3).shuffle(shuffled)
    load(factory, shuffled[:200])  # and some of them again, out of order
    assert table_contents(factory) == before


def check_rollup(factory: sessionmaker[Session]) -> None:
    start, end = DAY_START, DAY_START + timedelta(days=1)
    with factory() as session:
        from_rollup = report(session, "service_center", start, end, "hour", tz=TZ)
        # not on the hour: the report reads the call rows instead of the rollup
        from_rows = report(session, "service_center", start - timedelta(seconds=1), end, "hour", tz=TZ)
        assert from_rollup.rows == from_rows.rows
        assert sum(r[1] for r in from_rollup.rows) == session.scalar(
            select(func.count()).select_from(CallRow).where(CallRow.direction == "inbound")
        )
        # A zone whose offset changes in the range (daylight saving ends on 25 October) groups by hour.
        berlin = ZoneInfo("Europe/Berlin")
        wide = report(
            session,
            "queue_history",
            datetime(2026, 10, 1, tzinfo=berlin),
            datetime(2026, 12, 1, tzinfo=berlin),
            "month",
            tz="Europe/Berlin",
        )
        assert [(r["period"], r["queue"]) for r in wide.as_dicts()] == [
            ("2026-11", "sales"),
            ("2026-11", "support"),
        ]
        day = report(session, "queue_history", start, end, "day", tz=TZ)
        assert [r[2:] for r in wide.rows] == [r[2:] for r in day.rows]
        one_queue = report(session, "service_center", start, end, "day", queue="support", tz=TZ)  # center rollup
        one_queue_raw = report(
            session, "service_center", start, end - timedelta(seconds=1), "day", queue="support", tz=TZ
        )
        assert one_queue.rows == one_queue_raw.rows and one_queue.rows[0][1] > 0
        agents = report(session, "agent_service", start, end, "day", tz=TZ)
        agents_raw = report(session, "agent_service", start + timedelta(seconds=1), end, "day", tz=TZ)
        assert agents.rows == agents_raw.rows
        answered = session.scalar(select(func.count()).select_from(CallRow).where(CallRow.answered_at.isnot(None)))
        assert sum(r[2] + r[4] for r in agents.rows) == answered


def check_all_reports(factory: sessionmaker[Session]) -> None:
    start, end = DAY_START, DAY_START + timedelta(days=1)
    with factory() as session:
        for kind in ReportKind:
            for group_by in ("hour", "day", "week", "month", "year"):
                table = report(session, kind.value, start, end, group_by, tz=TZ)
                assert table.rows, (kind, group_by)
                assert all(len(r) == len(table.columns) for r in table.rows)
        ivr = report(session, "ivr", start, end, "day", tz=TZ).as_dicts()
        assert {r["node"] for r in ivr} == {"welcome", "menu"}
        assert all(r["avg_dwell_s"] is None or r["avg_dwell_s"] > 0 for r in ivr)
        seats = report(session, "seat_states", start, end, "day", tz=TZ).as_dicts()
        assert all(0 <= r["occupancy_pct"] <= 100 for r in seats)
        one_agent = report(session, "cdr", start, end, "day", agent="a1001", tz=TZ).as_dicts()
        assert one_agent and all(r["agent"] == "a1001" for r in one_agent)
        with pytest.raises(ReportError):
            report(session, "nonsense", start, end, "day", tz=TZ)
        with pytest.raises(ReportError):
            report(session, "cdr", end, start, "day", tz=TZ)


def test_day_on_sqlite(sqlite_factory: sessionmaker[Session], day_events: list[dict]) -> None:
    check_day(sqlite_factory, day_events)
    check_replay(sqlite_factory, day_events)
    check_rollup(sqlite_factory)
    check_all_reports(sqlite_factory)
    check_resume(sqlite_factory, day_events)


@pytest.mark.postgres
def test_day_on_postgres(postgres_factory: sessionmaker[Session], day_events: list[dict]) -> None:
    check_day(postgres_factory, day_events)
    check_replay(postgres_factory, day_events, in_order=False)  # the full replay runs on SQLite
    check_rollup(postgres_factory)
    check_all_reports(postgres_factory)

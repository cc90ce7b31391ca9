"""Every report answers the same from the rollups as from the rows alone.

Two simulated days go through the history writer, with calls that change after they ended (wrap-up
attributed later, a customer linked later, a call.new that moves the start an hour back). Each report
kind, grouping, filter and time zone is asked over ranges on the day, on the hour and with edge minutes,
once as the product reads it (rollups plus edge rows) and once from the rows alone; the rollups the
writer kept equal the rollups summed anew from the rows; the migration fills them for existing rows.
"""

from __future__ import annotations

import random
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from alembic import command
from sqlalchemy import MetaData, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from crm_core.db import alembic_config, make_engine, make_sessionmaker, migrate
from crm_core.testing import postgres_database
from stats import reports, rollup
from stats.kpi import KpiSettings
from stats.models import CallRow
from stats.reports import GroupBy, ReportKind, fixed_offset_hours, report
from stats.writer import HistoryWriter

sys.path.insert(0, str(Path(__file__).parent / "fixtures" / "stats"))
from stats_events import EventLog, iso, simulate_day

TZ = "Asia/Shanghai"
DAY_START = datetime(2026, 11, 20, tzinfo=ZoneInfo(TZ))
ROLLUP_TABLES = [spec.table.name for spec in rollup.SPECS]


def two_days() -> list[dict[str, Any]]:
    second = (DAY_START + timedelta(days=1)).timestamp()
    events = simulate_day(DAY_START.timestamp(), calls=70) + simulate_day(second, seed=8, calls=70)
    ended = [e for e in events if e["type"] == "call.ended"]
    late: list[dict[str, Any]] = []
    for n, e in enumerate(ended[::7]):
        later = iso(datetime.fromisoformat(e["ts"].replace("Z", "+00:00")).timestamp() + 600)
        # a customer linked ten minutes after the call ended
        late.append({"type": "call.linked", "ts": later, "pbx": "pbx1", "call_id": e["call_id"], "customer_id": n})
    for e in ended[3::11]:
        # the call's start seen late, an hour earlier: the call moves to another hour
        earlier = datetime.fromisoformat(e["ts"].replace("Z", "+00:00")).timestamp() - 3 * 3600
        late.append({"type": "call.new", "ts": iso(earlier), "pbx": "pbx1", "call_id": e["call_id"]})
    out = events + late
    for seq, event in enumerate(out, 1):
        event["seq"] = seq
    return out


def load(factory: sessionmaker[Session], events: list[dict[str, Any]]) -> None:
    writer = HistoryWriter(factory, agent_department=lambda agent: "7" if agent == "a1001" else "8")
    for at in range(0, len(events), 300):
        writer.apply_many(events[at : at + 300])


@pytest.fixture(scope="module")
def events() -> list[dict[str, Any]]:
    return two_days()


@pytest.fixture(scope="module")
def sqlite_factory(
    tmp_path_factory: pytest.TempPathFactory, events: list[dict[str, Any]]
) -> Iterator[sessionmaker[Session]]:
    url = f"sqlite:///{tmp_path_factory.mktemp('rollups') / 'days.db'}"
    migrate(url)
    engine = make_engine(url)
    factory = make_sessionmaker(engine)
    load(factory, events)
    yield factory
    engine.dispose()


def answer(session: Session, from_rows: bool, **ask: Any) -> tuple[list[list[Any]], int | None]:
    if not from_rows:
        table = report(session, **ask)
        return table.rows, table.total
    with rollup.from_rows():
        table = report(session, **ask)
    return table.rows, table.total


RANGES = [
    (timedelta(0), timedelta(days=2)),  # whole business days
    (timedelta(hours=10, minutes=17, seconds=23), timedelta(days=1, hours=15, minutes=42, seconds=5)),
    (timedelta(hours=3), timedelta(days=1, hours=5)),  # on the hour, parts of days
    (timedelta(hours=9, minutes=10), timedelta(hours=9, minutes=50)),  # inside one hour
    (timedelta(hours=-5), timedelta(days=2, hours=7, seconds=1)),  # days around, edges
]
FILTERS: list[dict[str, Any]] = [
    {},
    {"queue": "support"},
    {"agent": "a1001"},
    {"agents": ["a1001", "a1003"]},
]


def check_reports(factory: sessionmaker[Session], ranges: list[tuple[timedelta, timedelta]] = RANGES) -> int:
    compared = 0
    with factory() as session:
        for tz in (TZ, "America/New_York"):  # the rollups' business day, and a zone they were not built for
            zone = ZoneInfo(tz)
            day = datetime(2026, 11, 20, tzinfo=zone)
            for begin, finish in ranges:
                for kind in ReportKind:
                    for group_by in ("hour", "day"):
                        for filters in FILTERS:
                            ask = dict(kind=kind.value, start=day + begin, end=day + finish, group_by=group_by, tz=tz)
                            ask.update(filters)
                            assert answer(session, False, **ask) == answer(session, True, **ask), ask
                            compared += 1
        # thresholds other than the rollup's: the queue report counts from the rows, the same way
        wide = dict(kind="queue_history", start=DAY_START, end=DAY_START + timedelta(days=2), tz=TZ)
        other = KpiSettings(sl_threshold_s=30, short_abandon_s=3)
        assert answer(session, False, settings=other, **wide) == answer(session, True, settings=other, **wide)
        assert answer(session, False, **wide) != answer(session, False, settings=other, **wide)
    return compared


def check_totals(factory: sessionmaker[Session]) -> None:
    with factory() as session:
        start, end = DAY_START + timedelta(hours=9, minutes=3), DAY_START + timedelta(days=1, hours=17, minutes=1)
        table = report(session, "cdr", start, end, tz=TZ, limit=100_000)
        stored = session.scalar(
            select(func.count()).where(CallRow.started_at >= start.timestamp(), CallRow.started_at < end.timestamp())
        )
        assert table.total == len(table.rows) == stored and stored
        page = report(session, "cdr", start, end, tz=TZ, limit=10, offset=10)
        assert page.rows == table.rows[10:20] and page.total == stored
        agents = report(session, "agent_service", DAY_START, DAY_START + timedelta(days=2), "month", tz=TZ)
        answered = session.scalar(select(func.count()).where(CallRow.answered_at.isnot(None)))
        assert sum(r[2] + r[4] for r in agents.rows) == answered


def rollup_contents(factory: sessionmaker[Session]) -> dict[str, list[tuple[Any, ...]]]:
    """Every rollup row that counts something (a row whose contributions all moved away holds zeros)."""
    out = {}
    with factory() as session:
        for spec in rollup.SPECS:
            rows = session.execute(select(spec.table).where(spec.table.c[spec.count] != 0)).all()
            out[spec.name] = sorted(tuple(r) for r in rows)
    return out


def check_writer_equals_refill(factory: sessionmaker[Session]) -> None:
    kept = rollup_contents(factory)
    assert all(kept.values()), {k: len(v) for k, v in kept.items()}
    with factory() as session, session.begin():
        rollup.refill(session.connection())
    assert rollup_contents(factory) == kept


def test_rollup_answers_equal_row_answers_on_sqlite(sqlite_factory: sessionmaker[Session]) -> None:
    assert check_reports(sqlite_factory) > 400
    check_totals(sqlite_factory)


def test_the_writer_keeps_the_rollups_equal_to_the_rows_on_sqlite(sqlite_factory: sessionmaker[Session]) -> None:
    check_writer_equals_refill(sqlite_factory)


def test_the_rollups_have_business_days(sqlite_factory: sessionmaker[Session]) -> None:
    with sqlite_factory() as session:
        settings = rollup.read_settings(session.connection())
        assert settings.day_offset_h == 8  # Asia/Shanghai, the default CC_TIMEZONE
        days = session.scalars(select(rollup.AGENTS.table.c.slot).where(rollup.AGENTS.table.c.grain == 1)).all()
    assert set(days) == {(int(DAY_START.timestamp()) // 3600 + 8) // 24 + n for n in (0, 1)}


@pytest.mark.postgres
def test_rollups_on_postgres(events: list[dict[str, Any]]) -> None:
    with postgres_database("rollups") as url:
        engine = make_engine(url)
        factory = make_sessionmaker(engine)
        load(factory, events)
        check_reports(factory, RANGES[1:3])
        check_totals(factory)
        check_writer_equals_refill(factory)
        engine.dispose()


def test_the_migration_fills_the_rollups_from_existing_rows(
    tmp_path: Path, sqlite_factory: sessionmaker[Session]
) -> None:
    """A database at stats_0002 with a history in it: upgraded, its rollups are those the writer keeps."""
    url = f"sqlite:///{tmp_path / 'old.db'}"
    command.upgrade(alembic_config(url), "stats_0002")
    old = make_engine(url)
    source = sqlite_factory.kw["bind"]
    tables = ["stats_calls", "stats_call_legs", "stats_queue_calls", "stats_agent_states", "stats_ivr_steps"]
    tables += ["stats_surveys", "stats_call_rollup", "stats_center_rollup"]
    with old.begin() as conn:
        version = conn.scalar(text("SELECT count(*) FROM alembic_version WHERE version_num = 'stats_0002'"))
        assert version == 1
        existing = MetaData()
        existing.reflect(conn, only=tables)
        with source.connect() as rows_from:
            for name in tables:
                table = existing.tables[name]
                columns = ", ".join(c.name for c in table.c)
                data = [dict(r._mapping) for r in rows_from.execute(text(f"SELECT {columns} FROM {name}"))]
                if data:
                    conn.execute(table.insert(), data)
    old.dispose()
    migrate(url)
    upgraded = make_sessionmaker(make_engine(url))
    assert rollup_contents(upgraded) == rollup_contents(sqlite_factory)
    with upgraded() as a, sqlite_factory() as b:
        ask = dict(kind="ivr", start=DAY_START, end=DAY_START + timedelta(days=2), tz=TZ)
        assert report(a, **ask).rows == report(b, **ask).rows


# --- the customer report's monthly rollup --------------------------------------------------------

MONTH_START = datetime(2026, 11, 1, tzinfo=ZoneInfo(TZ))


def customer_month() -> list[dict[str, Any]]:
    """Calls from Oct 25 to Dec 3: customers and unknown numbers calling a few to a hundred times (so
    that the ranking has a head and ties), calls still up, customers linked later and starts moved an
    hour back over the month's boundary."""
    rng = random.Random(5)
    log = EventLog()
    first = (MONTH_START - timedelta(days=7)).timestamp()
    customers, numbers = list(range(40)), [f"1370000{n:04d}" for n in range(60)]
    late: list[dict[str, Any]] = []
    for n in range(2_400):
        t = first + rng.uniform(0, 39 * 86400)
        call_id = f"m{n}"
        direction = rng.choices(("inbound", "outbound", "internal"), (75, 20, 5))[0]
        linked = direction != "internal" and rng.random() < 0.6
        who = rng.choices(customers if linked else numbers, [1 / (i + 1) for i in range(40 if linked else 60)])[0]
        number = f"139{who:08d}" if linked else str(who)
        caller = number if direction == "inbound" else "1001"
        dialed = number if direction == "outbound" else ("1002" if direction == "internal" else "4000")
        extra = {"customer_id": who} if linked else {}
        log.add(
            "call.new",
            t,
            call_id=call_id,
            direction=direction,
            caller={"number": caller, "name": ""},
            dialed=dialed,
            **extra,
        )
        if n % 13 == 0:
            continue  # still up
        answered = t + 5 if rng.random() < 0.8 else None
        log.end(t + rng.uniform(20, 600), call_id, t, answered, "answered" if answered else "abandoned")
        if not linked and n % 5 == 0:
            late.append(
                {
                    "type": "call.linked",
                    "ts": iso(t + 900),
                    "pbx": "pbx1",
                    "call_id": call_id,
                    "customer_id": rng.choice(customers),
                }
            )
        if n % 17 == 0:
            late.append({"type": "call.new", "ts": iso(t - 3 * 3600), "pbx": "pbx1", "call_id": call_id})
    out = log.ordered() + late
    for seq, event in enumerate(out, 1):
        event["seq"] = seq
    return out


@pytest.fixture(scope="module")
def customer_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sessionmaker[Session]]:
    url = f"sqlite:///{tmp_path_factory.mktemp('customers') / 'month.db'}"
    migrate(url)
    engine = make_engine(url)
    factory = make_sessionmaker(engine)
    load(factory, customer_month())
    yield factory
    engine.dispose()


CUSTOMER_RANGES = [
    (timedelta(0), timedelta(days=30)),  # the month
    (timedelta(minutes=17, seconds=23), timedelta(days=30)),  # the month less its first minutes
    (timedelta(days=-3, hours=10, minutes=5), timedelta(days=31, hours=2, seconds=9)),  # edges of two months
    (timedelta(0), timedelta(days=19, hours=12, minutes=30)),  # more than half of it: the month less the rest
    (timedelta(days=5), timedelta(days=12)),  # a week: the rows
    (timedelta(days=-31), timedelta(days=61)),  # three months
]


def check_customers(factory: sessionmaker[Session]) -> int:
    compared = 0
    with factory() as session:
        for tz in (TZ, "America/New_York"):
            zone = ZoneInfo(tz)
            month = datetime(2026, 11, 1, tzinfo=zone)
            for begin, finish in CUSTOMER_RANGES:
                for limit in (1, 2, 5, 20, 10_000):
                    for filters in ({}, {"agent": "a1001"}):
                        ask = dict(kind="customer_calls", start=month + begin, end=month + finish, tz=tz, limit=limit)
                        ask.update(filters)
                        fast, slow = answer(session, False, **ask), answer(session, True, **ask)
                        assert fast == slow, ask
                        assert len(fast[0]) == min(limit, len(report(session, **{**ask, "limit": 10_000}).rows))
                        compared += 1
    return compared


@pytest.mark.parametrize("first_read", [1, 1_000])
def test_customer_rankings_from_the_monthly_rollup_equal_the_rows(
    customer_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch, first_read: int
) -> None:
    """Read a few groups per month at first (the ranking reads on until it is sure) or all of them."""
    monkeypatch.setattr(reports, "FIRST_READ", first_read)
    assert check_customers(customer_factory) == 2 * len(CUSTOMER_RANGES) * 5 * 2
    with customer_factory() as session:
        scope = month_scope(MONTH_START, MONTH_START + timedelta(days=30))
        chosen = reports.ranked_customers(session, scope, 3)
        top = report(session, "customer_calls", MONTH_START, MONTH_START + timedelta(days=30), tz=TZ, limit=3)
    assert chosen is not None and len(chosen) >= 3  # the rollup ranked them
    counts = [row[2] for row in top.rows]
    assert counts == sorted(counts, reverse=True) and counts[0] > counts[-1]


def month_scope(start: datetime, end: datetime) -> reports.Scope:
    zone = ZoneInfo(TZ)
    s, e = start.timestamp(), end.timestamp()
    return reports.Scope(s, e, GroupBy.DAY, zone, None, None, None, KpiSettings(), fixed_offset_hours(s, e, zone))


def test_the_writer_keeps_the_customer_rollup_equal_to_the_rows(customer_factory: sessionmaker[Session]) -> None:
    kept = rollup_contents(customer_factory)
    with customer_factory() as session, session.begin():
        rollup.refill(session.connection())
    assert rollup_contents(customer_factory) == kept and kept["customers"]
    with customer_factory() as session:
        t = rollup.CUSTOMERS.table.c
        months = set(session.scalars(select(t.slot).where(t.calls != 0)))
        calls = session.scalar(select(func.sum(t.calls)))
        stored = session.scalar(select(func.count()).where(CallRow.direction != "internal"))
    assert months == {rollup.month_of(rollup.month_days(m)[0]) for m in months} and len(months) == 3
    assert calls == stored


@pytest.mark.postgres
def test_customer_rollup_on_postgres(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reports, "FIRST_READ", 1)
    with postgres_database("customers") as url:
        engine = make_engine(url)
        factory = make_sessionmaker(engine)
        load(factory, customer_month())
        check_customers(factory)
        kept = rollup_contents(factory)
        with factory() as session, session.begin():
            rollup.refill(session.connection())
        assert rollup_contents(factory) == kept and kept["customers"]
        engine.dispose()

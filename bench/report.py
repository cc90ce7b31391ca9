"""Every report over a month of a 500-seat center (SQLite and/or PostgreSQL), and what keeping the rollups
costs the history writer; prints figures beside the 1 s budget.

.venv/bin/python bench/report.py --calls 10000000 --db sqlite --db postgres
.venv/bin/python bench/report.py --calls 200000 --runs 3       # a quick run

Data: calls are generated as rows (08:00-22:00 local, 80 % inbound, 18 % outbound, 2 % internal, 88 %
answered, 60 % of the external calls linked to one of 200,000 customers, the others from 2,000,000
numbers) and loaded with executemany (SQLite) or COPY (PostgreSQL); what each report reads is derived
from them in SQL: a queue stay per inbound call, two IVR steps per inbound call, a survey for a quarter of
the answered inbound calls, three seat-state changes per answered call. Secondary indexes are built after
the load, then the rollups are summed from the rows (``stats.rollup.refill``, untimed: the state the
writer keeps incrementally).

Timed (median of ``--runs`` with the range): every report kind over the month by hour, day, week, month
and year; the month by day with edge minutes (a range not on the hour); one queue, one agent, a
department's agents; CDR pages and their total. The reports per agent or queue are timed as the reports
page asks for them, a page of whole periods of about 10,000 rows (the first page, one mid-month), and once
whole, as an export reads them (a month by hour for 500 agents is 372,000 rows). Checked on a smaller
run (``--check-calls``): every report's rollup answer equals its answer from the rows alone. The writer:
the same simulated days of events written with and without the rollups, alternated in fresh databases,
per-call wall and CPU time.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import Engine, Index, Table, text

from crm_core.db import make_engine, make_sessionmaker, migrate
from crm_core.testing import postgres_database
from stats import rollup
from stats.models import AgentStateRow, CallRow, IvrStepRow, QueueCallRow, SurveyRow
from stats.reports import PAGED, GroupBy, ReportKind, report
from stats.writer import HistoryWriter

TZ = ZoneInfo("Asia/Shanghai")
MONTH_START = datetime(2026, 10, 1, tzinfo=TZ)
DAYS = 31
BATCH = 50_000
BUDGET_S = 1.0
COLUMNS = [c.name for c in CallRow.__table__.columns if c.name != "id"]
DERIVED = (QueueCallRow, IvrStepRow, SurveyRow, AgentStateRow)


def call_rows(calls: int, agents: int, queues: int, seed: int = 1) -> Iterator[tuple[Any, ...]]:
    """Calls spread over the month's business hours (08:00-22:00 local), in start order."""
    rng = random.Random(seed)
    start = MONTH_START.timestamp()
    per_day = calls / DAYS
    agent_names = [f"{8000 + i}" for i in range(agents)]
    departments = [str(1 + i % 10) for i in range(agents)]
    queue_names = [f"q{i}" for i in range(queues)]
    n = 0
    for day in range(DAYS):
        count = int(per_day * (day + 1)) - int(per_day * day)
        base = start + day * 86400 + 8 * 3600
        for offset in sorted(rng.random() * 14 * 3600 for _ in range(count)):
            t = round(base + offset, 3)
            roll = rng.random()
            direction = "inbound" if roll < 0.8 else ("outbound" if roll < 0.98 else "internal")
            answered = rng.random() < 0.88
            a = rng.randrange(agents)
            wait = round(rng.expovariate(1 / 15), 3) if direction == "inbound" else 0.0
            talk = round(rng.expovariate(1 / 180), 3) if answered else 0.0
            hold = 15.0 if answered and rng.random() < 0.1 else 0.0
            end = t + wait + talk + hold
            customer = rng.randrange(200_000) if direction != "internal" and rng.random() < 0.6 else None
            number = f"139{customer:08d}" if customer is not None else f"13{rng.randrange(2_000_000):09d}"
            if direction == "internal":
                number = agent_names[rng.randrange(agents)]
            values = {
                "pbx": "pbx1",
                "call_id": f"{int(t)}.{n}",
                "direction": direction,
                "caller_number": agent_names[a] if direction == "outbound" else number,
                "caller_name": "",
                "dialed": number if direction == "outbound" else "4000",
                "queue": queue_names[a % queues] if direction == "inbound" else None,
                "agent": agent_names[a] if answered else None,
                "department": departments[a] if answered else None,
                "started_at": t,
                "hour": int(t // 3600),
                "answered_at": t + wait if answered else None,
                "ended_at": end,
                "wait_s": wait,
                "ring_s": round(rng.uniform(1, 8), 3) if answered else None,
                "talk_s": talk,
                "hold_s": hold,
                "wrapup_s": round(rng.uniform(5, 30), 3) if answered else 0.0,
                "duration_s": round(end - t, 3),
                "disposition": "answered" if answered else rng.choice(("abandoned", "no_answer", "busy")),
                "hangup_cause": 16,
                "hangup_cause_text": "Normal Clearing",
                "hangup_by": "caller",
                "customer_id": customer,
                "ticket_id": None,
                "order_id": None,
                "recording_id": None,
                "hold_since": None,
                "hold_mark": None,
            }
            n += 1
            yield tuple(values[c] for c in COLUMNS)


# What each report reads, derived from the calls (every row in its call's hour).
DERIVE_SQL = [
    """INSERT INTO stats_queue_calls (pbx, call_id, queue, joined_at, hour, position, outcome, wait_s, agent,
        department, left_at, answered_at, ended_at, talk_s, hold_s, wrapup_s)
    SELECT pbx, call_id, queue, started_at, hour, 1,
        CASE WHEN answered_at IS NOT NULL THEN 'answered' WHEN id % 7 = 0 THEN 'overflow' ELSE 'abandoned' END,
        wait_s, agent, department, started_at + wait_s, answered_at,
        CASE WHEN answered_at IS NOT NULL THEN ended_at END, CASE WHEN answered_at IS NOT NULL THEN talk_s END,
        hold_s, wrapup_s
    FROM stats_calls WHERE direction = 'inbound'""",
    """INSERT INTO stats_ivr_steps (pbx, call_id, flow, node, input, result, at, hour, dwell_s, first_visit)
    SELECT pbx, call_id, 'main', 'welcome', '', 'ok', started_at, hour, 4.0, TRUE
    FROM stats_calls WHERE direction = 'inbound'""",
    """INSERT INTO stats_ivr_steps (pbx, call_id, flow, node, input, result, at, hour, dwell_s, first_visit)
    SELECT pbx, call_id, 'main', 'menu', CAST(1 + id % 3 AS VARCHAR(10)), 'ok', started_at, hour,
        CASE WHEN id % 10 < 3 THEN NULL ELSE 2.5 END, TRUE
    FROM stats_calls WHERE direction = 'inbound'""",
    """INSERT INTO stats_surveys (pbx, call_id, agent, department, queue, score, scale, at, hour)
    SELECT pbx, call_id, agent, department, queue,
        CASE WHEN id % 10 < 4 THEN 5 WHEN id % 10 < 7 THEN 4 WHEN id % 10 < 9 THEN 3 ELSE 1 + id % 2 END,
        5, started_at, hour
    FROM stats_calls WHERE direction = 'inbound' AND answered_at IS NOT NULL AND id % 4 = 0""",
]
STATES_SQL = """INSERT INTO stats_agent_states (pbx, agent, extension, department, state, reason, queues,
        started_at, hour, ended_at, duration_s, is_open)
    SELECT pbx, agent, agent, department, '{state}', '', '', started_at + {shift}, hour,
        started_at + {shift} + {duration}, {duration}, FALSE
    FROM stats_calls WHERE answered_at IS NOT NULL {conflict}"""
STATES = (("on_call", "0.0", "talk_s"), ("wrap_up", "0.001", "wrapup_s"), ("available", "0.002", "30.0"))


def _secondary_indexes(model: Any) -> list[Index]:
    table = model.__table__
    assert isinstance(table, Table)
    return list(table.indexes)


def fill(engine: Engine, rows: Iterator[tuple[Any, ...]], quiet: bool = False) -> None:
    say = (lambda *_: None) if quiet else print
    started = time.perf_counter()
    indexes = [i for model in (CallRow, *DERIVED) for i in _secondary_indexes(model)]
    with engine.begin() as conn:
        for index in indexes:
            index.drop(conn)
    loaded = 0
    postgres = engine.dialect.name == "postgresql"
    if postgres:
        raw = engine.raw_connection()
        try:
            with raw.cursor() as cur, cur.copy(f"COPY stats_calls ({', '.join(COLUMNS)}) FROM STDIN") as copy:  # type: ignore[attr-defined]
                for row in rows:
                    copy.write_row(row)
                    loaded += 1
            raw.commit()
        finally:
            raw.close()
    else:
        sql = f"INSERT INTO stats_calls ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
        with engine.begin() as conn:
            conn.exec_driver_sql("PRAGMA synchronous=OFF")  # a bulk load that is thrown away afterwards
            batch: list[tuple[Any, ...]] = []
            for row in rows:
                batch.append(row)
                if len(batch) == BATCH:
                    conn.exec_driver_sql(sql, batch)
                    loaded += len(batch)
                    batch = []
            if batch:
                conn.exec_driver_sql(sql, batch)
                loaded += len(batch)
    say(f"  loaded {loaded:,} calls in {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    with engine.begin() as conn:
        if not postgres:
            conn.exec_driver_sql("PRAGMA synchronous=OFF")
        for sql in DERIVE_SQL:
            conn.execute(text(sql))
        conflict = "ON CONFLICT DO NOTHING"
        for state, shift, duration in STATES:
            sql = STATES_SQL.format(state=state, shift=shift, duration=duration, conflict=conflict)
            conn.execute(text(sql if postgres else sql.replace("INSERT INTO", "INSERT OR IGNORE INTO")))
        counts = {
            m.__tablename__: conn.execute(text(f"SELECT COUNT(*) FROM {m.__tablename__}")).scalar_one() for m in DERIVED
        }
    say(f"  derived {', '.join(f'{n:,} {t}' for t, n in counts.items())} in {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    with engine.begin() as conn:
        for index in indexes:
            index.create(conn)
    say(f"  built {len(indexes)} indexes in {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    with engine.begin() as conn:
        rollup.refill(conn)
        sizes = {s.name: conn.execute(text(f"SELECT COUNT(*) FROM {s.table.name}")).scalar_one() for s in rollup.SPECS}
        conn.execute(text("ANALYZE"))
    summed = ", ".join(f"{n:,} {k}" for k, n in sizes.items())
    say(f"  summed the rollups ({summed}) in {time.perf_counter() - started:.1f} s")


def timed(label: str, run: Callable[[], object], runs: int) -> None:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    median = statistics.median(times)
    verdict = "met" if median <= BUDGET_S else "NOT met"
    print(
        f"  {label:<58} median {median * 1000:7.0f} ms ({min(times) * 1000:.0f}-{max(times) * 1000:.0f})"
        f"  budget 1 s: {verdict}"
    )


def ask(kind: str, group_by: str = "day", start: datetime = MONTH_START, **more: Any) -> dict[str, Any]:
    end = MONTH_START + timedelta(days=DAYS)
    return dict(kind=kind, start=start, end=end, group_by=group_by, tz="Asia/Shanghai", **more)


PAGE: dict[str, Any] = {"limit": 10_000, "period_offset": 0}  # the API's default page
MIDDLE: dict[str, Any] = {"limit": 10_000, "period_offset": 15 * 24}


def cases(agents: int) -> Iterator[tuple[str, dict[str, Any], bool]]:
    """(label, report arguments, timed with every run or once)."""
    off_hour = MONTH_START + timedelta(minutes=17, seconds=23)
    department = [f"{8000 + i}" for i in range(agents) if i % 10 == 0]
    for kind in ReportKind:
        if kind is ReportKind.CUSTOMER_CALLS:
            yield f"{kind.value}, month (top 100)", ask(kind.value, limit=100), False
            yield f"{kind.value}, month, edge minutes (top 100)", ask(kind.value, start=off_hour, limit=100), False
            continue
        if kind is ReportKind.CDR:
            yield "cdr, first page of 100, with the total", ask("cdr", limit=100), True
            yield "cdr, page 1,000 of 100 (offset 99,900), with the total", ask("cdr", limit=100, offset=99_900), True
            yield "cdr, one agent's first page of 100", ask("cdr", limit=100, agent="8003"), True
            continue
        if kind in PAGED:  # as the reports page asks: a page of whole periods, about 10,000 rows
            for group_by in GroupBy:
                yield (
                    f"{kind.value}, month by {group_by.value}, first page",
                    ask(kind.value, group_by.value, **PAGE),
                    True,
                )
            yield f"{kind.value}, month by hour, a page mid-month", ask(kind.value, "hour", **MIDDLE), True
            yield f"{kind.value}, month by day, edge minutes, first page", ask(kind.value, start=off_hour, **PAGE), True
            yield f"{kind.value}, whole month by hour (an export's read)", ask(kind.value, "hour"), False
            continue
        for group_by in GroupBy:
            yield (
                f"{kind.value}, month by {group_by.value}",
                ask(kind.value, group_by.value),
                group_by is not GroupBy.HOUR,
            )
        yield f"{kind.value}, month by day, edge minutes", ask(kind.value, start=off_hour), True
    yield "service_center, one queue, month by day", ask("service_center", queue="q3"), True
    yield "agent_service, one agent, month by day", ask("agent_service", agent="8003", **PAGE), True
    yield (
        "agent_service, a department's 50 agents, month by hour",
        ask("agent_service", "hour", agents=department, **PAGE),
        True,
    )
    yield "queue_history, a department's 50 agents, month by day", ask("queue_history", agents=department, **PAGE), True


def measure(url: str, calls: int, agents: int, queues: int, runs: int) -> None:
    engine = make_engine(url)
    fill(engine, call_rows(calls, agents, queues))
    factory = make_sessionmaker(engine)
    print(f"  load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    with factory() as session:
        for label, arguments, repeat in cases(agents):
            timed(label, lambda a=arguments: report(session, **a), runs if repeat else 1)  # type: ignore[misc]
    print(f"  load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    engine.dispose()


def check(url: str, calls: int, agents: int, queues: int) -> None:
    """Every case's rollup answer against the rows' answer, on a smaller month."""
    engine = make_engine(url)
    fill(engine, call_rows(calls, agents, queues, seed=2), quiet=True)
    different = []
    compared = 0
    with make_sessionmaker(engine)() as session:
        for label, arguments, _ in cases(agents):
            fast = report(session, **arguments)
            with rollup.from_rows():
                slow = report(session, **arguments)
            compared += 1
            if (fast.rows, fast.total) != (slow.rows, slow.total):
                different.append(label)
    engine.dispose()
    print(f"  rollup answers equal the rows' answers at {calls:,} calls: {compared - len(different)}/{compared}")
    for label in different:
        print(f"    differs: {label}")


def writer_cost(make_url: Callable[[], Any], days: int, runs: int) -> None:
    """Per-call cost of the history writer with and without the rollups, alternated in fresh databases."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "stats"))
    from stats_events import simulate_day  # the statistics tests' simulated days

    events: list[dict[str, Any]] = []
    for day in range(days):
        events += simulate_day((MONTH_START + timedelta(days=day)).timestamp(), seed=day, agents=6, calls=250)
    for seq, event in enumerate(events, 1):
        event["seq"] = seq
    calls = sum(1 for e in events if e["type"] == "call.new")
    figures: dict[bool, list[tuple[float, float]]] = {True: [], False: []}
    for _ in range(runs):
        for kept in (True, False):
            with make_url() as url:
                engine = make_engine(url)
                writer = HistoryWriter(make_sessionmaker(engine))
                wall, cpu = time.perf_counter(), time.process_time()
                if kept:
                    _write(writer, events)
                else:
                    with rollup.suspended():
                        _write(writer, events)
                figures[kept].append(((time.perf_counter() - wall) / calls, (time.process_time() - cpu) / calls))
                engine.dispose()
    print(f"  history writer, {len(events):,} events of {calls:,} calls in batches of 500, {runs} runs each:")
    for kept in (True, False):
        walls = [w * 1000 for w, _ in figures[kept]]
        cpus = [c * 1000 for _, c in figures[kept]]
        print(
            f"    {'with the rollups' if kept else 'without rollups '}: wall {statistics.median(walls):.2f} ms/call"
            f" ({min(walls):.2f}-{max(walls):.2f}), CPU {statistics.median(cpus):.2f} ms/call"
            f" ({min(cpus):.2f}-{max(cpus):.2f})"
        )
    ratio = [a[1] / b[1] for a, b in zip(figures[True], figures[False], strict=True)]
    print(f"    CPU with / without: {statistics.median(ratio):.2f}x ({min(ratio):.2f}-{max(ratio):.2f})")


def _write(writer: HistoryWriter, events: list[dict[str, Any]]) -> None:
    for at in range(0, len(events), 500):
        writer.apply_many(events[at : at + 500])


class _SqliteDatabase:
    def __enter__(self) -> str:
        self.folder = tempfile.TemporaryDirectory()
        url = f"sqlite:///{self.folder.name}/report.db"
        migrate(url)
        return url

    def __exit__(self, *_: object) -> None:
        self.folder.cleanup()


def database(db: str) -> Any:
    return _SqliteDatabase() if db == "sqlite" else postgres_database("statsbench")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=10_000_000)
    parser.add_argument("--agents", type=int, default=500)
    parser.add_argument("--queues", type=int, default=20)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--check-calls", type=int, default=50_000, help="0: no check")
    parser.add_argument("--writer-days", type=int, default=4, help="0: the writer is not timed")
    parser.add_argument("--db", action="append", choices=["sqlite", "postgres"])
    args = parser.parse_args()
    for db in args.db or ["sqlite"]:
        print(f"{db}: {args.calls:,} calls, {args.agents} agents, {args.queues} queues, {DAYS} days")
        if args.check_calls:
            with database(db) as url:
                check(url, args.check_calls, args.agents, args.queues)
        if args.writer_days:
            writer_cost(lambda db=db: database(db), args.writer_days, max(3, args.runs // 2))  # type: ignore[misc]
        with database(db) as url:
            measure(url, args.calls, args.agents, args.queues, args.runs)


if __name__ == "__main__":
    main()

"""A month report grouped by day over many calls (SQLite and/or PostgreSQL); prints figures.

.venv/bin/python bench/report.py --calls 10000000 --db sqlite --db postgres
.venv/bin/python bench/report.py --calls 200000            # a quick run

Calls are generated as rows (a month of a 500-seat center), loaded with executemany (SQLite) or
COPY (PostgreSQL) with the secondary indexes built afterwards; the hourly rollup is then built with
one INSERT ... SELECT, which is the state the history writer keeps incrementally. Timed: the
service-center and agent-service reports from the rollup, and the same service-center report from the
raw call rows (a range not on the hour forces that path); the two must agree.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import Engine, Index, Table, text
from sqlalchemy.orm import Session

from crm_core.db import make_engine, make_sessionmaker, migrate
from crm_core.testing import postgres_database
from stats.models import CallRow
from stats.reports import report

TZ = ZoneInfo("Asia/Shanghai")
MONTH_START = datetime(2026, 10, 1, tzinfo=TZ)
DAYS = 31
BATCH = 50_000
COLUMNS = [c.name for c in CallRow.__table__.columns if c.name != "id"]


def call_rows(calls: int, agents: int, queues: int, seed: int = 1) -> Iterator[tuple]:
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
            wait = round(rng.expovariate(1 / 15), 3)
            talk = round(rng.expovariate(1 / 180), 3) if answered else 0.0
            hold = 15.0 if answered and rng.random() < 0.1 else 0.0
            end = t + wait + talk + hold
            values = {
                "pbx": "pbx1",
                "call_id": f"{int(t)}.{n}",
                "direction": direction,
                "caller_number": f"13{rng.randrange(10**9):09d}",
                "caller_name": "",
                "dialed": "4000",
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
                "customer_id": None,
                "ticket_id": None,
                "order_id": None,
                "recording_id": None,
                "hold_since": None,
                "hold_mark": None,
            }
            n += 1
            yield tuple(values[c] for c in COLUMNS)


ROLLUP_SQL = """
INSERT INTO stats_call_rollup (hour, queue, agent, department, direction, disposition,
    calls, answered, wait_ms, ring_ms, talk_ms, hold_ms, wrapup_ms)
SELECT hour, COALESCE(queue, ''), COALESCE(agent, ''), COALESCE(department, ''), direction,
    COALESCE(disposition, ''), COUNT(*),
    SUM(CASE WHEN answered_at IS NOT NULL THEN 1 ELSE 0 END),
    SUM(CASE WHEN answered_at IS NOT NULL THEN ROUND(COALESCE(wait_s, 0) * 1000) ELSE 0 END),
    SUM(CASE WHEN answered_at IS NOT NULL THEN ROUND(COALESCE(ring_s, 0) * 1000) ELSE 0 END),
    SUM(ROUND(COALESCE(talk_s, 0) * 1000)), SUM(ROUND(COALESCE(hold_s, 0) * 1000)),
    SUM(ROUND(COALESCE(wrapup_s, 0) * 1000))
FROM stats_calls WHERE ended_at IS NOT NULL
GROUP BY hour, COALESCE(queue, ''), COALESCE(agent, ''), COALESCE(department, ''), direction,
    COALESCE(disposition, '')
"""

CENTER_ROLLUP_SQL = """
INSERT INTO stats_center_rollup (hour, queue, direction, disposition,
    calls, answered, wait_ms, ring_ms, talk_ms, hold_ms, wrapup_ms)
SELECT hour, queue, direction, disposition, SUM(calls), SUM(answered), SUM(wait_ms), SUM(ring_ms),
    SUM(talk_ms), SUM(hold_ms), SUM(wrapup_ms)
FROM stats_call_rollup GROUP BY hour, queue, direction, disposition
"""


def _secondary_indexes() -> list[Index]:
    table = CallRow.__table__
    assert isinstance(table, Table)
    return list(table.indexes)


def fill(engine: Engine, rows: Iterator[tuple]) -> None:
    started = time.perf_counter()
    indexes = _secondary_indexes()
    with engine.begin() as conn:
        for index in indexes:
            index.drop(conn)
    loaded = 0
    if engine.dialect.name == "postgresql":
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
            batch: list[tuple] = []
            for row in rows:
                batch.append(row)
                if len(batch) == BATCH:
                    conn.exec_driver_sql(sql, batch)
                    loaded += len(batch)
                    batch = []
            if batch:
                conn.exec_driver_sql(sql, batch)
                loaded += len(batch)
    print(f"  loaded {loaded:,} calls in {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    with engine.begin() as conn:
        for index in indexes:
            index.create(conn)
    print(f"  built {len(indexes)} indexes in {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(text(ROLLUP_SQL))
        conn.execute(text(CENTER_ROLLUP_SQL))
        per_agent = conn.execute(text("SELECT COUNT(*) FROM stats_call_rollup")).scalar_one()
        per_center = conn.execute(text("SELECT COUNT(*) FROM stats_center_rollup")).scalar_one()
        conn.execute(text("ANALYZE"))
    print(
        f"  built the rollups ({per_agent:,} per-agent rows, {per_center:,} center rows)"
        f" in {time.perf_counter() - started:.1f} s"
    )


def timed(label: str, run: Callable[[], object], repeat: int = 3) -> object:
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - started)
    print(f"  {label}: best {min(times) * 1000:.0f} ms, median {statistics.median(times) * 1000:.0f} ms")
    return result


def one_queue(session: Session, start: datetime, end: datetime) -> Callable[[], object]:
    return lambda: report(session, "service_center", start, end, "day", queue="q3", tz="Asia/Shanghai")


def measure(url: str, calls: int, agents: int, queues: int) -> None:
    engine = make_engine(url)
    fill(engine, call_rows(calls, agents, queues))
    factory = make_sessionmaker(engine)
    start, end = MONTH_START, MONTH_START + timedelta(days=DAYS)
    with factory() as session:

        def month(kind: str, begin: datetime = start) -> Callable[[], object]:
            return lambda: report(session, kind, begin, end, "day", tz="Asia/Shanghai")

        center = timed("service_center, month by day (center rollup)", month("service_center"))
        timed("service_center, one queue, month by day (center rollup)", one_queue(session, start, end))
        timed("agent_service, month by day (per-agent rollup)", month("agent_service"))
        raw = timed(
            "service_center, month by day (call rows)",
            month("service_center", start + timedelta(seconds=1)),
            1,
        )
    same = [r[1:] for r in center.rows] == [r[1:] for r in raw.rows]  # type: ignore[attr-defined]
    print(f"  rollup report equals call-row report: {same}")
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=10_000_000)
    parser.add_argument("--agents", type=int, default=500)
    parser.add_argument("--queues", type=int, default=20)
    parser.add_argument("--db", action="append", choices=["sqlite", "postgres"])
    args = parser.parse_args()
    for db in args.db or ["sqlite"]:
        print(f"{db}: {args.calls:,} calls, {args.agents} agents, {args.queues} queues, {DAYS} days")
        if db == "sqlite":
            with tempfile.TemporaryDirectory() as folder:
                url = f"sqlite:///{folder}/report.db"
                migrate(url)
                measure(url, args.calls, args.agents, args.queues)
        else:
            with postgres_database("statsbench") as url:
                measure(url, args.calls, args.agents, args.queues)


if __name__ == "__main__":
    main()

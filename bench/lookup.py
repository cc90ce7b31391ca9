"""Caller lookup latency on a large customer table (SQLite and/or PostgreSQL); prints figures.

.venv/bin/python bench/lookup.py --customers 1000000 --db sqlite --db postgres
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import insert

from crm_core.db import make_engine, make_sessionmaker, migrate
from crm_core.lookup import lookup
from crm_core.models import Customer, Phone, utcnow
from crm_core.seed import customer_rows
from crm_core.testing import postgres_database

BATCH = 20_000
WARMUP = 200  # lookups not counted: statement cache and page cache warm-up


def mobile_of(i: int) -> str:
    return f"13{i % 10}{i:08d}"[:11]


def fill(url: str, customers: int) -> None:
    engine = make_engine(url)
    rng, now = random.Random(1), utcnow()
    start = time.perf_counter()
    with engine.begin() as conn:
        for first in range(1, customers + 1, BATCH):
            count = min(BATCH, customers + 1 - first)
            conn.execute(insert(Customer), list(customer_rows(rng, first, count, now)))
            conn.execute(
                insert(Phone),
                [
                    {
                        "customer_id": i,
                        "raw": mobile_of(i),
                        "key": f"+86{mobile_of(i)}",
                        "kind": "mobile",
                        "extension": "",
                        "label": "",
                        "created_at": now,
                    }
                    for i in range(first, first + count)
                ],
            )
    engine.dispose()
    print(f"  filled {customers:,} customers in {time.perf_counter() - start:.1f} s")


def measure(url: str, customers: int, lookups: int) -> None:
    engine = make_engine(url)
    factory = make_sessionmaker(engine)
    rng = random.Random(2)
    forms = [lambda m: m, lambda m: f"+86 {m[:3]} {m[3:7]} {m[7:]}", lambda m: f"0086{m}"]
    timings = []
    cpu = time.process_time()
    with factory() as session:
        for n in range(lookups + WARMUP):
            number = rng.choice(forms)(mobile_of(rng.randrange(1, customers + 1)))
            t0 = time.perf_counter()
            found = lookup(session, number)
            elapsed = time.perf_counter() - t0
            assert found.customer is not None
            if n >= WARMUP:
                timings.append(elapsed * 1000)
    cpu = time.process_time() - cpu
    engine.dispose()
    timings.sort()
    p99 = timings[int(len(timings) * 0.99) - 1]
    print(
        f"  {lookups} lookups: p50 {statistics.median(timings):.3f} ms  p99 {p99:.3f} ms  "
        f"max {timings[-1]:.3f} ms  CPU per lookup {cpu / (lookups + WARMUP) * 1000:.3f} ms  "
        f"(target p99 <= 2 ms; machine load average {os.getloadavg()[0]:.1f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--lookups", type=int, default=5_000)
    parser.add_argument("--db", action="append", choices=["sqlite", "postgres"])
    args = parser.parse_args()
    for kind in args.db or ["sqlite"]:
        print(f"{kind}: {args.customers:,} customers")
        if kind == "sqlite":
            with tempfile.TemporaryDirectory() as folder:
                url = f"sqlite:///{os.path.join(folder, 'bench.db')}"
                migrate(url)
                fill(url, args.customers)
                measure(url, args.customers, args.lookups)
        else:
            with postgres_database("crmbench") as url:
                fill(url, args.customers)
                engine = make_engine(url)
                with engine.begin() as conn:
                    conn.exec_driver_sql("ANALYZE")
                engine.dispose()
                measure(url, args.customers, args.lookups)


if __name__ == "__main__":
    main()

"""Caller lookup latency on a large CRM (SQLite and PostgreSQL); prints figures beside a same-run baseline.

Every customer has a mobile number, an open and a closed ticket, an order and a linked call with its call
history row, so every part of the lookup (matches, open tickets, recent orders, recent calls) returns rows.
The database is filled once per engine; then ``--runs`` fresh processes each time ``--lookups`` lookups of
each contender, in turns, and the median of the runs' p50 and p99 is printed with their range. The product
is the lookup as the screen-pop makes it (``cti.screen_pop.CrmCards``: on PostgreSQL its own connections in
autocommit, the one statement prepared and run on one generic plan: one round trip). The baselines on
PostgreSQL, same data, same runs: the same statement through an ORM session (BEGIN and ROLLBACK, the
server's own choice of plan), and the lookup in three statements (the path SQLite keeps); on SQLite the
same lookup at ``--baseline-customers`` customers.

    .venv/bin/python bench/lookup.py --customers 1000000 --db postgres --db sqlite
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import Float, Integer, String, cast, insert, literal, select

from crm_core.db import make_engine, make_sessionmaker, migrate
from crm_core.lookup import lookup, lookup_in_steps
from crm_core.models import CallLink, Customer, Order, Phone, Ticket, TicketType, utcnow
from crm_core.phone import lookup_keys
from crm_core.seed import customer_rows
from crm_core.testing import postgres_database
from cti.screen_pop import CrmCards, lookup_fields
from stats.models import CallRow

BATCH = 20_000
WARMUP = 200  # lookups not counted: statement cache, prepared statements and page cache warm-up


def mobile_of(i: int) -> str:
    return f"13{i % 10}{i:08d}"[:11]


def call_id_of(i: int) -> str:
    return f"{1_700_000_000 + i}.{i % 997}"


def _from_customers(model: Any, first: int, last: int, now: Any, values: dict[str, Any]) -> Any:
    """``INSERT INTO model SELECT ... FROM customers`` for ids first..last: ``values`` given per row (SQL over
    ``customers.id``), every other column its default (a constant, or ``now`` for a time)."""
    c = Customer.__table__.c
    names, exprs = [], []
    for column in model.__table__.columns:
        if column.primary_key:
            continue
        if column.key in values:
            value = values[column.key]
        elif column.default is not None and column.default.is_scalar:
            value = literal(column.default.arg, column.type)
        elif column.default is not None:  # a callable default: the times
            value = literal(now, column.type)
        else:
            continue
        names.append(column.key)
        exprs.append(value.label(column.key) if hasattr(value, "label") else literal(value).label(column.key))
    rows = select(*exprs).where(c.id >= first, c.id <= last)
    return insert(model).from_select(names, rows)


def _activity(first: int, last: int, now: Any, ticket_type: int) -> list[Any]:
    """An open and a closed ticket, an order and a linked call (with its history row) per customer."""
    c = Customer.__table__.c
    call_id = literal("1700000000.").concat(cast(c.id, String))
    at = cast(c.id, Float) + 1_700_000_000.0
    ticket = {
        "title": literal("工单 ").concat(cast(c.id, String)),
        "type_id": literal(ticket_type),
        "customer_id": c.id,
    }
    return [
        _from_customers(
            Ticket,
            first,
            last,
            now,
            {**ticket, "status": literal("open"), "created_at": literal(now - timedelta(days=2))},
        ),
        _from_customers(
            Ticket,
            first,
            last,
            now,
            {**ticket, "status": literal("closed"), "created_at": literal(now - timedelta(days=30))},
        ),
        _from_customers(
            Order,
            first,
            last,
            now,
            {
                "number": literal("SO").concat(cast(c.id, String)),
                "customer_id": c.id,
                "status": literal("completed"),
                "total": literal(Decimal("128.50")),
            },
        ),
        _from_customers(CallLink, first, last, now, {"call_id": call_id, "pbx": literal("pbx1"), "customer_id": c.id}),
        _from_customers(
            CallRow,
            first,
            last,
            now,
            {
                "pbx": literal("pbx1"),
                "call_id": call_id,
                "direction": literal("inbound"),
                "queue": literal("support"),
                "agent": literal("1001"),
                "started_at": at,
                "hour": cast(at / 3600, Integer),
                "wait_s": literal(12.0),
                "answered_at": at + 12.0,
                "ended_at": at + 190.0,
                "duration_s": literal(190.0),
                "talk_s": literal(170.0),
                "disposition": literal("answered"),
                "customer_id": c.id,
            },
        ),
    ]


def fill(url: str, customers: int) -> None:
    """``customers`` customers with a phone each, and each with tickets, an order and a linked call."""
    engine = make_engine(url)
    rng, now = random.Random(1), utcnow()
    start = time.perf_counter()
    with engine.begin() as conn:
        ticket_type = conn.scalar(select(TicketType.id).order_by(TicketType.id).limit(1))
        assert ticket_type is not None, "the migration seeds the ticket types"
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
            for statement in _activity(first, first + count - 1, now, ticket_type):
                conn.execute(statement)
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
    engine.dispose()
    print(f"  filled {customers:,} customers (+ tickets, orders, calls) in {time.perf_counter() - start:.1f} s")


HOW = {
    "pop": "the screen-pop's lookup (on PostgreSQL its own connections: autocommit, prepared, one generic plan)",
    "session": "the same statement through an ORM session (BEGIN and ROLLBACK, the server's own plan choice)",
    "stepwise": "the same lookup in three statements through a session",
}


def _session_lookup(factory: Any, how: str) -> tuple[Callable[[str], dict[str, Any]], Callable[[], None]]:
    session = factory()

    def one(number: str) -> dict[str, Any]:
        found = lookup(session, number) if how == "session" else lookup_in_steps(session, lookup_keys(number, "CN", ""))
        session.rollback()  # each lookup its own transaction, as a request's short session
        return lookup_fields(found)

    return one, session.close


def measure(url: str, customers: int, lookups: int, how: str, seed: int) -> list[float]:
    """Milliseconds per lookup (``how``: a key of ``HOW``) of random customers' numbers in random caller-ID
    forms; the clock holds the whole call, as the pop's thread waits for it."""
    engine = make_engine(url)
    one: Callable[[str], dict[str, Any]]
    close: Callable[[], None]
    if how == "pop":
        cards = CrmCards(engine)
        one, close = cards.lookup, cards.close
    else:
        one, close = _session_lookup(make_sessionmaker(engine), how)
    rng = random.Random(seed)
    forms = [lambda m: m, lambda m: f"+86 {m[:3]} {m[3:7]} {m[7:]}", lambda m: f"0086{m}"]
    timings = []
    for n in range(lookups + WARMUP):
        number = rng.choice(forms)(mobile_of(rng.randrange(1, customers + 1)))
        t0 = time.perf_counter()
        found = one(number)
        elapsed = time.perf_counter() - t0
        if n == 0:  # every part of the card is there
            assert found["customer"] is not None and found["open_tickets"] and found["recent_orders"]
            assert found["recent_calls"], "the linked call and its history row"
        if n >= WARMUP:
            timings.append(elapsed * 1000)
    close()
    engine.dispose()
    return timings


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(len(ordered) * pct / 100) - 1))]


def one_run(args: argparse.Namespace) -> None:
    """A fresh process: the contenders timed in turns, in chunks; figures as JSON on stdout."""
    contenders = json.loads(args.contenders)
    out: dict[str, list[float]] = {c["label"]: [] for c in contenders}
    chunk = max(100, args.lookups // 10)
    for n in range(0, args.lookups, chunk):
        for i, c in enumerate(contenders):
            out[c["label"]] += measure(c["url"], c["customers"], chunk, c["how"], seed=n + i)
    print(json.dumps({k: [statistics.median(v), percentile(v, 99)] for k, v in out.items()}))


def runs(contenders: list[dict[str, Any]], args: Any) -> None:
    """``--runs`` fresh processes; the median of their p50 and p99 with the range, each beside the first's."""
    figures = []
    for _ in range(args.runs):
        command = [sys.executable, __file__, "--one-run", "--contenders", json.dumps(contenders)]
        command += ["--lookups", str(args.lookups)]
        done = subprocess.run(command, capture_output=True, text=True, check=True)
        figures.append(json.loads(done.stdout.strip().splitlines()[-1]))

    def line(key: str, index: int) -> str:
        values = [f[key][index] for f in figures]
        return f"{statistics.median(values):.3f} ms ({min(values):.3f}-{max(values):.3f})"

    product = contenders[0]["label"]
    for c in contenders:
        label = c["label"]
        ratio = statistics.median(f[product][1] / f[label][1] for f in figures)
        versus = "" if label == product else f" = product/this {ratio:.2f}x"
        print(f"  {label} ({c['customers']:,} customers): {HOW[c['how']]}")
        print(f"      p50 {line(label, 0)}  p99 {line(label, 1)}{versus}")
    print(f"  {args.runs} fresh runs x {args.lookups} lookups each; load average {os.getloadavg()[0]:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--baseline-customers", type=int, default=10_000, help="SQLite's baseline size")
    parser.add_argument("--lookups", type=int, default=3_000, help="lookups per run, of each kind")
    parser.add_argument("--runs", type=int, default=5, help="fresh processes; the median is printed")
    parser.add_argument("--db", action="append", choices=["sqlite", "postgres"])
    parser.add_argument("--one-run", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--contenders", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one_run:
        one_run(args)
        return
    for kind in args.db or ["postgres", "sqlite"]:
        print(f"{kind}: {args.customers:,} customers")
        if kind == "sqlite":
            with tempfile.TemporaryDirectory() as folder:
                url = f"sqlite:///{os.path.join(folder, 'bench.db')}"
                small = f"sqlite:///{os.path.join(folder, 'small.db')}"
                for target, n in ((url, args.customers), (small, args.baseline_customers)):
                    migrate(target)
                    fill(target, n)
                runs(
                    [
                        {"label": "product", "url": url, "customers": args.customers, "how": "pop"},
                        {"label": "baseline", "url": small, "customers": args.baseline_customers, "how": "pop"},
                    ],
                    args,
                )
        else:
            with postgres_database("crmbench") as url:
                fill(url, args.customers)
                runs(
                    [
                        {"label": "product", "url": url, "customers": args.customers, "how": how}
                        if how == "pop"
                        else {"label": how, "url": url, "customers": args.customers, "how": how}
                        for how in ("pop", "session", "stepwise")
                    ],
                    args,
                )


if __name__ == "__main__":
    main()

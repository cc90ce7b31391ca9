"""Import of N customers from an Excel file (made here by code), with a progress bar; prints figures.

.venv/bin/python bench/import.py --customers 100000 [--db postgres]
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import typer

from crm_core.db import make_engine, make_sessionmaker, migrate, session_scope
from crm_core.importer import import_customers
from crm_core.seed import company_name, mobile, person_name
from crm_core.sheet_layout import CUSTOMER_COLUMNS
from crm_core.tabular import write_xlsx
from crm_core.testing import postgres_database


def workbook(customers: int) -> bytes:
    rng = random.Random(5)
    header = [c.label for c in CUSTOMER_COLUMNS]
    rows = []
    for i in range(customers):
        name, city, _area = company_name(rng)
        rows.append(
            [
                f"{name}{i}",
                "company",
                "企业客户",
                city,
                "展会",
                "A",
                "active",
                "",
                f"{city}市人民路{i}号",
                "2/4",
                f"1{3 + i % 7}{i:09d}",
                person_name(rng),
                "经理",
                mobile(rng) if i % 3 == 0 else "",
            ]
        )
    return write_xlsx([("customers", header, rows)])


def run(url: str, data: bytes) -> None:
    factory = make_sessionmaker(make_engine(url))
    start, cpu = time.perf_counter(), time.process_time()
    with typer.progressbar(length=1, label="import", file=sys.stderr) as bar:

        def progress(done: int, total: int) -> None:
            bar.length = max(total, 1)
            bar.update(done - bar.pos)

        with session_scope(factory) as session:
            report = import_customers(session, data, "bench.xlsx", progress=progress, valid_only=True)
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    print(
        f"  imported {report.imported:,} of {report.total:,} rows ({len(report.errors)} errors) "
        f"in {elapsed:.1f} s wall, {cpu:.1f} s CPU = {report.imported / elapsed:,.0f} rows/s "
        f"(target 100,000 in <= 30 s; machine load average {os.getloadavg()[0]:.1f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    args = parser.parse_args()
    t0 = time.perf_counter()
    data = workbook(args.customers)
    print(
        f"{args.db}: workbook of {args.customers:,} customers, {len(data) / 1e6:.1f} MB, "
        f"made in {time.perf_counter() - t0:.1f} s"
    )
    if args.db == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            url = f"sqlite:///{os.path.join(folder, 'bench.db')}"
            migrate(url)
            run(url, data)
    else:
        with postgres_database("crmbench") as url:
            run(url, data)


if __name__ == "__main__":
    main()

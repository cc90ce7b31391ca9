"""The history writer's batches: whatever events share a transaction, the rows and rollups are the same.

A batch reads each call, leg, queue stay, agent state, IVR step and survey once and keeps what it adds in
the session, flushing only at its commit; so a batch must see its own changes exactly as separate
transactions see them in the database.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from crm_core.db import Base, make_engine, make_sessionmaker, migrate
from stats.writer import HistoryWriter

sys.path.insert(0, str(Path(__file__).parent / "fixtures" / "stats"))
from stats_events import simulate_day

DAY_START = 1_795_622_400.0  # 2026-11-26 00:00 Asia/Shanghai
HISTORY = [t for t in Base.metadata.sorted_tables if t.name.startswith("stats_") and t.name != "stats_rollup_settings"]


@pytest.fixture(scope="module")
def events() -> list[dict]:
    return simulate_day(DAY_START)[:3_000]


def written(tmp_path: Path, name: str, batches: list[list[dict]]) -> dict[str, list[tuple]]:
    url = f"sqlite:///{tmp_path / name}.db"
    migrate(url)
    engine = make_engine(url)
    factory: sessionmaker[Session] = make_sessionmaker(engine)
    writer = HistoryWriter(factory)
    for batch in batches:
        writer.apply_many(batch)
    out = {}
    with factory() as session:
        for table in HISTORY:
            cols = [c for c in table.columns if c.name != "id"]
            rows = [tuple(r) for r in session.execute(select(*cols)).all()]
            if "rollup" in table.name:  # a slot whose changes cancelled out is kept as zeros, or not at all
                measures = [i for i, c in enumerate(cols) if c.name not in ("grain", "slot", "hour")]
                rows = [r for r in rows if any(isinstance(r[i], int | float) and r[i] for i in measures)]
            out[table.name] = sorted(rows)
    engine.dispose()
    return out


def test_one_transaction_per_event_equals_batches_of_any_size(tmp_path: Path, events: list[dict]) -> None:
    one_by_one = written(tmp_path, "single", [[e] for e in events])
    assert len(one_by_one["stats_calls"]) > 50 and len(one_by_one["stats_agent_states"]) > 100
    assert one_by_one["stats_call_rollup"] and one_by_one["stats_ivr_steps"] and one_by_one["stats_surveys"]
    for size in (7, 120, len(events)):
        batches = [events[at : at + size] for at in range(0, len(events), size)]
        assert written(tmp_path, f"batch{size}", batches) == one_by_one, size


def test_a_batch_replaying_its_own_events_changes_nothing(tmp_path: Path, events: list[dict]) -> None:
    once = written(tmp_path, "once", [events])
    rng = random.Random(7)
    again = list(events)
    rng.shuffle(again)  # the same events again, in any order, inside the same transaction
    assert written(tmp_path, "twice", [events + again]) == once
    assert written(tmp_path, "apart", [events, again]) == once

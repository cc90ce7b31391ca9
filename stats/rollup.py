"""The exact hourly rollups of finished calls (``stats_call_rollup`` and ``stats_center_rollup``).

A call row contributes to the rollup once it has ended. The writer takes the row's contribution before
and after every change it makes, and applies the difference in the same transaction, so the rollup
always equals ``GROUP BY`` over the finished call rows (counts are integers and durations whole
milliseconds, so taking a contribution out and in again leaves no rounding behind).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from stats.models import CallRollupRow, CallRow, CenterRollupRow

KEY_COLUMNS = ("hour", "queue", "agent", "department", "direction", "disposition")
CENTER_KEY_COLUMNS = ("hour", "queue", "direction", "disposition")
MEASURE_COLUMNS = ("calls", "answered", "wait_ms", "ring_ms", "talk_ms", "hold_ms", "wrapup_ms")


def _ms(seconds: float | None) -> int:
    return round((seconds or 0.0) * 1000)


@dataclass(frozen=True, slots=True)
class Contribution:
    key: tuple[int, str, str, str, str, str]
    measures: tuple[int, ...]


def contribution(row: CallRow) -> Contribution | None:
    """What ``row`` adds to the rollup: nothing until the call has ended."""
    if row.ended_at is None:
        return None
    answered = row.answered_at is not None
    key = (
        row.hour,
        row.queue or "",
        row.agent or "",
        row.department or "",
        row.direction or "",
        row.disposition or "",
    )
    measures = (
        1,
        1 if answered else 0,
        _ms(row.wait_s) if answered else 0,
        _ms(row.ring_s) if answered else 0,
        _ms(row.talk_s),
        _ms(row.hold_s),
        _ms(row.wrapup_s),
    )
    return Contribution(key, measures)


def _upsert(session: Session, model: Any, keys: tuple[str, ...], item: Contribution, sign: int) -> None:
    full = dict(zip(KEY_COLUMNS, item.key, strict=True))
    values: dict[str, Any] = {k: full[k] for k in keys}
    values.update({c: sign * m for c, m in zip(MEASURE_COLUMNS, item.measures, strict=True)})
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    stmt = insert(model).values(**values)
    table = model.__table__
    stmt = stmt.on_conflict_do_update(
        index_elements=list(keys),
        set_={c: table.c[c] + stmt.excluded[c] for c in MEASURE_COLUMNS},
    )
    session.execute(stmt)


def _bump(session: Session, item: Contribution, sign: int) -> None:
    _upsert(session, CallRollupRow, KEY_COLUMNS, item, sign)
    _upsert(session, CenterRollupRow, CENTER_KEY_COLUMNS, item, sign)


def apply_change(session: Session, before: Contribution | None, after: Contribution | None) -> None:
    """Move the rollup from a row's old contribution to its new one."""
    if before == after:
        return
    if before is not None:
        _bump(session, before, -1)
    if after is not None:
        _bump(session, after, 1)

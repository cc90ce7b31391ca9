"""The exact rollups of the history tables, kept in the writer's transaction, and how reports read them.

Each rollup is a :class:`Spec`: the rows it sums (a source table, the rows that count), its keys and its
measures, written twice — once in SQL (to fill the rollup from existing rows, and to sum the rows a
report reads directly) and once in Python (the contribution of one row object). A ``before_flush``
listener on every ORM session takes each changed source row's contribution before and after the change,
and the differences are applied when the transaction (or savepoint) commits, in that transaction, so a
rollup always equals ``GROUP BY`` over its rows: counts are integers and durations whole milliseconds,
so taking a contribution out and in again leaves no rounding behind. A measure kept as a maximum (the
longest wait) only ever grows: it is the wait of a finished queue stay, which no later event changes.

Rollups by business day (grain 1) use the day bucket of the reports, ``(hour + offset) // 24``, with the
whole-hour UTC offset recorded in ``stats_rollup_settings`` when the database was migrated (from
``CC_TIMEZONE``); a report in a zone with another offset reads the hourly grain. A report's range is read
in pieces (:func:`pieces`): the minutes before its first and after its last whole hour from the rows,
whole business days from the daily grain, the other whole hours from the hourly grain.
"""

from __future__ import annotations

import functools
import math
import weakref
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    Connection,
    Engine,
    Index,
    Integer,
    String,
    and_,
    case,
    cast,
    event,
    func,
    insert,
    literal,
    literal_column,
    or_,
    select,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, Session, SessionTransaction, UOWTransaction, mapped_column
from sqlalchemy.orm.base import NO_VALUE

from crm_core.db import Base
from stats.models import (
    AgentRollupRow,
    AgentStateRow,
    CallRollupRow,
    CallRow,
    CenterRollupRow,
    GrainSlot,
    IvrRollupRow,
    IvrStepRow,
    QueueCallRow,
    QueueRollupRow,
    RollupSettingsRow,
    SeatRollupRow,
    SurveyRollupRow,
    SurveyRow,
)

HOUR, DAY, MONTH = 0, 1, 2
WAIT_BUCKETS = ((0, 10), (10, 20), (20, 30), (30, 60), (60, 120), (120, None))
EMPTY: Any = literal_column("''")  # inline, so PostgreSQL sees one expression in SELECT and GROUP BY


@dataclass(frozen=True, slots=True)
class RollupSettings:
    """What the rollups were built for (``stats_rollup_settings``; defaults when it holds no row)."""

    day_offset_h: int | None = None
    sl_threshold_s: float = 20.0
    short_abandon_s: float = 5.0


def ms(seconds: float | None) -> int:
    return round((seconds or 0.0) * 1000)


def _sql_ms(value: Any) -> Any:
    return func.round(func.coalesce(value, 0.0) * 1000)


def _flag(condition: Any, value: Any = 1) -> Any:
    return case((condition, value), else_=literal(0))


Contribution = tuple[tuple[Any, ...], tuple[int, ...]]  # (keys, measures)


@dataclass(frozen=True)
class Spec:
    """One rollup: ``sql(columns, settings)`` gives the SQL keys, per-row measures and the condition on a
    source row; ``row(obj, settings)`` gives the same for one row object (None: it adds nothing)."""

    name: str
    model: Any
    source: Any
    time_column: str
    keys: tuple[str, ...]
    measures: tuple[str, ...]
    sql: Callable[[Any, RollupSettings], tuple[list[Any], list[Any], list[Any]]]
    row: Callable[[Any, RollupSettings], Contribution | None]
    by_day: bool = True  # grain and slot columns; else one ``hour`` column (the hourly grain only)
    grains: tuple[int, ...] = (HOUR, DAY)  # of a rollup with grain and slot columns
    maxima: frozenset[str] = frozenset()
    filters: frozenset[str] = frozenset()  # of queue, people: the report filters its keys can take
    thresholds: bool = False  # the measures depend on the queue thresholds

    @property
    def table(self) -> Any:
        return self.model.__table__

    @property
    def count(self) -> str:
        return self.measures[0]


# --- finished calls ------------------------------------------------------------------------------

CALL_MEASURES = ("calls", "answered", "wait_ms", "ring_ms", "talk_ms", "hold_ms", "wrapup_ms")


def _call_values(c: Any) -> dict[str, Any]:
    return {
        "queue": func.coalesce(c.queue, EMPTY),
        "agent": func.coalesce(c.agent, EMPTY),
        "department": func.coalesce(c.department, EMPTY),
        "direction": func.coalesce(c.direction, EMPTY),
        "disposition": func.coalesce(c.disposition, EMPTY),
    }


def _call_sql(keys: tuple[str, ...]) -> Callable[[Any, RollupSettings], tuple[list[Any], list[Any], list[Any]]]:
    def sql(c: Any, _: RollupSettings) -> tuple[list[Any], list[Any], list[Any]]:
        answered = c.answered_at.isnot(None)
        values = _call_values(c)
        measures = [
            literal_column("1"),
            _flag(answered),
            _flag(answered, _sql_ms(c.wait_s)),
            _flag(answered, _sql_ms(c.ring_s)),
            _sql_ms(c.talk_s),
            _sql_ms(c.hold_s),
            _sql_ms(c.wrapup_s),
        ]
        return [values[k] for k in keys], measures, [c.ended_at.isnot(None)]

    return sql


def _call_row(keys: tuple[str, ...]) -> Callable[[Any, RollupSettings], Contribution | None]:
    def row(r: Any, _: RollupSettings) -> Contribution | None:
        if r.ended_at is None:
            return None
        answered = r.answered_at is not None
        measures = (
            1,
            1 if answered else 0,
            ms(r.wait_s) if answered else 0,
            ms(r.ring_s) if answered else 0,
            ms(r.talk_s),
            ms(r.hold_s),
            ms(r.wrapup_s),
        )
        return tuple(getattr(r, k) or "" for k in keys), measures

    return row


def _call_spec(name: str, model: Any, keys: tuple[str, ...], by_day: bool, filters: set[str]) -> Spec:
    return Spec(
        name,
        model,
        CallRow,
        "started_at",
        keys,
        CALL_MEASURES,
        _call_sql(keys),
        _call_row(keys),
        by_day=by_day,
        filters=frozenset(filters),
    )


CENTER = _call_spec("center", CenterRollupRow, ("queue", "direction", "disposition"), False, {"queue"})
CALLS = _call_spec(
    "calls", CallRollupRow, ("queue", "agent", "department", "direction", "disposition"), False, {"queue", "people"}
)
AGENTS = _call_spec("agents", AgentRollupRow, ("agent", "department", "direction"), True, {"people"})


# --- queue stays ---------------------------------------------------------------------------------

QUEUE_MEASURES = (
    "offered",
    "waiting",
    "answered",
    "answered_wait_ms",
    "answered_within",
    "handled",
    "handle_ms",
    "abandoned",
    "short_abandons",
    "abandoned_within",
    "overflow",
    "longest_wait_ms",
    "abandon_wait_ms",
    *(f"wait_{i}" for i in range(len(WAIT_BUCKETS))),
)


def _queue_sql(q: Any, s: RollupSettings) -> tuple[list[Any], list[Any], list[Any]]:
    wait = func.coalesce(q.wait_s, 0.0)
    is_answered, is_abandoned = q.outcome == "answered", q.outcome == "abandoned"
    handled = and_(is_answered, q.talk_s.isnot(None))
    finished = or_(is_answered, is_abandoned)
    sl, short = s.sl_threshold_s, s.short_abandon_s
    measures = [
        literal_column("1"),
        _flag(q.outcome == "waiting"),
        _flag(is_answered),
        _flag(is_answered, _sql_ms(q.wait_s)),
        _flag(and_(is_answered, wait <= sl)),
        _flag(handled),
        _flag(handled, func.round((q.talk_s + q.hold_s + q.wrapup_s) * 1000)),
        _flag(is_abandoned),
        _flag(and_(is_abandoned, wait <= short)),
        _flag(and_(is_abandoned, wait <= sl)),
        _flag(q.outcome == "overflow"),
        _flag(finished, _sql_ms(q.wait_s)),
        _flag(is_abandoned, _sql_ms(q.wait_s)),
        *(
            _flag(and_(finished, wait >= lo, wait < hi) if hi else and_(finished, wait >= lo))
            for lo, hi in WAIT_BUCKETS
        ),
    ]
    keys = [q.queue, func.coalesce(q.agent, EMPTY), func.coalesce(q.department, EMPTY)]
    return keys, measures, []


def _queue_row(r: Any, s: RollupSettings) -> Contribution | None:
    wait = r.wait_s or 0.0
    answered, abandoned = r.outcome == "answered", r.outcome == "abandoned"
    handled = answered and r.talk_s is not None
    finished = answered or abandoned
    measures = (
        1,
        int(r.outcome == "waiting"),
        int(answered),
        ms(wait) if answered else 0,
        int(answered and wait <= s.sl_threshold_s),
        int(handled),
        round((r.talk_s + r.hold_s + r.wrapup_s) * 1000) if handled else 0,
        int(abandoned),
        int(abandoned and wait <= s.short_abandon_s),
        int(abandoned and wait <= s.sl_threshold_s),
        int(r.outcome == "overflow"),
        ms(wait) if finished else 0,
        ms(wait) if abandoned else 0,
        *(int(finished and wait >= lo and (hi is None or wait < hi)) for lo, hi in WAIT_BUCKETS),
    )
    return (r.queue, r.agent or "", r.department or ""), measures


QUEUES = Spec(
    "queues",
    QueueRollupRow,
    QueueCallRow,
    "joined_at",
    ("queue", "agent", "department"),
    QUEUE_MEASURES,
    _queue_sql,
    _queue_row,
    maxima=frozenset({"longest_wait_ms"}),
    filters=frozenset({"queue", "people"}),
    thresholds=True,
)


# --- surveys, seat states, IVR steps -------------------------------------------------------------


def _survey_sql(s: Any, _: RollupSettings) -> tuple[list[Any], list[Any], list[Any]]:
    keys = [s.agent, func.coalesce(s.department, EMPTY), func.coalesce(s.queue, EMPTY), s.score, s.scale]
    return keys, [literal_column("1")], []


def _survey_row(r: Any, _: RollupSettings) -> Contribution | None:
    return (r.agent or "", r.department or "", r.queue or "", r.score, r.scale), (1,)


SURVEYS = Spec(
    "surveys",
    SurveyRollupRow,
    SurveyRow,
    "at",
    ("agent", "department", "queue", "score", "scale"),
    ("surveys",),
    _survey_sql,
    _survey_row,
    filters=frozenset({"queue", "people"}),
)


def _seat_sql(a: Any, _: RollupSettings) -> tuple[list[Any], list[Any], list[Any]]:
    keys = [a.agent, func.coalesce(a.department, EMPTY), a.state]
    return keys, [literal_column("1"), _sql_ms(a.duration_s)], []


def _seat_row(r: Any, _: RollupSettings) -> Contribution | None:
    return (r.agent, r.department or "", r.state), (1, ms(r.duration_s))


SEATS = Spec(
    "seats",
    SeatRollupRow,
    AgentStateRow,
    "started_at",
    ("agent", "department", "state"),
    ("changes", "duration_ms"),
    _seat_sql,
    _seat_row,
    filters=frozenset({"people"}),
)


def _ivr_sql(s: Any, _: RollupSettings) -> tuple[list[Any], list[Any], list[Any]]:
    measures = [
        literal_column("1"),
        _flag(s.first_visit),
        _sql_ms(s.dwell_s),
        _flag(s.dwell_s.isnot(None)),
        _flag(s.dwell_s.is_(None)),
    ]
    return [s.flow, s.node], measures, []


def _ivr_row(r: Any, _: RollupSettings) -> Contribution | None:
    ended = r.dwell_s is None
    return (r.flow, r.node), (1, int(bool(r.first_visit)), ms(r.dwell_s), int(not ended), int(ended))


IVR = Spec(
    "ivr",
    IvrRollupRow,
    IvrStepRow,
    "at",
    ("flow", "node"),
    ("visits", "first_visits", "dwell_ms", "dwells", "exits"),
    _ivr_sql,
    _ivr_row,
)


# --- calls per customer, by business month -------------------------------------------------------
#
# The customer report ranks callers over a range: hundreds of thousands of customers and unknown
# numbers a month, a couple of calls each a day, so a daily grain holds nearly a row per call and only
# the month (a dozen to fifty calls a customer) is worth summing. Its table and the index on the dialled
# number are declared here, beside the one rollup that needs them.


class CustomerRollupRow(GrainSlot, Base):
    """Calls (inbound and outbound, open ones too) per business month x customer; a call linked to no
    customer counts under its number: the caller of an inbound call, the dialled number of an outbound one."""

    __tablename__ = "stats_customer_rollup"
    __table_args__ = (Index("ix_stats_customer_rollup_rank", "grain", "slot", "calls"),)

    customer: Mapped[str] = mapped_column(String(20), primary_key=True)  # the id as text; '' for none
    number: Mapped[str] = mapped_column(String(40), primary_key=True)  # '' for a linked call
    calls: Mapped[int] = mapped_column(Integer, default=0)


# the rows of the numbers a customer report lists (a number's outbound calls are found by ``dialed``)
DIALED_INDEX = Index("ix_stats_calls_dialed", CallRow.__table__.c.dialed)


def customer_keys(c: Any) -> tuple[Any, Any]:
    """SQL: the customer report's group of a call row, ``(customer id as text or '', number or '')``."""
    # inline strings, so that PostgreSQL sees one expression in SELECT and GROUP BY
    number = case((c.direction == literal_column("'outbound'"), c.dialed), else_=c.caller_number)
    unlinked = c.customer_id.is_(None)
    customer = case((unlinked, EMPTY), else_=cast(c.customer_id, String))
    return customer, case((unlinked, func.coalesce(number, EMPTY)), else_=EMPTY)


def _customer_sql(c: Any, _: RollupSettings) -> tuple[list[Any], list[Any], list[Any]]:
    return list(customer_keys(c)), [literal_column("1")], [c.direction != "internal"]


def _customer_row(r: Any, _: RollupSettings) -> Contribution | None:
    if r.direction is None or r.direction == "internal":
        return None
    if r.customer_id is not None:
        return (str(r.customer_id), ""), (1,)
    number = r.dialed if r.direction == "outbound" else r.caller_number
    return ("", number or ""), (1,)


CUSTOMERS = Spec(
    "customers",
    CustomerRollupRow,
    CallRow,
    "started_at",
    ("customer", "number"),
    ("calls",),
    _customer_sql,
    _customer_row,
    grains=(MONTH,),
)

SPECS = (CENTER, CALLS, AGENTS, QUEUES, SURVEYS, SEATS, IVR, CUSTOMERS)
NEW_IN_0003 = (AGENTS, QUEUES, SURVEYS, SEATS, IVR)
NEW_IN_0004 = (CUSTOMERS,)


# --- business months -----------------------------------------------------------------------------

_EPOCH = date(1970, 1, 1)


def month_of(day: int) -> int:
    """The month (since January 1970) of a business day (days since 1970-01-01 in the business zone)."""
    local = _EPOCH + timedelta(days=day)
    return (local.year - 1970) * 12 + local.month - 1


def month_days(month: int) -> tuple[int, int]:
    """The business days ``[first, next month's first)`` of a month."""
    year, index = divmod(month, 12)
    first = date(1970 + year, index + 1, 1)
    following = date(1971 + year, 1, 1) if index == 11 else date(1970 + year, index + 2, 1)
    return (first - _EPOCH).days, (following - _EPOCH).days


def month_hours(month: int, day_offset_h: int) -> tuple[int, int]:
    """The UTC hours ``[first, last + 1)`` of a business month."""
    first, following = month_days(month)
    return first * 24 - day_offset_h, following * 24 - day_offset_h


# --- the settings the rollups were built for -----------------------------------------------------

_settings_cache: weakref.WeakKeyDictionary[Engine, RollupSettings] = weakref.WeakKeyDictionary()


def read_settings(connection: Connection) -> RollupSettings:
    engine = connection.engine
    found = _settings_cache.get(engine)
    if found is None:
        row = connection.execute(select(RollupSettingsRow.__table__).where(RollupSettingsRow.id == 1)).first()
        found = (
            RollupSettings(row.day_offset_h, float(row.sl_threshold_s), float(row.short_abandon_s))
            if row is not None
            else RollupSettings()
        )
        _settings_cache[engine] = found
    return found


def forget_settings(engine: Engine) -> None:
    """After ``stats_rollup_settings`` changed (a migration, a rebuild)."""
    _settings_cache.pop(engine, None)


# --- keeping them: the flush listener ------------------------------------------------------------

BY_SOURCE: dict[type, tuple[Spec, ...]] = {}
for _spec in SPECS:
    BY_SOURCE[_spec.source] = (*BY_SOURCE.get(_spec.source, ()), _spec)


class _Before:
    """A row as it was when loaded or last flushed (the values its rollup contribution was taken with)."""

    __slots__ = ("_committed", "_obj")

    def __init__(self, obj: Any, committed: dict[str, Any]) -> None:
        self._obj, self._committed = obj, committed

    def __getattr__(self, name: str) -> Any:
        value = self._committed.get(name, NO_VALUE)
        return getattr(self._obj, name) if value is NO_VALUE else value


def _materialize(obj: Any) -> None:
    """Give a new row every column value it will be inserted with, so that its later changes know
    what they change from (an attribute never set has no committed value to go back to)."""
    for column in obj.__table__.columns:
        if column.key in obj.__dict__ or column.primary_key:
            continue
        default = column.default
        setattr(obj, column.key, default.arg if default is not None and default.is_scalar else None)


def slot_of(spec: Spec, grain: int, hour: int, settings: RollupSettings) -> int | None:
    if grain not in spec.grains:
        return None
    if grain == HOUR:
        return hour
    if not spec.by_day or settings.day_offset_h is None:
        return None
    day = (hour + settings.day_offset_h) // 24
    return day if grain == DAY else month_of(day)


Deltas = dict[tuple[str, int, int, tuple[Any, ...]], list[int]]


def _add(deltas: Deltas, spec: Spec, hour: int, item: Contribution, sign: int, settings: RollupSettings) -> None:
    keys, measures = item
    for grain in (HOUR, DAY, MONTH):
        slot = slot_of(spec, grain, hour, settings)
        if slot is None:
            continue
        acc = deltas.setdefault((spec.name, grain, slot, keys), [0] * len(measures))
        for i, (name, value) in enumerate(zip(spec.measures, measures, strict=True)):
            if name in spec.maxima:
                if sign > 0:
                    acc[i] = max(acc[i], value)
            else:
                acc[i] += sign * value


def collect(session: Session, settings: RollupSettings) -> Deltas:
    """What the pending changes of ``session`` move in the rollups."""
    deltas: Deltas = {}
    for obj in (*session.new, *session.dirty, *session.deleted):
        specs = BY_SOURCE.get(type(obj))
        if not specs:
            continue
        state = obj._sa_instance_state
        if state.key is None:
            _materialize(obj)
        before = None if state.key is None else _Before(obj, state.committed_state)
        deleted = obj in session.deleted
        for spec in specs:
            old = spec.row(before, settings) if before is not None else None
            new = None if deleted else spec.row(obj, settings)
            if old == new and (before is None or before.hour == obj.hour):
                continue
            if old is not None:
                _add(deltas, spec, before.hour, old, -1, settings)  # type: ignore[union-attr]
            if new is not None:
                _add(deltas, spec, obj.hour, new, 1, settings)
    return deltas


_SPEC_NAMED = {s.name: s for s in SPECS}


def apply(connection: Connection, deltas: Deltas) -> None:
    """Upsert the deltas, one executemany per rollup table and grain."""
    grouped: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for (name, grain, slot, keys), measures in deltas.items():
        if not any(measures):
            continue
        spec = _SPEC_NAMED[name]
        values: dict[str, Any] = dict(zip(spec.keys, keys, strict=True))
        values.update(zip(spec.measures, measures, strict=True))
        if spec.by_day:
            values["grain"], values["slot"] = grain, slot
        else:
            values["hour"] = slot
        grouped.setdefault((name, grain), []).append(values)
    postgres = connection.dialect.name == "postgresql"
    for (name, _), items in grouped.items():
        connection.execute(_upsert(name, postgres), items)


@functools.cache
def _upsert(name: str, postgres: bool) -> Any:
    """The rollup's upsert statement, built once (building it costs more than running a small batch)."""
    spec = _SPEC_NAMED[name]
    stmt = (pg_insert if postgres else sqlite_insert)(spec.table)
    t = spec.table.c
    bigger = func.greatest if postgres else func.max
    return stmt.on_conflict_do_update(
        index_elements=[*(("grain", "slot") if spec.by_day else ("hour",)), *spec.keys],
        set_={
            m: bigger(t[m], stmt.excluded[m]) if m in spec.maxima else t[m] + stmt.excluded[m] for m in spec.measures
        },
    )


def _merge(into: Deltas, deltas: Deltas) -> None:
    for key, measures in deltas.items():
        acc = into.get(key)
        if acc is None:
            into[key] = list(measures)
            continue
        spec = _SPEC_NAMED[key[0]]
        for i, (name, value) in enumerate(zip(spec.measures, measures, strict=True)):
            acc[i] = max(acc[i], value) if name in spec.maxima else acc[i] + value


# What each open transaction (a savepoint apart) has moved, applied once when it commits: one
# executemany per rollup and grain for a whole batch of events; a savepoint rolled back drops its own.
_pending: weakref.WeakKeyDictionary[Session, dict[SessionTransaction, Deltas]] = weakref.WeakKeyDictionary()


def _current(session: Session) -> SessionTransaction | None:
    return session.get_nested_transaction() or session.get_transaction()


def _before_flush(session: Session, _: UOWTransaction, __: Any) -> None:
    if not _kept or not any(type(o) in BY_SOURCE for o in (*session.new, *session.dirty, *session.deleted)):
        return
    deltas = collect(session, read_settings(session.connection()))
    transaction = _current(session)
    if deltas and transaction is not None:
        _merge(_pending.setdefault(session, {}).setdefault(transaction, {}), deltas)


def _before_commit(session: Session) -> None:
    session.flush()
    stack = _pending.get(session)
    transaction = _current(session)
    deltas = stack.pop(transaction, None) if stack and transaction is not None else None
    if not deltas or transaction is None:
        return
    parent = transaction.parent
    if transaction.nested and parent is not None:
        _merge(stack.setdefault(parent, {}), deltas)  # type: ignore[union-attr]
    else:
        apply(session.connection(), deltas)


def _after_transaction_end(session: Session, transaction: SessionTransaction) -> None:
    stack = _pending.get(session)
    if stack:
        stack.pop(transaction, None)  # rolled back (a committed one was taken at its commit)


_kept = True
_rows_only = False


@contextmanager
def from_rows() -> Iterator[None]:
    """Reports read every range from the rows alone: the answer the rollups are held to."""
    global _rows_only
    _rows_only = True
    try:
        yield
    finally:
        _rows_only = False


def reading_rows_only() -> bool:
    """Inside :func:`from_rows`."""
    return _rows_only


@contextmanager
def suspended() -> Iterator[None]:
    """Write history rows without keeping the rollups (only to measure what keeping them costs)."""
    global _kept
    _kept = False
    try:
        yield
    finally:
        _kept = True


event.listen(Session, "before_flush", _before_flush)
event.listen(Session, "before_commit", _before_commit)
event.listen(Session, "after_transaction_end", _after_transaction_end)


# --- filling them from existing rows -------------------------------------------------------------


def _slot_sql(c: Any, grain: int, settings: RollupSettings) -> Any:
    if grain == HOUR:
        return c.hour
    return (c.hour + literal_column(str(settings.day_offset_h))).self_group().op("/")(literal_column("24"))


def refill(connection: Connection, specs: Sequence[Spec] = SPECS) -> None:
    """Empty ``specs`` and sum them anew from their rows (a migration, a bulk load)."""
    settings = read_settings(connection)
    for spec in specs:
        connection.execute(spec.table.delete())
        c = spec.source.__table__.c
        keys, measures, where = spec.sql(c, settings)
        sums = _aggregate(spec, measures)
        columns = [*(("grain", "slot") if spec.by_day else ("hour",)), *spec.keys, *spec.measures]
        grains = spec.grains if spec.by_day and settings.day_offset_h is not None else (HOUR,)
        for grain in grains:
            if grain == MONTH:
                continue
            slot = _slot_sql(c, grain, settings)
            head: list[Any] = [literal(grain), slot] if spec.by_day else [slot]
            query = select(*head, *keys, *sums).where(*where).group_by(slot, *keys)
            connection.execute(insert(spec.table).from_select(columns, query))
        if MONTH in grains and settings.day_offset_h is not None:
            # a month is no integer expression of the hour: one statement per month of the rows
            for month, (lo, hi) in _months_of_rows(connection, c, settings.day_offset_h):
                query = (
                    select(literal(MONTH), literal(month), *keys, *sums)
                    .where(*where, c.hour >= lo, c.hour < hi)
                    .group_by(*keys)
                )
                connection.execute(insert(spec.table).from_select(columns, query))


def _months_of_rows(connection: Connection, c: Any, day_offset_h: int) -> Iterator[tuple[int, tuple[int, int]]]:
    first, last = connection.execute(select(func.min(c.hour), func.max(c.hour))).one()
    if first is None:
        return
    month = month_of((first + day_offset_h) // 24)
    while (hours := month_hours(month, day_offset_h))[0] <= last:
        yield month, hours
        month += 1


# --- reading them --------------------------------------------------------------------------------


@dataclass(slots=True)
class Pieces:
    """A report range ``[start, end)`` cut into what each source answers."""

    edges: list[tuple[float, float]] = field(default_factory=list)  # seconds, from the rows
    hours: list[tuple[int, int]] = field(default_factory=list)  # hourly grain
    days: list[tuple[int, int]] = field(default_factory=list)  # daily grain


def pieces(start: float, end: float, day_offset_h: int | None) -> Pieces:
    """Whole hours inside the range, whole business days among them when ``day_offset_h`` is given."""
    h0, h1 = math.ceil(start / 3600), math.floor(end / 3600)
    out = Pieces()
    if h0 >= h1:
        out.edges.append((start, end))
        return out
    if start < h0 * 3600:
        out.edges.append((start, h0 * 3600.0))
    if h1 * 3600 < end:
        out.edges.append((h1 * 3600.0, end))
    if day_offset_h is not None:
        d0, d1 = -(-(h0 + day_offset_h) // 24), (h1 + day_offset_h) // 24
        if d0 < d1:
            out.days.append((d0, d1))
            out.hours += [r for r in ((h0, d0 * 24 - day_offset_h), (d1 * 24 - day_offset_h, h1)) if r[0] < r[1]]
            return out
    out.hours.append((h0, h1))
    return out


@dataclass(frozen=True, slots=True)
class Query:
    """What a report asks of one rollup: its period bucket, grouping keys and filters."""

    bucket: Callable[[Any], Any]  # the UTC hour column -> the report's bucket (hour or business day)
    by_day: bool  # the bucket is the business day of ``day_offset_h``
    day_offset_h: int | None
    group: tuple[str, ...]
    queue: str | None = None
    agent: str | None = None
    department: str | None = None
    agents: tuple[str, ...] | None = None
    settings: RollupSettings | None = None  # the thresholds the report counts with (queue stays)
    # what to sum instead of the spec's measures, as expressions of one row's keys and measures (by
    # name), so that SQL hands back the report's own columns (a pivot by direction, a score times count)
    sums: Callable[[dict[str, Any]], Sequence[Any]] | None = None


def _filters(spec: Spec, t: Any, q: Query) -> list[Any]:
    out: list[Any] = []
    if "queue" in spec.filters and q.queue:
        out.append(t.queue == q.queue)
    if "people" in spec.filters:
        if q.agent:
            out.append(t.agent == q.agent)
        if q.department:
            out.append(t.department == q.department)
        if q.agents is not None:
            out.append(t.agent.in_(q.agents))
    return out


def _aggregate(spec: Spec, values: Sequence[Any]) -> list[Any]:
    """Sums (maxima) as integers on both databases (PostgreSQL's sum of bigints is a numeric)."""
    return [
        cast(func.max(v) if m in spec.maxima else func.sum(v), BigInteger)
        for m, v in zip(spec.measures, values, strict=True)
    ]


def _summed(spec: Spec, q: Query, keys: Sequence[Any], measures: Sequence[Any]) -> list[Any]:
    if q.sums is None:
        return _aggregate(spec, measures)
    named = dict(zip(spec.keys, keys, strict=True)) | dict(zip(spec.measures, measures, strict=True))
    return [cast(func.sum(v), BigInteger) for v in q.sums(named)]


def read(session: Session, spec: Spec, start: float, end: float, q: Query) -> Sequence[Sequence[Any]]:
    """Rows ``(bucket, *q.group, *spec.measures)`` (or ``*q.sums``) over ``[start, end)``, the rollup
    answer, one row per bucket and keys."""
    results = _read_pieces(session, spec, start, end, q)
    if not results:
        return []
    if len(results) == 1:
        return results[0]
    if not q.by_day:
        # bucketed by the UTC hour, the pieces share no bucket: the edge minutes lie in the hours before
        # and after the whole hours read from the rollup
        return [row for rows in results for row in rows]
    maxima = (
        frozenset() if q.sums is not None else frozenset(i for i, m in enumerate(spec.measures) if m in spec.maxima)
    )
    return merge(maxima, results, len(q.group) + 1)


def _read_pieces(session: Session, spec: Spec, start: float, end: float, q: Query) -> list[Sequence[Sequence[Any]]]:
    settings = read_settings(session.connection())
    counting = settings
    if spec.thresholds and q.settings is not None:
        counting = RollupSettings(settings.day_offset_h, q.settings.sl_threshold_s, q.settings.short_abandon_s)
    rows_only = _rows_only or counting != settings  # other thresholds than the rollup's: only the rows tell
    offset = settings.day_offset_h if spec.by_day and q.by_day and q.day_offset_h == settings.day_offset_h else None
    cut = Pieces(edges=[(start, end)]) if rows_only else pieces(start, end, offset)
    results: list[Sequence[Sequence[Any]]] = []
    if cut.edges:
        c = spec.source.__table__.c
        keys, measures, where = spec.sql(c, counting)
        named = dict(zip(spec.keys, keys, strict=True))
        at = c[spec.time_column]
        bucket = q.bucket(c.hour)
        group = [named[k] for k in q.group]
        # ``hour`` is ``floor(time / 3600)`` of the same time: the hour bounds let the (hour, ...) indexes
        # find the edge minutes instead of scanning the table
        span = or_(
            *(
                and_(c.hour >= math.floor(lo / 3600), c.hour <= math.floor(hi / 3600), at >= lo, at < hi)
                for lo, hi in cut.edges
            )
        )
        found = session.execute(
            select(bucket, *group, *_summed(spec, q, keys, measures))
            .where(span, *where, *_filters(spec, c, q))
            .group_by(bucket, *group)
        ).all()
        results.append(found)
    t = spec.table.c
    for grain, ranges in ((HOUR, cut.hours), (DAY, cut.days)):
        if not ranges:
            continue
        slot = t.slot if spec.by_day else t.hour
        bucket = q.bucket(slot) if grain == HOUR else slot
        group = [t[k] for k in q.group]
        span = or_(*(and_(slot >= lo, slot < hi) for lo, hi in ranges))
        grain_filter = [t.grain == grain] if spec.by_day else []
        found = session.execute(
            select(bucket, *group, *_summed(spec, q, [t[k] for k in spec.keys], [t[m] for m in spec.measures]))
            .where(*grain_filter, span, t[spec.count] != 0, *_filters(spec, t, q))
            .group_by(bucket, *group)
        ).all()
        results.append(found)
    return results


def distinct_keys(session: Session, spec: Spec, keys: Sequence[str], start: float, end: float, q: Query) -> int:
    """How many distinct ``keys`` the rollup holds over the business days that ``[start, end)`` touches (with
    the report's filters): an upper bound of a report's rows per period, cheap to read (the daily grain)."""
    t = spec.table.c
    h0, h1 = math.floor(start / 3600), math.ceil(end / 3600)  # the hours the range touches
    offset = read_settings(session.connection()).day_offset_h
    if not spec.by_day:
        span = [t.hour >= h0, t.hour < h1]
    elif DAY in spec.grains and offset is not None:
        span = [t.grain == DAY, t.slot >= (h0 + offset) // 24, t.slot <= (h1 - 1 + offset) // 24]
    else:
        span = [t.grain == HOUR, t.slot >= h0, t.slot < h1]
    found = select(*(t[k] for k in keys)).where(*span, t[spec.count] != 0, *_filters(spec, t, q)).distinct()
    return int(session.execute(select(func.count()).select_from(found.subquery())).scalar_one())


def merge(maxima: frozenset[int], pieces: Sequence[Sequence[Sequence[Any]]], width: int) -> list[Sequence[Any]]:
    """The rows of several pieces with the same bucket and keys, summed (the measures at the positions
    ``maxima``: the largest)."""
    out: dict[tuple[Any, ...], list[int]] = {}
    for rows in pieces:
        for row in rows:
            key = tuple(row[:width])
            acc = out.get(key)
            if acc is None:
                out[key] = list(row)
                continue
            for i, value in enumerate(row[width:], width):
                acc[i] = max(acc[i], value) if i - width in maxima else acc[i] + value
    return list(out.values())


# --- ranking customers ---------------------------------------------------------------------------

CustomerKey = tuple[str, str]  # (customer id as text or '', number or '')
_CHUNK = 500  # keys per IN list (SQLite's bound parameters)


@dataclass(slots=True)
class MonthCut:
    """A report range as whole business months of the customer rollup, plus and minus call rows."""

    months: list[int] = field(default_factory=list)
    plus: list[tuple[float, float]] = field(default_factory=list)  # seconds, from the rows, added
    minus: list[tuple[float, float]] = field(default_factory=list)  # seconds, from the rows, taken out


def month_cut(start: float, end: float, day_offset_h: int) -> MonthCut:
    """Each business month the range covers more than half of is read whole from the rollup, its minutes
    outside the range taken out from the rows; the range's part of any other month comes from the rows."""
    out = MonthCut()
    month = month_of((math.floor(start / 3600) + day_offset_h) // 24)
    while True:
        first, following = month_hours(month, day_offset_h)
        lo, hi = first * 3600.0, following * 3600.0
        if lo >= end:
            return out
        a, b = max(start, lo), min(end, hi)
        if a < b:
            if 2 * (b - a) > hi - lo:
                out.months.append(month)
                out.minus += [r for r in ((lo, a), (b, hi)) if r[0] < r[1]]
            else:
                out.plus.append((a, b))
        month += 1


def _hour_span(c: Any, spans: Sequence[tuple[float, float]]) -> Any:
    return or_(
        *(
            and_(
                c.hour >= math.floor(lo / 3600), c.hour <= math.floor(hi / 3600), c.started_at >= lo, c.started_at < hi
            )
            for lo, hi in spans
        )
    )


def customer_row_counts(session: Session, spans: Sequence[tuple[float, float]]) -> dict[CustomerKey, int]:
    """Calls per customer key in ``spans``, from the rows."""
    if not spans:
        return {}
    c = CallRow.__table__.c
    keys, _, where = CUSTOMERS.sql(c, RollupSettings())
    found = session.execute(select(*keys, func.count()).where(_hour_span(c, spans), *where).group_by(*keys)).all()
    return {(row[0], row[1]): int(row[2]) for row in found}


def customer_top(session: Session, month: int, k: int) -> list[tuple[CustomerKey, int]]:
    """The ``k`` customer keys with the most calls in a business month (ties in no particular order)."""
    t = CUSTOMERS.table.c
    found = session.execute(
        select(t.customer, t.number, t.calls)
        .where(t.grain == MONTH, t.slot == month, t.calls > 0)
        .order_by(t.calls.desc())
        .limit(k)
    ).all()
    return [((customer, number), int(n)) for customer, number, n in found]


def customer_month_counts(session: Session, month: int, keys: Sequence[CustomerKey]) -> dict[CustomerKey, int]:
    """The calls of ``keys`` in a business month (absent: none)."""
    t = CUSTOMERS.table.c
    out: dict[CustomerKey, int] = {}
    linked = sorted({customer for customer, _ in keys if customer})
    unlinked = sorted({number for customer, number in keys if not customer})
    for column, values, other in ((t.customer, linked, t.number), (t.number, unlinked, t.customer)):
        for at in range(0, len(values), _CHUNK):
            found = session.execute(
                select(t.customer, t.number, t.calls).where(
                    t.grain == MONTH, t.slot == month, other == "", column.in_(values[at : at + _CHUNK])
                )
            ).all()
            out.update(((customer, number), int(n)) for customer, number, n in found)
    return out

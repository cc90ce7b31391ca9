"""Report queries over the history tables, for any time range, grouped by hour/day/week/month/year.

SQL groups by the stored UTC ``hour`` (plus the report's keys) with portable aggregates, the same on
SQLite and PostgreSQL; the hours are then folded into local periods in Python with the business time
zone (daylight saving safe; in zones with a half-hour offset a period boundary falls to the hour).
Queue figures use the same definitions as :mod:`stats.kpi` (the live board). Every report but the
customer report reads the exact rollups of :mod:`stats.rollup` — whole business days from the daily grain,
other whole hours from the hourly grain — and only the minutes at a range's edges from the rows; the CDR
pages through the call rows in start order and counts them from the rollups.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, func, literal, literal_column, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from stats import rollup
from stats.kpi import AgentState, KpiSettings, QueueCounts, queue_kpis
from stats.models import (
    CallRow,
)
from stats.outbound_reports import wrapup_names


class ReportKind(StrEnum):
    SERVICE_CENTER = "service_center"
    AGENT_SERVICE = "agent_service"
    QUEUE_HISTORY = "queue_history"
    IVR = "ivr"
    CUSTOMER_CALLS = "customer_calls"
    SATISFACTION = "satisfaction"
    SEAT_STATES = "seat_states"
    CDR = "cdr"


class GroupBy(StrEnum):
    HOUR = "hour"
    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    YEAR = "year"


class ReportError(ValueError):
    """A report request that cannot be answered (unknown kind or grouping, empty range)."""


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    zh: str
    en: str
    kind: str = "int"  # text, int, float, seconds, pct, time, link

    def label(self, lang: str) -> str:
        return self.en if lang.startswith("en") else self.zh


@dataclass(frozen=True, slots=True)
class PeriodPage:
    """Which periods of a report's range one page of rows covers: ``count`` periods from ``offset``, of
    ``total`` periods in the range (every period of the page, with rows or without)."""

    total: int
    offset: int
    count: int

    def to_json(self) -> dict[str, int]:
        return {"total": self.total, "offset": self.offset, "count": self.count}


@dataclass(slots=True)
class ReportTable:
    kind: str
    columns: list[Column]
    rows: list[list[Any]]
    chart: dict[str, Any] = field(default_factory=dict)  # {"x": key, "series": [keys], "type": "bar"}
    total: int | None = None  # rows of the whole range when ``rows`` is one page of it (the CDR)
    periods: PeriodPage | None = None  # the periods ``rows`` cover when they are a page of periods

    def as_dicts(self) -> list[dict[str, Any]]:
        keys = [c.key for c in self.columns]
        return [dict(zip(keys, row, strict=True)) for row in self.rows]

    def to_json(self, lang: str = "zh-CN") -> dict[str, Any]:
        return {
            "kind": self.kind,
            "columns": [{"key": c.key, "label": c.label(lang), "kind": c.kind} for c in self.columns],
            "rows": self.rows,
            "chart": self.chart,
            **({"total": self.total} if self.total is not None else {}),
            **({"periods": self.periods.to_json()} if self.periods is not None else {}),
        }


# --- periods -----------------------------------------------------------------------------------------


def period_label(hour: int, group_by: GroupBy, tz: ZoneInfo) -> str:
    local = datetime.fromtimestamp(hour * 3600, tz)
    if group_by is GroupBy.HOUR:
        return local.strftime("%Y-%m-%d %H:00")
    if group_by is GroupBy.DAY:
        return local.strftime("%Y-%m-%d")
    if group_by is GroupBy.WEEK:
        year, week, _ = local.isocalendar()
        return f"{year}-W{week:02d}"
    if group_by is GroupBy.MONTH:
        return local.strftime("%Y-%m")
    return local.strftime("%Y")


@dataclass(slots=True)
class Scope:
    start: float
    end: float
    group_by: GroupBy
    tz: ZoneInfo
    queue: str | None
    agent: str | None
    department: str | None
    settings: KpiSettings

    day_offset_h: int | None = None  # whole-hour UTC offset valid over the whole range, if any
    agents: tuple[str, ...] | None = None  # only these agents (a department resolved by the caller)
    labels: dict[int, str] = field(default_factory=dict)

    @property
    def hour_aligned(self) -> bool:
        return self.start % 3600 == 0 and self.end % 3600 == 0

    @property
    def by_local_day(self) -> bool:
        return self.group_by is not GroupBy.HOUR and self.day_offset_h is not None

    def bucket(self, hour: Any) -> Any:
        """The SQL grouping key: the UTC hour, or the local day number when the zone's offset is fixed."""
        if not self.by_local_day:
            return hour
        # Inline integers (no bound parameters) so the expression is identical in SELECT and GROUP BY;
        # integer division is the same on SQLite and PostgreSQL.
        return (hour + literal_column(str(self.day_offset_h))).self_group().op("/")(literal_column("24"))

    def period(self, bucket: int) -> str:
        label = self.labels.get(bucket)
        if label is None:
            hour = int(bucket) * 24 - (self.day_offset_h or 0) if self.by_local_day else int(bucket)
            label = self.labels[bucket] = period_label(int(hour), self.group_by, self.tz)
        return label

    def filters(self, table: Any, time_column: str, *, queue: bool = True, people: bool = True) -> list[Any]:
        t = table.c if hasattr(table, "c") else table
        out: list[Any] = [getattr(t, time_column) >= self.start, getattr(t, time_column) < self.end]
        if queue and self.queue:
            out.append(t.queue == self.queue)
        if people and self.agent:
            out.append(t.agent == self.agent)
        if people and self.department:
            out.append(t.department == self.department)
        if people and self.agents is not None:
            out.append(t.agent.in_(self.agents))
        return out


def fixed_offset_hours(start: float, end: float, tz: ZoneInfo) -> int | None:
    """The zone's UTC offset in whole hours if it is the same at every local midnight of the range."""
    offsets = set()
    day = datetime.fromtimestamp(start, tz).replace(hour=0, minute=0, second=0, microsecond=0)
    while day.timestamp() <= end + 86400:
        offsets.add(day.utcoffset())
        day = (day + timedelta(days=1, hours=3)).replace(hour=0)
    if len(offsets) != 1:
        return None
    seconds = next(iter(offsets)).total_seconds()  # type: ignore[union-attr]
    return int(seconds // 3600) if seconds % 3600 == 0 else None


def _next_period(day: date, group_by: GroupBy) -> date:
    if group_by is GroupBy.DAY:
        return day + timedelta(days=1)
    if group_by is GroupBy.WEEK:
        return day + timedelta(days=7 - day.weekday())  # ISO weeks begin on Monday
    if group_by is GroupBy.MONTH:
        return date(day.year + day.month // 12, day.month % 12 + 1, 1)
    return date(day.year + 1, 1, 1)


def period_bounds(start: float, end: float, group_by: GroupBy, tz: ZoneInfo) -> list[float]:
    """``[start, b1, ..., end]``: where each period of the range begins, as the report buckets it (UTC hours
    for an hourly report; local midnights otherwise, moved to the next whole hour in a zone whose offset
    has half hours, as the report folds an hour into the period in which it begins)."""
    out = [start]
    if group_by is GroupBy.HOUR:
        at = (math.floor(start / 3600) + 1) * 3600
        hours = range(int(at), math.ceil(end), 3600)
        for at_hour in range(0, len(hours), 24):
            chunk = hours[at_hour : at_hour + 24]
            first, last = (datetime.fromtimestamp(chunk[i], tz).utcoffset() for i in (0, -1))
            if first == last and datetime.fromtimestamp(chunk[0] - 3600, tz).utcoffset() == first:
                out.extend(chunk)
                continue
            for hour in chunk:  # the zone's offset changes here: an hour it repeats is one period
                if period_label(hour // 3600, group_by, tz) != period_label(hour // 3600 - 1, group_by, tz):
                    out.append(hour)
    else:
        day = datetime.fromtimestamp(start, tz).date()
        while True:
            day = _next_period(day, group_by)
            local = datetime(day.year, day.month, day.day, tzinfo=tz).timestamp()
            at = math.ceil(local / 3600) * 3600
            if at >= end:
                break
            if at > out[-1]:
                out.append(at)
    out.append(end)
    return out


def _epoch(value: datetime, tz: ZoneInfo) -> float:
    return (value if value.tzinfo else value.replace(tzinfo=tz)).timestamp()


def _sum_if(condition: ColumnElement[bool], value: Any = 1) -> Any:
    return func.sum(case((condition, value), else_=literal(0)))


def _r(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


def _avg(total: float, count: int) -> float | None:
    return round(total / count, 1) if count else None


def _pct(part: float, whole: float) -> float | None:
    return round(100.0 * part / whole, 2) if whole else None


def _fold(rows: Iterable[Sequence[Any]], key: Callable[[Sequence[Any]], tuple[Any, ...]], width: int) -> dict:
    """Sum numeric columns ``2..`` of SQL rows into groups (``key`` picks the group)."""
    groups: dict[tuple[Any, ...], list[float]] = {}
    for row in rows:
        acc = groups.setdefault(key(row), [0.0] * width)
        for i, value in enumerate(row[-width:]):
            acc[i] += float(value or 0)
    return groups


# An inline '' (not a bound parameter), so that PostgreSQL sees the same expression in SELECT and GROUP BY.
_EMPTY: Any = literal_column("''")

PERIOD = Column("period", "时段", "Period", "text")


# --- service center ----------------------------------------------------------------------------------

SERVICE_CENTER_COLUMNS = [
    PERIOD,
    Column("inbound_offered", "呼入总数", "Inbound offered"),
    Column("inbound_answered", "呼入接通", "Inbound answered"),
    Column("inbound_answer_pct", "呼入接通率", "Inbound answer %", "pct"),
    Column("outbound_attempted", "呼出总数", "Outbound attempted"),
    Column("outbound_answered", "呼出接通", "Outbound answered"),
    Column("outbound_answer_pct", "呼出接通率", "Outbound answer %", "pct"),
    Column("internal", "内部呼叫", "Internal calls"),
    Column("talk_s", "通话总时长", "Talk time", "seconds"),
]


def rollup_query(
    scope: Scope, group: Sequence[str], sums: Callable[[dict[str, Any]], Sequence[Any]] | None = None
) -> rollup.Query:
    """What the report asks of a rollup: its bucket, grouping keys and filters (and what to sum)."""
    return rollup.Query(
        scope.bucket,
        scope.by_local_day,
        scope.day_offset_h,
        tuple(group),
        scope.queue,
        scope.agent,
        scope.department,
        scope.agents,
        rollup.RollupSettings(None, scope.settings.sl_threshold_s, scope.settings.short_abandon_s),
        sums,
    )


def calls_rollup(scope: Scope, group: Sequence[str]) -> rollup.Spec:
    """The smallest rollup of finished calls with ``group``'s keys and the scope's filters."""
    people = scope.agent or scope.department or scope.agents is not None
    if not people and set(group) <= {"queue", "direction", "disposition"}:
        return rollup.CENTER
    if not scope.queue and set(group) <= {"agent", "department", "direction"}:
        return rollup.AGENTS
    return rollup.CALLS


def finished_calls(session: Session, scope: Scope, group: Sequence[str]) -> Sequence[Sequence[Any]]:
    """Finished calls ``(bucket, *group, *rollup.CALL_MEASURES)``: whole hours and days from the rollups,
    the minutes at the range's edges from the call rows (with the rollup's rounding to milliseconds)."""
    return rollup.read(session, calls_rollup(scope, group), scope.start, scope.end, rollup_query(scope, group))


def _service_center(session: Session, scope: Scope) -> ReportTable:
    rows = finished_calls(session, scope, ["direction"])
    groups = _fold(rows, lambda r: (scope.period(r[0]), r[1]), 7)
    periods = sorted({p for p, _ in groups})
    out = []
    for p in periods:
        inb = groups.get((p, "inbound"), [0.0] * 7)
        outb = groups.get((p, "outbound"), [0.0] * 7)
        internal = groups.get((p, "internal"), [0.0] * 7)
        talk = (inb[4] + outb[4] + internal[4]) / 1000
        out.append(
            [
                p,
                int(inb[0]),
                int(inb[1]),
                _pct(inb[1], inb[0]),
                int(outb[0]),
                int(outb[1]),
                _pct(outb[1], outb[0]),
                int(internal[0]),
                round(talk, 1),
            ]
        )
    chart = {
        "type": "bar",
        "x": "period",
        "series": ["inbound_offered", "inbound_answered", "outbound_attempted"],
    }
    return ReportTable(ReportKind.SERVICE_CENTER, SERVICE_CENTER_COLUMNS, out, chart)


# --- agent service -----------------------------------------------------------------------------------

AGENT_COLUMNS = [
    PERIOD,
    Column("agent", "坐席", "Agent", "text"),
    Column("inbound_calls", "呼入接听", "Inbound calls"),
    Column("outbound_calls", "呼出", "Outbound calls"),
    Column("outbound_answered", "呼出接通", "Outbound answered"),
    Column("talk_s", "通话总时长", "Talk time", "seconds"),
    Column("avg_talk_s", "平均通话", "Average talk", "seconds"),
    Column("avg_ring_s", "平均振铃", "Average ring", "seconds"),
    Column("hold_s", "保持时长", "Hold time", "seconds"),
    Column("wrapup_s", "话后处理", "Wrap-up time", "seconds"),
    Column("surveys", "评价数", "Surveys"),
    Column("avg_score", "平均满意度", "Average score", "float"),
]


def _agent_sums(v: dict[str, Any]) -> list[Any]:
    inbound, outbound = v["direction"] == "inbound", v["direction"] == "outbound"
    return [
        v["answered"],
        v["talk_ms"],
        v["ring_ms"],
        v["hold_ms"],
        v["wrapup_ms"],
        case((inbound, v["answered"]), else_=literal(0)),
        case((outbound, v["calls"]), else_=literal(0)),
        case((outbound, v["answered"]), else_=literal(0)),
    ]


def _survey_sums(v: dict[str, Any]) -> list[Any]:
    return [v["surveys"], v["score"] * v["surveys"]]


def by_period(scope: Scope, rows: Sequence[Sequence[Any]], width: int) -> Mapping[tuple[Any, ...], Sequence[Any]]:
    """SQL rows ``(bucket, *keys, *sums)``, one per bucket and keys, as ``(period, *keys) -> sums``: the
    buckets of one period summed (only where a period has several, as a day or an hour that daylight
    saving repeats has)."""
    periods = {bucket: scope.period(bucket) for bucket in {row[0] for row in rows}}
    if len(set(periods.values())) == len(periods):
        return {(periods[row[0]], *row[1:-width]): row[-width:] for row in rows}
    groups: dict[tuple[Any, ...], list[int]] = {}
    for row in rows:
        key = (periods[row[0]], *row[1:-width])
        acc = groups.get(key)
        if acc is None:
            groups[key] = list(row[-width:])
        else:
            for i, value in enumerate(row[-width:]):
                acc[i] += value
    return groups


def _agent_service(session: Session, scope: Scope) -> ReportTable:
    """Per period and agent; SQL sums the rollups into the report's columns (inbound, outbound split
    out), so that Python only labels and rounds, one step per result row."""
    calls = rollup.read(
        session,
        calls_rollup(scope, ["agent", "direction"]),
        scope.start,
        scope.end,
        rollup_query(scope, ["agent"], _agent_sums),
    )
    groups = by_period(scope, calls, 8)
    scored = rollup.read(session, rollup.SURVEYS, scope.start, scope.end, rollup_query(scope, ["agent"], _survey_sums))
    surveys = by_period(scope, scored, 2)
    nothing, unscored = (0,) * 8, (0, 0)
    out = []
    for key in sorted(groups.keys() | surveys.keys()):
        if not key[1] and key not in surveys:
            continue  # calls no agent answered
        measures = groups.get(key, nothing) if key[1] else nothing
        answered, talk, ring, hold, wrapup, inbound, outbound, outbound_answered = measures
        count, total = surveys.get(key, unscored)
        out.append(
            [
                *key,
                int(inbound),
                int(outbound),
                int(outbound_answered),
                round(talk / 1000, 1),
                round(talk / 1000 / answered, 1) if answered else None,
                round(ring / 1000 / answered, 1) if answered else None,
                round(hold / 1000, 1),
                round(wrapup / 1000, 1),
                int(count),
                round(total / count, 2) if count else None,
            ]
        )
    chart = {"type": "bar", "x": "agent", "series": ["inbound_calls", "outbound_calls"]}
    return ReportTable(ReportKind.AGENT_SERVICE, AGENT_COLUMNS, out, chart)


# --- queue history -----------------------------------------------------------------------------------

WAIT_BUCKETS = rollup.WAIT_BUCKETS

QUEUE_COLUMNS = [
    PERIOD,
    Column("queue", "队列", "Queue", "text"),
    Column("offered", "进线", "Offered"),
    Column("answered", "接通", "Answered"),
    Column("abandoned", "放弃", "Abandoned"),
    Column("short_abandons", "短时放弃", "Short abandons"),
    Column("overflow", "溢出", "Overflow"),
    Column("sl_pct", "服务水平", "Service level %", "pct"),
    Column("sl_asterisk_pct", "服务水平(Asterisk)", "Service level (Asterisk) %", "pct"),
    Column("sl2_pct", "服务水平SL2", "Service level SL2 %", "pct"),
    Column("asa_s", "平均应答速度", "ASA", "seconds"),
    Column("aht_s", "平均处理时长", "AHT", "seconds"),
    Column("abandon_pct", "放弃率", "Abandon rate %", "pct"),
    Column("longest_wait_s", "最长等待", "Longest wait", "seconds"),
    Column("avg_abandon_wait_s", "放弃前平均等待", "Average wait before abandon", "seconds"),
    *(
        Column(
            f"wait_{lo}_{hi or 'up'}",
            f"等待{lo}-{hi}秒" if hi else f"等待{lo}秒以上",
            f"Wait {lo}-{hi} s" if hi else f"Wait over {lo} s",
        )
        for lo, hi in WAIT_BUCKETS
    ),
]


def queue_counts_by(session: Session, scope: Scope) -> dict[tuple[str, str], tuple[QueueCounts, list[float]]]:
    """(period, queue) -> (counts, [abandon wait sum, wait buckets...]), from the queue rollup."""
    sums: dict[tuple[str, str], list[int]] = {}
    longest = rollup.QUEUE_MEASURES.index("longest_wait_ms")
    for row in rollup.read(session, rollup.QUEUES, scope.start, scope.end, rollup_query(scope, ["queue"])):
        key = (scope.period(row[0]), row[1])
        acc = sums.get(key)
        if acc is None:
            sums[key] = list(row[2:])
            continue
        for i, value in enumerate(row[2:]):
            acc[i] = max(acc[i], value) if i == longest else acc[i] + value
    out: dict[tuple[str, str], tuple[QueueCounts, list[float]]] = {}
    for key, v in sums.items():
        m = dict(zip(rollup.QUEUE_MEASURES, v, strict=True))
        counts = QueueCounts(
            offered=m["offered"],
            waiting=m["waiting"],
            answered=m["answered"],
            answered_wait_s=m["answered_wait_ms"] / 1000,
            answered_within=m["answered_within"],
            handled=m["handled"],
            handle_s=m["handle_ms"] / 1000,
            abandoned=m["abandoned"],
            short_abandons=m["short_abandons"],
            abandoned_within=m["abandoned_within"],
            overflow=m["overflow"],
            longest_wait_s=m["longest_wait_ms"] / 1000,
        )
        buckets = [float(m[f"wait_{i}"]) for i in range(len(WAIT_BUCKETS))]
        out[key] = (counts, [m["abandon_wait_ms"] / 1000, *buckets])
    return out


def _queue_history(session: Session, scope: Scope) -> ReportTable:
    out = []
    for (p, queue), (counts, extra) in sorted(queue_counts_by(session, scope).items()):
        k = queue_kpis(counts)
        out.append(
            [
                p,
                queue,
                k.offered,
                k.answered,
                k.abandoned,
                k.short_abandons,
                k.overflow,
                k.sl_pct,
                k.sl_asterisk_pct,
                k.sl2_pct,
                k.asa_s,
                k.aht_s,
                k.abandon_pct,
                k.longest_wait_s,
                _avg(extra[0], k.abandoned),
                *(int(v) for v in extra[1:]),
            ]
        )
    chart = {"type": "line", "x": "period", "series": ["offered", "answered", "abandoned", "sl_pct"]}
    return ReportTable(ReportKind.QUEUE_HISTORY, QUEUE_COLUMNS, out, chart)


# --- IVR ---------------------------------------------------------------------------------------------

IVR_COLUMNS = [
    PERIOD,
    Column("flow", "流程", "Flow", "text"),
    Column("node", "节点", "Node", "text"),
    Column("visits", "访问次数", "Visits"),
    Column("calls", "呼叫数", "Calls"),
    Column("avg_dwell_s", "平均停留", "Average dwell", "seconds"),
    Column("exits", "在此结束", "Ended here"),
]


def _ivr(session: Session, scope: Scope) -> ReportTable:
    """Visits, calls (a call counts in the period of its first visit of the node), dwell, exits."""
    query = rollup_query(scope, ["flow", "node"])
    rows = rollup.read(session, rollup.IVR, scope.start, scope.end, query)
    groups = _fold(rows, lambda r: (scope.period(r[0]), r[1], r[2]), 5)
    out = [
        [p, flow, node, int(v[0]), int(v[1]), _avg(v[2] / 1000, int(v[3])), int(v[4])]
        for (p, flow, node), v in sorted(groups.items())
    ]
    return ReportTable(ReportKind.IVR, IVR_COLUMNS, out, {"type": "bar", "x": "node", "series": ["visits"]})


# --- customers ---------------------------------------------------------------------------------------

CUSTOMER_COLUMNS = [
    Column("customer_id", "客户编号", "Customer", "text"),
    Column("caller_number", "号码", "Number", "text"),
    Column("calls", "呼叫次数", "Calls"),
    Column("answered", "接通", "Answered"),
    Column("inbound", "呼入", "Inbound"),
    Column("outbound", "呼出", "Outbound"),
    Column("talk_s", "通话总时长", "Talk time", "seconds"),
    Column("first_call", "首次呼叫", "First call", "time"),
    Column("last_call", "最近呼叫", "Last call", "time"),
]


def _customer_calls(session: Session, scope: Scope, limit: int) -> ReportTable:
    """Per customer (or per number nobody is linked to): the customer's number is the caller of an
    inbound call and the dialled number of an outbound one; internal calls have no customer. The
    groups to list come from the monthly customer rollup when the range has a whole month of it, their
    figures from their own rows."""
    rows = _customer_rows(session, scope, limit, ranked_customers(session, scope, limit))
    out = [
        [
            r[0],
            r[1],
            int(r[2]),
            int(r[3] or 0),
            int(r[4] or 0),
            int(r[5] or 0),
            round(float(r[6] or 0), 1),
            _local(r[7], scope.tz),
            _local(r[8], scope.tz),
        ]
        for r in rows
    ]
    chart = {"type": "bar", "x": "caller_number", "series": ["calls", "answered"]}
    return ReportTable(ReportKind.CUSTOMER_CALLS, CUSTOMER_COLUMNS, out, chart)


def _customer_rows(
    session: Session, scope: Scope, limit: int, keys: Sequence[rollup.CustomerKey] | None
) -> Sequence[Sequence[Any]]:
    """The top ``limit`` groups of the call rows, among ``keys`` only when given."""
    c = CallRow.__table__.c
    outbound = c.direction == literal_column("'outbound'")  # inline: one expression in GROUP BY and ORDER BY
    number = case((outbound, c.dialed), else_=c.caller_number)
    unlinked_number = case((c.customer_id.is_(None), number), else_=_EMPTY)
    among: list[Any] = []
    if keys is not None:
        linked = sorted({int(customer) for customer, _ in keys if customer})
        numbers = sorted({number for customer, number in keys if not customer})
        # three terms, each through its own index (the customer's, the dialled number's, the caller's);
        # "no customer" as a CASE, which no planner takes for the index of the many rows without one
        unlinked = case((c.customer_id.is_(None), literal_column("1")), else_=literal_column("0")) == 1
        among.append(
            or_(
                c.customer_id.in_(linked),
                and_(unlinked, outbound, c.dialed.in_(numbers)),
                and_(unlinked, ~outbound, c.caller_number.in_(numbers)),
            )
        )
    return session.execute(
        select(
            c.customer_id,
            func.min(number),
            func.count(),
            _sum_if(c.answered_at.isnot(None)),
            _sum_if(c.direction == "inbound"),
            _sum_if(outbound),
            func.sum(func.coalesce(c.talk_s, 0.0)),
            func.min(c.started_at),
            func.max(c.started_at),
        )
        .where(*scope.filters(CallRow.__table__, "started_at"), c.direction != "internal", *among)
        .group_by(c.customer_id, unlinked_number)
        .order_by(func.count().desc(), func.min(number), unlinked_number, c.customer_id)
        .limit(limit)
    ).all()


_MAX_RANKED = 20_000  # more groups tied at the cut than this: the rows rank them in one statement
FIRST_READ = 1_000  # groups read from each month at first (at least four times the limit)


def ranked_customers(session: Session, scope: Scope, limit: int) -> list[rollup.CustomerKey] | None:
    """The groups with at least the calls of the ``limit``-th most calling one, from the monthly rollup
    (None: the rows rank them). The months the range covers are read in call order, ``k`` groups each,
    until the ``limit``-th best total among the groups seen beats what any unseen group can have (the sum
    of each month's ``k``-th count): the exact top, ties at its end included."""
    people = scope.queue or scope.agent or scope.department or scope.agents is not None
    if limit <= 0 or people or rollup.reading_rows_only():
        return None
    offset = rollup.read_settings(session.connection()).day_offset_h
    if offset is None or scope.day_offset_h != offset:
        return None
    cut = rollup.month_cut(scope.start, scope.end, offset)
    if not cut.months:
        return None
    plus = rollup.customer_row_counts(session, cut.plus)
    minus = rollup.customer_row_counts(session, cut.minus)
    k = max(4 * limit, FIRST_READ)
    while True:
        tops = {month: dict(rollup.customer_top(session, month, k)) for month in cut.months}
        seen = set(plus).union(*tops.values())
        totals = dict.fromkeys(seen, 0)
        bound = 0
        for month, top in tops.items():
            counts = top
            if len(top) == k:  # the month has more groups than were read
                bound += min(top.values())
                counts = top | rollup.customer_month_counts(session, month, [g for g in seen if g not in top])
            for g in seen:
                totals[g] += counts.get(g, 0)
        for g in seen:
            totals[g] += plus.get(g, 0) - minus.get(g, 0)
        ranked = sorted((n for n in totals.values() if n > 0), reverse=True)
        last = ranked[limit - 1] if len(ranked) >= limit else 1
        if bound == 0 or last > bound:
            chosen = [g for g, n in totals.items() if n >= last]
            return chosen if len(chosen) <= _MAX_RANKED else None
        k *= 4


def _local(epoch: float | None, tz: ZoneInfo) -> str | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, tz).strftime("%Y-%m-%d %H:%M:%S")


# --- satisfaction ------------------------------------------------------------------------------------

SATISFACTION_COLUMNS = [
    PERIOD,
    Column("agent", "坐席", "Agent", "text"),
    Column("queue", "队列", "Queue", "text"),
    Column("surveys", "评价数", "Surveys"),
    Column("avg_score", "平均分", "Average score", "float"),
    Column("satisfied_pct", "满意率", "Satisfied %", "pct"),
    *(Column(f"score_{n}", f"{n}分", f"Score {n}") for n in range(1, 6)),
]


def _satisfaction(session: Session, scope: Scope) -> ReportTable:
    query = rollup_query(scope, ["agent", "queue", "score", "scale"])
    groups: dict[tuple[str, str, str], list[float]] = {}
    for bucket, agent, queue, score, scale, count in rollup.read(
        session, rollup.SURVEYS, scope.start, scope.end, query
    ):
        acc = groups.setdefault((scope.period(bucket), agent, queue), [0.0] * 8)
        acc[0] += count
        acc[1] += score * count
        if score * 5 >= scale * 4:  # 4 or 5 out of 5, whatever the scale
            acc[2] += count
        if 1 <= score <= 5:
            acc[2 + score] += count
    out = [
        [p, agent, queue, int(v[0]), _r(v[1] / v[0], 2), _pct(v[2], v[0]), *(int(x) for x in v[3:])]
        for (p, agent, queue), v in sorted(groups.items())
    ]
    return ReportTable(
        ReportKind.SATISFACTION,
        SATISFACTION_COLUMNS,
        out,
        {"type": "bar", "x": "agent", "series": ["avg_score"]},
    )


# --- seat states -------------------------------------------------------------------------------------

SEAT_COLUMNS = [
    PERIOD,
    Column("agent", "坐席", "Agent", "text"),
    Column("logged_in_s", "登录时长", "Logged in", "seconds"),
    *(
        Column(f"{state}_s", zh, en, "seconds")
        for state, zh, en in (
            ("available", "空闲", "Available"),
            ("ringing", "振铃", "Ringing"),
            ("on_call", "通话", "On call"),
            ("wrap_up", "话后处理", "Wrap-up"),
            ("paused", "置忙", "Paused"),
        )
    ),
    Column("pauses", "置忙次数", "Pauses"),
    Column("logouts", "签出次数", "Logouts"),
    Column("occupancy_pct", "占用率", "Occupancy %", "pct"),
]

_SEAT_STATES = (
    AgentState.AVAILABLE,
    AgentState.RINGING,
    AgentState.ON_CALL,
    AgentState.WRAP_UP,
    AgentState.PAUSED,
)


_STATE_INDEX = {state.value: i for i, state in enumerate(AgentState)}
_LOGGED_OUT, _PAUSED = _STATE_INDEX["logged_out"], _STATE_INDEX["paused"]
_BUSY = (_STATE_INDEX["on_call"], _STATE_INDEX["wrap_up"])
_SHOWN = [_STATE_INDEX[s.value] for s in _SEAT_STATES]


def _seat_states(session: Session, scope: Scope) -> ReportTable:
    """Seconds per state (summed in whole milliseconds), pauses, logouts and occupancy as in
    :func:`stats.kpi.occupancy_pct`: (on call + wrap-up) / logged in and not paused."""
    query = rollup_query(scope, ["agent", "state"])
    states = len(_STATE_INDEX)
    groups: dict[tuple[str, str], list[int]] = {}  # milliseconds per state, then changes per state
    for bucket, agent, state, count, ms in rollup.read(session, rollup.SEATS, scope.start, scope.end, query):
        acc = groups.get((scope.period(bucket), agent))
        if acc is None:
            acc = groups[(scope.period(bucket), agent)] = [0] * (2 * states)
        i = _STATE_INDEX[state]
        acc[i] += ms
        acc[states + i] += count
    out = []
    for (p, agent), acc in sorted(groups.items()):
        total = sum(acc[:states])
        logged_in = total - acc[_LOGGED_OUT]
        staffed = logged_in - acc[_PAUSED]
        busy = acc[_BUSY[0]] + acc[_BUSY[1]]
        out.append(
            [
                p,
                agent,
                round(logged_in / 1000, 1),
                *(round(acc[i] / 1000, 1) for i in _SHOWN),
                acc[states + _PAUSED],
                acc[states + _LOGGED_OUT],
                round(100.0 * busy / staffed, 2) if staffed > 0 else None,
            ]
        )
    chart = {"type": "bar", "x": "agent", "series": [f"{s.value}_s" for s in _SEAT_STATES], "stacked": True}
    return ReportTable(ReportKind.SEAT_STATES, SEAT_COLUMNS, out, chart)


# --- call detail records -----------------------------------------------------------------------------

CDR_COLUMNS = [
    Column("started", "开始时间", "Start", "time"),
    Column("call_id", "呼叫编号", "Call ID", "text"),
    Column("direction", "方向", "Direction", "text"),
    Column("caller", "主叫", "Caller", "text"),
    Column("dialed", "被叫", "Callee", "text"),
    Column("queue", "队列", "Queue", "text"),
    Column("agent", "坐席", "Agent", "text"),
    Column("wait_s", "等待", "Wait", "seconds"),
    Column("ring_s", "振铃", "Ring", "seconds"),
    Column("talk_s", "通话", "Talk", "seconds"),
    Column("hold_s", "保持", "Hold", "seconds"),
    Column("wrapup_s", "话后处理", "Wrap-up", "seconds"),
    Column("duration_s", "总时长", "Duration", "seconds"),
    Column("disposition", "结果", "Disposition", "text"),
    Column("wrapup", "处理结果", "Wrap-up code", "text"),  # the agent's code (stats.outbound_reports)
    Column("hangup_cause", "挂断原因", "Hangup cause", "text"),
    Column("hangup_by", "挂断方", "Hung up by", "text"),
    Column("customer_id", "客户", "Customer", "text"),
    Column("ticket_id", "工单", "Ticket", "text"),
    Column("order_id", "订单", "Order", "text"),
    Column("recording", "录音", "Recording", "link"),
]

RECORDING_URL = "/api/recordings/{recording_id}/audio"


def cdr_callee(direction: str, caller: str, dialed: str, agent: str | None, queue: str | None) -> str:
    """Who was called: the dialled number; on an inbound call whose dialplan carried the caller's own
    number as the extension (no DID), the agent who answered, else the queue it waited in."""
    if dialed and (dialed != caller or direction != "inbound"):
        return dialed
    return agent or queue or dialed


def cdr_count(session: Session, scope: Scope) -> int:
    """Calls started in the range: the finished ones from the rollups, those still up from the rows
    (a partial index holds only them)."""
    finished = sum(row[1] for row in finished_calls(session, scope, []))
    c = CallRow.__table__.c
    up = session.scalar(
        select(func.count()).where(*scope.filters(CallRow.__table__, "started_at"), c.ended_at.is_(None))
    )
    return int(finished) + int(up or 0)


def _cdr(session: Session, scope: Scope, limit: int, offset: int) -> ReportTable:
    rows = session.scalars(
        select(CallRow)
        .where(*scope.filters(CallRow.__table__, "started_at"))
        .order_by(CallRow.started_at, CallRow.id)
        .limit(limit)
        .offset(offset)
    ).all()
    wrapup = wrapup_names(session, (r.call_id for r in rows))
    out = [
        [
            _local(r.started_at, scope.tz),
            r.call_id,
            r.direction,
            r.caller_number,
            cdr_callee(r.direction, r.caller_number, r.dialed, r.agent, r.queue),
            r.queue,
            r.agent,
            _r(r.wait_s),
            _r(r.ring_s),
            _r(r.talk_s),
            _r(r.hold_s),
            _r(r.wrapup_s),
            _r(r.duration_s),
            r.disposition,
            wrapup.get(r.call_id, ""),
            f"{r.hangup_cause} {r.hangup_cause_text}".strip() if r.hangup_cause is not None else "",
            r.hangup_by,
            r.customer_id,
            r.ticket_id,
            r.order_id,
            RECORDING_URL.format(recording_id=r.recording_id) if r.recording_id else None,
        ]
        for r in rows
    ]
    return ReportTable(ReportKind.CDR, CDR_COLUMNS, out, {}, total=cdr_count(session, scope))


# --- entry point -------------------------------------------------------------------------------------


def report(
    session: Session,
    kind: str,
    start: datetime,
    end: datetime,
    group_by: str = "day",
    queue: str | None = None,
    agent: str | None = None,
    department: str | None = None,
    *,
    tz: str = "Asia/Shanghai",
    settings: KpiSettings | None = None,
    limit: int = 10_000,
    offset: int = 0,
    agents: Sequence[str] | None = None,
    period_offset: int | None = None,
) -> ReportTable:
    """One report over ``[start, end)``; naive datetimes are read in ``tz``.

    ``agents`` narrows every per-agent figure to those agents (how the API applies a department).
    ``period_offset`` asks a report with rows per period and agent or queue (:data:`PAGED`) for one page
    of whole periods from that period on, about ``limit`` rows; the other reports ignore it.
    """
    try:
        kind_ = ReportKind(kind)
        grouping = GroupBy(group_by)
    except ValueError as exc:
        raise ReportError(f"unknown report kind or grouping: {kind!r}, {group_by!r}") from exc
    zone = ZoneInfo(tz)
    start_s, end_s = _epoch(start, zone), _epoch(end, zone)
    if end_s <= start_s:
        raise ReportError("the report range is empty: the end must come after the start")
    if end_s - start_s > timedelta(days=3700).total_seconds():
        raise ReportError("the report range is longer than ten years")
    scope = Scope(
        start_s,
        end_s,
        grouping,
        zone,
        queue,
        agent,
        department,
        settings or KpiSettings(),
        fixed_offset_hours(start_s, end_s, zone),
        agents=tuple(agents) if agents is not None else None,
    )
    if period_offset is not None and kind_ in PAGED:
        return _period_page(session, kind_, scope, limit, period_offset)
    return _answer(session, kind_, scope, limit, offset)


# Reports with rows per period and key, and where their keys are counted to size a page of periods.
PAGED: dict[ReportKind, tuple[rollup.Spec, tuple[str, ...]]] = {
    ReportKind.AGENT_SERVICE: (rollup.AGENTS, ("agent",)),
    ReportKind.QUEUE_HISTORY: (rollup.QUEUES, ("queue",)),
    ReportKind.SATISFACTION: (rollup.SURVEYS, ("agent", "queue")),
    ReportKind.SEAT_STATES: (rollup.SEATS, ("agent",)),
}


def _period_page(session: Session, kind: ReportKind, scope: Scope, limit: int, offset: int) -> ReportTable:
    """The report over whole periods from the ``offset``-th on, as many as ``limit`` rows allow (at least
    one): a month by hour for 500 agents is 372,000 rows, read a few hours at a time."""
    bounds = period_bounds(scope.start, scope.end, scope.group_by, scope.tz)
    total = len(bounds) - 1
    if offset >= total:
        raise ReportError(f"the page starts at period {offset + 1}, after the range's last period ({total})")
    spec, keys = PAGED[kind]
    per_period = rollup.distinct_keys(session, spec, keys, scope.start, scope.end, rollup_query(scope, keys))
    count = max(1, min(total - offset, limit // max(1, per_period)))
    part = replace(scope, start=bounds[offset], end=bounds[offset + count], labels={})
    table = _answer(session, kind, part, limit, 0)
    table.periods = PeriodPage(total, offset, count)
    return table


def _answer(session: Session, kind_: ReportKind, scope: Scope, limit: int, offset: int) -> ReportTable:
    if kind_ is ReportKind.SERVICE_CENTER:
        return _service_center(session, scope)
    if kind_ is ReportKind.AGENT_SERVICE:
        return _agent_service(session, scope)
    if kind_ is ReportKind.QUEUE_HISTORY:
        return _queue_history(session, scope)
    if kind_ is ReportKind.IVR:
        return _ivr(session, scope)
    if kind_ is ReportKind.CUSTOMER_CALLS:
        return _customer_calls(session, scope, limit)
    if kind_ is ReportKind.SATISFACTION:
        return _satisfaction(session, scope)
    if kind_ is ReportKind.SEAT_STATES:
        return _seat_states(session, scope)
    return _cdr(session, scope, limit, offset)

"""Report queries over the history tables, for any time range, grouped by hour/day/week/month/year.

SQL groups by the stored UTC ``hour`` (plus the report's keys) with portable aggregates, the same on
SQLite and PostgreSQL; the hours are then folded into local periods in Python with the business time
zone (daylight saving safe; in zones with a half-hour offset a period boundary falls to the hour).
Queue figures go through :mod:`stats.kpi`, the same code as the live board. Finished calls come from
the exact hourly rollups when the range starts and ends on the hour (the small per-center one unless the
report is per agent), otherwise from the call rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, and_, case, func, literal, literal_column, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from stats.kpi import AgentState, AgentTimes, KpiSettings, QueueCounts, occupancy_pct, queue_kpis
from stats.models import (
    AgentStateRow,
    CallRollupRow,
    CallRow,
    CenterRollupRow,
    IvrStepRow,
    QueueCallRow,
    SurveyRow,
)


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


@dataclass(slots=True)
class ReportTable:
    kind: str
    columns: list[Column]
    rows: list[list[Any]]
    chart: dict[str, Any] = field(default_factory=dict)  # {"x": key, "series": [keys], "type": "bar"}

    def as_dicts(self) -> list[dict[str, Any]]:
        keys = [c.key for c in self.columns]
        return [dict(zip(keys, row, strict=True)) for row in self.rows]

    def to_json(self, lang: str = "zh-CN") -> dict[str, Any]:
        return {
            "kind": self.kind,
            "columns": [{"key": c.key, "label": c.label(lang), "kind": c.kind} for c in self.columns],
            "rows": self.rows,
            "chart": self.chart,
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


MEASURES = ("calls", "answered", "wait_ms", "ring_ms", "talk_ms", "hold_ms", "wrapup_ms")
Measure = tuple[str, str | None]  # (measure, only this direction or None)
ALL_MEASURES: tuple[Measure, ...] = tuple((m, None) for m in MEASURES)


def finished_calls_by_hour(
    scope: Scope, extra: Sequence[str] = (), measures: Sequence[Measure] = ALL_MEASURES
) -> Select[Any]:
    """Finished calls per period bucket (and ``extra`` keys), summed from the best source.

    The sources agree exactly: the per-center rollup (no agent filter or key), the per-agent rollup, or
    (for a range not on the hour) the call rows with the rollup's own rounding to milliseconds.
    """
    if scope.hour_aligned:
        per_agent = scope.agent or scope.department or scope.agents is not None
        per_agent = per_agent or not set(extra) <= {"queue", "direction", "disposition"}
        t = (CallRollupRow if per_agent else CenterRollupRow).__table__.c
        keys: list[Any] = [scope.bucket(t.hour), *(t[k] for k in extra)]
        conditions = [t.hour >= int(scope.start // 3600), t.hour < int(scope.end // 3600), t.calls != 0]
        if scope.queue:
            conditions.append(t.queue == scope.queue)
        if scope.agent:
            conditions.append(t.agent == scope.agent)
        if scope.department:
            conditions.append(t.department == scope.department)
        if scope.agents is not None:
            conditions.append(t.agent.in_(scope.agents))
        values: dict[str, Any] = {m: t[m] for m in MEASURES}
        direction = t.direction
    else:
        c = CallRow.__table__.c
        answered = c.answered_at.isnot(None)

        def ms(col: Any, only_answered: bool = False) -> Any:
            value = func.round(func.coalesce(col, 0.0) * 1000)
            return case((answered, value), else_=0) if only_answered else value

        keys = [scope.bucket(c.hour), *(func.coalesce(c[k], _EMPTY) for k in extra)]
        conditions = [*scope.filters(CallRow.__table__, "started_at"), c.ended_at.isnot(None)]
        values = {
            "calls": literal_column("1"),
            "answered": case((answered, 1), else_=0),
            "wait_ms": ms(c.wait_s, True),
            "ring_ms": ms(c.ring_s, True),
            "talk_ms": ms(c.talk_s),
            "hold_ms": ms(c.hold_s),
            "wrapup_ms": ms(c.wrapup_s),
        }
        direction = c.direction
    sums = [func.sum(values[m] if d is None else case((direction == d, values[m]), else_=0)) for m, d in measures]
    return select(*keys, *sums).where(*conditions).group_by(*keys)


def _service_center(session: Session, scope: Scope) -> ReportTable:
    rows = session.execute(finished_calls_by_hour(scope, ["direction"])).all()
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


AGENT_MEASURES: list[Measure] = [
    ("answered", None),
    ("talk_ms", None),
    ("ring_ms", None),
    ("hold_ms", None),
    ("wrapup_ms", None),
    ("answered", "inbound"),
    ("calls", "outbound"),
    ("answered", "outbound"),
]


def _agent_service(session: Session, scope: Scope) -> ReportTable:
    rows = session.execute(finished_calls_by_hour(scope, ["agent"], AGENT_MEASURES)).all()
    groups = _fold([r for r in rows if r[1]], lambda r: (scope.period(r[0]), r[1]), len(AGENT_MEASURES))
    s = SurveyRow.__table__.c
    survey_rows = session.execute(
        select(scope.bucket(s.hour), s.agent, func.count(), func.sum(s.score))
        .where(*scope.filters(SurveyRow.__table__, "at"))
        .group_by(scope.bucket(s.hour), s.agent)
    ).all()
    surveys = _fold(survey_rows, lambda r: (scope.period(r[0]), r[1]), 2)
    nothing = [0.0] * len(AGENT_MEASURES)
    out = []
    for key in sorted(groups.keys() | surveys.keys()):
        answered, talk, ring, hold, wrapup, inbound, outbound, outbound_answered = groups.get(key, nothing)
        count, total = surveys.get(key, [0.0, 0.0])
        out.append(
            [
                *key,
                int(inbound),
                int(outbound),
                int(outbound_answered),
                round(talk / 1000, 1),
                _avg(talk / 1000, int(answered)),
                _avg(ring / 1000, int(answered)),
                round(hold / 1000, 1),
                round(wrapup / 1000, 1),
                int(count),
                _r(total / count if count else None, 2),
            ]
        )
    chart = {"type": "bar", "x": "agent", "series": ["inbound_calls", "outbound_calls"]}
    return ReportTable(ReportKind.AGENT_SERVICE, AGENT_COLUMNS, out, chart)


# --- queue history -----------------------------------------------------------------------------------

WAIT_BUCKETS = ((0, 10), (10, 20), (20, 30), (30, 60), (60, 120), (120, None))

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

_COUNT_FIELDS = (
    "offered",
    "waiting",
    "answered",
    "answered_wait_s",
    "answered_within",
    "handled",
    "handle_s",
    "abandoned",
    "short_abandons",
    "abandoned_within",
    "overflow",
)


def queue_counts_query(scope: Scope, keys: Sequence[Any]) -> Select[Any]:
    """:class:`QueueCounts` fields per ``keys`` in SQL, mirroring ``QueueCounts.add`` rule for rule."""
    q = QueueCallRow.__table__.c
    wait = func.coalesce(q.wait_s, 0.0)
    is_answered, is_abandoned = q.outcome == "answered", q.outcome == "abandoned"
    handled = and_(is_answered, q.talk_s.isnot(None))
    finished = or_(is_answered, is_abandoned)
    sl, short = scope.settings.sl_threshold_s, scope.settings.short_abandon_s
    measures = [
        func.count(),
        _sum_if(q.outcome == "waiting"),
        _sum_if(is_answered),
        _sum_if(is_answered, wait),
        _sum_if(and_(is_answered, wait <= sl)),
        _sum_if(handled),
        _sum_if(handled, q.talk_s + q.hold_s + q.wrapup_s),
        _sum_if(is_abandoned),
        _sum_if(and_(is_abandoned, wait <= short)),
        _sum_if(and_(is_abandoned, wait <= sl)),
        _sum_if(q.outcome == "overflow"),
        func.max(case((finished, wait), else_=literal(0.0))),
        _sum_if(is_abandoned, wait),
        *(
            _sum_if(and_(finished, wait >= lo, wait < hi) if hi else and_(finished, wait >= lo))
            for lo, hi in WAIT_BUCKETS
        ),
    ]
    return select(*keys, *measures).where(*scope.filters(QueueCallRow.__table__, "joined_at")).group_by(*keys)


def _counts_from(values: Sequence[Any]) -> QueueCounts:
    counts = QueueCounts()
    for name, value in zip(_COUNT_FIELDS, values, strict=False):
        setattr(counts, name, float(value or 0) if name.endswith("_s") else int(value or 0))
    return counts


def queue_counts_by(session: Session, scope: Scope) -> dict[tuple[str, str], tuple[QueueCounts, list[float]]]:
    """(period, queue) -> (counts, [abandon wait sum, wait buckets...])."""
    q = QueueCallRow.__table__.c
    out: dict[tuple[str, str], tuple[QueueCounts, list[float]]] = {}
    n = len(_COUNT_FIELDS)
    for row in session.execute(queue_counts_query(scope, [scope.bucket(q.hour), q.queue])):
        counts = _counts_from(row[2 : 2 + n])
        counts.longest_wait_s = float(row[2 + n] or 0)
        extra = [float(v or 0) for v in row[3 + n :]]
        key = (scope.period(row[0]), row[1])
        if key in out:
            out[key][0].merge(counts)
            out[key] = (out[key][0], [a + b for a, b in zip(out[key][1], extra, strict=True)])
        else:
            out[key] = (counts, extra)
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
    s = IvrStepRow.__table__.c
    rows = session.execute(
        select(
            scope.bucket(s.hour),
            s.flow,
            s.node,
            func.count(),
            func.count(func.distinct(s.call_id)),
            func.sum(func.coalesce(s.dwell_s, 0.0)),
            func.count(s.dwell_s),
            _sum_if(s.dwell_s.is_(None)),
        )
        .where(*scope.filters(IvrStepRow.__table__, "at", queue=False, people=False))
        .group_by(scope.bucket(s.hour), s.flow, s.node)
    ).all()
    groups = _fold(rows, lambda r: (scope.period(r[0]), r[1], r[2]), 5)
    out = [
        [p, flow, node, int(v[0]), int(v[1]), _avg(v[2], int(v[3])), int(v[4])]
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
    c = CallRow.__table__.c
    unlinked_number = case((c.customer_id.is_(None), c.caller_number), else_=_EMPTY)
    rows = session.execute(
        select(
            c.customer_id,
            func.min(c.caller_number),
            func.count(),
            _sum_if(c.answered_at.isnot(None)),
            _sum_if(c.direction == "inbound"),
            _sum_if(c.direction == "outbound"),
            func.sum(func.coalesce(c.talk_s, 0.0)),
            func.min(c.started_at),
            func.max(c.started_at),
        )
        .where(*scope.filters(CallRow.__table__, "started_at"))
        .group_by(c.customer_id, unlinked_number)
        .order_by(func.count().desc(), func.min(c.caller_number))
        .limit(limit)
    ).all()
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
    s = SurveyRow.__table__.c
    satisfied = s.score * 5 >= s.scale * 4  # 4 or 5 out of 5, whatever the scale
    rows = session.execute(
        select(
            scope.bucket(s.hour),
            s.agent,
            func.coalesce(s.queue, _EMPTY),
            func.count(),
            func.sum(s.score),
            _sum_if(satisfied),
            *(_sum_if(s.score == n) for n in range(1, 6)),
        )
        .where(*scope.filters(SurveyRow.__table__, "at"))
        .group_by(scope.bucket(s.hour), s.agent, func.coalesce(s.queue, _EMPTY))
    ).all()
    groups = _fold(rows, lambda r: (scope.period(r[0]), r[1], r[2]), 8)
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


def _seat_states(session: Session, scope: Scope) -> ReportTable:
    a = AgentStateRow.__table__.c
    rows = session.execute(
        select(scope.bucket(a.hour), a.agent, a.state, func.count(), func.sum(func.coalesce(a.duration_s, 0.0)))
        .where(*scope.filters(AgentStateRow.__table__, "started_at", queue=False))
        .group_by(scope.bucket(a.hour), a.agent, a.state)
    ).all()
    times: dict[tuple[str, str], AgentTimes] = {}
    changes: dict[tuple[str, str, str], int] = {}
    for bucket, agent, state, count, seconds in rows:
        key = (scope.period(bucket), agent)
        t = times.setdefault(key, AgentTimes())
        st = AgentState(state)
        t.seconds[st] = t.seconds.get(st, 0.0) + float(seconds or 0)
        changes[(*key, state)] = changes.get((*key, state), 0) + int(count)
    out = []
    for (p, agent), t in sorted(times.items()):
        out.append(
            [
                p,
                agent,
                round(t.logged_in_s, 1),
                *(round(t.seconds.get(s, 0.0), 1) for s in _SEAT_STATES),
                changes.get((p, agent, "paused"), 0),
                changes.get((p, agent, "logged_out"), 0),
                occupancy_pct(t),
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
    Column("dialed", "被叫", "Dialed", "text"),
    Column("queue", "队列", "Queue", "text"),
    Column("agent", "坐席", "Agent", "text"),
    Column("wait_s", "等待", "Wait", "seconds"),
    Column("ring_s", "振铃", "Ring", "seconds"),
    Column("talk_s", "通话", "Talk", "seconds"),
    Column("hold_s", "保持", "Hold", "seconds"),
    Column("wrapup_s", "话后处理", "Wrap-up", "seconds"),
    Column("duration_s", "总时长", "Duration", "seconds"),
    Column("disposition", "结果", "Disposition", "text"),
    Column("hangup_cause", "挂断原因", "Hangup cause", "text"),
    Column("hangup_by", "挂断方", "Hung up by", "text"),
    Column("customer_id", "客户", "Customer", "text"),
    Column("ticket_id", "工单", "Ticket", "text"),
    Column("order_id", "订单", "Order", "text"),
    Column("recording", "录音", "Recording", "link"),
]

RECORDING_URL = "/api/recordings/{recording_id}/audio"


def _cdr(session: Session, scope: Scope, limit: int, offset: int) -> ReportTable:
    rows = session.scalars(
        select(CallRow)
        .where(*scope.filters(CallRow.__table__, "started_at"))
        .order_by(CallRow.started_at, CallRow.id)
        .limit(limit)
        .offset(offset)
    ).all()
    out = [
        [
            _local(r.started_at, scope.tz),
            r.call_id,
            r.direction,
            r.caller_number,
            r.dialed,
            r.queue,
            r.agent,
            _r(r.wait_s),
            _r(r.ring_s),
            _r(r.talk_s),
            _r(r.hold_s),
            _r(r.wrapup_s),
            _r(r.duration_s),
            r.disposition,
            f"{r.hangup_cause} {r.hangup_cause_text}".strip() if r.hangup_cause is not None else "",
            r.hangup_by,
            r.customer_id,
            r.ticket_id,
            r.order_id,
            RECORDING_URL.format(recording_id=r.recording_id) if r.recording_id else None,
        ]
        for r in rows
    ]
    return ReportTable(ReportKind.CDR, CDR_COLUMNS, out, {})


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
) -> ReportTable:
    """One report over ``[start, end)``; naive datetimes are read in ``tz``.

    ``agents`` narrows every per-agent figure to those agents (how the API applies a department).
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

"""The statistics a manager asks for, each a table with a chart column, for a period of business days, a
department (and below) and a person, cut to the user's data scope: sales by agent, product and day; orders
by status; tickets by handler, department and type with SLA breaches; customers by category, region and
source, new and lost per day; each agent state change; each call's IVR path.

Names are bilingual ("已完成 Completed"); a page shows its language's half, an export picks one language.
The call history (agent states, IVR steps) is read from the statistics tables with a plain query.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.orm import Session

from crm_core.errors import InvalidInput
from crm_core.exporter import ORDER_STATUS_NAMES, in_language
from crm_core.models import Customer, Department, Order, OrderLine, PauseReason, Product, Ticket, TicketType, User
from crm_core.permissions import agent_by_identity, agent_identities, check, identities, scope_clause

COUNTED = ("in_approval", "completed", "returned")
OPEN_TICKET = ("open", "in_progress")
AGENT_STATE_NAMES = {
    "logged_out": "已签出 Logged out",
    "available": "空闲 Available",
    "ringing": "振铃 Ringing",
    "on_call": "通话中 On a call",
    "wrap_up": "话后处理 Wrap-up",
    "paused": "置忙 Paused",
}
MAX_ROWS = 5000


@dataclass(frozen=True)
class StatsQuery:
    """``start``/``end``: naive UTC bounds ``[start, end)`` of the period's business days."""

    start: datetime
    end: datetime
    tz: ZoneInfo
    department_id: int | None = None
    user_id: int | None = None


@dataclass
class Report:
    kind: str
    title: str
    columns: list[tuple[str, str]]  # (key, bilingual label)
    rows: list[dict[str, Any]] = field(default_factory=list)
    chart: tuple[str, str] | None = None  # (label column, value column)


def _departments(session: Session, department_id: int) -> list[int]:
    found = session.get(Department, department_id)
    if found is None:
        raise InvalidInput("部门不存在 unknown department", "department_id")
    return list(session.scalars(select(Department.id).where(Department.path.startswith(found.path))))


def _within(session: Session, q: StatsQuery, department: Any, person: Any) -> list[ColumnElement[bool]]:
    out: list[ColumnElement[bool]] = []
    if q.department_id is not None:
        out.append(department.in_(_departments(session, q.department_id)))
    if q.user_id is not None:
        out.append(person == q.user_id)
    return out


def _name(user: User | None) -> str:
    return (user.display_name or user.username) if user is not None else "(无 none)"


def _money(value: Any) -> str:
    return str(Decimal(str(value or 0)).quantize(Decimal("0.01")))


def _orders(session: Session, user: User, q: StatsQuery) -> list[ColumnElement[bool]]:
    check(user, "order", "read")
    return [
        scope_clause(session, user, Order),
        Order.created_at >= q.start,
        Order.created_at < q.end,
        *_within(session, q, Order.department_id, Order.owner_id),
    ]


def sales_by_agent(session: Session, user: User, q: StatsQuery) -> Report:
    rows = session.execute(
        select(Order.owner_id, func.count(Order.id), func.coalesce(func.sum(Order.total), 0))
        .where(*_orders(session, user, q), Order.status.in_(COUNTED))
        .group_by(Order.owner_id)
    ).all()
    report = Report(
        "sales_by_agent",
        "坐席销售 Sales by agent",
        [("agent", "坐席 Agent"), ("orders", "订单数 Orders"), ("amount", "金额 Amount")],
        chart=("agent", "amount"),
    )
    for owner_id, count, amount in sorted(rows, key=lambda r: -Decimal(str(r[2]))):
        owner = session.get(User, owner_id) if owner_id else None
        report.rows.append({"agent": _name(owner), "orders": int(count), "amount": _money(amount)})
    return report


def sales_by_product(session: Session, user: User, q: StatsQuery) -> Report:
    rows = session.execute(
        select(Product.sku, Product.name, func.sum(OrderLine.quantity), func.sum(OrderLine.amount))
        .join(Order, Order.id == OrderLine.order_id)
        .join(Product, Product.id == OrderLine.product_id)
        .where(*_orders(session, user, q), Order.status.in_(COUNTED))
        .group_by(Product.sku, Product.name)
    ).all()
    report = Report(
        "sales_by_product",
        "产品销售 Sales by product",
        [("product", "产品 Product"), ("quantity", "数量 Quantity"), ("amount", "金额 Amount")],
        chart=("product", "amount"),
    )
    for sku, name, quantity, amount in sorted(rows, key=lambda r: -Decimal(str(r[3] or 0))):
        report.rows.append({"product": f"{sku} {name}", "quantity": int(quantity or 0), "amount": _money(amount)})
    return report


def _day(at: datetime, tz: ZoneInfo) -> str:
    return at.replace(tzinfo=UTC).astimezone(tz).date().isoformat()


def sales_by_day(session: Session, user: User, q: StatsQuery) -> Report:
    found = session.execute(
        select(Order.created_at, Order.total).where(*_orders(session, user, q), Order.status.in_(COUNTED))
    ).all()
    days: dict[str, list[Decimal]] = defaultdict(list)
    for at, total in found:
        days[_day(at, q.tz)].append(Decimal(str(total)))
    report = Report(
        "sales_by_day",
        "每日销售 Sales by day",
        [("day", "日期 Day"), ("orders", "订单数 Orders"), ("amount", "金额 Amount")],
        chart=("day", "amount"),
    )
    report.rows = [{"day": d, "orders": len(v), "amount": _money(sum(v))} for d, v in sorted(days.items())]
    return report


def orders_by_status(session: Session, user: User, q: StatsQuery) -> Report:
    rows = {
        status: (n, amount)
        for status, n, amount in session.execute(
            select(Order.status, func.count(Order.id), func.coalesce(func.sum(Order.total), 0))
            .where(*_orders(session, user, q))
            .group_by(Order.status)
        )
    }
    report = Report(
        "orders_by_status",
        "订单状态 Orders by status",
        [("status", "状态 Status"), ("orders", "订单数 Orders"), ("amount", "金额 Amount")],
        chart=("status", "orders"),
    )
    for code, (zh, en) in ORDER_STATUS_NAMES.items():
        n, amount = rows.get(code, (0, 0))
        report.rows.append({"status": f"{zh} {en}", "orders": int(n), "amount": _money(amount)})
    return report


def _tickets(session: Session, user: User, q: StatsQuery, group: Any, now: datetime) -> list[Any]:
    check(user, "ticket", "read")
    late = Ticket.due_at.is_not(None) & (func.coalesce(Ticket.closed_at, now) > Ticket.due_at)
    breached = func.sum(case((late, 1), else_=0))
    still_open = func.sum(case((Ticket.status.in_(OPEN_TICKET), 1), else_=0))
    return list(
        session.execute(
            select(group, func.count(Ticket.id), still_open, breached)
            .where(
                scope_clause(session, user, Ticket),
                Ticket.created_at >= q.start,
                Ticket.created_at < q.end,
                *_within(session, q, Ticket.department_id, Ticket.assignee_id),
            )
            .group_by(group)
        )
    )


TICKET_COLUMNS = [("tickets", "工单数 Tickets"), ("open", "未完成 Open"), ("sla_breached", "超时 SLA breached")]


def _ticket_report(kind: str, title: str, key: str, label: str, named: list[tuple[str, Any]]) -> Report:
    report = Report(kind, title, [(key, label), *TICKET_COLUMNS], chart=(key, "tickets"))
    for name, (n, still_open, breached) in sorted(named, key=lambda r: -r[1][0]):
        report.rows.append(
            {key: name, "tickets": int(n), "open": int(still_open or 0), "sla_breached": int(breached or 0)}
        )
    return report


def tickets_by_handler(session: Session, user: User, q: StatsQuery, now: datetime | None = None) -> Report:
    rows = _tickets(session, user, q, Ticket.assignee_id, now or _utcnow())
    named = [(_name(session.get(User, a) if a else None), rest) for a, *rest in rows]
    return _ticket_report("tickets_by_handler", "处理人工单 Tickets by handler", "handler", "处理人 Handler", named)


def tickets_by_department(session: Session, user: User, q: StatsQuery, now: datetime | None = None) -> Report:
    rows = _tickets(session, user, q, Ticket.department_id, now or _utcnow())
    names = {d.id: d.name for d in session.scalars(select(Department))}
    named = [(names.get(d, "(无 none)"), rest) for d, *rest in rows]
    return _ticket_report(
        "tickets_by_department", "部门工单 Tickets by department", "department", "部门 Department", named
    )


def tickets_by_type(session: Session, user: User, q: StatsQuery, now: datetime | None = None) -> Report:
    rows = _tickets(session, user, q, Ticket.type_id, now or _utcnow())
    names = {t.id: t.name for t in session.scalars(select(TicketType))}
    named = [(names.get(t, ""), rest) for t, *rest in rows]
    return _ticket_report("tickets_by_type", "类型工单 Tickets by type", "type", "类型 Type", named)


def _utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _customers(session: Session, user: User, q: StatsQuery) -> list[ColumnElement[bool]]:
    check(user, "customer", "read")
    return [scope_clause(session, user, Customer), *_within(session, q, Customer.department_id, Customer.owner_id)]


def _customers_by(column: Any, kind: str, title: str, label: str) -> Callable[[Session, User, StatsQuery], Report]:
    def report(session: Session, user: User, q: StatsQuery) -> Report:
        rows = session.execute(
            select(column, func.count(Customer.id))
            .where(*_customers(session, user, q), Customer.status != "merged", Customer.created_at < q.end)
            .group_by(column)
        ).all()
        out = Report(kind, title, [("value", label), ("customers", "客户数 Customers")], chart=("value", "customers"))
        out.rows = [{"value": v or "(未填 empty)", "customers": int(n)} for v, n in sorted(rows, key=lambda r: -r[1])]
        return out

    return report


def customers_new_lost(session: Session, user: User, q: StatsQuery) -> Report:
    """New: created in the period; lost: released to the public pool (status pool, last changed then)."""
    where = _customers(session, user, q)
    new = session.scalars(
        select(Customer.created_at).where(*where, Customer.created_at >= q.start, Customer.created_at < q.end)
    )
    lost = session.scalars(
        select(Customer.updated_at).where(
            *where, Customer.status == "pool", Customer.updated_at >= q.start, Customer.updated_at < q.end
        )
    )
    days: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for at in new:
        days[_day(at, q.tz)][0] += 1
    for at in lost:
        days[_day(at, q.tz)][1] += 1
    report = Report(
        "customers_new_lost",
        "新增与流失客户 New and lost customers",
        [("day", "日期 Day"), ("new", "新增 New"), ("lost", "流失 Lost (released to the pool)")],
        chart=("day", "new"),
    )
    report.rows = [{"day": d, "new": v[0], "lost": v[1]} for d, v in sorted(days.items())]
    return report


def _agents(session: Session, user: User, q: StatsQuery) -> set[str] | None:
    """Agent names (as the call history carries them) for the filters, within the user's scope."""
    names = agent_identities(session, user)
    if q.user_id is not None:
        person = session.get(User, q.user_id)
        wanted = identities(person) if person is not None else set()
        names = wanted if names is None else names & wanted
    if q.department_id is not None:
        people = session.scalars(select(User).where(User.department_id.in_(_departments(session, q.department_id))))
        wanted = set().union(*(identities(p) for p in people))
        names = wanted if names is None else names & wanted
    return names


def _who(session: Session, names: dict[str, str], agent: str | None) -> str:
    """An agent as the call history names it (an extension...), shown as "李娜 (1101)" when a user is known."""
    if not agent:
        return ""
    if agent not in names:
        person = agent_by_identity(session, agent)
        names[agent] = f"{_name(person)} ({agent})" if person is not None else agent
    return names[agent]


def _epoch(at: datetime) -> float:
    return at.replace(tzinfo=UTC).timestamp()


def _clock(ts: float | None, tz: ZoneInfo) -> str:
    if ts is None:
        return ""
    return datetime.fromtimestamp(ts, tz).strftime("%Y-%m-%d %H:%M:%S")


def agent_states(session: Session, user: User, q: StatsQuery) -> Report:
    """Each state change of each agent in the period (not totals), newest first."""
    check(user, "report", "read")
    from stats.models import AgentStateRow

    query = select(AgentStateRow).where(
        AgentStateRow.started_at >= _epoch(q.start), AgentStateRow.started_at < _epoch(q.end)
    )
    names = _agents(session, user, q)
    if names is not None:
        query = query.where(AgentStateRow.agent.in_(sorted(names)))
    report = Report(
        "agent_states",
        "座席状态明细 Agent state history",
        [
            ("at", "时间 Time"),
            ("agent", "座席 Agent"),
            ("state", "状态 State"),
            ("reason", "原因 Reason"),
            ("duration_s", "时长（秒） Duration (s)"),
        ],
    )
    known: dict[str, str] = {}
    reasons = {r.code: r.name for r in session.scalars(select(PauseReason))}  # "午餐 Lunch", not "lunch"
    for row in session.scalars(query.order_by(AgentStateRow.started_at.desc()).limit(MAX_ROWS)):
        report.rows.append(
            {
                "at": _clock(row.started_at, q.tz),
                "agent": _who(session, known, row.agent),
                "state": AGENT_STATE_NAMES.get(row.state, row.state),
                "reason": reasons.get(row.reason, row.reason),
                "duration_s": round(row.duration_s) if row.duration_s is not None else "",
            }
        )
    return report


def ivr_paths(session: Session, user: User, q: StatsQuery) -> Report:
    """Each call's way through the IVR: its nodes in order, with the keys pressed."""
    check(user, "report", "read")
    from stats.models import CallRow, IvrStepRow

    steps = select(IvrStepRow).where(IvrStepRow.at >= _epoch(q.start), IvrStepRow.at < _epoch(q.end))
    names = _agents(session, user, q)
    if names is not None:  # a scoped user sees the calls of his scope's agents
        mine = select(CallRow.call_id).where(CallRow.agent.in_(sorted(names)))
        steps = steps.where(IvrStepRow.call_id.in_(mine))
    paths: dict[str, list[Any]] = {}
    for step in session.scalars(steps.order_by(IvrStepRow.at, IvrStepRow.id).limit(MAX_ROWS * 5)):
        paths.setdefault(step.call_id, []).append(step)
    callers = {
        c.call_id: c for c in session.scalars(select(CallRow).where(CallRow.call_id.in_(list(paths)[:MAX_ROWS])))
    }
    report = Report(
        "ivr_paths",
        "通话 IVR 路径 IVR path per call",
        [("at", "时间 Time"), ("caller", "主叫 Caller"), ("path", "路径 Path"), ("agent", "座席 Agent")],
    )
    known: dict[str, str] = {}
    for call_id, visited in list(paths.items())[:MAX_ROWS]:
        call = callers.get(call_id)
        path = " → ".join(f"{s.node}({s.input})" if s.input else s.node for s in visited)
        report.rows.append(
            {
                "at": _clock(visited[0].at, q.tz),
                "caller": call.caller_number if call else "",
                "path": path,
                "agent": _who(session, known, call.agent) if call else "",
            }
        )
    report.rows.reverse()  # newest first
    return report


REPORTS: dict[str, Callable[..., Report]] = {
    "sales_by_agent": sales_by_agent,
    "sales_by_product": sales_by_product,
    "sales_by_day": sales_by_day,
    "orders_by_status": orders_by_status,
    "tickets_by_handler": tickets_by_handler,
    "tickets_by_department": tickets_by_department,
    "tickets_by_type": tickets_by_type,
    "customers_by_category": _customers_by(
        Customer.category, "customers_by_category", "客户分类 Customers by category", "分类 Category"
    ),
    "customers_by_region": _customers_by(
        Customer.region, "customers_by_region", "客户地区 Customers by region", "地区 Region"
    ),
    "customers_by_source": _customers_by(
        Customer.source, "customers_by_source", "客户来源 Customers by source", "来源 Source"
    ),
    "customers_new_lost": customers_new_lost,
    "agent_states": agent_states,
    "ivr_paths": ivr_paths,
}


def run_report(session: Session, user: User, kind: str, q: StatsQuery) -> Report:
    check(user, "report", "read")
    found = REPORTS.get(kind)
    if found is None:
        raise InvalidInput(f"没有这个统计 unknown report: {kind[:40]}", "kind")
    return found(session, user, q)


def as_sheet(report: Report, lang: str) -> tuple[str, list[str], list[list[Any]]]:
    """The report as one sheet in one language: (title, header, rows)."""
    header = [in_language(label, lang) for _, label in report.columns]
    rows = [[in_language(str(row[key]), lang) for key, _ in report.columns] for row in report.rows]
    return in_language(report.title, lang), header, rows

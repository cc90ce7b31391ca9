"""Sales targets and their progress, from the real records: calls in the call history, customers
created, orders placed and their amount; and the KPI appraisal (考评) that grades each person by it.

What counts, within the target's days (business time zone, both ends included):
- calls: calls of the call history whose agent is the person (by extension, agent number or user name);
  for a department, its people's (the department and its sub-departments);
- new customers: customers created with the person as owner (a department: in the department);
- orders and amount: orders created by the person (owner) or in the department that were submitted and
  not voided (draft, void and fully returned orders do not count); the amount is their total.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import Session

from crm_core.errors import InvalidInput
from crm_core.models import Customer, Department, Order, SalesTarget, User
from crm_core.permissions import (
    check,
    ensure_department,
    ensure_visible,
    identities,
    scope_clause,
)
from crm_core.services.records import Resource

MEASURES = ("calls", "new_customers", "orders", "amount")
COUNTED_ORDERS = ("in_approval", "completed")
# Grade by score (the mean completion of the measures that have a target, each capped at CAP percent).
GRADES = (("A", 100.0), ("B", 80.0), ("C", 60.0), ("D", 0.0))
CAP = 120.0
MAX_DAYS = 366


@dataclass(frozen=True)
class Measure:
    target: Decimal
    actual: Decimal
    percent: float | None  # None when the measure is not part of the target (target 0)


@dataclass(frozen=True)
class Progress:
    target_id: int
    title: str
    user_id: int | None
    user_name: str
    department_id: int | None
    department_name: str
    period_start: date
    period_end: date
    measures: dict[str, Measure]
    score: float | None
    grade: str


def _validate(session: Session, user: User, data: dict[str, Any], row: Any | None) -> dict[str, Any]:
    """A target names a person (then it is in the person's department) or only a department."""
    person_id = data.get("user_id", row.user_id if row is not None else None)
    if person_id is not None:
        person = session.get(User, person_id)
        if person is None:
            raise InvalidInput("人员不存在 unknown person", "user_id")
        ensure_visible(session, user, User, person.id)
        data["department_id"] = person.department_id
    elif data.get("department_id", row.department_id if row is not None else None) is None:
        raise InvalidInput("请选择人员或部门 choose a person or a department", "user_id")
    if data.get("department_id") is not None:
        if session.get(Department, data["department_id"]) is None:
            raise InvalidInput("部门不存在 unknown department", "department_id")
        ensure_department(session, user, data["department_id"])
    start = data.get("period_start", row.period_start if row is not None else None)
    end = data.get("period_end", row.period_end if row is not None else None)
    if start is None or end is None:
        raise InvalidInput("请填写起止日期 the period's first and last day are required", "period_start")
    if end < start:
        raise InvalidInput("结束日期不能早于开始日期 the period ends before it starts", "period_end")
    if (end - start).days >= MAX_DAYS:
        raise InvalidInput(f"期间最长 {MAX_DAYS} 天 a period is at most {MAX_DAYS} days", "period_end")
    values = {m: data.get(m, getattr(row, m) if row is not None else 0) or 0 for m in MEASURES}
    for name, value in values.items():
        if value < 0:
            raise InvalidInput("目标不能为负数 a target cannot be negative", name)
    if not any(values.values()):
        raise InvalidInput("至少设定一项目标 set at least one measure", "calls")
    return data


SALES_TARGETS = Resource(
    "sales_target", SalesTarget, search=("title",), default_sort="-period_start", before_write=_validate
)


def day_bounds(first: date, last: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The period's days in the business zone as naive UTC ``[start, end)``, as the tables store time."""

    def utc(day: date) -> datetime:
        return datetime.combine(day, time(0), tz).astimezone(ZoneInfo("UTC")).replace(tzinfo=None)

    return utc(first), utc(last + timedelta(days=1))


def _department_ids(session: Session, department_id: int) -> list[int]:
    department = session.get(Department, department_id)
    if department is None:
        return []
    return list(session.scalars(select(Department.id).where(Department.path.startswith(department.path))))


def _call_count(session: Session, names: set[str], lo: datetime, hi: datetime) -> int:
    """Calls of the call history taken or placed by any of ``names`` (0 without the statistics tables)."""
    if not names:
        return 0
    try:
        from stats.models import CallRow
    except ImportError:  # the CRM without the statistics tables
        return 0
    utc = ZoneInfo("UTC")
    start, end = lo.replace(tzinfo=utc).timestamp(), hi.replace(tzinfo=utc).timestamp()
    query = select(func.count(CallRow.id)).where(
        CallRow.agent.in_(sorted(names)), CallRow.started_at >= start, CallRow.started_at < end
    )
    return int(session.scalar(query) or 0)


def actuals(session: Session, target: SalesTarget, tz: ZoneInfo) -> dict[str, Decimal]:
    """What the target's person or department reached in its period."""
    lo, hi = day_bounds(target.period_start, target.period_end, tz)
    if target.user_id is not None:
        person = session.get(User, target.user_id)
        names = identities(person) if person is not None else set()
        customer_of: ColumnElement[bool] = Customer.owner_id == target.user_id
        order_of: ColumnElement[bool] = Order.owner_id == target.user_id
    else:
        departments = _department_ids(session, target.department_id or 0)
        people = session.scalars(select(User).where(User.department_id.in_(departments)))
        names = set().union(*(identities(p) for p in people))
        customer_of, order_of = Customer.department_id.in_(departments), Order.department_id.in_(departments)
    new_customers = session.scalar(
        select(func.count(Customer.id)).where(customer_of, Customer.created_at >= lo, Customer.created_at < hi)
    )
    orders = session.execute(
        select(func.count(Order.id), func.coalesce(func.sum(Order.total), 0)).where(
            order_of, Order.status.in_(COUNTED_ORDERS), Order.created_at >= lo, Order.created_at < hi
        )
    ).one()
    return {
        "calls": Decimal(_call_count(session, names, lo, hi)),
        "new_customers": Decimal(int(new_customers or 0)),
        "orders": Decimal(int(orders[0] or 0)),
        "amount": Decimal(str(orders[1] or 0)).quantize(Decimal("0.01")),
    }


def grade_of(score: float | None) -> str:
    if score is None:
        return ""
    return next(letter for letter, floor in GRADES if score >= floor)


def progress_of(session: Session, target: SalesTarget, tz: ZoneInfo) -> Progress:
    reached = actuals(session, target, tz)
    measures: dict[str, Measure] = {}
    for name in MEASURES:
        goal = Decimal(str(getattr(target, name) or 0))
        pct = round(float(reached[name] / goal * 100), 1) if goal > 0 else None
        measures[name] = Measure(goal, reached[name], pct)
    parts = [min(m.percent, CAP) for m in measures.values() if m.percent is not None]
    score = round(sum(parts) / len(parts), 1) if parts else None
    person = session.get(User, target.user_id) if target.user_id is not None else None
    department = session.get(Department, target.department_id) if target.department_id is not None else None
    return Progress(
        target.id,
        target.title,
        target.user_id,
        (person.display_name or person.username) if person is not None else "",
        target.department_id,
        department.name if department is not None else "",
        target.period_start,
        target.period_end,
        measures,
        score,
        grade_of(score),
    )


def _targets(
    session: Session,
    user: User,
    first: date,
    last: date,
    department_id: int | None,
    user_id: int | None,
) -> Select[Any]:
    """Targets within the user's scope whose period overlaps ``first``..``last``."""
    if last < first:
        raise InvalidInput("结束日期不能早于开始日期 the period ends before it starts", "end")
    query = select(SalesTarget).where(
        scope_clause(session, user, SalesTarget), SalesTarget.period_start <= last, SalesTarget.period_end >= first
    )
    if department_id is not None:
        query = query.where(SalesTarget.department_id.in_(_department_ids(session, department_id)))
    if user_id is not None:
        query = query.where(SalesTarget.user_id == user_id)
    return query.order_by(SalesTarget.period_start, SalesTarget.id)


def progress(
    session: Session,
    user: User,
    first: date,
    last: date,
    tz: ZoneInfo,
    department_id: int | None = None,
    user_id: int | None = None,
) -> list[Progress]:
    check(user, "sales_target", "read")
    return [
        progress_of(session, t, tz)
        for t in session.scalars(_targets(session, user, first, last, department_id, user_id))
    ]


def appraisal(
    session: Session, user: User, first: date, last: date, tz: ZoneInfo, department_id: int | None = None
) -> list[Progress]:
    """The people's targets of the period, graded and ranked by score (best first)."""
    check(user, "sales_target", "read")
    query = _targets(session, user, first, last, department_id, None).where(SalesTarget.user_id.is_not(None))
    graded = [progress_of(session, t, tz) for t in session.scalars(query)]
    return sorted(graded, key=lambda p: (-(p.score or 0.0), p.user_name, p.target_id))

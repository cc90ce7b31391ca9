"""Opportunities: stage moves (won needs nothing more, lost needs a reason), the sales funnel and the
board, both filtered by department (and below), person, period (created, business days) and stage."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from crm_core import audit
from crm_core.errors import InvalidInput, NotFound
from crm_core.models import Customer, Department, Opportunity, OpportunityStage, User
from crm_core.permissions import check, ensure_visible, scope_clause

BOARD_CARDS = 100  # cards per stage column; the column's count and amount cover them all


@dataclass(frozen=True)
class OpportunityFilter:
    """Which opportunities: ``start``/``end`` are naive UTC bounds of the creation time, ``[start, end)``."""

    department_id: int | None = None
    owner_id: int | None = None
    stage_id: int | None = None
    start: datetime | None = None
    end: datetime | None = None

    def clauses(self, session: Session) -> list[ColumnElement[bool]]:
        out: list[ColumnElement[bool]] = []
        if self.department_id is not None:
            department = session.get(Department, self.department_id)
            if department is None:
                raise InvalidInput("部门不存在 unknown department", "department_id")
            below = select(Department.id).where(Department.path.startswith(department.path))
            out.append(Opportunity.department_id.in_(below))
        if self.owner_id is not None:
            out.append(Opportunity.owner_id == self.owner_id)
        if self.stage_id is not None:
            out.append(Opportunity.stage_id == self.stage_id)
        if self.start is not None:
            out.append(Opportunity.created_at >= self.start)
        if self.end is not None:
            out.append(Opportunity.created_at < self.end)
        return out


@dataclass(frozen=True)
class FunnelStage:
    stage_id: int
    name: str
    probability: int
    outcome: str
    count: int
    amount: Decimal
    weighted: Decimal


def move_stage(session: Session, user: User, opportunity_id: int, stage_id: int, lost_reason: str = "") -> Opportunity:
    check(user, "opportunity", "update")
    opportunity = session.get(Opportunity, opportunity_id)
    if opportunity is None:
        raise NotFound(f"商机不存在 opportunity not found: {opportunity_id}")
    ensure_visible(session, user, Opportunity, opportunity_id)
    stage = session.get(OpportunityStage, stage_id)
    if stage is None:
        raise InvalidInput("阶段不存在 unknown stage", "stage_id")
    if stage.outcome == "lost" and not lost_reason.strip():
        raise InvalidInput("输单须填写原因 a lost reason is required", "lost_reason")
    audit.record(session, user, "stage", "opportunity", opportunity_id, {"stage_id": [opportunity.stage_id, stage_id]})
    opportunity.stage_id, opportunity.is_closed = stage.id, stage.outcome != "open"
    opportunity.lost_reason = lost_reason if stage.outcome == "lost" else ""
    return opportunity


def funnel(session: Session, user: User, only: OpportunityFilter | None = None) -> list[FunnelStage]:
    """Per stage, in order: how many opportunities the user may see, their amount and weighted amount."""
    check(user, "opportunity", "read")
    totals = (
        select(
            Opportunity.stage_id,
            func.count(Opportunity.id).label("n"),
            func.coalesce(func.sum(Opportunity.amount), 0).label("amount"),
        )
        .where(scope_clause(session, user, Opportunity), *(only or OpportunityFilter()).clauses(session))
        .group_by(Opportunity.stage_id)
        .subquery()
    )
    rows = session.execute(
        select(OpportunityStage, totals.c.n, totals.c.amount)
        .outerjoin(totals, totals.c.stage_id == OpportunityStage.id)
        .order_by(OpportunityStage.position)
    )
    result = []
    for stage, count, amount in rows:
        amount = Decimal(str(amount or 0))
        result.append(
            FunnelStage(
                stage.id,
                stage.name,
                stage.probability,
                stage.outcome,
                int(count or 0),
                amount,
                (amount * stage.probability / 100).quantize(Decimal("0.01")),
            )
        )
    return result


def board(session: Session, user: User, only: OpportunityFilter | None = None) -> list[dict[str, Any]]:
    """The funnel's stages as columns, each with its opportunities (newest first, up to ``BOARD_CARDS``)."""
    stages = funnel(session, user, only)
    where = [scope_clause(session, user, Opportunity), *(only or OpportunityFilter()).clauses(session)]
    columns = []
    for stage in stages:
        rows = session.execute(
            select(Opportunity, Customer.name, User.display_name, User.username)
            .join(Customer, Customer.id == Opportunity.customer_id)
            .outerjoin(User, User.id == Opportunity.owner_id)
            .where(Opportunity.stage_id == stage.stage_id, *where)
            .order_by(Opportunity.created_at.desc(), Opportunity.id.desc())
            .limit(BOARD_CARDS)
        )
        cards = [
            {
                "id": opp.id,
                "title": opp.title,
                "customer_id": opp.customer_id,
                "customer_name": customer_name,
                "owner_id": opp.owner_id,
                "owner_name": display_name or username or "",
                "amount": str(opp.amount),
                "expected_close_on": opp.expected_close_on.isoformat()
                if isinstance(opp.expected_close_on, date)
                else None,
                "created_at": opp.created_at.isoformat(),
            }
            for opp, customer_name, display_name, username in rows
        ]
        columns.append({**funnel_row(stage), "cards": cards})
    return columns


def funnel_row(stage: FunnelStage) -> dict[str, Any]:
    """A funnel stage as JSON (money as text, exact)."""
    return {
        "stage_id": stage.stage_id,
        "name": stage.name,
        "probability": stage.probability,
        "outcome": stage.outcome,
        "count": stage.count,
        "amount": str(stage.amount),
        "weighted": str(stage.weighted),
    }

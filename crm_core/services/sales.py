"""Opportunities: stage moves (won needs nothing more, lost needs a reason) and the sales funnel."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm_core import audit
from crm_core.errors import InvalidInput, NotFound
from crm_core.models import Opportunity, OpportunityStage, User
from crm_core.permissions import check, ensure_visible, scope_clause


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


def funnel(session: Session, user: User) -> list[FunnelStage]:
    """Per stage, in order: how many opportunities the user may see, their amount and weighted amount."""
    check(user, "opportunity", "read")
    totals = (
        select(
            Opportunity.stage_id,
            func.count(Opportunity.id).label("n"),
            func.coalesce(func.sum(Opportunity.amount), 0).label("amount"),
        )
        .where(scope_clause(session, user, Opportunity))
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

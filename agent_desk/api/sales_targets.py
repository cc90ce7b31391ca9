"""Sales targets per person or department and period, their progress and the KPI appraisal (考评)."""

from dataclasses import asdict
from datetime import date
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy.orm import Session

from agent_desk.api.crm_crud import crm_router, crud_router
from agent_desk.api.crm_sales import business_zone, period
from agent_desk.deps import current_user, get_session
from crm_core.models import User
from crm_core.services import sales_targets
from crm_core.services.sales_targets import Progress

targets = crm_router("/sales-targets", "sales management")


def progress_row(found: Progress) -> dict[str, Any]:
    row = {"id": found.target_id, **asdict(found)}
    row["measures"] = {
        name: {"target": str(m.target), "actual": str(m.actual), "percent": m.percent}
        for name, m in found.measures.items()
    }
    return row


def _days(start: date, end: date) -> tuple[date, date]:
    days = period(start, end)
    assert days is not None
    return days


@targets.get("/progress", summary="Each target overlapping the period, with what was reached so far")
def progress(
    request: Request,
    start: date = Query(..., description="First day (business time zone)"),
    end: date = Query(..., description="Last day, included"),
    department_id: int | None = Query(None, ge=1, description="This department and below"),
    user_id: int | None = Query(None, ge=1),
    user: User = Depends(current_user),
    session: Session = Depends(get_session),
) -> list[dict[str, Any]]:
    first, last = _days(start, end)
    found = sales_targets.progress(session, user, first, last, business_zone(request), department_id, user_id)
    return [progress_row(p) for p in found]


@targets.get("/appraisal", summary="KPI appraisal: people's targets of the period graded A-D, best first")
def appraisal(
    request: Request,
    start: date = Query(...),
    end: date = Query(...),
    department_id: int | None = Query(None, ge=1),
    user: User = Depends(current_user),
    session: Session = Depends(get_session),
) -> dict[str, Any]:
    first, last = _days(start, end)
    graded = sales_targets.appraisal(session, user, first, last, business_zone(request), department_id)
    return {
        "grades": [{"grade": g, "min_score": floor} for g, floor in sales_targets.GRADES],
        "cap": sales_targets.CAP,
        "items": [progress_row(p) for p in graded],
    }


router = APIRouter()
router.include_router(targets)
router.include_router(
    crud_router(sales_targets.SALES_TARGETS, "/sales-targets", "sales management", exclude=frozenset({"created_by"}))
)

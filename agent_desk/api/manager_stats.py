"""The manager's statistics: each report as JSON (table and chart) and as an Excel file, for a period of
business days, a department and a person (report.read / report.export, rows cut to the data scope)."""

from datetime import date
from typing import Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy.orm import Session

from agent_desk.api.crm_crud import CrmRoute
from agent_desk.api.crm_sales import business_zone, period
from agent_desk.deps import current_user, get_session
from crm_core.models import User
from crm_core.permissions import check
from crm_core.services import manager_stats
from crm_core.services.manager_stats import StatsQuery
from crm_core.services.sales_targets import day_bounds
from crm_core.tabular import write_xlsx

router = APIRouter(prefix="/api/manager", tags=["manager statistics"], route_class=CrmRoute)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def stats_query(
    request: Request,
    start: date = Query(..., description="First day (business time zone)"),
    end: date = Query(..., description="Last day, included"),
    department_id: int | None = Query(None, ge=1, description="This department and below"),
    user_id: int | None = Query(None, ge=1),
) -> StatsQuery:
    days = period(start, end)
    assert days is not None
    tz = business_zone(request)
    return StatsQuery(*day_bounds(*days, tz), tz, department_id, user_id)


@router.get("/reports", summary="The reports a manager can open")
def kinds(user: User = Depends(current_user)) -> list[str]:
    check(user, "report", "read")
    return list(manager_stats.REPORTS)


@router.get("/reports/{kind}", summary="One report: its columns, rows and chart")
def report(
    kind: str,
    q: StatsQuery = Depends(stats_query),
    user: User = Depends(current_user),
    session: Session = Depends(get_session),
) -> dict[str, Any]:
    found = manager_stats.run_report(session, user, kind, q)
    return {
        "kind": found.kind,
        "title": found.title,
        "columns": [{"key": k, "label": label} for k, label in found.columns],
        "rows": found.rows,
        "chart": {"label": found.chart[0], "value": found.chart[1]} if found.chart else None,
    }


@router.get("/reports/{kind}/export", summary="One report as an Excel file in one language")
def export(
    kind: str,
    lang: Literal["zh-CN", "en"] = "zh-CN",
    q: StatsQuery = Depends(stats_query),
    user: User = Depends(current_user),
    session: Session = Depends(get_session),
) -> Response:
    check(user, "report", "export")
    found = manager_stats.run_report(session, user, kind, q)
    title, header, rows = manager_stats.as_sheet(found, lang)
    name = f"{title}.xlsx"
    return Response(
        write_xlsx([(title, header, rows)]),
        media_type=XLSX,
        headers={"Content-Disposition": f"attachment; filename=\"{kind}.xlsx\"; filename*=UTF-8''{quote(name)}"},
    )

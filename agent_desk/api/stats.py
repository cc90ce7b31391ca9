"""REST for reports: any date range, grouped by hour/day/week/month/year, as JSON, CSV or Excel.

``start`` and ``end`` bound ``[start, end)``; a date or a time without a zone is read in the business
time zone (``CC_TIMEZONE``). A department filter is resolved to its agents from the user directory.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import Response
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from agent_desk.deps import get_session, require
from config import Settings
from crm_core.errors import PermissionDenied
from crm_core.models import Customer, Order, Ticket, User
from crm_core.permissions import agent_identities, ensure_department, scope_clause
from stats.export import CSV_MEDIA_TYPE, XLSX_MEDIA_TYPE, export_name, to_csv, to_xlsx
from stats.kpi import KpiSettings
from stats.reports import PAGED, GroupBy, ReportError, ReportKind, ReportTable, report

router = APIRouter(prefix="/api/stats", tags=["stats"])

DbSession = Annotated[Session, Depends(get_session)]
ReportReader = Annotated[User, Depends(require("report", "read"))]
ReportExporter = Annotated[User, Depends(require("report", "export"))]
Lang = Literal["zh-CN", "en"]


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def kpi_settings(settings: Settings) -> KpiSettings:
    return KpiSettings(sl_threshold_s=settings.sl_threshold_s, short_abandon_s=settings.short_abandon_s)


def _department_agents(session: Session, department: str) -> list[str]:
    """Agent ids of a department's users, as events name them (agent number, extension or user name)."""
    if not department.isdigit():
        raise HTTPException(422, "部门编号无效 department must be a department id")
    users = session.scalars(select(User).where(User.department_id == int(department))).all()
    names: set[str] = set()
    for user in users:
        names.update(n for n in (user.agent_number, user.extension, user.username) if n)
    return sorted(names)


def report_agents(session: Session, user: User, department: str | None) -> list[str] | None:
    """The agents a report covers: those of the user's data scope (``crm_core.permissions``), narrowed to
    ``department`` when asked (a department outside the scope is refused). ``None``: every agent."""
    allowed = agent_identities(session, user)
    if department:
        agents = _department_agents(session, department)
        try:
            ensure_department(session, user, int(department))
        except PermissionDenied as exc:
            raise HTTPException(403, str(exc)) from exc
        return agents if allowed is None else sorted(set(agents) & allowed)
    return None if allowed is None else sorted(allowed)


# Queue and IVR figures are per queue and IVR node, which belong to no department and name no agent or
# customer: they stay center-wide unless a department or an agent is asked for.
CENTER_WIDE = frozenset({ReportKind.QUEUE_HISTORY, ReportKind.IVR})
# Columns naming CRM records: blanked when the record lies outside the user's data scope.
RECORD_COLUMNS: dict[str, Any] = {"customer_id": Customer, "ticket_id": Ticket, "order_id": Order}


def mask_records(session: Session, user: User, table: ReportTable) -> ReportTable:
    """A call of one's agents may concern another department's customer: the report names it only when
    the user may open it."""
    for index, column in enumerate(table.columns):
        model = RECORD_COLUMNS.get(column.key)
        if model is None:
            continue
        ids = {row[index] for row in table.rows if isinstance(row[index], int)}
        if not ids:
            continue
        visible = set(session.scalars(select(model.id).where(model.id.in_(ids), scope_clause(session, user, model))))
        for row in table.rows:
            if row[index] is not None and row[index] not in visible:
                row[index] = None
    return table


def _run(
    request: Request, session: Session, user: User, kind: ReportKind, q: ReportQuery, *, whole: bool = False
) -> ReportTable:
    """The report the query asks for: on screen one page of periods (the reports per agent or queue), in an
    export (``whole``) every period of the range."""
    settings = _settings(request)
    agents = report_agents(session, user, q.department)
    if kind in CENTER_WIDE and not (q.department or q.agent):
        agents = None
    try:
        table = report(
            session,
            kind.value,
            q.start,
            q.end,
            q.group_by.value,
            queue=q.queue or None,
            agent=q.agent or None,
            department=None,
            tz=settings.timezone,
            settings=kpi_settings(settings),
            limit=q.limit,
            offset=q.offset,
            agents=agents,
            period_offset=None if whole else q.period_offset,
        )
    except ReportError as exc:
        raise HTTPException(422, f"报表参数无效 {exc}") from exc
    return mask_records(session, user, table)


class ReportQuery:
    """The query parameters every report endpoint takes."""

    def __init__(
        self,
        start: Annotated[datetime, Query(description="Range start (inclusive), ISO date or date-time.")],
        end: Annotated[datetime, Query(description="Range end (exclusive), ISO date or date-time.")],
        group_by: GroupBy = GroupBy.DAY,
        queue: str | None = None,
        agent: str | None = None,
        department: str | None = Query(None, description="Department id: its agents only."),
        lang: Lang = "zh-CN",
        limit: Annotated[int, Query(ge=1, le=100_000)] = 10_000,
        offset: Annotated[int, Query(ge=0)] = 0,
        period_offset: Annotated[
            int, Query(ge=0, description="The reports per agent or queue: the page's first period (0-based).")
        ] = 0,
    ) -> None:
        self.start, self.end, self.group_by = start, end, group_by
        self.queue, self.agent, self.department = queue, agent, department
        self.lang, self.limit, self.offset = lang, limit, offset
        self.period_offset = period_offset


Query_ = Annotated[ReportQuery, Depends()]


@router.get("/kinds", dependencies=[Depends(require("report", "read"))])
def kinds(request: Request) -> dict[str, Any]:
    """Report kinds, groupings, the business time zone and the KPI thresholds the definitions use."""
    settings = _settings(request)
    return {
        "kinds": [k.value for k in ReportKind],
        "group_by": [g.value for g in GroupBy],
        "paged": [k.value for k in PAGED],  # a page of whole periods at a time (limit, period_offset)
        "timezone": settings.timezone,
        "settings": {"sl_threshold_s": settings.sl_threshold_s, "short_abandon_s": settings.short_abandon_s},
    }


@router.get("/reports/{kind}")
def report_json(
    request: Request, kind: ReportKind, q: Query_, session: DbSession, user: ReportReader
) -> dict[str, Any]:
    table = _run(request, session, user, kind, q)
    return table.to_json(q.lang)


@router.get("/reports/{kind}/export")
def report_export(
    request: Request,
    kind: ReportKind,
    q: Query_,
    session: DbSession,
    user: ReportExporter,
    format: Literal["csv", "xlsx"] = "xlsx",
) -> Response:
    table = _run(request, session, user, kind, q, whole=True)
    name = export_name(kind.value, q.start, q.end, format)
    if format == "csv":
        body, media = to_csv(table, q.lang), CSV_MEDIA_TYPE
    else:
        body, media = to_xlsx(table, q.lang, kind.value), XLSX_MEDIA_TYPE
    return Response(body, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'})


def agent_names(session: Session, agents: list[str]) -> dict[str, str]:
    """Display names of agents named by agent number, extension or user name."""
    if not agents:
        return {}
    users = session.scalars(
        select(User).where(or_(User.agent_number.in_(agents), User.extension.in_(agents), User.username.in_(agents)))
    ).all()
    out: dict[str, str] = {}
    for user in users:
        for key in (user.agent_number, user.extension, user.username):
            if key in agents:
                out[key] = user.display_name or user.username
    return out

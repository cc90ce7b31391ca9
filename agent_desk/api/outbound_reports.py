"""REST for the outbound reports (``stats.outbound_reports``): campaigns, dispositions, callbacks, the CDR
with wrap-up codes. Needs ``report.read``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from sqlalchemy.orm import Session

from agent_desk.deps import get_session, require
from crm_core.services import outbound as svc
from stats import outbound_reports as reports

router = APIRouter(prefix="/api/outbound/reports", tags=["outbound reports"])

Reader = Annotated[Any, Depends(require("report", "read"))]
DbSession = Annotated[Session, Depends(get_session)]
Day = Annotated[str | None, Query(max_length=32)]


def _bounds(start: str | None, end: str | None) -> tuple[datetime, datetime]:
    """``from``/``to`` as ISO days or moments (UTC); default: the last 7 days."""
    try:
        until = datetime.fromisoformat(end) if end else datetime.now(UTC) + timedelta(minutes=1)
        since = datetime.fromisoformat(start) if start else until - timedelta(days=7)
    except ValueError as exc:
        raise HTTPException(422, f"日期格式错误 / Bad date: {exc}") from exc
    if end and len(end) <= 10:
        until += timedelta(days=1)
    since = since.astimezone(UTC) if since.tzinfo else since.replace(tzinfo=UTC)
    until = until.astimezone(UTC) if until.tzinfo else until.replace(tzinfo=UTC)
    return since.replace(tzinfo=None), until.replace(tzinfo=None)


@router.get("/campaigns")
def campaigns(
    user: Reader,
    session: DbSession,
    start: Annotated[Day, Query(alias="from")] = None,
    end: Annotated[Day, Query(alias="to")] = None,
) -> dict[str, Any]:
    since, until = _bounds(start, end)
    return {"items": reports.campaign_report(session, since, until)}


@router.get("/dispositions")
def dispositions(
    user: Reader,
    session: DbSession,
    start: Annotated[Day, Query(alias="from")] = None,
    end: Annotated[Day, Query(alias="to")] = None,
    campaign_id: int | None = None,
    queue: Annotated[str | None, Query(max_length=64)] = None,
) -> dict[str, Any]:
    since, until = _bounds(start, end)
    return {"items": reports.disposition_report(session, since, until, campaign_id, queue)}


@router.get("/callbacks")
def callbacks(
    request: Request,
    user: Reader,
    session: DbSession,
    start: Annotated[Day, Query(alias="from")] = None,
    end: Annotated[Day, Query(alias="to")] = None,
) -> dict[str, Any]:
    since, until = _bounds(start, end)
    grace = timedelta(seconds=request.app.state.settings.callback_missed_after_s)
    return reports.callback_report(session, since, until, grace, svc.callbacks_in_scope(session, user))


@router.get("/cdr")
def cdr(
    user: Reader,
    session: DbSession,
    start: Annotated[Day, Query(alias="from")] = None,
    end: Annotated[Day, Query(alias="to")] = None,
    limit: Annotated[int, Query(ge=1, le=2000)] = 500,
) -> dict[str, Any]:
    since, until = _bounds(start, end)
    epoch = datetime(1970, 1, 1)
    items = reports.cdr_with_dispositions(
        session, (since - epoch).total_seconds(), (until - epoch).total_seconds(), limit
    )
    return {"items": items}

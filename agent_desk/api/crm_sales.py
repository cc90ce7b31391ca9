"""Opportunity, funnel, board, knowledge base and announcement routes."""

from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from agent_desk.api.crm_crud import crm_router, crud_router
from agent_desk.deps import current_user, get_session
from crm_core.errors import InvalidInput
from crm_core.models import Announcement, KbArticle, Opportunity, User
from crm_core.schemas import PlainText, output_schema
from crm_core.services import content, records, sales
from crm_core.services import resources as res
from crm_core.services.sales_targets import day_bounds

OpportunityOut = output_schema(Opportunity)
ArticleOut = output_schema(KbArticle)
AnnouncementOut = output_schema(Announcement)

opportunities = crm_router("/opportunities", "sales")


class StageIn(BaseModel):
    stage_id: int
    lost_reason: PlainText = Field("", max_length=300)


def business_zone(request: Request) -> ZoneInfo:
    return ZoneInfo(request.app.state.settings.timezone)


def period(start: date | None, end: date | None) -> tuple[date, date] | None:
    """A range of business days from the query (both or neither); the end may not come before the start."""
    if start is None and end is None:
        return None
    if start is None or end is None:
        raise InvalidInput(
            "请同时填写开始和结束日期 give both the first and the last day", "start" if start is None else "end"
        )
    if end < start:
        raise InvalidInput("结束日期不能早于开始日期 the period ends before it starts", "end")
    return start, end


def opportunity_filter(
    request: Request,
    department_id: int | None = Query(None, ge=1),
    owner_id: int | None = Query(None, ge=1),
    stage_id: int | None = Query(None, ge=1),
    start: date | None = Query(None, description="First day (business time zone) the opportunity was created"),
    end: date | None = Query(None, description="Last day, included"),
) -> sales.OpportunityFilter:
    days = period(start, end)
    lo, hi = day_bounds(*days, business_zone(request)) if days else (None, None)
    return sales.OpportunityFilter(department_id, owner_id, stage_id, lo, hi)


@opportunities.get("/funnel", summary="Sales funnel: count, amount and weighted amount per stage (filtered)")
def funnel(
    only: sales.OpportunityFilter = Depends(opportunity_filter),
    user: User = Depends(current_user),
    session: Session = Depends(get_session),
) -> list[dict[str, Any]]:
    return [sales.funnel_row(stage) for stage in sales.funnel(session, user, only)]


@opportunities.get("/board", summary="Opportunities board: the funnel's stages with their opportunities")
def board(
    only: sales.OpportunityFilter = Depends(opportunity_filter),
    user: User = Depends(current_user),
    session: Session = Depends(get_session),
) -> list[dict[str, Any]]:
    return sales.board(session, user, only)


@opportunities.post("/{opportunity_id}/stage", response_model=OpportunityOut, summary="Move to a stage")
def move(
    opportunity_id: int,
    body: StageIn,
    user: User = Depends(current_user),
    session: Session = Depends(get_session),
) -> Any:
    row = sales.move_stage(session, user, opportunity_id, body.stage_id, body.lost_reason)
    session.commit()
    return OpportunityOut.model_validate(row)


kb = crm_router("/kb-articles", "knowledge base")


class ReviewIn(BaseModel):
    approve: bool


@kb.get("/search", response_model=list[ArticleOut], summary="Search published articles")  # type: ignore[valid-type]
def search(
    q: str = Query(min_length=1, max_length=100),
    user: User = Depends(current_user),
    session: Session = Depends(get_session),
) -> Any:
    return [ArticleOut.model_validate(a) for a in content.search_articles(session, user, q)]


@kb.post("/{article_id}/review", response_model=ArticleOut, summary="Publish or reject an article")
def review(
    article_id: int,
    body: ReviewIn,
    user: User = Depends(current_user),
    session: Session = Depends(get_session),
) -> Any:
    row = content.review_article(session, user, article_id, body.approve)
    session.commit()
    return ArticleOut.model_validate(row)


announcements = crm_router("/announcements", "announcements")


class TargetsIn(BaseModel):
    department_ids: list[int] = Field(default_factory=list, max_length=500)


@announcements.get("/current", response_model=list[AnnouncementOut], summary="Announcements showing now")  # type: ignore[valid-type]
def current(user: User = Depends(current_user), session: Session = Depends(get_session)) -> Any:
    return [AnnouncementOut.model_validate(a) for a in content.current_announcements(session, user)]


@announcements.put("/{announcement_id}/departments", status_code=204, summary="Target departments (none = everyone)")
def targets(
    announcement_id: int,
    body: TargetsIn,
    user: User = Depends(current_user),
    session: Session = Depends(get_session),
) -> None:
    records.get_row(session, user, res.ANNOUNCEMENTS, announcement_id, "update")
    content.set_announcement_departments(session, announcement_id, body.department_ids)
    session.commit()


router = APIRouter()
for sub in (opportunities, kb, announcements):
    router.include_router(sub)
router.include_router(crud_router(res.OPPORTUNITIES, "/opportunities", "sales", exclude=frozenset({"is_closed"})))
router.include_router(crud_router(res.OPPORTUNITY_STAGES, "/opportunity-stages", "sales", actions=("list", "get")))
router.include_router(crud_router(res.KB_CATEGORIES, "/kb-categories", "knowledge base"))
router.include_router(
    crud_router(res.KB_ARTICLES, "/kb-articles", "knowledge base", exclude=frozenset({"approved_by"}))
)
router.include_router(crud_router(res.ANNOUNCEMENTS, "/announcements", "announcements"))

"""Knowledge base approval and search; announcements visible to a user now."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import exists, or_, select
from sqlalchemy.orm import Session

from crm_core.errors import Conflict, NotFound
from crm_core.models import Announcement, KbArticle, User, announcement_departments, utcnow
from crm_core.permissions import check
from crm_core.services.records import search_clause
from crm_core.services.resources import KB_ARTICLES


def review_article(session: Session, user: User, article_id: int, approve: bool) -> KbArticle:
    """Publish or reject an article waiting for approval (drafts are submitted by setting pending)."""
    check(user, "kb", "approve")
    article = session.get(KbArticle, article_id)
    if article is None:
        raise NotFound(f"文章不存在 article not found: {article_id}")
    if article.status not in ("pending", "draft"):
        raise Conflict("文章不在待审状态 the article is not waiting for approval")
    article.status, article.approved_by = ("published" if approve else "rejected"), user.id
    return article


def search_articles(session: Session, user: User, term: str, limit: int = 20) -> list[KbArticle]:
    """Published articles whose title, body or tags contain ``term``."""
    check(user, "kb", "read")
    stmt = select(KbArticle).where(KbArticle.status == "published")
    clause = search_clause(KB_ARTICLES, term)
    if clause is not None:
        stmt = stmt.where(clause)
    return list(session.scalars(stmt.order_by(KbArticle.updated_at.desc()).limit(limit)))


def current_announcements(session: Session, user: User, now: datetime | None = None) -> list[Announcement]:
    """Announcements for the user's department (or for everyone) showing at ``now``."""
    check(user, "announcement", "read")
    now = now or utcnow()
    targeted = exists().where(announcement_departments.c.announcement_id == Announcement.id)
    mine = exists().where(
        announcement_departments.c.announcement_id == Announcement.id,
        announcement_departments.c.department_id == user.department_id,
    )
    stmt = select(Announcement).where(
        or_(Announcement.starts_at.is_(None), Announcement.starts_at <= now),
        or_(Announcement.ends_at.is_(None), Announcement.ends_at > now),
        or_(~targeted, mine),
    )
    return list(session.scalars(stmt.order_by(Announcement.starts_at.desc())))


def set_announcement_departments(session: Session, announcement_id: int, department_ids: list[int]) -> None:
    session.execute(
        announcement_departments.delete().where(announcement_departments.c.announcement_id == announcement_id)
    )
    if department_ids:
        session.execute(
            announcement_departments.insert(),
            [{"announcement_id": announcement_id, "department_id": d} for d in dict.fromkeys(department_ids)],
        )

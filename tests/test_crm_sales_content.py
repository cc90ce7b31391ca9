"""Opportunities and the funnel, knowledge base approval and search, announcements, seats."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_core.errors import Conflict, InvalidInput, PermissionDenied
from crm_core.models import Announcement, Customer, KbArticle, Opportunity, OpportunityStage, Seat
from crm_core.services import content, records, sales
from crm_core.services import resources as res
from crm_core.services.users import sit_at, user_for_extension
from crm_core.testing import Org

pytest_plugins = ["crm_core.testing"]


@pytest.fixture
def db(any_db: Session) -> Session:
    """Every test here runs on SQLite and on PostgreSQL."""
    return any_db


def _stages(db: Session) -> list[OpportunityStage]:
    return list(db.scalars(select(OpportunityStage).order_by(OpportunityStage.position)))


def test_funnel_counts_and_weights_per_stage_within_scope(db: Session, org: Org) -> None:
    stages = _stages(db)
    customer = Customer(name="客户")
    db.add(customer)
    db.flush()
    for stage, amount, owner in (
        (stages[0], "1000", org.agent_a),
        (stages[2], "2000", org.agent_a),
        (stages[2], "4000", org.agent_b),
    ):
        db.add(
            Opportunity(
                title="商机",
                customer_id=customer.id,
                stage_id=stage.id,
                amount=Decimal(amount),
                owner_id=owner.id,
                department_id=owner.department_id,
            )
        )
    db.commit()
    funnel = {f.name: f for f in sales.funnel(db, org.agent_a)}
    assert [f.name for f in sales.funnel(db, org.agent_a)] == [s.name for s in stages]
    assert (funnel[stages[2].name].count, funnel[stages[2].name].amount) == (1, Decimal("2000"))
    assert funnel[stages[2].name].weighted == Decimal("1000.00")  # 50 %
    assert funnel[stages[1].name].count == 0
    assert sum(f.count for f in sales.funnel(db, org.admin)) == 3


def test_lost_needs_a_reason_and_closes_the_opportunity(db: Session, org: Org) -> None:
    stages = _stages(db)
    customer = Customer(name="客户")
    db.add(customer)
    db.flush()
    opportunity = Opportunity(
        title="x",
        customer_id=customer.id,
        stage_id=stages[0].id,
        owner_id=org.agent_a.id,
        department_id=org.dept_a.id,
    )
    db.add(opportunity)
    db.commit()
    lost = next(s for s in stages if s.outcome == "lost")
    with pytest.raises(InvalidInput):
        sales.move_stage(db, org.agent_a, opportunity.id, lost.id)
    sales.move_stage(db, org.agent_a, opportunity.id, lost.id, "价格太高")
    assert opportunity.is_closed and opportunity.lost_reason == "价格太高"


def test_articles_need_approval_before_search_finds_them(db: Session, org: Org) -> None:
    with pytest.raises(InvalidInput):
        records.create_row(db, org.agent_a, res.KB_ARTICLES, {"title": "退货政策", "status": "published"})
    article = records.create_row(
        db, org.agent_a, res.KB_ARTICLES, {"title": "退货政策", "body": "七天无理由退货", "status": "pending"}
    )
    assert content.search_articles(db, org.agent_a, "无理由") == []
    with pytest.raises(PermissionDenied):
        content.review_article(db, org.agent_a, article.id, True)
    content.review_article(db, org.supervisor_a, article.id, True)
    assert [a.id for a in content.search_articles(db, org.agent_a, "无理由")] == [article.id]
    assert content.search_articles(db, org.agent_a, "%") == []
    assert isinstance(article, KbArticle) and article.approved_by == org.supervisor_a.id


def test_announcements_show_to_their_departments_between_start_and_end(db: Session, org: Org) -> None:
    now = datetime(2026, 5, 1, 12)
    everyone = Announcement(title="全员", starts_at=now - timedelta(days=1), ends_at=now + timedelta(days=1))
    only_b = Announcement(title="二组", starts_at=now - timedelta(days=1))
    expired = Announcement(title="过期", starts_at=now - timedelta(days=3), ends_at=now - timedelta(days=2))
    future = Announcement(title="未来", starts_at=now + timedelta(hours=1))
    db.add_all([everyone, only_b, expired, future])
    db.flush()
    content.set_announcement_departments(db, only_b.id, [org.dept_b.id])
    assert [a.title for a in content.current_announcements(db, org.agent_a, now)] == ["全员"]
    assert sorted(a.title for a in content.current_announcements(db, org.agent_b, now)) == ["二组", "全员"]


def test_logging_in_at_a_seat_takes_its_extension(db: Session, org: Org) -> None:
    db.add(Seat(name="A-01", extension="8001"))
    db.flush()
    sit_at(db, org.agent_a, "A-01")
    assert org.agent_a.extension == "8001"
    with pytest.raises(Conflict):  # taken: nobody is moved off a seat he is logged in at
        sit_at(db, org.agent_a2, "A-01")
    db.flush()
    db.refresh(org.agent_a)
    assert org.agent_a.extension == "8001"
    found = user_for_extension(db, "8001")
    assert found is not None and found.id == org.agent_a.id

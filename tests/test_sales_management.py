"""Sales management on the real records: a target's progress counts the person's (or department's) calls in
the call history, new customers and submitted orders of the period in the business time zone, and grades the
appraisal; a quote is priced by the order rules, accepted and becomes an order with the same lines, once."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.orm import Session

from crm_core.errors import Conflict, InvalidInput, PermissionDenied
from crm_core.models import Customer, Order, Product, SalesTarget
from crm_core.services import orders, quotes, records, sales, sales_targets
from crm_core.testing import Org
from stats.models import CallRow

pytest_plugins = ["crm_core.testing"]

SHANGHAI = ZoneInfo("Asia/Shanghai")
DECEMBER = (date(2026, 12, 1), date(2026, 12, 31))


@pytest.fixture
def db(any_db: Session) -> Session:
    return any_db


def utc(*parts: int) -> datetime:
    return datetime(*parts)  # naive UTC, as the tables store time


def _call(db: Session, agent: str, at: datetime, n: int) -> None:
    started = at.replace(tzinfo=UTC).timestamp()
    db.add(
        CallRow(
            pbx="pbx1",
            call_id=f"17960{n:05d}.{agent}",
            agent=agent,
            started_at=started,
            hour=int(started // 3600),
            disposition="answered",
        )
    )


def _customer(db: Session, owner: object, name: str, at: datetime) -> Customer:
    row = Customer(
        name=name,
        owner_id=owner.id,  # type: ignore[attr-defined]
        department_id=owner.department_id,  # type: ignore[attr-defined]
        status="active",
        created_at=at,
    )
    db.add(row)
    db.flush()
    return row


def _product(db: Session) -> Product:
    product = Product(
        sku="WP-1", name="净水器", price=Decimal("500.00"), price_floor=Decimal("400"), price_ceiling=Decimal("600")
    )
    db.add(product)
    db.flush()
    return product


def _order(db: Session, org: Org, user: object, customer: Customer, qty: int, at: datetime, submit: bool) -> Order:
    product = db.query(Product).filter_by(sku="WP-1").one()
    order = orders.create_order(
        db, user, {"customer_id": customer.id}, [{"product_id": product.id, "quantity": qty}], at
    )  # type: ignore[arg-type]
    if submit:
        orders.submit(db, user, order.id, at)  # type: ignore[arg-type]
    return order


def _december_records(db: Session, org: Org) -> None:
    """Agent A: 3 calls, 2 new customers, 2 submitted orders (1,500) in December (Shanghai); the rest must
    not count: a draft, a voided order, November's records, agent B's and A2's records."""
    _product(db)
    first = _customer(db, org.agent_a, "北京一号", utc(2026, 11, 30, 17, 0))  # 12-01 01:00 in Shanghai
    second = _customer(db, org.agent_a, "上海二号", utc(2026, 12, 10, 2, 0))
    _customer(db, org.agent_a, "十一月客户", utc(2026, 11, 30, 15, 0))  # 11-30 23:00 in Shanghai
    _customer(db, org.agent_b, "别组客户", utc(2026, 12, 5, 2, 0))
    _order(db, org, org.agent_a, first, 1, utc(2026, 12, 2, 3, 0), submit=True)  # 500
    _order(db, org, org.agent_a, second, 2, utc(2026, 12, 31, 15, 30), submit=True)  # 1,000 (12-31 23:30)
    _order(db, org, org.agent_a, second, 5, utc(2026, 12, 3, 3, 0), submit=False)  # a draft
    voided = _order(db, org, org.agent_a, second, 4, utc(2026, 12, 4, 3, 0), submit=True)
    orders.void(db, org.supervisor_a, voided.id, "客户取消")
    _order(db, org, org.agent_a, first, 3, utc(2026, 12, 31, 16, 30), submit=True)  # January 1 in Shanghai
    other = _customer(db, org.agent_b, "别组客户二", utc(2026, 12, 6, 2, 0))
    _order(db, org, org.agent_b, other, 1, utc(2026, 12, 6, 3, 0), submit=True)
    for n, at in enumerate([utc(2026, 12, 1, 1), utc(2026, 12, 15, 8), utc(2026, 12, 31, 15, 59)]):
        _call(db, "1001", at, n)  # agent A's extension
    _call(db, "1001", utc(2026, 11, 30, 15, 59), 10)  # November 30, 23:59 in Shanghai
    _call(db, "1002", utc(2026, 12, 2, 1), 11)  # agent A2, same department
    _call(db, "2001", utc(2026, 12, 2, 1), 12)  # agent B
    db.flush()


def _target(db: Session, org: Org, **kw: object) -> SalesTarget:
    data = {"title": "十二月", "period_start": DECEMBER[0], "period_end": DECEMBER[1], **kw}
    row: SalesTarget = records.create_row(db, org.supervisor_a, sales_targets.SALES_TARGETS, data)
    return row


def test_target_progress_counts_the_real_calls_customers_and_orders(db: Session, org: Org) -> None:
    _december_records(db, org)
    person = _target(db, org, user_id=org.agent_a.id, calls=6, new_customers=2, orders=4, amount=Decimal("1000"))
    assert person.department_id == org.dept_a.id, "a person's target is in the person's department"
    team = _target(db, org, user_id=None, department_id=org.dept_a.id, calls=8)

    found = {p.target_id: p for p in sales_targets.progress(db, org.supervisor_a, *DECEMBER, SHANGHAI)}
    mine = found[person.id].measures
    assert {k: (m.actual, m.percent) for k, m in mine.items()} == {
        "calls": (Decimal(3), 50.0),
        "new_customers": (Decimal(2), 100.0),
        "orders": (Decimal(2), 50.0),
        "amount": (Decimal("1500.00"), 150.0),
    }
    # the score caps each measure at 120 %: (50 + 100 + 50 + 120) / 4 = 80 -> B
    assert (found[person.id].score, found[person.id].grade) == (80.0, "B")
    assert found[person.id].user_name == org.agent_a.display_name
    team_calls = found[team.id].measures["calls"]
    assert (team_calls.actual, team_calls.percent) == (Decimal(4), 50.0), "A's 3 calls and A2's 1"
    assert found[team.id].measures["orders"].percent is None, "a measure without a target is not graded"

    # a UTC business zone moves the day boundaries: A's customer of 11-30 17:00 UTC leaves December
    in_utc = sales_targets.progress_of(db, person, ZoneInfo("UTC"))
    assert in_utc.measures["new_customers"].actual == Decimal(1)
    assert in_utc.measures["orders"].actual == Decimal(3), "the order of 12-31 16:30 UTC is December's in UTC"


def test_appraisal_grades_and_ranks_people(db: Session, org: Org) -> None:
    _december_records(db, org)
    _target(db, org, user_id=org.agent_a.id, calls=3, orders=2)  # 100 %, 100 % -> A
    _target(db, org, user_id=org.agent_a2.id, calls=4)  # 1 of 4 -> 25 % -> D
    _target(db, org, user_id=None, department_id=org.dept_a.id, calls=1)  # a department's: not a person
    graded = sales_targets.appraisal(db, org.supervisor_a, *DECEMBER, SHANGHAI)
    assert [(p.user_id, p.score, p.grade) for p in graded] == [
        (org.agent_a.id, 100.0, "A"),
        (org.agent_a2.id, 25.0, "D"),
    ]
    assert sales_targets.appraisal(db, org.agent_b, *DECEMBER, SHANGHAI) == [], "department B sees none of A's"


def test_a_target_refuses_bad_input(db: Session, org: Org) -> None:
    with pytest.raises(InvalidInput, match="period ends before"):
        _target(db, org, user_id=org.agent_a.id, calls=1, period_end=date(2026, 11, 1))
    with pytest.raises(InvalidInput, match="at least one measure"):
        _target(db, org, user_id=org.agent_a.id)
    with pytest.raises(InvalidInput, match="unknown person"):
        _target(db, org, user_id=999_999, calls=1)
    with pytest.raises(PermissionDenied):
        _target(db, org, user_id=org.agent_b.id, calls=1)  # supervisor A sets no target in department B
    with pytest.raises(PermissionDenied):
        records.create_row(db, org.agent_a, sales_targets.SALES_TARGETS, {"user_id": org.agent_a.id})


def test_a_quote_becomes_an_order_once(db: Session, org: Org) -> None:
    product = _product(db)
    customer = _customer(db, org.agent_a, "杭州客户", utc(2026, 12, 1, 2))
    stage = db.query(sales.OpportunityStage).order_by(sales.OpportunityStage.position).first()
    assert stage is not None
    opportunity = sales.Opportunity(
        title="净水器采购",
        customer_id=customer.id,
        stage_id=stage.id,
        owner_id=org.agent_a.id,
        department_id=org.dept_a.id,
    )
    db.add(opportunity)
    db.flush()
    line = {"product_id": product.id, "quantity": 3, "unit_price": "450.00"}

    with pytest.raises(InvalidInput, match="price outside the allowed range"):
        quotes.create_quote(db, org.agent_a, {"customer_id": customer.id}, [{**line, "unit_price": "399"}])
    quote = quotes.create_quote(db, org.agent_a, {"customer_id": customer.id, "opportunity_id": opportunity.id}, [line])
    assert (quote.status, quote.total, quote.number[:2]) == ("draft", Decimal("1350.00"), "QT")
    contract = records.create_row(
        db, org.agent_a, quotes.CONTRACTS, {"title": "净水器购销合同", "customer_id": customer.id, "quote_id": quote.id}
    )
    assert contract.amount == Decimal("1350.00"), "a contract takes its quote's amount"

    with pytest.raises(Conflict, match="only an accepted quote"):
        quotes.to_order(db, org.agent_a, quote.id)
    with pytest.raises(Conflict):
        quotes.set_status(db, org.agent_a, quote.id, "accepted")  # a draft is sent first
    quotes.set_status(db, org.agent_a, quote.id, "sent")
    quotes.set_status(db, org.agent_a, quote.id, "accepted")
    with pytest.raises(PermissionDenied):
        quotes.to_order(db, org.agent_b, quote.id)

    order = quotes.to_order(db, org.agent_a, quote.id)
    assert (order.status, order.total, order.customer_id, order.owner_id) == (
        "draft",
        Decimal("1350.00"),
        customer.id,
        org.agent_a.id,
    )
    assert [(ln.product_id, ln.quantity, ln.unit_price) for ln in order.lines] == [(product.id, 3, Decimal("450.00"))]
    assert (quote.status, quote.order_id, contract.order_id) == ("ordered", order.id, order.id)
    with pytest.raises(Conflict, match="already"):
        quotes.to_order(db, org.agent_a, quote.id)

    printed = quotes.quote_document(db, org.agent_a, quote.id)
    assert (printed["customer_name"], printed["opportunity_title"], printed["order_number"]) == (
        "杭州客户",
        "净水器采购",
        order.number,
    )
    assert printed["lines"][0]["product_name"] == "净水器"
    with pytest.raises(PermissionDenied):
        quotes.quote_document(db, org.agent_b, quote.id)


def test_the_funnel_and_board_filter_by_department_person_period_and_stage(db: Session, org: Org) -> None:
    stages = db.query(sales.OpportunityStage).order_by(sales.OpportunityStage.position).all()
    a = _customer(db, org.agent_a, "甲", utc(2026, 12, 1, 2))
    b = _customer(db, org.agent_b, "乙", utc(2026, 12, 1, 2))
    rows = [
        ("A1", a, org.agent_a, stages[0], "100", utc(2026, 12, 2, 1)),
        ("A2", a, org.agent_a2, stages[1], "200", utc(2026, 12, 3, 1)),
        ("A-old", a, org.agent_a, stages[0], "400", utc(2026, 10, 3, 1)),
        ("B1", b, org.agent_b, stages[0], "800", utc(2026, 12, 2, 1)),
    ]
    for title, customer, owner, stage, amount, at in rows:
        db.add(
            sales.Opportunity(
                title=title,
                customer_id=customer.id,
                stage_id=stage.id,
                owner_id=owner.id,
                department_id=owner.department_id,
                amount=Decimal(amount),
                created_at=at,
            )
        )
    db.flush()
    lo, hi = sales_targets.day_bounds(*DECEMBER, SHANGHAI)

    def counts(user: object, only: sales.OpportunityFilter) -> dict[int, int]:
        return {s.stage_id: s.count for s in sales.funnel(db, user, only) if s.count}  # type: ignore[arg-type]

    everyone = sales.OpportunityFilter(start=lo, end=hi)
    assert counts(org.admin, everyone) == {stages[0].id: 2, stages[1].id: 1}
    assert counts(org.admin, sales.OpportunityFilter(department_id=org.dept_a.id)) == {stages[0].id: 2, stages[1].id: 1}
    assert counts(org.admin, sales.OpportunityFilter(owner_id=org.agent_a2.id)) == {stages[1].id: 1}
    assert counts(org.admin, sales.OpportunityFilter(stage_id=stages[0].id, start=lo, end=hi)) == {stages[0].id: 2}
    assert counts(org.agent_b, everyone) == {stages[0].id: 1}, "the data scope still applies"
    board = sales.board(db, org.supervisor_a, everyone)
    first = next(col for col in board if col["stage_id"] == stages[0].id)
    assert [(c["title"], c["customer_name"], c["owner_name"]) for c in first["cards"]] == [("A1", "甲", "agent_a")]
    assert first["amount"] == "100.00"

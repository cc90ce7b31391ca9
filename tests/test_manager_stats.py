"""The manager's statistics on real records, cut to the data scope: sales by agent and day (business days),
orders by status, tickets by handler with SLA breaches, customers by category, each agent state change and
each call's IVR path; and a report as an Excel file in one language."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_core.models import Customer, Order, OrderLine, PauseReason, Product, Ticket, TicketType
from crm_core.services import manager_stats
from crm_core.services.manager_stats import StatsQuery
from crm_core.services.sales_targets import day_bounds
from crm_core.tabular import write_xlsx
from crm_core.testing import Org
from stats.models import AgentStateRow, CallRow, IvrStepRow

pytest_plugins = ["crm_core.testing"]

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 12, 20, 8)


@pytest.fixture
def db(any_db: Session) -> Session:
    return any_db


def december(**kw: int) -> StatsQuery:
    from datetime import date

    return StatsQuery(*day_bounds(date(2026, 12, 1), date(2026, 12, 31), SHANGHAI), SHANGHAI, **kw)


def ts(*parts: int) -> float:
    return datetime(*parts, tzinfo=UTC).timestamp()


def _world(db: Session, org: Org) -> None:
    product = Product(sku="WP-1", name="净水器", price=Decimal("100"))
    db.add(product)
    db.flush()
    people = {"a": org.agent_a, "b": org.agent_b}
    customers = {}
    for key, owner, category in (
        ("a", org.agent_a, "企业客户"),
        ("a2", org.agent_a, "代理商"),
        ("b", org.agent_b, "企业客户"),
    ):
        customers[key] = Customer(
            name=f"客户{key}", owner_id=owner.id, department_id=owner.department_id, category=category, created_at=NOW
        )
    db.add_all(customers.values())
    db.flush()
    orders = [
        ("a", "completed", 3, datetime(2026, 11, 30, 17)),  # December 1 in Shanghai
        ("a", "in_approval", 1, datetime(2026, 12, 1, 3)),
        ("a", "draft", 9, datetime(2026, 12, 2, 3)),  # not a sale
        ("a", "void", 9, datetime(2026, 12, 2, 3)),
        ("b", "completed", 5, datetime(2026, 12, 3, 3)),
    ]
    for n, (who, status, qty, at) in enumerate(orders):
        owner = people[who]
        db.add(
            Order(
                number=f"SO-{n}",
                customer_id=customers[who].id,
                owner_id=owner.id,
                department_id=owner.department_id,
                status=status,
                total=Decimal(100 * qty),
                created_at=at,
                lines=[
                    OrderLine(product_id=product.id, quantity=qty, unit_price=Decimal(100), amount=Decimal(100 * qty))
                ],
            )
        )
    kind = db.scalars(select(TicketType).order_by(TicketType.id)).first()
    assert kind is not None
    if db.scalar(select(PauseReason).where(PauseReason.code == "lunch")) is None:  # emptied between PostgreSQL tests
        db.add(PauseReason(code="lunch", name="午餐 Lunch", position=0, is_active=True))
    for title, assignee, due, closed, status in (
        ("迟了", org.agent_a, datetime(2026, 12, 5), None, "open"),  # past due, still open: breached
        ("按时", org.agent_a, datetime(2026, 12, 5), datetime(2026, 12, 4), "resolved"),
        ("超时关闭", org.agent_a, datetime(2026, 12, 5), datetime(2026, 12, 6), "closed"),
        ("别组", org.agent_b, datetime(2026, 12, 5), None, "open"),
    ):
        db.add(
            Ticket(
                title=title,
                type_id=kind.id,
                assignee_id=assignee.id,
                owner_id=assignee.id,
                department_id=assignee.department_id,
                due_at=due,
                closed_at=closed,
                status=status,
                created_at=datetime(2026, 12, 2),
            )
        )
    for agent, state, at, duration in (
        ("1001", "available", ts(2026, 12, 2, 1), 60.0),
        ("1001", "paused", ts(2026, 12, 2, 1, 1), 300.0),
        ("1001", "available", ts(2026, 12, 2, 1, 6), None),
        ("2001", "available", ts(2026, 12, 2, 1), 10.0),
    ):
        db.add(
            AgentStateRow(
                pbx="pbx1",
                agent=agent,
                state=state,
                reason="lunch" if state == "paused" else "",
                started_at=at,
                hour=int(at // 3600),
                duration_s=duration,
            )
        )
    for call_id, agent, caller, nodes in (
        ("c1", "1001", "13800000001", [("welcome", ""), ("menu", "2"), ("sales", "")]),
        ("c2", "2001", "13900000002", [("welcome", ""), ("menu", "1")]),
    ):
        start = ts(2026, 12, 3, 2)
        db.add(CallRow(pbx="pbx1", call_id=call_id, agent=agent, caller_number=caller, started_at=start, hour=0))
        for i, (node, key) in enumerate(nodes):
            db.add(IvrStepRow(pbx="pbx1", call_id=call_id, flow="main", node=node, input=key, at=start + i, hour=0))
    db.flush()


def test_sales_and_orders_in_the_users_scope(db: Session, org: Org) -> None:
    _world(db, org)
    mine = manager_stats.run_report(db, org.supervisor_a, "sales_by_agent", december())
    assert mine.rows == [{"agent": "agent_a", "orders": 2, "amount": "400.00"}]
    everyone = manager_stats.run_report(db, org.admin, "sales_by_agent", december())
    assert [(r["agent"], r["amount"]) for r in everyone.rows] == [("agent_b", "500.00"), ("agent_a", "400.00")]
    assert manager_stats.run_report(db, org.admin, "sales_by_agent", december(user_id=org.agent_b.id)).rows == [
        {"agent": "agent_b", "orders": 1, "amount": "500.00"}
    ]
    days = manager_stats.run_report(db, org.supervisor_a, "sales_by_day", december())
    assert days.rows == [{"day": "2026-12-01", "orders": 2, "amount": "400.00"}], "both on December 1 in Shanghai"
    statuses = {
        r["status"]: r["orders"]
        for r in manager_stats.run_report(db, org.supervisor_a, "orders_by_status", december()).rows
    }
    assert statuses == {
        "草稿 Draft": 1,
        "审批中 In approval": 1,
        "已完成 Completed": 1,
        "已退货 Returned": 0,
        "已作废 Void": 1,
    }
    products = manager_stats.run_report(db, org.admin, "sales_by_product", december(department_id=org.dept_a.id))
    assert products.rows == [{"product": "WP-1 净水器", "quantity": 4, "amount": "400.00"}]


def test_tickets_customers_agent_states_and_ivr_paths(db: Session, org: Org) -> None:
    _world(db, org)
    handlers = manager_stats.tickets_by_handler(db, org.supervisor_a, december(), now=NOW)
    assert handlers.rows == [{"handler": "agent_a", "tickets": 3, "open": 1, "sla_breached": 2}]
    categories = manager_stats.run_report(db, org.supervisor_a, "customers_by_category", december())
    assert {r["value"]: r["customers"] for r in categories.rows} == {"企业客户": 1, "代理商": 1}

    states = manager_stats.run_report(db, org.supervisor_a, "agent_states", december())
    assert [(r["agent"], r["state"], r["reason"], r["duration_s"]) for r in states.rows] == [
        ("agent_a (1001)", "空闲 Available", "", ""),
        ("agent_a (1001)", "置忙 Paused", "午餐 Lunch", 300),
        ("agent_a (1001)", "空闲 Available", "", 60),
    ], "each change of department A's agent, newest first; B's agent is not shown"
    assert states.rows[-1]["at"] == "2026-12-02 09:00:00", "in the business time zone"

    paths = manager_stats.run_report(db, org.supervisor_a, "ivr_paths", december())
    assert [(r["caller"], r["path"], r["agent"]) for r in paths.rows] == [
        ("13800000001", "welcome → menu(2) → sales", "agent_a (1001)")
    ]
    assert len(manager_stats.run_report(db, org.admin, "ivr_paths", december()).rows) == 2


def test_a_report_exports_in_one_language(db: Session, org: Org) -> None:
    _world(db, org)
    found = manager_stats.run_report(db, org.admin, "orders_by_status", december())
    title, header, rows = manager_stats.as_sheet(found, "en")
    book = load_workbook(io.BytesIO(write_xlsx([(title, header, rows)])))
    sheet = book.active
    assert sheet.title == "Orders by status"
    cells = [[c.value for c in row] for row in sheet.iter_rows()]
    assert cells[0] == ["Status", "Orders", "Amount"]
    assert cells[1] == ["Draft", "1", "900.00"]
    with pytest.raises(Exception, match="unknown report"):
        manager_stats.run_report(db, org.admin, "nonsense", december())

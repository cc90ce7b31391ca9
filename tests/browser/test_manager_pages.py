"""The manager's statistics page in a real browser: sales by agent as a chart and a table, orders by status,
tickets by handler with SLA breaches, each agent state change, each call's IVR path, an Excel export in the
page's language, and a period that ends before it starts refused."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from back_office import WAIT_MS, logged_in_tab, serve, shot
from conftest import LiveDesk
from openpyxl import load_workbook
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from crm_core.db import make_engine, make_sessionmaker
from crm_core.models import Customer, Order, OrderLine, Product, Ticket, TicketType
from crm_core.services.users import create_user
from crm_core.testing import add_department
from stats.models import AgentStateRow, CallRow, IvrStepRow

pytestmark = pytest.mark.browser

BOSS = "boss"


class ManagerDesk(LiveDesk):
    """The live product with a team: two agents' orders, tickets, customers, state changes and IVR calls."""

    def seed(self, url: str) -> None:
        super().seed(url)
        now = datetime.now(UTC).replace(tzinfo=None) - timedelta(minutes=30)
        engine = make_engine(url)
        with make_sessionmaker(engine)() as session:
            dept = add_department(session, "客服一部 Service team 1")
            create_user(
                session, BOSS, self.password, display_name="陈主管", roles=["supervisor"], department_id=dept.id
            )
            li = create_user(
                session,
                "li",
                self.password,
                display_name="李娜",
                roles=["agent"],
                department_id=dept.id,
                extension="1101",
            )
            wang = create_user(
                session,
                "wang",
                self.password,
                display_name="王强",
                roles=["agent"],
                department_id=dept.id,
                extension="1102",
            )
            product = Product(sku="WP-200", name="净水器 WP-200", price=Decimal("1200"), stock=100)
            session.add(product)
            session.flush()
            for n, (owner, region, qty, status) in enumerate(
                (
                    (li, "杭州", 3, "completed"),
                    (li, "上海", 1, "in_approval"),
                    (wang, "杭州", 2, "completed"),
                    (wang, "北京", 1, "void"),
                )
            ):
                customer = Customer(
                    name=f"客户{n}",
                    owner_id=owner.id,
                    department_id=dept.id,
                    region=region,
                    category="企业客户",
                    source="电话呼入",
                    created_at=now,
                )
                session.add(customer)
                session.flush()
                total = Decimal(1200 * qty)
                session.add(
                    Order(
                        number=f"SO-M{n}",
                        customer_id=customer.id,
                        owner_id=owner.id,
                        department_id=dept.id,
                        status=status,
                        total=total,
                        created_at=now,
                        lines=[OrderLine(product_id=product.id, quantity=qty, unit_price=Decimal(1200), amount=total)],
                    )
                )
            kind = session.scalars(select(TicketType).order_by(TicketType.id)).first()
            assert kind is not None
            for title, who, late in (("漏水报修", li, True), ("安装咨询", li, False), ("投诉送货慢", wang, True)):
                session.add(
                    Ticket(
                        title=title,
                        type_id=kind.id,
                        assignee_id=who.id,
                        owner_id=who.id,
                        department_id=dept.id,
                        status="open",
                        created_at=now - timedelta(hours=3),
                        due_at=now - timedelta(hours=1) if late else now + timedelta(days=1),
                    )
                )
            start = now.replace(tzinfo=UTC).timestamp()
            for i, (agent, state, reason, duration) in enumerate(
                (
                    ("1101", "available", "", 600.0),
                    ("1101", "paused", "lunch", 1800.0),
                    ("1101", "available", "", None),
                    ("1102", "available", "", 900.0),
                    ("1102", "on_call", "", 240.0),
                )
            ):
                at = start + i * 60
                session.add(
                    AgentStateRow(
                        pbx="pbx1",
                        agent=agent,
                        state=state,
                        reason=reason,
                        started_at=at,
                        hour=int(at // 3600),
                        duration_s=duration,
                    )
                )
            for call_id, agent, caller, nodes in (
                ("1797000001.1", "1101", "13812345678", [("welcome", ""), ("main_menu", "2"), ("sales_queue", "")]),
                ("1797000002.1", "1102", "13987654321", [("welcome", ""), ("main_menu", "1"), ("service_queue", "")]),
            ):
                session.add(
                    CallRow(
                        pbx="pbx1",
                        call_id=call_id,
                        agent=agent,
                        caller_number=caller,
                        started_at=start,
                        hour=int(start // 3600),
                    )
                )
                for i, (node, key) in enumerate(nodes):
                    session.add(
                        IvrStepRow(pbx="pbx1", call_id=call_id, flow="main", node=node, input=key, at=start + i, hour=0)
                    )
            session.commit()
        engine.dispose()


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveDesk]:
    yield from serve(ManagerDesk, tmp_path_factory)


@pytest.fixture
def page(live: LiveDesk, browser: Browser) -> Iterator[Page]:
    yield from logged_in_tab(live, browser, BOSS, "/manager", "sales_by_agent")


def pick(page: Page, kind: str) -> None:
    page.select_option("#filter-kind", kind)
    expect(page.locator("body")).to_have_attribute("data-rendered", kind, timeout=WAIT_MS)


def test_sales_orders_and_the_excel_export(page: Page) -> None:
    rows = page.locator("#report-table tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("李娜")
    expect(rows.first).to_contain_text("4,800.00")
    expect(page.locator("#chart .chart-row")).to_have_count(2)
    shot(page, "manager-stats-sales.zh-CN.png")
    page.select_option("#filter-person", label="王强")
    page.click("#apply")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("2,400.00")
    page.select_option("#filter-person", label="全部")
    pick(page, "orders_by_status")
    expect(page.locator("#report-table tr", has_text="已作废")).to_contain_text("1")
    page.select_option("#lang-switch", "en")
    expect(page.locator("#report-title")).to_have_text("Orders by status")
    expect(page.locator("#report-table tr", has_text="Completed")).to_contain_text("2")
    with page.expect_download() as download:
        page.click("#export")
    book = load_workbook(io.BytesIO(Path(download.value.path()).read_bytes()))
    cells = [[c.value for c in row] for row in book.active.iter_rows()]
    assert cells[0] == ["Status", "Orders", "Amount"]
    assert ["Completed", "2", "6000.00"] in cells
    shot(page, "manager-stats-sales.en.png")
    page.fill("#filter-start", "2030-02-01")
    page.fill("#filter-end", "2030-01-01")
    page.click("#apply")
    expect(page.locator("#notice")).to_contain_text("the period ends before it starts")


def test_tickets_agent_states_and_ivr_paths(page: Page) -> None:
    pick(page, "tickets_by_handler")
    li = page.locator("#report-table tr", has_text="李娜")
    expect(li.locator("td").nth(1)).to_have_text("2")
    expect(li.locator("td").nth(3)).to_have_text("1")  # one past its SLA
    shot(page, "manager-stats-tickets.zh-CN.png")
    pick(page, "agent_states")
    expect(page.locator("#report-table tbody tr")).to_have_count(5)
    expect(page.locator("#report-table tbody tr", has_text="置忙")).to_contain_text("午餐")
    shot(page, "manager-stats-agent-states.zh-CN.png")
    pick(page, "ivr_paths")
    expect(page.locator("#report-table")).to_contain_text("welcome → main_menu(2) → sales_queue")
    shot(page, "manager-stats-ivr.zh-CN.png")
    page.select_option("#lang-switch", "en")
    expect(page.locator("#report-title")).to_have_text("IVR path per call")
    shot(page, "manager-stats-ivr.en.png")
    pick(page, "agent_states")
    expect(page.locator("#report-table tbody tr", has_text="Paused")).to_contain_text("Lunch")
    expect(page.locator("#report-table thead")).to_contain_text("Duration (s)")
    expect(page.locator("#report-table thead")).not_to_contain_text("时长")
    shot(page, "manager-stats-agent-states.en.png")
    pick(page, "tickets_by_handler")
    shot(page, "manager-stats-tickets.en.png")

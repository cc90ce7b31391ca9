"""Sales management pages in a real browser: the opportunities board and funnel filtered by person, targets
with progress from the seeded calls and orders, the graded appraisal, a quote that becomes an order and
prints, a contract; each form refuses bad input with a message in the page's language next to its field."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from back_office import WAIT_MS, logged_in_tab, open_route, serve, shot
from conftest import LiveDesk
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from crm_core.db import make_engine, make_sessionmaker
from crm_core.models import Customer, Opportunity, OpportunityStage, Product, SalesTarget
from crm_core.services import orders
from crm_core.services.users import create_user
from crm_core.testing import add_department
from stats.models import CallRow

pytestmark = pytest.mark.browser

MANAGER = "salesmgr"


def business_month(now: datetime) -> tuple[date, date]:
    """The month the page opens on: today's, in the business time zone (CC_TIMEZONE's default)."""
    today = now.astimezone(ZoneInfo("Asia/Shanghai")).date()
    first = today.replace(day=1)
    return first, (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)


class SalesDesk(LiveDesk):
    """The live product with a sales department: a manager, two agents, customers, orders, calls, opportunities."""

    def seed(self, url: str) -> None:
        super().seed(url)
        now = datetime.now(UTC)
        naive = now.replace(tzinfo=None) - timedelta(minutes=5)
        engine = make_engine(url)
        with make_sessionmaker(engine)() as session:
            dept = add_department(session, "销售一部 Sales team 1")
            people = {}
            for name, display, role, ext in (
                (MANAGER, "周经理", "supervisor", None),
                ("li", "李娜", "agent", "1101"),
                ("wang", "王强", "agent", "1102"),
            ):
                people[name] = create_user(
                    session,
                    name,
                    self.password,
                    display_name=display,
                    roles=[role],
                    extension=ext,
                    department_id=dept.id,
                )
            session.flush()
            session.add(
                Product(
                    sku="WP-200",
                    name="净水器 WP-200",
                    price=Decimal("1200.00"),
                    price_floor=Decimal("1000"),
                    price_ceiling=Decimal("1500"),
                    stock=40,
                )
            )
            session.flush()
            product = session.scalars(select(Product).where(Product.sku == "WP-200")).one()
            stages = list(session.scalars(select(OpportunityStage).order_by(OpportunityStage.position)))
            for i, (who, customer_name, stage, amount) in enumerate(
                (
                    ("li", "杭州绿源科技", 0, "36000"),
                    ("li", "苏州清泉酒店", 2, "18000"),
                    ("wang", "南京明德学校", 1, "52000"),
                    ("wang", "合肥安康医院", 4, "24000"),
                )
            ):
                owner = people[who]
                customer = Customer(
                    name=customer_name, owner_id=owner.id, department_id=dept.id, status="active", created_at=naive
                )
                session.add(customer)
                session.flush()
                session.add(
                    Opportunity(
                        title=f"{customer_name} 净水项目",
                        customer_id=customer.id,
                        stage_id=stages[stage].id,
                        owner_id=owner.id,
                        department_id=dept.id,
                        amount=Decimal(amount),
                        created_at=naive,
                    )
                )
                order = orders.create_order(
                    session, owner, {"customer_id": customer.id}, [{"product_id": product.id, "quantity": i + 1}], naive
                )
                orders.submit(session, owner, order.id, naive)
            customers = {c.name: c for c in session.scalars(select(Customer))}
            for who, customer_name, title, stage, amount in (
                ("li", "杭州绿源科技", "二期厂房直饮水", 0, "80000"),
                ("wang", "南京明德学校", "宿舍楼净水", 0, "45000"),
                ("wang", "合肥安康医院", "门诊楼改造", 1, "30000"),
                ("li", "苏州清泉酒店", "客房净水器", 5, "12000"),
            ):
                session.add(
                    Opportunity(
                        title=title,
                        customer_id=customers[customer_name].id,
                        stage_id=stages[stage].id,
                        owner_id=people[who].id,
                        department_id=dept.id,
                        amount=Decimal(amount),
                        created_at=naive,
                    )
                )
            for n, ext in enumerate(["1101"] * 6 + ["1102"] * 3):
                started = now.timestamp() - 600 - n
                session.add(
                    CallRow(
                        pbx="pbx1",
                        call_id=f"1797{n:06d}.{ext}",
                        agent=ext,
                        started_at=started,
                        hour=int(started // 3600),
                        disposition="answered",
                    )
                )
            first, last = business_month(now)
            for who, calls, amount in (("li", 10, "3000"), ("wang", 3, "8000")):
                session.add(
                    SalesTarget(
                        title="本月目标",
                        user_id=people[who].id,
                        department_id=dept.id,
                        period_start=first,
                        period_end=last,
                        calls=calls,
                        new_customers=2,
                        orders=2,
                        amount=Decimal(amount),
                    )
                )
            session.commit()
        engine.dispose()


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveDesk]:
    yield from serve(SalesDesk, tmp_path_factory)


@pytest.fixture
def page(live: LiveDesk, browser: Browser) -> Iterator[Page]:
    yield from logged_in_tab(live, browser, MANAGER, "/sales", "#/board")


def english(page: Page) -> None:
    page.select_option("#lang-switch", "en")
    expect(page.locator("#sales-nav a[data-route=board]")).to_have_text("Opportunities")


def test_the_board_and_funnel_filter_by_person(page: Page) -> None:
    board = page.locator("#board")
    expect(board.locator(".board-card")).to_have_count(8)
    expect(page.locator("#funnel .funnel-row").first).to_contain_text("初步接触")
    expect(page.locator("#funnel .funnel-row").first).to_contain_text("3 个 · ¥161,000.00 · 加权 ¥16,100.00")
    shot(page, "sales-board.zh-CN.png")
    page.select_option("#filter-person", label="李娜")
    page.click("#apply")
    expect(board.locator(".board-card")).to_have_count(4)
    expect(board).to_contain_text("二期厂房直饮水")
    expect(board).not_to_contain_text("南京明德学校")
    page.select_option("#filter-person", label="全部")
    page.fill("#filter-start", "2020-02-01")
    page.fill("#filter-end", "2020-01-01")
    page.click("#apply")
    expect(page.locator("#notice")).to_contain_text("结束日期不能早于开始日期")
    page.fill("#filter-start", "")
    page.fill("#filter-end", "")
    page.click("#apply")
    expect(board.locator(".board-card")).to_have_count(8)
    english(page)
    expect(page.locator("#funnel .funnel-row").first).to_contain_text("Initial contact")
    shot(page, "sales-board.en.png")


def test_targets_show_real_progress_and_refuse_a_bad_period(page: Page) -> None:
    open_route(page, "#/targets")
    li = page.locator("#targets tr", has_text="李娜")
    expect(li.locator("[data-measure=calls]")).to_contain_text("6 / 10（60%）")
    expect(li.locator("[data-measure=orders]")).to_contain_text("2 / 2（100%）")
    page.click("#new-target")
    form = page.locator("#target-form form")
    form.locator("[name=user_id]").select_option(label="王强")
    form.locator("[name=period_start]").fill("2026-12-31")
    form.locator("[name=period_end]").fill("2026-12-01")
    form.locator("[name=calls]").fill("50")
    page.click("#save-target")
    expect(form.locator(".field-error")).to_contain_text("结束日期不能早于开始日期")
    expect(form.locator("[name=period_end]")).to_have_attribute("aria-invalid", "true")
    form.locator("[name=period_start]").fill("2026-12-01")
    form.locator("[name=period_end]").fill("2026-12-31")
    form.locator("[name=title]").fill("冲刺目标")
    page.click("#save-target")
    expect(page.locator("#flash")).to_contain_text("目标已保存")
    expect(page.locator("#targets tr", has_text="冲刺目标")).to_contain_text("3 / 50（6%）")
    shot(page, "sales-targets.zh-CN.png")
    english(page)
    expect(page.locator("#targets tr", has_text="李娜").locator("[data-measure=calls]")).to_contain_text(
        "6 of 10 (60%)"
    )
    shot(page, "sales-targets.en.png")


def test_the_appraisal_grades_people(page: Page) -> None:
    open_route(page, "#/appraisal")
    rows = page.locator("#appraisal tbody tr")
    expect(rows.first).to_contain_text("王强")  # calls 3/3, customers 2/2, orders 2/2, amount capped: A
    expect(rows.first.locator(".grade")).to_have_text("A")
    expect(page.locator("#appraisal tr", has_text="李娜").locator(".grade")).to_have_text("B")
    shot(page, "sales-appraisal.zh-CN.png")
    english(page)
    expect(page.locator("main")).to_contain_text("Grades: A ≥ 100")
    shot(page, "sales-appraisal.en.png")


def test_a_quote_becomes_an_order_and_prints(page: Page, live: SalesDesk) -> None:
    open_route(page, "#/quotes")
    page.click("#new-quote")
    form = page.locator("#quote-form form")
    form.locator("[name=customer_id]").select_option(label="杭州绿源科技")
    expect(form.locator("[name=opportunity_id] option")).to_have_count(3)
    form.locator("[name=opportunity_id]").select_option(label="杭州绿源科技 净水项目")
    line = form.locator(".quote-line").first
    line.locator("select").select_option(label="WP-200 净水器 WP-200")
    line.locator("[name=quantity]").fill("3")
    line.locator("[name=unit_price]").fill("900")
    page.click("#save-quote")
    expect(page.locator("#notice")).to_contain_text(re.compile(r"单价须在 1000(\.00)? 至 1500"))
    line.locator("[name=unit_price]").fill("1100")
    page.click("#save-quote")
    expect(page.locator("#flash")).to_contain_text("合计 ¥3,300.00")
    row = page.locator("#quotes tbody tr", has_text="杭州绿源科技")
    expect(row).to_contain_text("草稿")
    row.locator("button.quote-sent").click()
    expect(row).to_contain_text("已发送")
    row.locator("button.quote-accepted").click()
    expect(row).to_contain_text("客户已接受")
    row.locator("button.make-order").click()
    expect(page.locator("#flash")).to_contain_text(re.compile(r"已生成订单 SO\d{13}"))
    expect(row).to_contain_text("已转订单")
    expect(row).to_contain_text(re.compile(r"SO\d{13}"))
    shot(page, "sales-quotes.zh-CN.png")
    with page.context.expect_page() as opened:
        row.locator("a.print-link").click()
    printed = opened.value
    expect(printed.locator("body")).to_have_attribute("data-ready", "1", timeout=WAIT_MS)
    expect(printed.locator("h1")).to_have_text("报价单")
    expect(printed.locator("#document-total")).to_have_text("3,300.00")
    expect(printed.locator(".document")).to_contain_text("杭州绿源科技 净水项目")
    shot(printed, "sales-quote-print.zh-CN.png")
    printed.select_option("#lang-switch", "en")
    expect(printed.locator("h1")).to_have_text("Quotation")
    shot(printed, "sales-quote-print.en.png")
    printed.close()
    english(page)
    expect(page.locator("#quotes tbody tr", has_text="杭州绿源科技")).to_contain_text("Ordered")
    shot(page, "sales-quotes.en.png")


def test_a_contract_needs_its_signing_date_when_signed(page: Page) -> None:
    open_route(page, "#/contracts")
    page.click("#new-contract")
    form = page.locator("#contract-form form")
    form.locator("[name=title]").fill("南京明德学校净水设备购销合同")
    form.locator("[name=customer_id]").select_option(label="南京明德学校")
    form.locator("[name=status]").select_option("signed")
    form.locator("[name=amount]").fill("52000")
    page.click("#save-contract")
    expect(form.locator(".field-error")).to_contain_text("已签合同须填写签订日期")
    form.locator("[name=signed_on]").fill("2026-12-02")
    form.locator("[name=terms]").fill("一、供方于签订后十日内送货安装。\n二、质保两年。")
    page.click("#save-contract")
    expect(page.locator("#flash")).to_contain_text(re.compile(r"合同 HT\d{12} 已保存"))
    row = page.locator("#contracts tbody tr", has_text="南京明德学校")
    expect(row).to_contain_text("已签订")
    expect(row).to_contain_text("52,000.00")
    shot(page, "sales-contracts.zh-CN.png")
    english(page)
    expect(page.locator("#contracts tbody tr", has_text="南京明德学校")).to_contain_text("Signed")
    shot(page, "sales-contracts.en.png")


def test_an_opportunity_is_created_and_a_lost_one_needs_its_reason(page: Page) -> None:
    page.click("#new-opportunity")
    form = page.locator("#opportunity-form form")
    form.locator("[name=customer_id]").select_option(label="合肥安康医院")
    page.click("#save-opportunity")
    expect(form.locator(".field-error")).to_contain_text("必填")
    form.locator("[name=title]").fill("住院楼直饮水")
    form.locator("[name=amount]").fill("66000")
    page.click("#save-opportunity")
    expect(page.locator("#flash")).to_contain_text("商机「住院楼直饮水」已保存")
    card = page.locator("#board .board-card", has_text="住院楼直饮水")
    expect(card).to_contain_text("66,000.00")
    card.locator("select[name=stage_id]").select_option(label="谈判")
    expect(page.locator("#board .board-column[data-stage] h3", has_text="谈判")).to_contain_text("1")
    card = page.locator("#board .board-card", has_text="住院楼直饮水")
    card.locator("select[name=stage_id]").select_option(label="输单")
    card.locator("button.confirm-move").click()
    expect(card.locator(".field-error")).to_contain_text("输单须填写原因")
    card.locator("[name=lost_reason]").fill("预算取消")
    card.locator("button.confirm-move").click()
    expect(page.locator("#flash")).to_contain_text("已移动")
    lost = page.locator("#board .board-column", has=page.locator("h3", has_text="输单"))
    expect(lost).to_contain_text("住院楼直饮水")
    shot(page, "sales-board-move.zh-CN.png")

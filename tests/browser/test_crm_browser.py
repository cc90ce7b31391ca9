"""The CRM pages in a real browser: an agent creates a customer with a phone, finds it again by the
number written another way, opens the card, dials it, opens a ticket for it and passes the ticket on;
a customer goes to the public pool and is claimed back; the list sorts; a linked call plays its
recording; data that looks like markup stays text; the English switch works; an import reports the rows
with errors and the export has the new row; an order goes through every approval step and a return,
another is voided."""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal

import pytest
from conftest import EXTENSION, KNOWN_CALLER, KNOWN_NAME, LiveDesk, log_in, watch
from playwright.sync_api import Browser, FilePayload, Page, expect
from sqlalchemy import select
from test_desk_browser import wait_for
from test_recordings_play import CALL_ID, _seed_recording

from crm_core.db import make_engine, make_sessionmaker
from crm_core.models import CallLink, Customer, Product
from crm_core.services.users import create_user

pytestmark = pytest.mark.browser

WAIT_MS = 15_000
NEW_NUMBER = "13900001111"
ADMIN = "crmadmin"
SORTED_NAMES = ("Alpha 贸易", "Beta 科技")


class CrmDesk(LiveDesk):
    """The live product with an administrator besides the agent (agents may not import), a product and
    two more customers."""

    def seed(self, url: str) -> None:
        super().seed(url)
        engine = make_engine(url)
        with make_sessionmaker(engine)() as session:
            create_user(session, ADMIN, self.password, display_name="客户管理员", roles=["admin"])
            session.add(Product(sku="WP-A1", name="净水器 A1", price=Decimal("1999.00"), stock=10))
            session.add_all([Customer(name=name, kind="company", status="active") for name in SORTED_NAMES])
            session.commit()
        engine.dispose()


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveDesk]:
    desk = CrmDesk(tmp_path_factory.mktemp("crm-desk"))
    desk.start()
    try:
        yield desk
    finally:
        desk.stop()


def open_route(page: Page, live: LiveDesk, route: str) -> None:
    page.goto(f"{live.url}/static/crm.html#/{route}")
    expect(page.locator("body")).to_have_attribute("data-rendered", f"#/{route}", timeout=WAIT_MS)


def search_customers(page: Page, text: str) -> None:
    page.fill("#view input[name=q]", text)
    page.click("#view form[role=search] button[type=submit]")
    expect(page.locator("body")).to_have_attribute("data-rendered", re.compile(r"^#/customers\?q="),
                                                   timeout=WAIT_MS)


def test_a_customer_found_by_phone_in_another_format_gets_a_ticket_passed_on(
    live: LiveDesk, desk_page: Page
) -> None:
    page = desk_page
    open_route(page, live, "customers/new")
    page.fill("#customer-form input[name=name]", "杭州测试科技有限公司")
    page.fill("#customer-form input[name=category]", "企业客户")
    page.fill("#customer-form input[name=phones]", NEW_NUMBER)
    page.click("#customer-form button[type=submit]")
    expect(page.locator("h1.customer-name")).to_have_text("杭州测试科技有限公司", timeout=WAIT_MS)

    open_route(page, live, "customers")
    search_customers(page, "+86 139-0000-1111")
    rows = page.locator("#view table.crm-table tbody tr")
    expect(rows).to_have_count(1, timeout=WAIT_MS)
    expect(rows.first.locator("td").first).to_have_text("杭州测试科技有限公司")
    rows.first.locator("a").click()
    expect(page.locator("h1.customer-name")).to_have_text("杭州测试科技有限公司", timeout=WAIT_MS)
    expect(page.locator(f".phones li[data-phone='{NEW_NUMBER}'] button.dial")).to_be_visible()

    # the phone button dials through the desk: the agent's extension first, then the customer
    before = len(live.actions.named("Originate"))
    page.click(f".phones li[data-phone='{NEW_NUMBER}'] button.dial")
    wait_for(lambda: len(live.actions.named("Originate")) > before)
    originate = live.actions.named("Originate")[-1]
    assert originate["channel"] == f"Local/{EXTENSION}@agents/n" and originate["exten"] == NEW_NUMBER
    expect(page.locator("#flash")).to_contain_text(NEW_NUMBER)

    page.get_by_role("button", name="新建工单").click()
    expect(page.locator("#ticket-form")).to_contain_text("杭州测试科技有限公司", timeout=WAIT_MS)
    page.fill("#ticket-form input[name=title]", "净水器漏水")
    page.select_option("#ticket-form select[name=type_id]", label="报修")
    page.select_option("#ticket-form select[name=priority]", "high")
    page.fill("#ticket-form textarea[name=description]", "客户来电反映净水器漏水")
    page.click("#ticket-form button[type=submit]")
    card = page.locator(".crm-card[data-ticket]")
    expect(card).to_have_attribute("data-step", "0", timeout=WAIT_MS)
    expect(page.locator(".steps li.current")).to_have_text("受理")
    expect(page.locator(".ticket-status")).to_have_text("待受理")
    expect(page.locator("#send-back")).to_be_disabled()

    page.fill("#step-note", "已核实，转维修")
    page.click("#pass-on")
    expect(card).to_have_attribute("data-step", "1", timeout=WAIT_MS)
    expect(page.locator(".steps li.current")).to_have_text("处理")
    expect(page.locator(".steps li.done")).to_have_text(["受理"])
    expect(page.locator(".ticket-status")).to_have_text("处理中")
    history = page.locator(".crm-card table.crm-table").last
    expect(history).to_contain_text("已核实，转维修")
    expect(history).to_contain_text("提交下一步")

    # the ticket is on the customer's card
    page.locator(".crm-card dd a").first.click()
    expect(page.locator("h1.customer-name")).to_have_text("杭州测试科技有限公司", timeout=WAIT_MS)
    expect(page.locator(".crm-card")).to_contain_text("净水器漏水")


def test_a_customer_named_like_markup_is_shown_as_text(live: LiveDesk, desk_page: Page) -> None:
    page = desk_page
    open_route(page, live, "customers")
    search_customers(page, f"+86 {KNOWN_CALLER[:3]} {KNOWN_CALLER[3:7]} {KNOWN_CALLER[7:]}")
    rows = page.locator("#view table.crm-table tbody tr")
    expect(rows).to_have_count(1, timeout=WAIT_MS)
    expect(rows.first.locator("td").first).to_have_text(KNOWN_NAME)
    assert page.locator("#view img").count() == 0
    rows.first.locator("a").click()
    expect(page.locator("h1.customer-name")).to_have_text(KNOWN_NAME, timeout=WAIT_MS)
    assert page.locator("#view img").count() == 0
    assert page.evaluate("document.title") == "客户关系管理"


def test_a_customer_returned_to_the_pool_is_claimed_back(live: LiveDesk, desk_page: Page) -> None:
    page = desk_page
    open_route(page, live, "customers")
    search_customers(page, KNOWN_CALLER)
    page.locator("#view table.crm-table tbody tr a").first.click()
    head = page.locator(".card-head")
    expect(head.locator(".badge").nth(1)).to_have_text("正常", timeout=WAIT_MS)
    page.click("#release")
    expect(page.locator("#release")).to_have_text("再次点击确认退回公海")
    page.click("#release")
    expect(head.locator(".badge").nth(1)).to_have_text("公海", timeout=WAIT_MS)
    open_route(page, live, "customers?pool=pool")
    expect(page.locator("#view table.crm-table tbody tr")).to_have_count(1, timeout=WAIT_MS)
    page.locator("#view table.crm-table tbody tr a").first.click()
    page.click("#claim")
    expect(head.locator(".badge").nth(1)).to_have_text("正常", timeout=WAIT_MS)
    me = page.locator("#user-name").inner_text()
    assert me
    expect(page.locator(".details")).to_contain_text(f"负责人{me}")


def test_the_customer_list_sorts_by_a_clicked_column(live: LiveDesk, desk_page: Page) -> None:
    page = desk_page
    open_route(page, live, "customers")
    page.locator("#view th button.sort", has_text="名称").click()
    expect(page.locator("body")).to_have_attribute("data-rendered", "#/customers?sort=name&page=1", timeout=WAIT_MS)
    expect(page.locator("#view th button.sort", has_text="名称")).to_contain_text("▲")
    names = page.locator("#view table.crm-table tbody tr td:first-child").all_inner_texts()
    assert set(SORTED_NAMES) <= set(names) and names == sorted(names)
    page.locator("#view th button.sort", has_text="名称").click()
    expect(page.locator("#view th button.sort", has_text="名称")).to_contain_text("▼", timeout=WAIT_MS)
    assert page.locator("#view table.crm-table tbody tr td:first-child").all_inner_texts() == names[::-1]


def test_a_call_on_the_customer_card_plays_its_recording(live: LiveDesk, desk_page: Page) -> None:
    _seed_recording(live)
    engine = make_engine(live.settings().effective_database_url)
    with make_sessionmaker(engine)() as session:
        customer_id = session.scalars(select(Customer.id).where(Customer.name == KNOWN_NAME)).one()
        session.add(CallLink(call_id=CALL_ID, customer_id=customer_id))
        session.add(CallLink(call_id="1795469999.1", customer_id=customer_id))  # not recorded
        session.commit()
    engine.dispose()
    page = desk_page
    open_route(page, live, f"customers/{customer_id}")
    calls = page.locator("section:has(h2:text-is('通话记录')) tbody tr")
    expect(calls).to_have_count(2, timeout=WAIT_MS)
    expect(calls.locator("button.play")).to_have_count(1)
    calls.locator("button.play").click()
    expect(page.locator(".call-player .rp")).to_have_attribute("data-playing", "1", timeout=WAIT_MS)


def test_the_english_switch_translates_and_is_remembered(live: LiveDesk, desk_page: Page) -> None:
    page = desk_page
    open_route(page, live, "tickets")
    expect(page.locator("#crm-nav a[data-route=customers]")).to_have_text("客户")
    expect(page.locator("#crm-nav a[aria-current=page]")).to_have_text("工单")
    expect(page.locator("#view h2")).to_have_text("工单")
    page.select_option("#lang-switch", "en")
    expect(page.locator("#crm-nav a[data-route=customers]")).to_have_text("Customers")
    expect(page.locator("#view h2")).to_have_text("Tickets")
    expect(page.locator("#view select[name=type] option").nth(3)).to_have_text("Repair report")
    page.reload()
    expect(page.locator("#view h2")).to_have_text("Tickets", timeout=WAIT_MS)
    expect(page.locator("#view table.crm-table th").nth(4)).to_have_text("Status")
    page.select_option("#lang-switch", "zh-CN")
    expect(page.locator("#view h2")).to_have_text("工单")


@pytest.fixture(scope="module")
def admin_page(live: LiveDesk, browser: Browser) -> Iterator[Page]:
    """An administrator who opened the CRM page without a session and logged in on the way."""
    context = browser.new_context(viewport={"width": 1500, "height": 1000}, locale="zh-CN")
    page = context.new_page()
    dialogs: list[str] = []
    watch(page, dialogs)
    page.goto(f"{live.url}/static/crm.html#/io")
    page.wait_for_url(f"{live.url}/login?next=%2Fstatic%2Fcrm.html", timeout=WAIT_MS)
    log_in(page, live, ADMIN, "/static/crm.html", timeout_ms=WAIT_MS)
    yield page
    context.close()
    assert dialogs == [], f"a script ran from data: {dialogs}"


def test_an_import_lists_the_rows_with_errors_and_the_export_has_the_new_row(
    live: LiveDesk, admin_page: Page
) -> None:
    page = admin_page
    open_route(page, live, "io")
    csv = "客户名称,电话\n上海导入测试有限公司,02161234567\n,13700000000\n".encode()
    upload: FilePayload = {"name": "customers.csv", "mimeType": "text/csv", "buffer": csv}
    page.set_input_files("#import-form input[type=file]", files=[upload])
    page.click("#import-form button[type=submit]")
    report = page.locator("#import-result")
    expect(report).to_contain_text("共 2 行，导入 0 行", timeout=WAIT_MS)
    first_error = report.locator("tbody tr").first
    expect(first_error.locator("td").first).to_have_text("3")
    with page.expect_download() as download:
        report.get_by_role("button", name="下载错误报告").click()
    assert download.value.suggested_filename == "import-errors.csv"

    page.check("#import-form input[name=valid_only]")
    page.click("#import-form button[type=submit]")
    expect(report).to_contain_text("导入 1 行", timeout=WAIT_MS)
    open_route(page, live, "customers?q=上海导入测试")
    expect(page.locator("#view table.crm-table tbody tr")).to_have_count(1, timeout=WAIT_MS)

    open_route(page, live, "io")
    page.select_option("#export-customers select[name=format]", "csv")
    with page.expect_download() as exported:
        page.click("#export-customers button[type=submit]")
    assert exported.value.suggested_filename == "customers.csv"
    path = exported.value.path()
    assert "上海导入测试有限公司" in path.read_text(encoding="utf-8-sig")


def approve_step(page: Page, step: str, **fields: str) -> None:
    expect(page.locator(".steps li.current")).to_have_text(step, timeout=WAIT_MS)
    for name, value in fields.items():
        page.fill(f"#step-form [name={name}]", value)
    page.click("#approve")


def test_an_order_goes_through_every_approval_step_and_a_return(live: LiveDesk, admin_page: Page) -> None:
    page = admin_page
    open_route(page, live, "customers")
    search_customers(page, KNOWN_CALLER)
    page.locator("#view table.crm-table tbody tr a").first.click()
    page.get_by_role("button", name="新建订单").click()
    page.select_option("#order-form select[name=product_id]", label="净水器 A1 · 1999.00")
    page.fill("#order-form input[name=quantity]", "2")
    page.fill("#order-form input[name=shipping_address]", "北京市中山路 1 号")
    page.click("#order-form button[type=submit]")
    card = page.locator(".crm-card[data-order]")
    expect(card).to_have_attribute("data-status", "draft", timeout=WAIT_MS)
    expect(card).to_contain_text("3998.00")
    page.click("#submit-order")
    approve_step(page, "审核", note="资料齐全")
    approve_step(page, "经理审核")
    approve_step(page, "发货", carrier="顺丰", tracking_number="SF1234567890")
    approve_step(page, "收款")  # the amount is filled in with the order total
    approve_step(page, "签收确认")
    approve_step(page, "回访", note="客户满意")
    expect(card).to_have_attribute("data-status", "completed", timeout=WAIT_MS)
    expect(page.locator(".order-status")).to_have_text("已完成")
    expect(page.locator(".steps li.done")).to_have_count(6)
    expect(card).to_contain_text("SF1234567890")
    expect(page.locator(".crm-card .badge.bad")).to_have_count(0)  # paid in full: not abnormal

    form = page.locator(".return-form")
    form.locator("input[name=quantity]").fill("1")
    form.locator("input[name=reason]").fill("滤芯破损")
    form.locator("button[type=submit]").click()
    returns = page.locator("section:has(h2:text-is('退换货')) tbody tr")
    expect(returns).to_have_count(1, timeout=WAIT_MS)
    expect(returns.first).to_contain_text("待审批")
    returns.first.get_by_role("button", name="批准").click()
    expect(returns.first).to_contain_text("已批准", timeout=WAIT_MS)
    returns.first.get_by_role("button", name="确认收货").click()
    expect(returns.first).to_contain_text("已完成", timeout=WAIT_MS)
    expect(card).to_contain_text("退货已收到")


def test_an_order_is_voided_only_with_a_reason(live: LiveDesk, admin_page: Page) -> None:
    page = admin_page
    open_route(page, live, "orders/new?customer=1")
    page.fill("#order-form input[name=quantity]", "1")
    page.click("#order-form button[type=submit]")
    card = page.locator(".crm-card[data-order]")
    expect(card).to_have_attribute("data-status", "draft", timeout=WAIT_MS)
    page.locator("#order-exception button.danger").click()
    expect(page.locator("#notice")).to_contain_text("作废须填写原因", timeout=WAIT_MS)
    expect(card).to_have_attribute("data-status", "draft")
    page.fill("#order-exception input[name=reason]", "客户取消")
    page.locator("#order-exception button.danger").click()
    expect(card).to_have_attribute("data-status", "void", timeout=WAIT_MS)
    expect(page.locator(".order-status")).to_have_text("已作废")
    expect(card).to_contain_text("客户取消")
    expect(page.locator("#order-exception button.danger")).to_have_count(0)

"""The messaging page in a real browser: a supervisor writes an SMS template, previews it for a customer,
sends it (the local HTTP gateway receives the text with the customer's name), sends in bulk to a CRM
search where one customer opted out, reads the report; the customer card shows the messages."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import LiveDesk, log_in
from playwright.sync_api import Browser, Page, expect

from config import Settings
from crm_core.db import make_engine, make_sessionmaker
from crm_core.messaging.services import set_opt_out
from crm_core.models import Contact, Customer
from crm_core.services.customers import add_phone
from crm_core.services.users import create_user
from tests.messaging_support import Gateway, sms_gateway

pytestmark = pytest.mark.browser

DOCS = Path(__file__).resolve().parents[2] / "docs"
SUPERVISOR = "banzhang"
WAIT_MS = 15_000


class MessagingDesk(LiveDesk):
    """The live product with a supervisor, three customers in 杭州 (one opted out of SMS) and a gateway."""

    def __init__(self, root: Path, gateway: Gateway) -> None:
        super().__init__(root)
        self.gateway = gateway
        self.customer_ids: dict[str, int] = {}

    def settings(self) -> Settings:
        return super().settings().model_copy(
            update={"sms_gateway_kind": "http", "sms_gateway_url": self.gateway.url, "sms_gateway_key": "k1",
                    "messaging_poll_s": 0.5}
        )

    def seed(self, url: str) -> None:
        super().seed(url)
        engine = make_engine(url)
        with make_sessionmaker(engine)() as session:
            boss = create_user(session, SUPERVISOR, self.password, display_name="李班长", roles=["supervisor"])
            session.flush()
            for name, mobile in (("杭州西湖茶业", "13700001111"), ("杭州钱塘物流", "13700002222"),
                                 ("杭州退订客户", "13700003333")):
                customer = Customer(name=name, region="杭州", level="A", status="pool")
                session.add(customer)
                session.flush()
                add_phone(session, customer.id, mobile)
                session.add(Contact(customer_id=customer.id, name="联系人", email=f"c{customer.id}@example.com"))
                self.customer_ids[name] = customer.id
            session.flush()
            boss_user = session.get(type(boss), boss.id)
            assert boss_user is not None
            set_opt_out(session, boss_user, self.customer_ids["杭州退订客户"], "sms", True)
            session.commit()
        engine.dispose()


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MessagingDesk]:
    with sms_gateway() as gateway:
        desk = MessagingDesk(tmp_path_factory.mktemp("messaging-desk"), gateway)
        desk.start()
        try:
            yield desk
        finally:
            desk.stop()


@pytest.fixture
def page(live: MessagingDesk, browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1440, "height": 1000}, locale="zh-CN")
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    tab.goto(f"{live.url}/messaging")
    log_in(tab, live, SUPERVISOR, "/messaging")
    expect(tab.locator("body")).to_have_attribute("data-ready", "1", timeout=WAIT_MS)
    yield tab
    context.close()
    assert errors == [], errors


def test_templates_send_bulk_report_and_the_customer_card(live: MessagingDesk, page: Page) -> None:
    # A template with a field outside its family is refused with the reason in the page's language.
    form = page.locator("#template-form")
    form.locator("input[name=name]").fill("会员日通知")
    form.locator("textarea[name=body]").fill("{{ order.number }}")
    form.locator("button[type=submit]").click()
    expect(page.locator("#notice")).to_contain_text("order.number", timeout=WAIT_MS)
    form.locator("textarea[name=body]").fill("")
    form.locator("button.msg-field", has_text="{{ customer.name }}").click()  # inserts the placeholder
    form.locator("textarea[name=body]").press("End")
    form.locator("textarea[name=body]").type("，本周六会员日全场九折，回T退订")
    form.locator("button[type=submit]").click()
    expect(page.locator("#flash")).to_contain_text("会员日通知", timeout=WAIT_MS)
    expect(page.locator("#template-list tr[data-template]")).to_have_count(1)

    # One customer: find, preview (the name filled in), send; the gateway gets the text.
    page.fill("#customer-search input[name=q]", "西湖")
    page.click("#customer-search button[type=submit]")
    expect(page.locator("#customer-select option")).to_have_count(1, timeout=WAIT_MS)
    page.select_option("#send-template", label="会员日通知 · 短信")
    page.click("#preview-button")
    expect(page.locator("#preview")).to_contain_text("杭州西湖茶业，本周六会员日全场九折", timeout=WAIT_MS)
    expect(page.locator("#preview")).to_contain_text("+8613700001111")
    page.click("#send-form button[type=submit]")
    # the answer says where the message is ("已发送", or "发送中" while the gateway has not answered yet);
    # the list follows it until it has gone out
    expect(page.locator("#flash")).to_contain_text("发送结果", timeout=WAIT_MS)
    expect(page.locator("#message-list tr[data-status=sent]")).to_have_count(1, timeout=WAIT_MS)
    assert [(r["to"], r["text"]) for r in live.gateway.requests] == [
        ("+8613700001111", "杭州西湖茶业，本周六会员日全场九折，回T退订")]

    # Bulk to the 杭州 customers: the one who opted out gets nothing.
    page.select_option("#bulk-template", label="会员日通知 · 短信")
    page.fill("#bulk-form input[name=region]", "杭州")
    page.click("#bulk-form button[type=submit]")
    expect(page.locator("#bulk-result")).to_have_text(
        "匹配 3 位客户：2 条待发送，1 位已退订，0 位无地址", timeout=WAIT_MS)
    # the list follows the batch by itself until every message has gone out
    expect(page.locator("#message-list tr[data-status=sent]")).to_have_count(3, timeout=WAIT_MS)
    expect(page.locator("#message-list tr[data-status=opted_out]")).to_have_count(1)
    assert sorted(r["to"] for r in live.gateway.requests) == [
        "+8613700001111", "+8613700001111", "+8613700002222"]

    # The report: 3 sent and 1 opted out for this template today; the export link asks for Excel.
    page.select_option("#report-form select[name=group_by]", "all")
    page.click("#report-form button[type=submit]")
    row = page.locator("#report-grid tbody tr")
    expect(row).to_have_count(1, timeout=WAIT_MS)
    expect(row.locator("td")).to_have_text(["", "短信", "会员日通知", "4", "3", "0", "0", "1", "0", "0"])
    assert "format=xlsx" in (page.get_attribute("#report-export", "href") or "")
    if os.environ.get("CC_SCREENSHOTS") == "1":
        DOCS.mkdir(exist_ok=True)
        page.screenshot(path=str(DOCS / "messaging.png"), full_page=True)

    # The customer card lists what was sent, with the opt-out switch.
    page.goto(f"{live.url}/crm#/customers/{live.customer_ids['杭州退订客户']}")
    panel = page.locator("#customer-messages")
    expect(panel.locator("tr[data-status=opted_out]")).to_have_count(1, timeout=WAIT_MS)
    expect(panel.locator("input[name=opt-out-sms]")).to_be_checked()
    page.goto(f"{live.url}/crm#/customers/{live.customer_ids['杭州西湖茶业']}")
    expect(page.locator("#customer-messages tr[data-status=sent]")).to_have_count(2, timeout=WAIT_MS)

"""Purchasing pages in a real browser: a purchase order posted into stock (and a return of more than is in
stock refused), alert levels and price schemes with the ladder rule refused next to its field, the money
ledger and the dealers' orders of the month, in both languages."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from back_office import WAIT_MS, logged_in_tab, open_route, serve, shot
from conftest import LiveDesk
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from crm_core.db import make_engine, make_sessionmaker
from crm_core.models import Customer, Order, OrderLine, OrderReturn, Product, StockThreshold, Supplier
from crm_core.services.users import create_user
from crm_core.testing import add_department

pytestmark = pytest.mark.browser

KEEPER = "stockmgr"


class StockDesk(LiveDesk):
    """The live product with a warehouse keeper, two products (one under its alert level) and a dealer's orders."""

    def seed(self, url: str) -> None:
        super().seed(url)
        now = datetime.now(UTC).replace(tzinfo=None) - timedelta(minutes=10)
        engine = make_engine(url)
        with make_sessionmaker(engine)() as session:
            dept = add_department(session, "仓储部 Warehouse")
            keeper = create_user(
                session,
                KEEPER,
                self.password,
                display_name="赵库管",
                roles=["supervisor"],
                department_id=dept.id,
                extension="1201",
            )
            session.add_all(
                [
                    Supplier(name="华鑫电器"),
                    Product(sku="WP-200", name="净水器 WP-200", price=Decimal("1200"), stock=4),
                    Product(sku="F-10", name="滤芯 F-10", price=Decimal("80"), stock=30),
                ]
            )
            session.flush()
            products = {p.sku: p for p in session.scalars(select(Product))}
            session.add(StockThreshold(product_id=products["WP-200"].id, minimum=5))
            dealer = Customer(
                name="华东代理商", category="代理商", owner_id=keeper.id, department_id=dept.id, status="active"
            )
            session.add(dealer)
            session.flush()
            for n, (qty, paid) in enumerate(((2, "2400"), (5, "6000"))):
                total = Decimal("1200") * qty
                order = Order(
                    number=f"SO-DEALER-{n + 1}",
                    customer_id=dealer.id,
                    owner_id=keeper.id,
                    department_id=dept.id,
                    status="completed",
                    total=total,
                    paid_amount=Decimal(paid),
                    paid_at=now + timedelta(minutes=n),
                    created_at=now,
                    lines=[
                        OrderLine(
                            product_id=products["WP-200"].id, quantity=qty, unit_price=Decimal("1200"), amount=total
                        )
                    ],
                )
                session.add(order)
                session.flush()
            session.add(
                OrderReturn(
                    order_id=order.id,
                    order_line_id=order.lines[0].id,
                    kind="return",
                    quantity=1,
                    status="done",
                    refund_amount=Decimal("1200"),
                    updated_at=now + timedelta(minutes=5),
                )
            )
            session.commit()
        engine.dispose()


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveDesk]:
    yield from serve(StockDesk, tmp_path_factory)


@pytest.fixture
def page(live: LiveDesk, browser: Browser) -> Iterator[Page]:
    yield from logged_in_tab(live, browser, KEEPER, "/purchasing", "#/documents")


def english(page: Page) -> None:
    page.select_option("#lang-switch", "en")
    expect(page.locator("#purchasing-nav a[data-route=stock]")).to_have_text("Stock and prices")


def _document(page: Page, kind: str, quantity: str, supplier: bool = True) -> None:
    page.click("#new-document")
    form = page.locator("#document-form form")
    form.locator("[name=kind]").select_option(kind)
    form = page.locator("#document-form form")
    if supplier:
        form.locator("[name=supplier_id]").select_option(label="华鑫电器")
    line = form.locator(".quote-line").first
    line.locator("[name=product_id]").select_option(label="WP-200 净水器 WP-200")
    line.locator("[name=quantity]").fill(quantity)
    line.locator("[name=unit_cost]").fill("760")
    page.click("#save-document")


def test_the_low_stock_alert_is_in_the_desks_message_box(page: Page, live: LiveDesk) -> None:
    page.goto(f"{live.url}/desk")
    for _ in range(30):  # the tabs answer once the desk has set itself up (no mark of that to wait for)
        page.click(".tabs button[data-tab=messages]")
        if page.locator("#tab-messages").is_visible():
            break
        page.wait_for_timeout(500)
    alert = page.locator("#msg-stock li")
    expect(alert).to_have_count(1, timeout=WAIT_MS)
    expect(alert).to_contain_text("WP-200 净水器 WP-200")
    expect(alert).to_contain_text("库存 4（预警线 5）")
    expect(page.locator("h3.stock-alerts")).to_be_visible()


def test_a_purchase_order_moves_the_stock_and_a_return_needs_the_goods(page: Page) -> None:
    _document(page, "purchase", "20", supplier=False)
    form = page.locator("#document-form form")
    expect(form.locator(".field-error")).to_contain_text("必填")
    expect(form.locator("[name=supplier_id]")).to_have_attribute("aria-invalid", "true")

    page.locator("#document-form form [name=supplier_id]").select_option(label="华鑫电器")
    page.click("#save-document")
    expect(page.locator("#flash")).to_contain_text(re.compile(r"单据 PO\d{12} 已保存"))
    purchase = page.locator("#documents tbody tr", has_text="进货单")
    expect(purchase).to_contain_text("15,200.00")
    purchase.locator("button.post-document").click()
    expect(page.locator("#flash")).to_contain_text("已过账，库存已更新")
    expect(purchase).to_contain_text("已过账")

    _document(page, "supplier_return", "30")
    expect(page.locator("#flash")).to_contain_text(re.compile(r"单据 RS\d{12} 已保存"))
    page.locator("#documents tbody tr", has_text="退货单").locator("button.post-document").click()
    expect(page.locator("#notice")).to_contain_text("库存不足")
    shot(page, "purchasing-documents.zh-CN.png")

    open_route(page, "#/stock")
    expect(page.locator("#stock tr[data-sku=WP-200]")).to_contain_text("24 件")
    expect(page.locator("#stock tr[data-sku=WP-200] .stock-alert")).to_have_count(0)
    english(page)
    open_route(page, "#/documents")
    expect(page.locator("#documents tbody tr", has_text="Purchase order")).to_contain_text("Posted")
    shot(page, "purchasing-documents.en.png")


def test_alert_levels_and_price_schemes(page: Page) -> None:
    open_route(page, "#/stock")
    row = page.locator("#stock tr[data-sku=F-10]")
    row.locator("[name=minimum]").fill("40")
    row.locator(".stock-form:not(.prices-form) button").click()
    expect(page.locator("#flash")).to_contain_text("滤芯 F-10 的预警线已保存")
    expect(page.locator("#stock tr[data-sku=F-10] .stock-alert")).to_have_text("库存预警")

    prices = page.locator("#stock tr[data-sku=F-10] .prices-form")
    prices.locator("[name=retail]").fill("99")
    prices.locator("[name=dealer]").fill("60")
    prices.locator("[name=floor]").fill("70")
    prices.locator("button").click()
    expect(prices.locator(".field-error")).to_contain_text("最低价不能高于代理价")
    expect(prices.locator("[name=floor]")).to_have_attribute("aria-invalid", "true")
    prices.locator("[name=floor]").fill("50")
    prices.locator("button").click()
    expect(page.locator("#flash")).to_contain_text("滤芯 F-10 的价格方案已保存")
    expect(page.locator("#stock tr[data-sku=F-10] .prices-form [name=floor]")).to_have_value("50.00")
    shot(page, "purchasing-stock.zh-CN.png")
    english(page)
    expect(page.locator("#stock tr[data-sku=F-10] .stock-alert")).to_have_text("Low stock")
    shot(page, "purchasing-stock.en.png")


def test_the_money_ledger_and_the_dealers_orders(page: Page) -> None:
    open_route(page, "#/ledger")
    expect(page.locator("#ledger-totals")).to_have_text("收款 ¥8,400.00，退款 ¥1,200.00，净额 ¥7,200.00")
    expect(page.locator("#ledger tbody tr")).to_have_count(3)
    expect(page.locator("#ledger tbody tr").last).to_contain_text("退款")
    expect(page.locator("#ledger tbody tr").last).to_contain_text("7,200.00")
    shot(page, "purchasing-ledger.zh-CN.png")
    page.fill("#filter-start", "2030-02-01")
    page.fill("#filter-end", "2030-01-01")
    page.click("#apply")
    expect(page.locator("#notice")).to_contain_text("结束日期不能早于开始日期")
    english(page)
    page.fill("#filter-start", "2020-01-01")
    page.fill("#filter-end", "2030-12-31")
    page.click("#apply")
    expect(page.locator("#ledger-totals")).to_have_text("Received ¥8,400.00, refunded ¥1,200.00, net ¥7,200.00")
    shot(page, "purchasing-ledger.en.png")
    open_route(page, "#/dealers")
    expect(page.locator("#dealer-count")).to_have_text("2 orders from 1 dealers")
    expect(page.locator("#dealers tbody tr")).to_contain_text("华东代理商")
    shot(page, "purchasing-dealers.en.png")
    page.select_option("#lang-switch", "zh-CN")
    expect(page.locator("#dealer-count")).to_have_text("共 2 个订单，来自 1 个代理商")
    shot(page, "purchasing-dealers.zh-CN.png")

"""The CRM order page in a real browser: an agent changes a draft's lines before approval (adds, removes,
changes quantities and prices within each product's range), each refusal shown next to its field in the
page's language, the server's own refusal too; an abnormal order is ordered again as a new draft, the old one
kept with a note that names the new one."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
from back_office import WAIT_MS, logged_in_tab, serve, shot
from conftest import AGENT, LiveDesk
from playwright.sync_api import Browser, Locator, Page, expect
from sqlalchemy import select

from crm_core.db import make_engine, make_sessionmaker
from crm_core.models import Customer, Order, Product, User
from crm_core.services import orders

pytestmark = pytest.mark.browser


class OrderDesk(LiveDesk):
    """The live product with the agent's customer, two products (one with a price range) and two orders of
    the agent: a draft, and an abnormal one (the amount received did not match)."""

    def seed(self, url: str) -> None:
        super().seed(url)
        engine = make_engine(url)
        with make_sessionmaker(engine)() as session:
            agent = session.scalars(select(User).where(User.username == AGENT)).one()
            customer = Customer(name="杭州绿源科技", owner_id=agent.id, status="active")
            pump = Product(
                sku="BP-1",
                name="增压泵",
                price=Decimal("300"),
                price_floor=Decimal("250"),
                price_ceiling=Decimal("350"),
                stock=20,
            )
            cartridge = Product(sku="FC-1", name="滤芯", price=Decimal("80"), stock=100)
            session.add_all([customer, pump, cartridge])
            session.flush()
            data = {"customer_id": customer.id, "shipping_address": "杭州市西湖区文三路 90 号"}
            orders.create_order(session, agent, data, [{"product_id": pump.id, "quantity": 1}])
            abnormal = orders.create_order(
                session, agent, data, [{"product_id": cartridge.id, "quantity": 3, "unit_price": "75"}]
            )
            orders.mark_abnormal(session, agent, abnormal.id, "收款金额不符")
            session.commit()
        engine.dispose()

    def set_ceiling(self, sku: str, ceiling: str) -> None:
        engine = make_engine(self.settings().effective_database_url)
        with make_sessionmaker(engine)() as session:
            product = session.scalars(select(Product).where(Product.sku == sku)).one()
            product.price_ceiling = Decimal(ceiling)
            session.commit()
        engine.dispose()

    def orders(self) -> list[tuple[int, str, bool, str]]:
        engine = make_engine(self.settings().effective_database_url)
        with make_sessionmaker(engine)() as session:
            rows = session.execute(select(Order.id, Order.status, Order.abnormal, Order.notes).order_by(Order.id))
            out = [(int(i), str(s), bool(a), str(n)) for i, s, a, n in rows]
        engine.dispose()
        return out


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveDesk]:
    yield from serve(OrderDesk, tmp_path_factory)


@pytest.fixture
def page(live: OrderDesk, browser: Browser) -> Iterator[Page]:
    yield from logged_in_tab(live, browser, AGENT, "/crm", "")  # the customers' list, at no address yet


def open_order(page: Page, order_id: int) -> None:
    page.evaluate("(target) => { location.hash = target; }", f"#/orders/{order_id}")
    expect(page.locator("body")).to_have_attribute("data-rendered", f"#/orders/{order_id}", timeout=WAIT_MS)


def draft_id(live: OrderDesk) -> int:
    return next(i for i, status, abnormal, _ in live.orders() if status == "draft" and not abnormal)


def abnormal_id(live: OrderDesk) -> int:
    return next(i for i, _, abnormal, _ in live.orders() if abnormal)


def field_error(page: Page, row: int, name: str) -> Locator:
    cell = page.locator("#lines-form tr.edit-line").nth(row).locator(f"[name={name}]").locator("xpath=..")
    return cell.locator(".field-error")


def test_a_draft_changes_its_lines_within_the_price_range(live: OrderDesk, page: Page) -> None:
    order = draft_id(live)
    open_order(page, order)
    page.click("#edit-lines")
    rows = page.locator("#lines-form tr.edit-line")
    expect(rows).to_have_count(1)
    expect(rows.first.locator(".price-range")).to_have_text("零售价 300.00 · 可售 250.00 – 350.00")
    rows.first.locator("[name=quantity]").fill("0")
    rows.first.locator("[name=unit_price]").fill("200")
    page.click("#save-lines")
    expect(field_error(page, 0, "quantity")).to_have_text("数量须为 1 到 1000000 的整数", timeout=WAIT_MS)
    expect(field_error(page, 0, "unit_price")).to_have_text("单价须在 250.00 至 350.00 之间")
    expect(page.locator("#notice")).to_contain_text("请修改标出的字段")
    rows.first.locator("[name=quantity]").fill("2")
    rows.first.locator("[name=unit_price]").fill("320")
    page.click("#add-line")
    rows.nth(1).locator("[name=product_id]").select_option(label="滤芯")
    rows.nth(1).locator("[name=quantity]").fill("5")
    page.click("#add-line")
    rows.nth(2).locator("button.remove-line").click()
    expect(rows).to_have_count(2)
    expect(page.locator("#lines-total")).to_have_text("1040.00")
    page.click("#save-lines")
    expect(page.locator("#flash")).to_contain_text("明细已保存，合计 1040.00", timeout=WAIT_MS)
    lines = page.locator("section.panel", has=page.locator("h2", has_text="订单明细")).first.locator("tbody tr")
    expect(lines).to_have_count(2)
    expect(lines.nth(1)).to_contain_text("滤芯")
    history = page.locator("section.panel", has=page.locator("h2", has_text="订单历史")).first
    expect(history).to_contain_text("修改前：增压泵 × 1 @ 300.00；修改后：增压泵 × 2 @ 320.00, 滤芯 × 5 @ 80.00")

    # The server has the last word: the range narrowed while the page was open is refused next to the price.
    page.click("#edit-lines")
    live.set_ceiling("BP-1", "330")
    rows.first.locator("[name=unit_price]").fill("340")
    page.click("#save-lines")
    expect(field_error(page, 0, "unit_price")).to_have_text("增压泵 单价须在 250.00 至 330.00 之间", timeout=WAIT_MS)
    expect(page.locator("#notice")).not_to_contain_text("price outside")
    shot(page, "order-edit.zh-CN.png")

    page.select_option("#lang-switch", "en")
    expect(page.locator("#edit-lines")).to_have_text("Edit lines", timeout=WAIT_MS)
    page.click("#edit-lines")
    expect(rows.first.locator(".price-range")).to_have_text("Retail 300.00 · allowed 250.00 – 330.00")
    rows.nth(1).locator("[name=quantity]").fill("2.5")
    rows.first.locator("[name=unit_price]").fill("1000")
    page.click("#save-lines")
    expect(field_error(page, 1, "quantity")).to_have_text(
        "The quantity must be a whole number from 1 to 1000000", timeout=WAIT_MS
    )
    expect(field_error(page, 0, "unit_price")).to_have_text("The unit price must be between 250.00 and 330.00")
    shot(page, "order-edit.en.png")
    page.click("#cancel-lines")
    page.click("#submit-order")
    expect(page.locator(".order-status")).to_have_text("In approval", timeout=WAIT_MS)
    expect(page.locator("#edit-lines")).to_have_count(0)


def test_an_abnormal_order_is_ordered_again_and_the_old_one_kept(live: OrderDesk, page: Page) -> None:
    open_order(page, next(i for i, status, abnormal, _ in live.orders() if not abnormal and status != "completed"))
    expect(page.locator("#order-exception")).to_be_visible()
    expect(page.locator("#reorder")).to_have_count(0)  # an order that is neither abnormal nor void: not again
    old = abnormal_id(live)
    open_order(page, old)
    old_number = page.locator(".crm-card h1").inner_text().split()[-1]
    page.click("#reorder")
    expect(page.locator("#reorder")).to_have_text("确认再次下单？")
    page.click("#reorder")
    expect(page.locator("#flash")).to_contain_text("已再次下单：", timeout=WAIT_MS)
    expect(page.locator("body")).not_to_have_attribute("data-rendered", f"#/orders/{old}", timeout=WAIT_MS)
    card = page.locator(".crm-card[data-order]")
    expect(card).to_have_attribute("data-status", "draft", timeout=WAIT_MS)
    new = int(card.get_attribute("data-order") or 0)
    assert new != old
    expect(card).to_contain_text(f"再次下单，原订单 {old_number}")
    expect(card.locator("section", has_text="滤芯").first).to_contain_text("75.00")
    assert [(s, a) for i, s, a, _ in live.orders() if i == old] == [("draft", True)], "the old order stays"
    open_order(page, old)
    new_number = live_number(live, new)
    expect(page.locator(".crm-card")).to_contain_text(f"已再次下单为 {new_number}")


def live_number(live: OrderDesk, order_id: int) -> str:
    engine = make_engine(live.settings().effective_database_url)
    with make_sessionmaker(engine)() as session:
        number = session.scalar(select(Order.number).where(Order.id == order_id))
    engine.dispose()
    return str(number)

"""Purchasing and stock: a purchase order brings goods into stock when posted (once), a return to the supplier
and an exchange take them out (all lines checked first), a product under its alert level shows in the message
box of those who keep the stock; price schemes keep floor <= dealer <= retail; the money ledger lists the
orders' payments and refunds with the balance; dealers' orders are counted per dealer."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from agent_desk.desk_calls import messages_for
from crm_core.errors import Conflict, InvalidInput, PermissionDenied
from crm_core.models import Customer, Order, OrderLine, OrderReturn, Product, StockMovement, Supplier
from crm_core.services import purchasing
from crm_core.testing import Org

pytest_plugins = ["crm_core.testing"]

DEC = (datetime(2026, 11, 30, 16), datetime(2026, 12, 31, 16))  # December in Shanghai, as naive UTC


@pytest.fixture
def db(any_db: Session) -> Session:
    return any_db


def _goods(db: Session) -> tuple[Supplier, Product, Product]:
    supplier = Supplier(name="华鑫电器")
    filter_ = Product(sku="F-1", name="滤芯", price=Decimal("80"), stock=5)
    pump = Product(sku="P-1", name="增压泵", price=Decimal("300"), stock=2)
    db.add_all([supplier, filter_, pump])
    db.flush()
    return supplier, filter_, pump


def _movements(db: Session, number: str) -> list[tuple[int, int, str]]:
    rows = db.scalars(select(StockMovement).where(StockMovement.note == number).order_by(StockMovement.id))
    return [(m.product_id, m.quantity, m.reason) for m in rows]


def test_a_purchase_order_brings_goods_into_stock_once(db: Session, org: Org) -> None:
    supplier, filter_, pump = _goods(db)
    lines = [{"product_id": filter_.id, "quantity": 20, "unit_cost": "35.5"}, {"product_id": pump.id, "quantity": 3}]
    with pytest.raises(PermissionDenied):
        purchasing.create_document(db, org.agent_a, {"kind": "purchase", "supplier_id": supplier.id}, lines)
    with pytest.raises(InvalidInput, match="kind must be one of"):
        purchasing.create_document(db, org.supervisor_a, {"kind": "gift", "supplier_id": supplier.id}, lines)
    with pytest.raises(InvalidInput, match="quantity must be positive"):
        purchasing.create_document(
            db,
            org.supervisor_a,
            {"kind": "purchase", "supplier_id": supplier.id},
            [{"product_id": pump.id, "quantity": 0}],
        )
    order = purchasing.create_document(db, org.supervisor_a, {"kind": "purchase", "supplier_id": supplier.id}, lines)
    assert (order.status, order.total, order.number[:2]) == ("draft", Decimal("710.00"), "PO")
    assert (filter_.stock, pump.stock) == (5, 2), "a draft moves nothing"

    purchasing.post_document(db, org.supervisor_a, order.id)
    assert (filter_.stock, pump.stock, order.status) == (25, 5, "posted")
    assert _movements(db, order.number) == [(filter_.id, 20, "purchase"), (pump.id, 3, "purchase")]
    with pytest.raises(Conflict, match="only a draft"):
        purchasing.post_document(db, org.supervisor_a, order.id)
    assert filter_.stock == 25

    returned = purchasing.create_document(
        db,
        org.supervisor_a,
        {"kind": "supplier_return", "supplier_id": supplier.id},
        [{"product_id": filter_.id, "quantity": 4}, {"product_id": pump.id, "quantity": 6}],
    )
    with pytest.raises(Conflict, match="not enough stock of 增压泵"):
        purchasing.post_document(db, org.supervisor_a, returned.id)
    assert (filter_.stock, pump.stock) == (25, 5), "nothing moved: every line is checked first"
    purchasing.void_document(db, org.supervisor_a, returned.id)

    exchange = purchasing.create_document(
        db,
        org.supervisor_a,
        {"kind": "exchange", "supplier_id": supplier.id},
        [{"product_id": pump.id, "quantity": 2, "replacement_product_id": filter_.id}],
    )
    purchasing.post_document(db, org.supervisor_a, exchange.id)
    assert (filter_.stock, pump.stock) == (27, 3)
    assert _movements(db, exchange.number) == [(pump.id, -2, "exchange"), (filter_.id, 2, "exchange")]
    shown = purchasing.document_view(db, org.supervisor_a, exchange.id)
    assert (shown["supplier_name"], shown["lines"][0]["replacement_name"]) == ("华鑫电器", "F-1 滤芯")


def test_a_product_under_its_alert_level_is_in_the_message_box(db: Session, org: Org) -> None:
    supplier, filter_, pump = _goods(db)
    now = datetime(2026, 12, 3, 8, tzinfo=UTC)
    purchasing.set_threshold(db, org.supervisor_a, filter_.id, 3)
    assert messages_for(db, org.supervisor_a, now)["stock_alerts"] == []

    back = purchasing.create_document(
        db,
        org.supervisor_a,
        {"kind": "supplier_return", "supplier_id": supplier.id},
        [{"product_id": filter_.id, "quantity": 2}],
    )
    purchasing.post_document(db, org.supervisor_a, back.id)
    assert messages_for(db, org.supervisor_a, now)["stock_alerts"] == [
        {"product_id": filter_.id, "sku": "F-1", "name": "滤芯", "stock": 3, "minimum": 3}
    ]
    assert "stock_alerts" not in messages_for(db, org.agent_a, now), "agents do not keep the stock"
    with pytest.raises(InvalidInput, match="cannot be negative"):
        purchasing.set_threshold(db, org.supervisor_a, pump.id, -1)

    refill = purchasing.create_document(
        db,
        org.supervisor_a,
        {"kind": "purchase", "supplier_id": supplier.id},
        [{"product_id": filter_.id, "quantity": 10}],
    )
    purchasing.post_document(db, org.supervisor_a, refill.id)
    assert purchasing.stock_alerts(db, org.supervisor_a) == []
    listed = {
        row["sku"]: (row["stock"], row["minimum"], row["alert"]) for row in purchasing.stock_list(db, org.supervisor_a)
    }
    assert listed == {"F-1": (13, 3, False), "P-1": (2, None, False)}


def test_price_schemes_keep_floor_under_dealer_under_retail(db: Session, org: Org) -> None:
    _, filter_, _ = _goods(db)
    with pytest.raises(InvalidInput, match="the floor price is above the dealer price"):
        purchasing.set_prices(db, org.supervisor_a, filter_.id, {"retail": "99", "dealer": "60", "floor": "70"})
    assert purchasing.set_prices(db, org.supervisor_a, filter_.id, {"retail": "99", "dealer": "60", "floor": "50"}) == {
        "retail": "99.00",
        "dealer": "60.00",
        "floor": "50.00",
    }
    assert purchasing.set_prices(db, org.supervisor_a, filter_.id, {"floor": None}) == {
        "retail": "99.00",
        "dealer": "60.00",
    }
    with pytest.raises(PermissionDenied):
        purchasing.set_prices(db, org.agent_a, filter_.id, {"retail": "1"})


def _order(db: Session, org: Org, owner: object, customer: Customer, total: str, at: datetime) -> Order:
    product = db.scalars(select(Product)).first()
    assert product is not None
    order = Order(
        number=f"SO-{customer.id}-{at:%m%d%H}",
        customer_id=customer.id,
        owner_id=owner.id,  # type: ignore[attr-defined]
        department_id=owner.department_id,  # type: ignore[attr-defined]
        status="completed",
        total=Decimal(total),
        created_at=at,
        lines=[OrderLine(product_id=product.id, quantity=1, unit_price=Decimal(total), amount=Decimal(total))],
    )
    db.add(order)
    db.flush()
    return order


def test_the_ledger_and_dealer_orders(db: Session, org: Org) -> None:
    _goods(db)
    dealer = Customer(name="华东代理", category="代理商", owner_id=org.agent_a.id, department_id=org.dept_a.id)
    shop = Customer(name="散客", category="个人客户", owner_id=org.agent_a.id, department_id=org.dept_a.id)
    other = Customer(name="西南代理", category="代理商", owner_id=org.agent_b.id, department_id=org.dept_b.id)
    db.add_all([dealer, shop, other])
    db.flush()
    first = _order(db, org, org.agent_a, dealer, "1000", datetime(2026, 12, 2, 2))
    first.paid_amount, first.paid_at = Decimal("1000"), datetime(2026, 12, 2, 3)
    second = _order(db, org, org.agent_a, dealer, "500", datetime(2026, 12, 5, 2))
    second.paid_amount, second.paid_at = Decimal("500"), datetime(2026, 12, 5, 3)
    _order(db, org, org.agent_a, shop, "80", datetime(2026, 12, 6, 2))
    _order(db, org, org.agent_b, other, "700", datetime(2026, 12, 7, 2))
    _order(db, org, org.agent_a, dealer, "900", datetime(2026, 11, 20, 2))  # November
    db.add(
        OrderReturn(
            order_id=first.id,
            order_line_id=first.lines[0].id,
            kind="return",
            quantity=1,
            status="done",
            refund_amount=Decimal("200"),
            updated_at=datetime(2026, 12, 8, 1),
        )
    )
    db.flush()

    entries = purchasing.ledger(db, org.supervisor_a, *DEC)
    assert [(e["kind"], e["order_number"], e["amount"], e["balance"]) for e in entries] == [
        ("payment", first.number, "1000.00", "1000.00"),
        ("payment", second.number, "500.00", "1500.00"),
        ("refund", first.number, "-200.00", "1300.00"),
    ]
    with pytest.raises(PermissionDenied):
        purchasing.ledger(db, org.agent_a, *DEC)

    found = purchasing.dealer_orders(db, org.supervisor_a, *DEC)
    assert found["count"] == 2
    assert found["dealers"] == [
        {"customer_id": dealer.id, "customer_name": "华东代理", "orders": 2, "total": "1500.00"}
    ]
    everyone = purchasing.dealer_orders(db, org.admin, *DEC)
    assert {d["customer_name"]: d["orders"] for d in everyone["dealers"]} == {"华东代理": 2, "西南代理": 1}

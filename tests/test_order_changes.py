"""An order's lines are changed before approval (priced by the order rules, in its history), not after; an
abnormal or voided order is ordered again as a new draft with the same lines, the old one kept."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy.orm import Session

from crm_core.errors import Conflict, InvalidInput, PermissionDenied
from crm_core.models import Customer, Product
from crm_core.services import order_changes, orders
from crm_core.testing import Org

pytest_plugins = ["crm_core.testing"]


@pytest.fixture
def db(any_db: Session) -> Session:
    return any_db


def _setup(db: Session, org: Org) -> tuple[Customer, Product, Product]:
    customer = Customer(name="杭州客户", owner_id=org.agent_a.id, department_id=org.dept_a.id, status="active")
    pump = Product(
        sku="P-1", name="增压泵", price=Decimal("300"), price_floor=Decimal("250"), price_ceiling=Decimal("350")
    )
    filter_ = Product(sku="F-1", name="滤芯", price=Decimal("80"))
    db.add_all([customer, pump, filter_])
    db.flush()
    return customer, pump, filter_


def test_a_draft_changes_its_lines_and_a_submitted_order_does_not(db: Session, org: Org) -> None:
    customer, pump, filter_ = _setup(db, org)
    order = orders.create_order(db, org.agent_a, {"customer_id": customer.id}, [{"product_id": pump.id, "quantity": 1}])
    with pytest.raises(InvalidInput, match="price outside the allowed range"):
        order_changes.edit_lines(
            db, org.agent_a, order.id, [{"product_id": pump.id, "quantity": 1, "unit_price": "200"}]
        )
    changed = order_changes.edit_lines(
        db, org.agent_a, order.id, [{"product_id": pump.id, "quantity": 2}, {"product_id": filter_.id, "quantity": 5}]
    )
    assert [(ln.product_id, ln.quantity) for ln in changed.lines] == [(pump.id, 2), (filter_.id, 5)]
    assert changed.total == Decimal("1000.00")
    assert [e.action for e in orders.history(db, org.agent_a, order.id)] == ["create", "edit"]
    with pytest.raises(PermissionDenied):
        order_changes.edit_lines(db, org.agent_b, order.id, [{"product_id": pump.id, "quantity": 1}])
    orders.submit(db, org.agent_a, order.id)
    with pytest.raises(Conflict, match="not yet submitted"):
        order_changes.edit_lines(db, org.agent_a, order.id, [{"product_id": pump.id, "quantity": 1}])


def test_an_abnormal_order_is_ordered_again(db: Session, org: Org) -> None:
    customer, pump, _ = _setup(db, org)
    order = orders.create_order(
        db, org.agent_a, {"customer_id": customer.id}, [{"product_id": pump.id, "quantity": 3, "unit_price": "320"}]
    )
    with pytest.raises(Conflict, match="only an abnormal or voided order"):
        order_changes.reorder(db, org.agent_a, order.id)
    orders.mark_abnormal(db, org.agent_a, order.id, "地址错误")
    again = order_changes.reorder(db, org.agent_a, order.id)
    assert again.id != order.id and again.status == "draft"
    assert [(ln.product_id, ln.quantity, ln.unit_price) for ln in again.lines] == [(pump.id, 3, Decimal("320.00"))]
    assert (again.customer_id, again.total, again.notes) == (
        customer.id,
        Decimal("960.00"),
        f"重新下单 re-order of {order.number}",
    )
    assert order.abnormal and order.status == "draft", "the old order is kept as it was"
    assert orders.history(db, org.agent_a, order.id)[-1].note == f"重新下单 ordered again as {again.number}"

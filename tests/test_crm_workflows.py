"""Ticket steps, order approval to follow-up, returns, pool, merge and transfer, run on the services."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_core.errors import Conflict, InvalidInput, PermissionDenied
from crm_core.models import CallLink, Contact, Customer, Phone, Product, Ticket, TicketType
from crm_core.services import customers, orders, tickets
from crm_core.services.calls import customer_calls, link_call
from crm_core.testing import Org

pytest_plugins = ["crm_core.testing"]


@pytest.fixture
def db(any_db: Session) -> Session:
    """Every test here runs on SQLite and on PostgreSQL."""
    return any_db


def _customer(db: Session, org: Org, name: str = "北京华鑫科技有限公司", number: str = "13812345678") -> Customer:
    customer = Customer(name=name, owner_id=org.agent_a.id, department_id=org.dept_a.id, status="active")
    db.add(customer)
    db.flush()
    customers.add_phone(db, customer.id, number)
    return customer


def test_ticket_passes_through_every_step_and_can_be_sent_back(db: Session, org: Org) -> None:
    customer = _customer(db, org)
    complaint = db.scalar(select(TicketType).where(TicketType.code == "complaint"))
    assert complaint is not None
    ticket = tickets.open_ticket(
        db, org.agent_a, {"title": "送货延迟", "type_id": complaint.id, "customer_id": customer.id}
    )
    assert ticket.status == "open" and ticket.due_at is not None
    assert (ticket.due_at - ticket.created_at).total_seconds() == complaint.sla_hours * 3600

    tickets.pass_on(db, org.agent_a, ticket.id, "已受理")  # intake (agent) -> handling (supervisor)
    assert (ticket.step_position, ticket.status) == (1, "in_progress")
    with pytest.raises(PermissionDenied):
        tickets.pass_on(db, org.agent_a2, ticket.id, "not my step")
    tickets.send_back(db, org.supervisor_a, ticket.id, "请补充订单号")
    assert (ticket.step_position, ticket.status, ticket.assignee_id) == (0, "returned", org.agent_a.id)
    tickets.pass_on(db, org.agent_a, ticket.id, "已补充")
    tickets.pass_on(db, org.supervisor_a, ticket.id, "已处理")
    tickets.pass_on(db, org.agent_a, ticket.id, "回访满意")
    assert ticket.status == "resolved"
    with pytest.raises(Conflict):
        tickets.pass_on(db, org.agent_a, ticket.id, "again")
    tickets.close(db, org.agent_a, ticket.id)
    actions = [e.action for e in tickets.history(db, org.agent_a, ticket.id)]
    assert actions == ["create", "pass", "return", "pass", "pass", "resolve", "close"]


def test_send_back_needs_a_reason(db: Session, org: Org) -> None:
    kind = db.scalar(select(TicketType).where(TicketType.code == "consult"))
    assert kind is not None
    ticket = tickets.open_ticket(db, org.agent_a, {"title": "咨询", "type_id": kind.id})
    tickets.pass_on(db, org.agent_a, ticket.id, "")
    with pytest.raises(InvalidInput):
        tickets.send_back(db, org.supervisor_a, ticket.id, "  ")


def _product(db: Session, stock: int = 10) -> Product:
    product = Product(
        sku="P-1",
        name="净水器",
        price=Decimal("100"),
        price_floor=Decimal("80"),
        price_ceiling=Decimal("120"),
        stock=stock,
    )
    db.add(product)
    db.flush()
    return product


def test_order_goes_from_review_to_follow_up(db: Session, org: Org) -> None:
    customer, product = _customer(db, org), _product(db)
    order = orders.create_order(
        db,
        org.agent_a,
        {"customer_id": customer.id},
        [{"product_id": product.id, "quantity": 3, "unit_price": "110"}],
    )
    assert (order.status, order.total) == ("draft", Decimal("330"))
    orders.submit(db, org.agent_a, order.id)
    orders.approve(db, org.agent_a, order.id)  # review (agent)
    with pytest.raises(PermissionDenied):
        orders.approve(db, org.agent_a, order.id)  # manager review is the supervisor's
    orders.approve(db, org.supervisor_a, order.id)
    with pytest.raises(InvalidInput):
        orders.approve(db, org.supervisor_a, order.id, {"carrier": "顺丰"})
    orders.approve(db, org.supervisor_a, order.id, {"carrier": "顺丰", "tracking_number": "SF1234567890"})
    assert product.stock == 7 and order.shipped_at is not None
    with pytest.raises(Conflict):
        orders.send_back(db, org.supervisor_a, order.id, "想撤回发货")
    orders.approve(db, org.supervisor_a, order.id, {"paid_amount": "330"})
    assert not order.abnormal
    orders.approve(db, org.agent_a, order.id)  # receipt confirmation
    with pytest.raises(InvalidInput):
        orders.approve(db, org.agent_a, order.id)  # follow-up needs a note
    orders.approve(db, org.agent_a, order.id, {"note": "客户满意"})
    assert order.status == "completed" and order.followup_note == "客户满意"
    with pytest.raises(Conflict):
        orders.void(db, org.agent_a, order.id, "too late")


def test_price_outside_the_range_is_refused(db: Session, org: Org) -> None:
    customer, product = _customer(db, org), _product(db)
    with pytest.raises(InvalidInput, match="price"):
        orders.create_order(
            db,
            org.agent_a,
            {"customer_id": customer.id},
            [{"product_id": product.id, "quantity": 1, "unit_price": "50"}],
        )


def test_return_and_exchange_move_stock(db: Session, org: Org) -> None:
    customer, product = _customer(db, org), _product(db)
    other = Product(sku="P-2", name="滤芯", price=Decimal("100"), stock=5)
    db.add(other)
    order = orders.create_order(
        db, org.agent_a, {"customer_id": customer.id}, [{"product_id": product.id, "quantity": 2}]
    )
    with pytest.raises(Conflict):
        orders.request_return(db, org.agent_a, order.id, order.lines[0].id, 1, "return", "未发货")
    orders.submit(db, org.agent_a, order.id)
    orders.approve(db, org.agent_a, order.id)
    orders.approve(db, org.supervisor_a, order.id)
    orders.approve(db, org.supervisor_a, order.id, {"carrier": "EMS", "tracking_number": "E1"})
    assert product.stock == 8
    line = order.lines[0]
    refund = orders.request_return(db, org.agent_a, order.id, line.id, 1, "return", "质量问题")
    with pytest.raises(InvalidInput):
        orders.request_return(db, org.agent_a, order.id, line.id, 2, "return", "too many")
    swap = orders.request_return(
        db, org.agent_a, order.id, line.id, 1, "exchange", "换款", replacement_product_id=other.id
    )
    with pytest.raises(PermissionDenied):
        orders.decide_return(db, org.agent_a, refund.id, True)
    orders.decide_return(db, org.supervisor_a, refund.id, True)
    orders.decide_return(db, org.supervisor_a, swap.id, True)
    orders.receive_return(db, org.agent_a, refund.id)
    orders.receive_return(db, org.agent_a, swap.id)
    assert refund.refund_amount == Decimal("100") and refund.status == "done"
    assert (product.stock, other.stock, line.returned_quantity) == (10, 4, 1)


def test_pool_claim_and_stale_return(db: Session, org: Org) -> None:
    from datetime import datetime, timedelta

    pooled = Customer(name="无主客户", status="pool")
    db.add(pooled)
    db.flush()
    day0 = datetime(2026, 1, 1)
    customers.claim(db, org.agent_a, pooled.id, now=day0)
    assert (pooled.owner_id, pooled.status) == (org.agent_a.id, "active")
    with pytest.raises(Conflict):
        customers.claim(db, org.agent_b, pooled.id, now=day0)
    customers.add_followup(db, org.agent_a, pooled.id, "电话回访", now=day0 + timedelta(days=20))
    assert customers.return_stale_to_pool(db, 30, now=day0 + timedelta(days=40)) == []
    assert customers.return_stale_to_pool(db, 30, now=day0 + timedelta(days=51)) == [pooled.id]
    db.refresh(pooled)
    assert (pooled.owner_id, pooled.status) == (None, "pool")


def test_merge_moves_everything_to_the_survivor(db: Session, org: Org) -> None:
    survivor = _customer(db, org, "华鑫科技", "13812345678")
    duplicate = _customer(db, org, "华鑫科技有限公司", "+86 138 1234 5678")
    customers.add_phone(db, duplicate.id, "010-62345678")
    db.add(Contact(customer_id=duplicate.id, name="王伟"))
    kind = db.scalar(select(TicketType).where(TicketType.code == "consult"))
    assert kind is not None
    ticket = tickets.open_ticket(db, org.agent_a, {"title": "咨询", "type_id": kind.id, "customer_id": duplicate.id})
    link_call(db, "1700000000.1", customer_id=duplicate.id, user=org.agent_a)
    assert customers.duplicate_groups(db) == [[survivor.id, duplicate.id]]
    with pytest.raises(PermissionDenied):
        customers.merge(db, org.agent_a, survivor.id, [duplicate.id])
    customers.merge(db, org.supervisor_a, survivor.id, [duplicate.id])
    db.refresh(duplicate)
    assert (duplicate.status, duplicate.merged_into_id) == ("merged", survivor.id)
    keys = sorted(db.scalars(select(Phone.key).where(Phone.customer_id == survivor.id)))
    assert keys == ["+861062345678", "+8613812345678"]
    assert db.scalar(select(Contact.customer_id)) == survivor.id
    db.refresh(ticket)
    assert ticket.customer_id == survivor.id
    assert [c["call_id"] for c in customer_calls(db, survivor.id)] == ["1700000000.1"]
    assert db.scalar(select(CallLink.customer_id)) == survivor.id


def test_transfer_needs_the_permission_and_moves_department(db: Session, org: Org) -> None:
    customer = _customer(db, org)
    with pytest.raises(PermissionDenied):
        customers.transfer(db, org.agent_a, [customer.id], org.agent_b.id)
    assert customers.transfer(db, org.admin, [customer.id], org.agent_b.id) == 1
    db.refresh(customer)
    assert (customer.owner_id, customer.department_id) == (org.agent_b.id, org.dept_b.id)


def test_call_link_takes_the_customer_from_the_ticket(db: Session, org: Org) -> None:
    customer = _customer(db, org)
    ticket = Ticket(title="t", type_id=1, customer_id=customer.id, department_id=org.dept_a.id)
    db.add(ticket)
    db.flush()
    link = link_call(db, "1700000001.7", ticket_id=ticket.id, user=org.agent_a)
    assert (link.customer_id, link.ticket_id) == (customer.id, ticket.id)
    again = link_call(db, "1700000001.7", customer_id=customer.id, order_id=None, user=org.agent_a)
    assert again.id == link.id

"""Caller lookup on SQLite and PostgreSQL: same customer for every caller-ID form, no N+1."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session

from crm_core.lookup import lookup, lookup_in_steps
from crm_core.models import Contact, Customer, Order, Ticket
from crm_core.phone import lookup_keys
from crm_core.services.calls import link_call
from crm_core.services.customers import add_phone

pytest_plugins = ["crm_core.testing"]

MOBILE_FORMS = ["13812345678", "+86 138 1234 5678", "008613812345678"]
LANDLINE_FORMS = ["010-62345678", "01062345678", "+861062345678"]


@pytest.fixture
def session(any_db: Session) -> Session:
    """Every test here runs on SQLite and on PostgreSQL."""
    return any_db


def _populate(db: Session) -> tuple[Customer, Contact]:
    customer = Customer(name="北京恒达科技有限公司", status="active")
    other = Customer(name="无关客户", status="active")
    db.add_all([customer, other])
    db.flush()
    contact = Contact(customer_id=customer.id, name="王伟", position="采购经理")
    db.add(contact)
    db.flush()
    add_phone(db, customer.id, "010-62345678-801")
    add_phone(db, customer.id, "+86 138 1234 5678", contact_id=contact.id)
    add_phone(db, other.id, "13900000000")
    db.add(Ticket(title="投诉", type_id=1, customer_id=customer.id, status="open"))
    db.add(Ticket(title="已办结", type_id=1, customer_id=customer.id, status="closed"))
    db.add(Order(number="SO1", customer_id=customer.id, status="completed"))
    db.flush()
    link_call(db, "1700000000.42", customer_id=customer.id)
    db.commit()
    return customer, contact


@pytest.mark.parametrize("number", MOBILE_FORMS + LANDLINE_FORMS)
def test_every_form_finds_the_same_customer(session: Session, number: str) -> None:
    customer, contact = _populate(session)
    found = lookup(session, number)
    assert found.customer is not None and found.customer["id"] == customer.id
    assert [c["id"] for c in found.candidates] == [customer.id]
    assert [t["title"] for t in found.open_tickets] == ["投诉"]
    assert [o["number"] for o in found.recent_orders] == ["SO1"]
    assert [c["call_id"] for c in found.recent_calls] == ["1700000000.42"]
    if number in MOBILE_FORMS:
        assert found.contact is not None and found.contact["id"] == contact.id


def test_unknown_and_garbage_numbers_find_nothing(session: Session) -> None:
    _populate(session)
    assert lookup(session, "13700000000").candidates == []
    assert lookup(session, "not a number").normalized == ""


def test_shared_number_gives_candidates_in_a_fixed_number_of_queries(session: Session) -> None:
    for i in range(12):
        customer = Customer(name=f"同号客户{i}", status="active")
        session.add(customer)
        session.flush()
        add_phone(session, customer.id, "4008001234")
        session.add(Ticket(title=f"t{i}", type_id=1, customer_id=customer.id, status="open"))
    session.commit()
    statements: list[str] = []
    engine = session.get_bind()
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    try:
        found = lookup(session, "400-800-1234", limit=10)
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    assert found.customer is None and len(found.candidates) == 10
    assert len(found.open_tickets) == 5
    assert len(statements) <= 3


def test_on_postgresql_a_lookup_is_one_statement_with_the_stepwise_answer(session: Session) -> None:
    customer, _ = _populate(session)
    session.add(Order(number="SO2", customer_id=customer.id, status="completed", total=Decimal("12.50")))
    session.add(Ticket(title="咨询", type_id=1, customer_id=customer.id, status="in_progress"))
    session.commit()
    statements: list[str] = []
    engine = session.get_bind()
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    try:
        found = lookup(session, "+86 138 1234 5678")
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    stepwise = lookup_in_steps(session, lookup_keys("+86 138 1234 5678", "CN", ""))
    assert found == stepwise
    assert {o["number"]: o["total"] for o in found.recent_orders}["SO2"] == "12.50"
    assert len(found.open_tickets) == 2 and found.recent_calls
    assert len(statements) == (1 if engine.dialect.name == "postgresql" else 3)

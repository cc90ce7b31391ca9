"""Changing an order before approval and ordering an abnormal one again.

A draft (not yet submitted, or sent back to before its first step) may have its lines replaced: priced by
the order rules, the total recomputed, the change in the order's history. An abnormal order (a payment that
did not match, a problem flagged by hand) or a voided one is ordered again as a new draft with the same
customer and lines; the old order stays as it is, with a note in its history pointing at the new one.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from crm_core import audit
from crm_core.errors import Conflict, InvalidInput
from crm_core.models import Order, User
from crm_core.services import orders, records, resources


def edit_lines(session: Session, user: User, order_id: int, lines: list[dict[str, Any]]) -> Order:
    order: Order = records.get_row(session, user, resources.ORDERS, order_id, "update")
    if order.status != orders.DRAFT:
        raise Conflict("只有未提交审批的订单可以修改 only an order not yet submitted for approval can be changed")
    if not lines:
        raise InvalidInput("订单至少需要一行 an order needs at least one line", "lines")
    before = [(ln.product_id, ln.quantity, str(ln.unit_price)) for ln in order.lines]
    priced = [orders._priced_line(session, line) for line in lines]  # the one home of the pricing rule
    order.lines = priced
    order.total = sum((line.amount for line in priced), Decimal("0"))
    session.flush()
    after = [(ln.product_id, ln.quantity, str(ln.unit_price)) for ln in order.lines]
    orders._event(session, order, user, "edit", f"明细修改 lines changed: {before} -> {after}"[:2000])
    audit.record(session, user, "edit", "order", order.id, {"lines": [before, after], "total": str(order.total)})
    return order


def reorder(session: Session, user: User, order_id: int, now: datetime | None = None) -> Order:
    old: Order = records.get_row(session, user, resources.ORDERS, order_id, "read")
    if not old.abnormal and old.status != orders.VOID:
        raise Conflict("只有异常或作废的订单可以重新下单 only an abnormal or voided order is ordered again")
    lines = [{"product_id": ln.product_id, "quantity": ln.quantity, "unit_price": ln.unit_price} for ln in old.lines]
    data = {
        "customer_id": old.customer_id,
        "contact_id": old.contact_id,
        "shipping_address": old.shipping_address,
        "notes": f"重新下单 re-order of {old.number}",
    }
    new = orders.create_order(session, user, data, lines, now)
    orders._event(session, old, user, "reorder", f"重新下单 ordered again as {new.number}", now=now)
    return new

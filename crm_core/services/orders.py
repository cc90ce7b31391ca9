"""Order rules: priced lines, the approval workflow to follow-up, void, abnormal, returns, stock."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm_core import audit
from crm_core.errors import Conflict, InvalidInput, NotFound
from crm_core.messaging import notify
from crm_core.models import (
    Customer,
    Order,
    OrderEvent,
    OrderLine,
    OrderReturn,
    Product,
    StockMovement,
    User,
    Workflow,
    WorkflowStep,
    utcnow,
)
from crm_core.permissions import check, ensure_visible
from crm_core.services import records, resources
from crm_core.services.workflow import ensure_handler, place_of, steps_of

DRAFT, IN_APPROVAL, COMPLETED, VOID, RETURNED = "draft", "in_approval", "completed", "void", "returned"
# Steps whose effect is real (goods left, money came) cannot be undone by sending back.
IRREVERSIBLE = ("shipping", "payment", "receipt")


def _order(session: Session, user: User, order_id: int, action: str = "update") -> Order:
    row: Order = records.get_row(session, user, resources.ORDERS, order_id, action)
    return row


def _current(steps: list[WorkflowStep], order: Order) -> int:
    return place_of(
        steps, order.step_position, "订单所在步骤已不在流程中 the order's step is no longer in its workflow"
    )


def _event(
    session: Session,
    order: Order,
    user: User,
    action: str,
    note: str = "",
    to_step: int | None = None,
    now: datetime | None = None,
) -> None:
    session.add(
        OrderEvent(
            order_id=order.id,
            user_id=user.id,
            action=action,
            from_step=order.step_position,
            to_step=to_step,
            note=note,
            at=now or utcnow(),
        )
    )


def move_stock(
    session: Session,
    user: User | None,
    product_id: int,
    quantity: int,
    reason: str,
    order_id: int | None = None,
    note: str = "",
) -> StockMovement:
    """Change a product's stock by ``quantity`` (signed) and record the movement."""
    product = session.get(Product, product_id)
    if product is None:
        raise InvalidInput("产品不存在 unknown product", "product_id")
    if product.stock + quantity < 0:
        raise Conflict(f"库存不足 not enough stock of {product.name}: {product.stock} left")
    product.stock += quantity
    movement = StockMovement(
        product_id=product_id,
        quantity=quantity,
        reason=reason,
        order_id=order_id,
        user_id=user.id if user else None,
        note=note,
    )
    session.add(movement)
    return movement


def _priced_line(session: Session, line: dict[str, Any]) -> OrderLine:
    product = session.get(Product, line.get("product_id") or 0)
    if product is None or not product.is_active:
        raise InvalidInput("产品不存在或已下架 unknown or inactive product", "lines.product_id")
    quantity = int(line.get("quantity") or 0)
    if quantity <= 0:
        raise InvalidInput("数量须大于 0 quantity must be positive", "lines.quantity")
    price = Decimal(str(line["unit_price"])) if line.get("unit_price") is not None else product.price
    if product.price_ceiling and not product.price_floor <= price <= product.price_ceiling:
        raise InvalidInput(
            f"{product.name} 单价须在 {product.price_floor} 至 {product.price_ceiling} 之间 "
            "price outside the allowed range",
            "lines.unit_price",
        )
    return OrderLine(product_id=product.id, quantity=quantity, unit_price=price, amount=price * quantity)


def _next_number(session: Session, now: datetime) -> str:
    prefix = now.strftime("SO%Y%m%d")
    count = session.scalar(select(func.count(Order.id)).where(Order.number.startswith(prefix))) or 0
    return f"{prefix}{count + 1:05d}"


def create_order(
    session: Session,
    user: User,
    data: dict[str, Any],
    lines: list[dict[str, Any]],
    now: datetime | None = None,
) -> Order:
    check(user, "order", "create")
    now = now or utcnow()
    customer = session.get(Customer, data.get("customer_id") or 0)
    if customer is None:
        raise InvalidInput("客户不存在 unknown customer", "customer_id")
    ensure_visible(session, user, Customer, customer.id)
    if not lines:
        raise InvalidInput("订单至少需要一行 an order needs at least one line", "lines")
    workflow_id = data.get("workflow_id") or session.scalar(
        select(Workflow.id).where(Workflow.kind == "order").order_by(Workflow.id)
    )
    priced = [_priced_line(session, line) for line in lines]
    order = Order(
        **{k: v for k, v in data.items() if k not in ("workflow_id", "status", "number")},
        number=_next_number(session, now),
        workflow_id=workflow_id,
        status=DRAFT,
        owner_id=data.get("owner_id") or user.id,
        department_id=data.get("department_id") or user.department_id,
        lines=priced,
        total=sum((line.amount for line in priced), Decimal("0")),
        created_at=now,
    )
    session.add(order)
    session.flush()
    _event(session, order, user, "create", now=now)
    audit.record(session, user, "create", "order", order.id, {"number": order.number, "total": order.total})
    return order


def submit(session: Session, user: User, order_id: int, now: datetime | None = None) -> Order:
    order = _order(session, user, order_id)
    if order.status != DRAFT:
        raise Conflict("只有草稿订单可以提交 only a draft can be submitted")
    first = steps_of(session, order.workflow_id)[0]
    _event(session, order, user, "submit", to_step=first.position, now=now)
    order.status, order.step_position = IN_APPROVAL, first.position
    notify.order_step(session, order, "submit")  # service messages (templates with trigger order.submit)
    return order


def _apply_step(session: Session, user: User, order: Order, action: str, fields: dict[str, Any], now: datetime) -> None:
    if action == "shipping":
        if not fields.get("carrier") or not fields.get("tracking_number"):
            raise InvalidInput("发货须填写承运商和运单号 carrier and tracking number are required", "tracking_number")
        for line in order.lines:
            move_stock(session, user, line.product_id, -line.quantity, "shipment", order.id)
        order.carrier, order.tracking_number = (
            str(fields["carrier"])[:50],
            str(fields["tracking_number"])[:50],
        )
        order.shipped_at = now
    elif action == "payment":
        amount = Decimal(str(fields.get("paid_amount") or "0"))
        if amount <= 0:
            raise InvalidInput("请填写收款金额 the amount received is required", "paid_amount")
        order.paid_amount, order.paid_at = amount, now
        if amount != order.total:
            order.abnormal = True
            order.abnormal_reason = f"收款 {amount} 与订单金额 {order.total} 不符 amount differs from total"
    elif action == "receipt":
        order.received_at = now
    elif action == "followup":
        if not fields.get("note"):
            raise InvalidInput("回访须填写记录 a follow-up note is required", "note")
        order.followup_note = str(fields["note"])


def approve(
    session: Session,
    user: User,
    order_id: int,
    fields: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> Order:
    """The current step's handler completes it (shipping needs carrier and tracking number, ...)."""
    now, fields = now or utcnow(), fields or {}
    order = _order(session, user, order_id)
    if order.status != IN_APPROVAL:
        raise Conflict("订单不在审批中 the order is not in approval")
    steps = steps_of(session, order.workflow_id)
    here = _current(steps, order)
    step = steps[here]
    ensure_handler(user, step, "order")
    _apply_step(session, user, order, step.action, fields, now)
    notify.order_step(session, order, step.action)  # e.g. "shipped, tracking number ..." on order.shipping
    nxt = steps[here + 1] if here + 1 < len(steps) else None
    _event(
        session,
        order,
        user,
        step.action or "approve",
        str(fields.get("note", "")),
        nxt.position if nxt else None,
        now,
    )
    if nxt is None:
        order.status = COMPLETED
    else:
        order.step_position = nxt.position
    return order


def send_back(session: Session, user: User, order_id: int, note: str, now: datetime | None = None) -> Order:
    if not note.strip():
        raise InvalidInput("退回须填写原因 a reason is required to send back", "note")
    order = _order(session, user, order_id)
    if order.status != IN_APPROVAL:
        raise Conflict("订单不在审批中 the order is not in approval")
    steps = steps_of(session, order.workflow_id)
    here = _current(steps, order)
    ensure_handler(user, steps[here], "order")
    if here == 0:
        _event(session, order, user, "return", note, None, now)
        order.status = DRAFT
        return order
    back = steps[here - 1]
    if back.action in IRREVERSIBLE:
        raise Conflict("已发货或已收款的步骤不能退回，请走退换货 a done shipping/payment step cannot be undone")
    _event(session, order, user, "return", note, back.position, now)
    order.step_position = back.position
    return order


def void(session: Session, user: User, order_id: int, reason: str, now: datetime | None = None) -> Order:
    order = _order(session, user, order_id)
    if order.shipped_at is not None or order.status in (VOID, COMPLETED, RETURNED):
        raise Conflict("已发货或已完成的订单不能作废 a shipped or finished order cannot be voided")
    if not reason.strip():
        raise InvalidInput("作废须填写原因 a reason is required", "reason")
    _event(session, order, user, "void", reason, None, now)
    order.status, order.void_reason = VOID, reason
    notify.order_step(session, order, "void")
    return order


def mark_abnormal(session: Session, user: User, order_id: int, reason: str, abnormal: bool = True) -> Order:
    order = _order(session, user, order_id)
    order.abnormal, order.abnormal_reason = abnormal, reason if abnormal else ""
    _event(session, order, user, "abnormal" if abnormal else "normal", reason)
    return order


def request_return(
    session: Session,
    user: User,
    order_id: int,
    line_id: int,
    quantity: int,
    kind: str,
    reason: str,
    replacement_product_id: int | None = None,
) -> OrderReturn:
    """Ask to return (refund) or exchange ``quantity`` units of one shipped order line."""
    order = _order(session, user, order_id)
    if order.shipped_at is None:
        raise Conflict("订单尚未发货，请直接作废 the order has not shipped: void it instead")
    line = next((ln for ln in order.lines if ln.id == line_id), None)
    if line is None:
        raise InvalidInput("订单行不存在 unknown order line", "order_line_id")
    if kind not in ("return", "exchange"):
        raise InvalidInput("类型须为 return 或 exchange kind must be return or exchange", "kind")
    pending = (
        session.scalar(
            select(func.coalesce(func.sum(OrderReturn.quantity), 0)).where(
                OrderReturn.order_line_id == line_id, OrderReturn.status.in_(("requested", "approved"))
            )
        )
        or 0
    )
    if quantity <= 0 or quantity > line.quantity - line.returned_quantity - pending:
        raise InvalidInput("退换数量超出可退数量 quantity exceeds what can be returned", "quantity")
    if kind == "exchange" and session.get(Product, replacement_product_id or 0) is None:
        raise InvalidInput("换货须指定新产品 an exchange needs a replacement product", "replacement_product_id")
    row = OrderReturn(
        order_id=order.id,
        order_line_id=line.id,
        kind=kind,
        quantity=quantity,
        reason=reason,
        replacement_product_id=replacement_product_id if kind == "exchange" else None,
        refund_amount=line.unit_price * quantity if kind == "return" else Decimal("0"),
        created_by=user.id,
    )
    session.add(row)
    session.flush()
    _event(session, order, user, f"{kind}_requested", reason)
    return row


def decide_return(session: Session, user: User, return_id: int, accept: bool, note: str = "") -> OrderReturn:
    check(user, "order", "approve")
    row = session.get(OrderReturn, return_id)
    if row is None:
        raise NotFound(f"退换货单不存在 return not found: {return_id}")
    order = _order(session, user, row.order_id)
    if row.status != "requested":
        raise Conflict("该退换货已处理 the return was already decided")
    row.status = "approved" if accept else "rejected"
    _event(session, order, user, f"{row.kind}_{row.status}", note)
    return row


def receive_return(session: Session, user: User, return_id: int) -> OrderReturn:
    """Goods came back: stock in, and for an exchange the replacement goes out."""
    row = session.get(OrderReturn, return_id)
    if row is None:
        raise NotFound(f"退换货单不存在 return not found: {return_id}")
    order = _order(session, user, row.order_id)
    if row.status != "approved":
        raise Conflict("退换货未批准 the return is not approved")
    line = next(ln for ln in order.lines if ln.id == row.order_line_id)
    move_stock(session, user, line.product_id, row.quantity, row.kind, order.id)
    if row.kind == "exchange" and row.replacement_product_id is not None:
        move_stock(session, user, row.replacement_product_id, -row.quantity, "exchange", order.id)
    else:
        line.returned_quantity += row.quantity
    row.status = "done"
    if all(ln.returned_quantity >= ln.quantity for ln in order.lines):
        order.status = RETURNED
    _event(session, order, user, f"{row.kind}_received")
    return row


def history(session: Session, user: User, order_id: int) -> list[OrderEvent]:
    _order(session, user, order_id, "read")
    return list(session.scalars(select(OrderEvent).where(OrderEvent.order_id == order_id).order_by(OrderEvent.id)))

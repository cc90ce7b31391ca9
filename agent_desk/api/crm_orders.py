"""Order routes: products, categories, suppliers, stock, orders with their approval workflow, returns."""

from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from agent_desk.api.crm_crud import crm_router, crud_router
from agent_desk.deps import current_user, get_session, require
from crm_core.models import Order, OrderEvent, OrderLine, OrderReturn, StockMovement, User
from crm_core.schemas import PlainText, output_schema
from crm_core.services import orders as svc
from crm_core.services import records
from crm_core.services import resources as res

LineOut = output_schema(OrderLine)
EventOut = output_schema(OrderEvent)
ReturnOut = output_schema(OrderReturn)
MovementOut = output_schema(StockMovement)
OrderOut = output_schema(Order, name="OrderOut")


class OrderWithLines(OrderOut):  # type: ignore[valid-type,misc]
    lines: list[LineOut] = Field(default_factory=list)  # type: ignore[valid-type]


class LineIn(BaseModel):
    product_id: int
    quantity: int = Field(gt=0, le=1_000_000)
    unit_price: Decimal | None = Field(None, ge=0, max_digits=14, decimal_places=2)


class OrderIn(BaseModel):
    customer_id: int
    contact_id: int | None = None
    shipping_address: PlainText = Field("", max_length=300)
    notes: PlainText = Field("", max_length=5000)
    lines: list[LineIn] = Field(min_length=1, max_length=200)


class StepIn(BaseModel):
    note: PlainText = Field("", max_length=5000)
    carrier: PlainText = Field("", max_length=50)
    tracking_number: PlainText = Field("", max_length=50)
    paid_amount: Decimal | None = Field(None, ge=0, max_digits=14, decimal_places=2)


class ReasonIn(BaseModel):
    reason: PlainText = Field(min_length=1, max_length=300)


class AbnormalIn(BaseModel):
    abnormal: bool = True
    reason: PlainText = Field("", max_length=300)


class ReturnIn(BaseModel):
    order_line_id: int
    quantity: int = Field(gt=0, le=1_000_000)
    kind: str = Field(pattern="^(return|exchange)$")
    reason: PlainText = Field("", max_length=300)
    replacement_product_id: int | None = None


class DecisionIn(BaseModel):
    accept: bool
    note: PlainText = Field("", max_length=300)


class StockIn(BaseModel):
    product_id: int
    quantity: int = Field(ge=-1_000_000, le=1_000_000)
    reason: str = Field("adjust", pattern="^(purchase|adjust)$")
    note: PlainText = Field("", max_length=300)


orders = crm_router("/orders", "orders")


def _out(order: Order) -> Any:
    return OrderWithLines.model_validate(order)


@orders.post("", response_model=OrderWithLines, status_code=201, summary="Create an order (draft)")
def create(body: OrderIn, user: User = Depends(current_user), session: Session = Depends(get_session)) -> Any:
    data = body.model_dump(exclude={"lines"})
    order = svc.create_order(session, user, data, [line.model_dump() for line in body.lines])
    session.commit()
    return _out(order)


@orders.get("/{order_id}/full", response_model=OrderWithLines, summary="An order with its lines")
def full(order_id: int, user: User = Depends(current_user), session: Session = Depends(get_session)) -> Any:
    return _out(records.get_row(session, user, res.ORDERS, order_id))


@orders.post("/{order_id}/submit", response_model=OrderWithLines, summary="Submit a draft for approval")
def submit(order_id: int, user: User = Depends(current_user), session: Session = Depends(get_session)) -> Any:
    order = svc.submit(session, user, order_id)
    session.commit()
    return _out(order)


@orders.post(
    "/{order_id}/approve",
    response_model=OrderWithLines,
    summary="Complete the current step (shipping: carrier and tracking number; payment: amount)",
)
def approve(
    order_id: int, body: StepIn, user: User = Depends(current_user), session: Session = Depends(get_session)
) -> Any:
    order = svc.approve(session, user, order_id, body.model_dump(exclude_none=True))
    session.commit()
    return _out(order)


@orders.post("/{order_id}/return", response_model=OrderWithLines, summary="Send back one step")
def send_back(
    order_id: int, body: StepIn, user: User = Depends(current_user), session: Session = Depends(get_session)
) -> Any:
    order = svc.send_back(session, user, order_id, body.note)
    session.commit()
    return _out(order)


@orders.post("/{order_id}/void", response_model=OrderWithLines, summary="Void an order not yet shipped")
def void(
    order_id: int, body: ReasonIn, user: User = Depends(current_user), session: Session = Depends(get_session)
) -> Any:
    order = svc.void(session, user, order_id, body.reason)
    session.commit()
    return _out(order)


@orders.post("/{order_id}/abnormal", response_model=OrderWithLines, summary="Flag or clear an abnormal order")
def abnormal(
    order_id: int,
    body: AbnormalIn,
    user: User = Depends(current_user),
    session: Session = Depends(get_session),
) -> Any:
    order = svc.mark_abnormal(session, user, order_id, body.reason, body.abnormal)
    session.commit()
    return _out(order)


@orders.get("/{order_id}/history", response_model=list[EventOut], summary="Full history")  # type: ignore[valid-type]
def history(order_id: int, user: User = Depends(current_user), session: Session = Depends(get_session)) -> Any:
    return [EventOut.model_validate(e) for e in svc.history(session, user, order_id)]


@orders.post("/{order_id}/returns", response_model=ReturnOut, status_code=201, summary="Request a return/exchange")
def request_return(
    order_id: int, body: ReturnIn, user: User = Depends(current_user), session: Session = Depends(get_session)
) -> Any:
    row = svc.request_return(
        session,
        user,
        order_id,
        body.order_line_id,
        body.quantity,
        body.kind,
        body.reason,
        body.replacement_product_id,
    )
    session.commit()
    return ReturnOut.model_validate(row)


returns = crm_router("/order-returns", "orders")


@returns.post("/{return_id}/decide", response_model=ReturnOut, summary="Approve or reject a return")
def decide(
    return_id: int,
    body: DecisionIn,
    user: User = Depends(current_user),
    session: Session = Depends(get_session),
) -> Any:
    row = svc.decide_return(session, user, return_id, body.accept, body.note)
    session.commit()
    return ReturnOut.model_validate(row)


@returns.post("/{return_id}/receive", response_model=ReturnOut, summary="Goods received back: stock moves")
def receive(return_id: int, user: User = Depends(current_user), session: Session = Depends(get_session)) -> Any:
    row = svc.receive_return(session, user, return_id)
    session.commit()
    return ReturnOut.model_validate(row)


stock = crm_router("/stock-movements", "orders")


@stock.post("", response_model=MovementOut, status_code=201, summary="Goods in or a stock correction")
def move(
    body: StockIn, user: User = Depends(require("stock", "create")), session: Session = Depends(get_session)
) -> Any:
    row = svc.move_stock(session, user, body.product_id, body.quantity, body.reason, note=body.note)
    session.commit()
    return MovementOut.model_validate(row)


router = APIRouter()
for sub in (orders, returns, stock):
    router.include_router(sub)
router.include_router(crud_router(res.ORDERS, "/orders", "orders", actions=("list", "get")))
router.include_router(crud_router(res.ORDER_RETURNS, "/order-returns", "orders", actions=("list", "get")))
router.include_router(crud_router(res.STOCK_MOVEMENTS, "/stock-movements", "orders", actions=("list", "get")))
router.include_router(crud_router(res.PRODUCTS, "/products", "products"))
router.include_router(crud_router(res.PRODUCT_CATEGORIES, "/product-categories", "products"))
router.include_router(crud_router(res.SUPPLIERS, "/suppliers", "products"))

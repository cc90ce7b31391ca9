"""Quotes (报价) and contracts (合同): create a priced quote, move it through its statuses, make the accepted
quote an order, and each as a printable document."""

from datetime import date
from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from agent_desk.api.crm_crud import crm_router, crud_router
from agent_desk.deps import current_user, get_session
from crm_core.models import Order, Quote, User
from crm_core.schemas import PlainText, output_schema
from crm_core.services import quotes

QuoteOut = output_schema(Quote)
OrderOut = output_schema(Order)

quote_routes = crm_router("/quotes", "sales management")
contract_routes = crm_router("/contracts", "sales management")


class QuoteLineIn(BaseModel):
    product_id: int
    quantity: int = Field(gt=0, le=1_000_000)
    unit_price: float | None = Field(None, ge=0)


class QuoteIn(BaseModel):
    customer_id: int
    opportunity_id: int | None = None
    valid_until: date | None = None
    notes: PlainText = Field("", max_length=2000)
    lines: list[QuoteLineIn] = Field(min_length=1, max_length=200)


class QuoteStatusIn(BaseModel):
    status: str = Field(max_length=20)


@quote_routes.post("", response_model=QuoteOut, status_code=201, summary="Create a quote with priced lines")
def create(body: QuoteIn, user: User = Depends(current_user), session: Session = Depends(get_session)) -> Any:
    data = body.model_dump(exclude={"lines"})
    lines = [line.model_dump() for line in body.lines]
    for line in lines:
        if line["unit_price"] is not None:
            line["unit_price"] = str(line["unit_price"])
    row = quotes.create_quote(session, user, data, lines)
    session.commit()
    return QuoteOut.model_validate(row)


@quote_routes.get("/{quote_id}/document", summary="The quote as it prints: names, lines with products")
def quote_document(
    quote_id: int, user: User = Depends(current_user), session: Session = Depends(get_session)
) -> dict[str, Any]:
    return quotes.quote_document(session, user, quote_id)


@quote_routes.post("/{quote_id}/status", response_model=QuoteOut, summary="Send, accept, reject or reopen")
def set_status(
    quote_id: int, body: QuoteStatusIn, user: User = Depends(current_user), session: Session = Depends(get_session)
) -> Any:
    row = quotes.set_status(session, user, quote_id, body.status)
    session.commit()
    return QuoteOut.model_validate(row)


@quote_routes.post(
    "/{quote_id}/order", response_model=OrderOut, status_code=201, summary="The accepted quote as an order"
)
def to_order(quote_id: int, user: User = Depends(current_user), session: Session = Depends(get_session)) -> Any:
    order = quotes.to_order(session, user, quote_id)
    session.commit()
    return OrderOut.model_validate(order)


@contract_routes.get("/{contract_id}/document", summary="The contract as it prints")
def contract_document(
    contract_id: int, user: User = Depends(current_user), session: Session = Depends(get_session)
) -> dict[str, Any]:
    return quotes.contract_document(session, user, contract_id)


router = APIRouter()
router.include_router(quote_routes)
router.include_router(contract_routes)
READ_ONLY = frozenset({"number", "status", "total", "order_id", "customer_id"})
router.include_router(
    crud_router(
        quotes.QUOTES, "/quotes", "sales management", exclude=READ_ONLY, actions=("list", "get", "update", "delete")
    )
)
router.include_router(crud_router(quotes.CONTRACTS, "/contracts", "sales management", exclude=frozenset({"number"})))

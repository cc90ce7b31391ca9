"""Purchasing and stock routes: supplier documents (create, post, void), stock with alert levels, price
schemes per product, the money ledger and dealers' orders."""

from datetime import date
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from agent_desk.api.crm_crud import crm_router, crud_router
from agent_desk.api.crm_sales import business_zone, period
from agent_desk.deps import current_user, get_session
from crm_core.models import SupplierDocument, User
from crm_core.schemas import PlainText, output_schema
from crm_core.services import purchasing
from crm_core.services.sales_targets import day_bounds

DocumentOut = output_schema(SupplierDocument)

documents = crm_router("/supplier-documents", "purchasing")
stock = crm_router("/stock", "purchasing")
money = crm_router("", "purchasing")


class DocumentLineIn(BaseModel):
    product_id: int
    quantity: int = Field(gt=0, le=1_000_000)
    unit_cost: float = Field(0, ge=0)
    replacement_product_id: int | None = None


class DocumentIn(BaseModel):
    kind: str = Field(max_length=20)
    supplier_id: int
    note: PlainText = Field("", max_length=2000)
    lines: list[DocumentLineIn] = Field(min_length=1, max_length=200)


class ThresholdIn(BaseModel):
    minimum: int | None = Field(None, ge=0, le=10_000_000)


class PricesIn(BaseModel):
    retail: float | None = Field(None, ge=0)
    dealer: float | None = Field(None, ge=0)
    floor: float | None = Field(None, ge=0)


@documents.post("", response_model=DocumentOut, status_code=201, summary="A draft purchase, return or exchange")
def create_document(
    body: DocumentIn, user: User = Depends(current_user), session: Session = Depends(get_session)
) -> Any:
    lines = [line.model_dump() for line in body.lines]
    for line in lines:
        line["unit_cost"] = str(line["unit_cost"])
    row = purchasing.create_document(session, user, body.model_dump(exclude={"lines"}), lines)
    session.commit()
    return DocumentOut.model_validate(row)


@documents.get("/{document_id}/document", summary="The document with its supplier and products by name")
def document(document_id: int, user: User = Depends(current_user), session: Session = Depends(get_session)) -> Any:
    return purchasing.document_view(session, user, document_id)


@documents.post("/{document_id}/post", response_model=DocumentOut, summary="Post: the stock moves")
def post_document(document_id: int, user: User = Depends(current_user), session: Session = Depends(get_session)) -> Any:
    row = purchasing.post_document(session, user, document_id)
    session.commit()
    return DocumentOut.model_validate(row)


@documents.post("/{document_id}/void", response_model=DocumentOut, summary="Void a draft")
def void_document(document_id: int, user: User = Depends(current_user), session: Session = Depends(get_session)) -> Any:
    row = purchasing.void_document(session, user, document_id)
    session.commit()
    return DocumentOut.model_validate(row)


@stock.get("", summary="Every product's stock, alert level and prices per scheme")
def stock_list(user: User = Depends(current_user), session: Session = Depends(get_session)) -> list[dict[str, Any]]:
    return purchasing.stock_list(session, user)


@stock.get("/alerts", summary="Products at or under their alert level")
def alerts(user: User = Depends(current_user), session: Session = Depends(get_session)) -> list[dict[str, Any]]:
    return [vars(a) for a in purchasing.stock_alerts(session, user)]


@stock.put("/{product_id}/threshold", summary="The product's alert level (null: no alert)")
def threshold(
    product_id: int, body: ThresholdIn, user: User = Depends(current_user), session: Session = Depends(get_session)
) -> dict[str, Any]:
    purchasing.set_threshold(session, user, product_id, body.minimum)
    session.commit()
    return {"product_id": product_id, "minimum": body.minimum}


@stock.put("/{product_id}/prices", summary="The product's retail, dealer and floor prices (null: none)")
def prices(
    product_id: int, body: PricesIn, user: User = Depends(current_user), session: Session = Depends(get_session)
) -> dict[str, str]:
    sent = {k: (None if v is None else str(v)) for k, v in body.model_dump(exclude_unset=True).items()}
    saved = purchasing.set_prices(session, user, product_id, sent)
    session.commit()
    return saved


@money.get("/ledger", summary="资金收支明细: payments and refunds of orders in the period, with the balance")
def ledger(
    request: Request,
    start: date = Query(...),
    end: date = Query(...),
    user: User = Depends(current_user),
    session: Session = Depends(get_session),
) -> list[dict[str, Any]]:
    days = period(start, end)
    assert days is not None
    return purchasing.ledger(session, user, *day_bounds(*days, business_zone(request)))


@money.get("/dealer-orders", summary="Dealers' orders in the period, counted and totalled per dealer")
def dealer_orders(
    request: Request,
    start: date = Query(...),
    end: date = Query(...),
    user: User = Depends(current_user),
    session: Session = Depends(get_session),
) -> dict[str, Any]:
    days = period(start, end)
    assert days is not None
    return purchasing.dealer_orders(session, user, *day_bounds(*days, business_zone(request)))


router = APIRouter()
for sub in (documents, stock, money):
    router.include_router(sub)
router.include_router(
    crud_router(purchasing.SUPPLIER_DOCUMENTS, "/supplier-documents", "purchasing", actions=("list", "get"))
)

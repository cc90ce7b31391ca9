"""Quotes (报价) and contracts (合同): a quote prices products for a customer (and an opportunity), is sent,
accepted or rejected, and an accepted quote becomes an order once; a contract records what was signed,
linked to the opportunity, the quote and the order. Both print as a document (``document``)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm_core import audit
from crm_core.errors import Conflict, InvalidInput
from crm_core.models import (
    Contract,
    Customer,
    Opportunity,
    Order,
    Product,
    Quote,
    QuoteLine,
    User,
    utcnow,
)
from crm_core.permissions import check, ensure_visible
from crm_core.services import orders, records
from crm_core.services.records import Resource

DRAFT, SENT, ACCEPTED, REJECTED, ORDERED = "draft", "sent", "accepted", "rejected", "ordered"
# status -> the statuses a person may move a quote to; ``ordered`` is reached only by to_order().
QUOTE_MOVES = {DRAFT: (SENT,), SENT: (ACCEPTED, REJECTED, DRAFT), ACCEPTED: (), REJECTED: (DRAFT,), ORDERED: ()}
CONTRACT_STATUSES = ("draft", "signed", "terminated")


def _opportunity(session: Session, user: User, opportunity_id: int | None, customer_id: int) -> None:
    if opportunity_id is None:
        return
    found = session.get(Opportunity, opportunity_id)
    if found is None:
        raise InvalidInput("商机不存在 unknown opportunity", "opportunity_id")
    ensure_visible(session, user, Opportunity, found.id)
    if found.customer_id != customer_id:
        raise InvalidInput("商机不属于该客户 the opportunity is another customer's", "opportunity_id")


def _number(session: Session, model: Any, prefix: str, now: datetime) -> str:
    stem = now.strftime(f"{prefix}%Y%m%d")
    count = session.scalar(select(func.count(model.id)).where(model.number.startswith(stem))) or 0
    return f"{stem}{count + 1:04d}"


def _quote_before_write(session: Session, user: User, data: dict[str, Any], row: Any | None) -> dict[str, Any]:
    if row is not None and row.status != DRAFT:
        raise Conflict("只有草稿报价可以修改 only a draft quote can be changed")
    if row is not None and "opportunity_id" in data:
        _opportunity(session, user, data["opportunity_id"], row.customer_id)
    return data


QUOTES = Resource("quote", Quote, search=("number", "notes"), before_write=_quote_before_write)


def _priced(session: Session, lines: list[dict[str, Any]]) -> list[QuoteLine]:
    """Lines priced by the order rules (active product, quantity > 0, within the product's price range)."""
    if not lines:
        raise InvalidInput("报价至少需要一行 a quote needs at least one line", "lines")
    out = []
    for line in lines:
        priced = orders._priced_line(session, line)  # the one home of the pricing rule
        out.append(
            QuoteLine(
                product_id=priced.product_id,
                quantity=priced.quantity,
                unit_price=priced.unit_price,
                amount=priced.amount,
            )
        )
    return out


def create_quote(
    session: Session, user: User, data: dict[str, Any], lines: list[dict[str, Any]], now: datetime | None = None
) -> Quote:
    check(user, "quote", "create")
    now = now or utcnow()
    customer = session.get(Customer, data.get("customer_id") or 0)
    if customer is None:
        raise InvalidInput("客户不存在 unknown customer", "customer_id")
    ensure_visible(session, user, Customer, customer.id)
    _opportunity(session, user, data.get("opportunity_id"), customer.id)
    priced = _priced(session, lines)
    quote = Quote(
        number=_number(session, Quote, "QT", now),
        customer_id=customer.id,
        opportunity_id=data.get("opportunity_id"),
        owner_id=user.id,
        department_id=user.department_id,
        status=DRAFT,
        valid_until=data.get("valid_until"),
        notes=str(data.get("notes") or ""),
        lines=priced,
        total=sum((line.amount for line in priced), Decimal("0")),
        created_at=now,
    )
    session.add(quote)
    session.flush()
    audit.record(session, user, "create", "quote", quote.id, {"number": quote.number, "total": quote.total})
    return quote


def set_status(session: Session, user: User, quote_id: int, status: str) -> Quote:
    quote: Quote = records.get_row(session, user, QUOTES, quote_id, "update")
    if status not in QUOTE_MOVES.get(quote.status, ()):
        raise Conflict(
            f"报价不能从 {quote.status} 改为 {status[:20]} a {quote.status} quote cannot become {status[:20]}"
        )
    audit.record(session, user, "status", "quote", quote.id, {"status": [quote.status, status]})
    quote.status = status
    return quote


def to_order(session: Session, user: User, quote_id: int, now: datetime | None = None) -> Order:
    """The accepted quote becomes a draft order with the same lines and prices (once)."""
    quote: Quote = records.get_row(session, user, QUOTES, quote_id, "update")
    if quote.order_id is not None:
        raise Conflict("该报价已转为订单 the quote has become an order already")
    if quote.status != ACCEPTED:
        raise Conflict("只有客户已接受的报价可以转为订单 only an accepted quote becomes an order")
    lines = [{"product_id": ln.product_id, "quantity": ln.quantity, "unit_price": ln.unit_price} for ln in quote.lines]
    order = orders.create_order(
        session,
        user,
        {"customer_id": quote.customer_id, "notes": f"报价 Quote {quote.number}"},
        lines,
        now,
    )
    # the order is the quote's owner's business, whoever converts it (the owner is in the user's scope)
    order.owner_id, order.department_id = quote.owner_id, quote.department_id
    quote.order_id, quote.status = order.id, ORDERED
    for contract in session.scalars(select(Contract).where(Contract.quote_id == quote.id, Contract.order_id.is_(None))):
        contract.order_id = order.id
    audit.record(session, user, "order", "quote", quote.id, {"order_id": order.id, "number": order.number})
    return order


def _contract_before_write(session: Session, user: User, data: dict[str, Any], row: Any | None) -> dict[str, Any]:
    merged = {**(records.row_values(row) if row is not None else {}), **data}
    if merged.get("status", "draft") not in CONTRACT_STATUSES:
        raise InvalidInput(f"状态须为 status must be one of {', '.join(CONTRACT_STATUSES)}", "status")
    if merged.get("status") == "signed" and merged.get("signed_on") is None:
        raise InvalidInput("已签合同须填写签订日期 a signed contract needs its signing date", "signed_on")
    if merged.get("starts_on") and merged.get("ends_on") and merged["ends_on"] < merged["starts_on"]:
        raise InvalidInput("结束日期不能早于开始日期 the contract ends before it starts", "ends_on")
    customer_id = merged.get("customer_id")
    if customer_id is None or session.get(Customer, customer_id) is None:
        raise InvalidInput("客户不存在 unknown customer", "customer_id")
    _opportunity(session, user, merged.get("opportunity_id"), customer_id)
    for key, model in (("quote_id", Quote), ("order_id", Order)):
        if data.get(key) is None:
            continue
        linked: Any = session.get(model, data[key])
        if linked is None:
            raise InvalidInput("关联记录不存在 unknown linked record", key)
        ensure_visible(session, user, model, linked.id)
        if linked.customer_id != customer_id:
            raise InvalidInput("关联记录属于其他客户 the linked record is another customer's", key)
    if row is None:
        data["number"] = _number(session, Contract, "HT", utcnow())
        if not data.get("amount"):
            source = session.get(Quote, data["quote_id"]) if data.get("quote_id") else None
            order = session.get(Order, data["order_id"]) if data.get("order_id") else None
            data["amount"] = source.total if source else order.total if order else Decimal("0")
    if data.get("amount") is not None and Decimal(str(data["amount"])) < 0:
        raise InvalidInput("金额不能为负数 the amount cannot be negative", "amount")
    return data


CONTRACTS = Resource("contract", Contract, search=("number", "title", "terms"), before_write=_contract_before_write)


def _names(session: Session, row: Any) -> dict[str, str]:
    customer = session.get(Customer, row.customer_id)
    owner = session.get(User, row.owner_id) if row.owner_id else None
    opportunity = session.get(Opportunity, row.opportunity_id) if row.opportunity_id else None
    order = session.get(Order, row.order_id) if row.order_id else None
    return {
        "customer_name": customer.name if customer else "",
        "customer_address": customer.address if customer else "",
        "owner_name": (owner.display_name or owner.username) if owner else "",
        "opportunity_title": opportunity.title if opportunity else "",
        "order_number": order.number if order else "",
    }


def quote_document(session: Session, user: User, quote_id: int) -> dict[str, Any]:
    """The quote as it prints: its fields, the names it points at, and each line with its product."""
    quote: Quote = records.get_row(session, user, QUOTES, quote_id)
    lines = []
    for line in quote.lines:
        product = session.get(Product, line.product_id)
        lines.append(
            {
                "product_id": line.product_id,
                "sku": product.sku if product else "",
                "product_name": product.name if product else "",
                "unit": product.unit if product else "",
                "quantity": line.quantity,
                "unit_price": line.unit_price,
                "amount": line.amount,
            }
        )
    return {**records.row_values(quote), **_names(session, quote), "lines": lines}


def contract_document(session: Session, user: User, contract_id: int) -> dict[str, Any]:
    contract: Contract = records.get_row(session, user, CONTRACTS, contract_id)
    quote = session.get(Quote, contract.quote_id) if contract.quote_id else None
    return {**records.row_values(contract), **_names(session, contract), "quote_number": quote.number if quote else ""}

"""Purchasing and stock: supplier documents that move stock when posted, stock alerts under a threshold,
price schemes per product, the money ledger (payments and refunds of orders) and dealers' orders.

Stock moves only through ``orders.move_stock`` (the one place that changes a product's stock and records
the movement): a purchase brings goods in, a return to the supplier takes them out, an exchange takes the
goods out and brings their replacement in.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm_core import audit
from crm_core.errors import Conflict, InvalidInput, NotFound
from crm_core.models import (
    Customer,
    Order,
    OrderReturn,
    Product,
    ProductPrice,
    StockThreshold,
    Supplier,
    SupplierDocument,
    SupplierDocumentLine,
    User,
    utcnow,
)
from crm_core.permissions import check, scope_clause
from crm_core.services.orders import move_stock
from crm_core.services.records import Resource

KINDS = {"purchase": "PO", "supplier_return": "RS", "exchange": "EX"}
SCHEMES = ("retail", "dealer", "floor")
SCHEME_NAMES = {
    "retail": ("零售价", "retail price"),
    "dealer": ("代理价", "dealer price"),
    "floor": ("最低价", "floor price"),
}
DEALER_CATEGORY = "代理商"
CENT = Decimal("0.01")


def _quantity(raw: Any) -> int:
    try:
        quantity = int(raw)
    except (TypeError, ValueError):
        quantity = 0
    if quantity <= 0:
        raise InvalidInput("数量须大于 0 quantity must be positive", "lines.quantity")
    return quantity


def _money(raw: Any, field: str) -> Decimal:
    try:
        value = Decimal(str(raw if raw not in (None, "") else "0"))
    except InvalidOperation as exc:
        raise InvalidInput("金额无效 not an amount", field) from exc
    if value < 0:
        raise InvalidInput("金额不能为负数 an amount cannot be negative", field)
    return value.quantize(Decimal("0.01"))


def _product(session: Session, product_id: Any, field: str) -> Product:
    product = session.get(Product, product_id or 0)
    if product is None:
        raise InvalidInput("产品不存在 unknown product", field)
    return product


def create_document(
    session: Session, user: User, data: dict[str, Any], lines: list[dict[str, Any]], now: datetime | None = None
) -> SupplierDocument:
    """A draft document: nothing moves until it is posted."""
    check(user, "stock", "create")
    now = now or utcnow()
    kind = data.get("kind")
    if kind not in KINDS:
        raise InvalidInput(f"单据类型须为 kind must be one of {', '.join(KINDS)}", "kind")
    if session.get(Supplier, data.get("supplier_id") or 0) is None:
        raise InvalidInput("供应商不存在 unknown supplier", "supplier_id")
    if not lines:
        raise InvalidInput("单据至少需要一行 a document needs at least one line", "lines")
    rows = []
    for line in lines:
        product = _product(session, line.get("product_id"), "lines.product_id")
        quantity = _quantity(line.get("quantity"))
        cost = _money(line.get("unit_cost"), "lines.unit_cost")
        replacement = line.get("replacement_product_id")
        if replacement is not None:
            if kind != "exchange":
                raise InvalidInput(
                    "只有换货单有换回产品 only an exchange has a replacement", "lines.replacement_product_id"
                )
            _product(session, replacement, "lines.replacement_product_id")
        rows.append(
            SupplierDocumentLine(
                product_id=product.id,
                quantity=quantity,
                unit_cost=cost,
                amount=cost * quantity,
                replacement_product_id=replacement,
            )
        )
    stem = now.strftime(f"{KINDS[kind]}%Y%m%d")
    count = session.scalar(select(func.count(SupplierDocument.id)).where(SupplierDocument.number.startswith(stem)))
    document = SupplierDocument(
        number=f"{stem}{(count or 0) + 1:04d}",
        kind=kind,
        supplier_id=data["supplier_id"],
        note=str(data.get("note") or ""),
        created_by=user.id,
        lines=rows,
        total=sum((row.amount for row in rows), Decimal("0")),
        created_at=now,
    )
    session.add(document)
    session.flush()
    audit.record(session, user, "create", "stock", document.id, {"number": document.number, "kind": kind})
    return document


def _document(session: Session, document_id: int) -> SupplierDocument:
    document = session.get(SupplierDocument, document_id)
    if document is None:
        raise NotFound(f"单据不存在 document not found: {document_id}")
    return document


def post_document(session: Session, user: User, document_id: int, now: datetime | None = None) -> SupplierDocument:
    """Post a draft: its stock moves, once (a return or exchange needs the goods in stock)."""
    check(user, "stock", "approve")
    document = _document(session, document_id)
    if document.status != "draft":
        raise Conflict("只有草稿单据可以过账 only a draft document can be posted")
    _ensure_stock(session, document)
    note = f"{document.number}"
    for line in document.lines:
        if document.kind == "purchase":
            move_stock(session, user, line.product_id, line.quantity, "purchase", note=note)
        elif document.kind == "supplier_return":
            move_stock(session, user, line.product_id, -line.quantity, "supplier_return", note=note)
        else:
            move_stock(session, user, line.product_id, -line.quantity, "exchange", note=note)
            incoming = line.replacement_product_id or line.product_id
            move_stock(session, user, incoming, line.quantity, "exchange", note=note)
    document.status, document.posted_by, document.posted_at = "posted", user.id, now or utcnow()
    session.flush()
    audit.record(session, user, "post", "stock", document.id, {"number": document.number})
    return document


def _ensure_stock(session: Session, document: SupplierDocument) -> None:
    """Goods leaving (a return or an exchange) must be in stock, all lines together, before anything moves."""
    if document.kind == "purchase":
        return
    leaving: dict[int, int] = {}
    for line in document.lines:
        leaving[line.product_id] = leaving.get(line.product_id, 0) + line.quantity
    for product_id, quantity in leaving.items():
        product = _product(session, product_id, "lines.product_id")
        if product.stock < quantity:
            raise Conflict(
                f"库存不足 not enough stock of {product.name}: {product.stock} left, {quantity} to send back"
            )


def void_document(session: Session, user: User, document_id: int) -> SupplierDocument:
    check(user, "stock", "approve")
    document = _document(session, document_id)
    if document.status != "draft":
        raise Conflict("已过账的单据不能作废 a posted document cannot be voided")
    document.status = "void"
    audit.record(session, user, "void", "stock", document.id, {"number": document.number})
    return document


# --- stock alerts and price schemes ---------------------------------------------------------------------------


@dataclass(frozen=True)
class StockAlert:
    product_id: int
    sku: str
    name: str
    stock: int
    minimum: int


def set_threshold(session: Session, user: User, product_id: int, minimum: int | None) -> StockThreshold | None:
    """The level at or under which the product's stock raises an alert; ``None`` removes it."""
    check(user, "stock", "update")
    _product(session, product_id, "product_id")
    row = session.scalar(select(StockThreshold).where(StockThreshold.product_id == product_id))
    if minimum is None:
        if row is not None:
            session.delete(row)
        return None
    if minimum < 0:
        raise InvalidInput("预警数量不能为负数 an alert level cannot be negative", "minimum")
    if row is None:
        row = StockThreshold(product_id=product_id, minimum=minimum)
        session.add(row)
    row.minimum = minimum
    session.flush()
    audit.record(session, user, "threshold", "stock", product_id, {"minimum": minimum})
    return row


def stock_alerts(session: Session, user: User) -> list[StockAlert]:
    """Active products whose stock is at or under their alert level, the emptiest first."""
    check(user, "stock", "read")
    rows = session.execute(
        select(Product, StockThreshold.minimum)
        .join(StockThreshold, StockThreshold.product_id == Product.id)
        .where(Product.is_active.is_(True), Product.stock <= StockThreshold.minimum)
        .order_by(Product.stock - StockThreshold.minimum, Product.sku)
    )
    return [StockAlert(p.id, p.sku, p.name, p.stock, minimum) for p, minimum in rows]


def stock_list(session: Session, user: User) -> list[dict[str, Any]]:
    """Every product with its stock, alert level and prices per scheme."""
    check(user, "stock", "read")
    rows = session.execute(select(StockThreshold.product_id, StockThreshold.minimum)).tuples()
    minimums = {product_id: minimum for product_id, minimum in rows}
    prices: dict[int, dict[str, str]] = {}
    for price in session.scalars(select(ProductPrice)):
        prices.setdefault(price.product_id, {})[price.scheme] = str(price.price)
    out = []
    for product in session.scalars(select(Product).order_by(Product.sku)):
        minimum = minimums.get(product.id)
        out.append(
            {
                "id": product.id,
                "sku": product.sku,
                "name": product.name,
                "unit": product.unit,
                "stock": product.stock,
                "minimum": minimum,
                "alert": minimum is not None and product.stock <= minimum,
                "prices": prices.get(product.id, {}),
                "is_active": product.is_active,
            }
        )
    return out


def set_prices(session: Session, user: User, product_id: int, prices: dict[str, Any]) -> dict[str, str]:
    """A product's price per scheme (retail, dealer, floor); an empty value removes the scheme's price.
    The floor may not exceed the dealer price, nor the dealer price the retail price."""
    check(user, "product", "update")
    _product(session, product_id, "product_id")
    unknown = set(prices) - set(SCHEMES)
    if unknown:
        raise InvalidInput(f"价格方案须为 scheme must be one of {', '.join(SCHEMES)}", sorted(unknown)[0])
    existing = {p.scheme: p for p in session.scalars(select(ProductPrice).where(ProductPrice.product_id == product_id))}
    wanted = {s: existing[s].price for s in existing}
    for scheme, raw in prices.items():
        if raw in (None, ""):
            wanted.pop(scheme, None)
        else:
            wanted[scheme] = _money(raw, scheme)
    ladder = [s for s in ("floor", "dealer", "retail") if s in wanted]
    for low, high in itertools.pairwise(ladder):
        if wanted[low] > wanted[high]:
            (low_zh, low_en), (high_zh, high_en) = SCHEME_NAMES[low], SCHEME_NAMES[high]
            raise InvalidInput(f"{low_zh}不能高于{high_zh} the {low_en} is above the {high_en}", low)
    for scheme in SCHEMES:
        row = existing.get(scheme)
        if scheme not in wanted and row is not None:
            session.delete(row)
        elif scheme in wanted and row is None:
            session.add(ProductPrice(product_id=product_id, scheme=scheme, price=wanted[scheme]))
        elif scheme in wanted and row is not None:
            row.price = wanted[scheme]
    session.flush()
    audit.record(session, user, "prices", "product", product_id, {k: str(v) for k, v in wanted.items()})
    return {k: str(v) for k, v in wanted.items()}


# --- the money ledger and dealers' orders ------------------------------------------------------------------


def ledger(session: Session, user: User, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """资金收支明细: money in (an order's payment) and out (a refunded return) in ``[start, end)``, by time,
    for the orders within the user's scope; each entry with the running balance."""
    check(user, "ledger", "read")
    scoped = scope_clause(session, user, Order)
    entries: list[dict[str, Any]] = []
    paid = session.execute(
        select(Order, Customer.name)
        .join(Customer, Customer.id == Order.customer_id)
        .where(scoped, Order.paid_at.is_not(None), Order.paid_at >= start, Order.paid_at < end)
    )
    for order, customer in paid:
        entries.append(_entry(order.paid_at or start, "payment", order, customer, order.paid_amount))
    refunded = session.execute(
        select(OrderReturn, Order, Customer.name)
        .join(Order, Order.id == OrderReturn.order_id)
        .join(Customer, Customer.id == Order.customer_id)
        .where(
            scoped,
            OrderReturn.status == "done",
            OrderReturn.refund_amount > 0,
            OrderReturn.updated_at >= start,
            OrderReturn.updated_at < end,
        )
    )
    for ret, order, customer in refunded:
        entries.append(_entry(ret.updated_at, "refund", order, customer, -ret.refund_amount))
    entries.sort(key=lambda e: (e["at"], e["kind"]))
    balance = Decimal("0")
    for entry in entries:
        balance += Decimal(entry["amount"])
        entry["balance"] = str(balance)
    return entries


def _entry(at: datetime, kind: str, order: Order, customer: str, amount: Decimal) -> dict[str, Any]:
    return {
        "at": at.isoformat(),
        "kind": kind,
        "order_id": order.id,
        "order_number": order.number,
        "customer_name": customer,
        "amount": str(Decimal(amount).quantize(Decimal("0.01"))),
    }


def dealer_orders(session: Session, user: User, start: datetime, end: datetime) -> dict[str, Any]:
    """Orders of dealers (customers of the category 代理商) created in ``[start, end)`` within the user's scope:
    each order, and per dealer their count and total (void orders left out)."""
    check(user, "order", "read")
    rows = session.execute(
        select(Order, Customer.name)
        .join(Customer, Customer.id == Order.customer_id)
        .where(
            scope_clause(session, user, Order),
            Customer.category == DEALER_CATEGORY,
            Order.status != "void",
            Order.created_at >= start,
            Order.created_at < end,
        )
        .order_by(Order.created_at.desc(), Order.id.desc())
    ).all()
    dealers: dict[int, dict[str, Any]] = {}
    for order, name in rows:
        dealer = dealers.setdefault(
            order.customer_id,
            {"customer_id": order.customer_id, "customer_name": name, "orders": 0, "total": Decimal(0)},
        )
        dealer["orders"] += 1
        dealer["total"] += order.total
    return {
        "orders": [
            {
                "id": o.id,
                "number": o.number,
                "customer_id": o.customer_id,
                "customer_name": name,
                "status": o.status,
                "total": str(o.total.quantize(CENT)),
                "created_at": o.created_at.isoformat(),
            }
            for o, name in rows
        ],
        "dealers": [
            {**d, "total": str(d["total"].quantize(CENT))} for d in sorted(dealers.values(), key=lambda d: -d["orders"])
        ],
        "count": len(rows),
    }


SUPPLIER_DOCUMENTS = Resource("stock", SupplierDocument, search=("number", "note"))


def document_view(session: Session, user: User, document_id: int) -> dict[str, Any]:
    """A document with its supplier's name and each line's product."""
    check(user, "stock", "read")
    document = _document(session, document_id)
    supplier = session.get(Supplier, document.supplier_id)
    lines = []
    for line in document.lines:
        product = session.get(Product, line.product_id)
        replacement = session.get(Product, line.replacement_product_id) if line.replacement_product_id else None
        lines.append(
            {
                "product_id": line.product_id,
                "product_name": f"{product.sku} {product.name}" if product else "",
                "quantity": line.quantity,
                "unit_cost": str(line.unit_cost),
                "amount": str(line.amount),
                "replacement_name": f"{replacement.sku} {replacement.name}" if replacement else "",
            }
        )
    values = {c.key: getattr(document, c.key) for c in SupplierDocument.__table__.columns}
    return {**values, "supplier_name": supplier.name if supplier else "", "lines": lines}

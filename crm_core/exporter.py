"""Export customers, tickets and orders (Excel, CSV, TXT; orders optionally one sheet per customer).

Text is kept as text. Headers, sheet names and coded cells (a customer's kind and status, an order's or
ticket's status) are written in the language asked for (``lang``: zh-CN or en); the import reads either
language back. An export takes the list's search (``Search``: the same filters and search text as the
list page, within the user's data scope), so what was searched is what is downloaded; times are written
in the business time zone.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_core.errors import InvalidInput
from crm_core.models import Contact, Customer, OrderLine, Phone, Product, TicketType, User
from crm_core.permissions import check, scope_clause
from crm_core.services import records, resources
from crm_core.services.resources import Resource
from crm_core.sheet_layout import Column, customer_columns, value_name
from crm_core.tabular import FORMATS, write_text, write_xlsx

CHUNK = 5_000


@dataclass(frozen=True)
class Search:
    """What a list page searched: its filters (``field=v``, ``field__in=a,b`` ...) and its search text."""

    filters: Mapping[str, str] = field(default_factory=dict)
    q: str = ""
    timezone: str = ""  # the business time zone times are written in ("" leaves them in UTC)


ALL = Search()


def _scoped(session: Session, user: User | None, resource: Resource, search: Search) -> Any:
    """Rows the user may export that match the list's search (the command line, ``user`` None, sees all)."""
    query: Any = select(resource.model).where(*records.filter_clauses(resource, search.filters))
    found = records.search_clause(resource, search.q)
    if found is not None:
        query = query.where(found)
    if user is None:
        return query
    check(user, resource.name, "export")
    return query.where(scope_clause(session, user, resource.model))


def local_time(value: datetime | None, timezone: str) -> str:
    """A stored (naive UTC) time as the business zone's wall clock, to the minute."""
    if value is None:
        return ""
    if not timezone:
        return str(value)
    return value.replace(tzinfo=UTC).astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M")


def _customer_rows(
    session: Session, user: User | None, columns: list[Column], lang: str = "zh-CN", search: Search = ALL
) -> Iterator[list[str]]:
    owners: dict[int, str] = {uid: name for uid, name in session.execute(select(User.id, User.username))}
    ids_query = _scoped(session, user, resources.CUSTOMERS, search)
    ids_query = ids_query.where(Customer.status != "merged").order_by(Customer.id)
    customers = session.scalars(ids_query).all()
    for start in range(0, len(customers), CHUNK):
        chunk = customers[start : start + CHUNK]
        ids = [c.id for c in chunk]
        phones: dict[tuple[int, int | None], list[str]] = defaultdict(list)
        for customer_id, contact_id, raw in session.execute(
            select(Phone.customer_id, Phone.contact_id, Phone.raw).where(Phone.customer_id.in_(ids)).order_by(Phone.id)
        ):
            phones[(customer_id, contact_id)].append(raw)
        contacts: dict[int, Contact] = {}
        for found in session.scalars(select(Contact).where(Contact.customer_id.in_(ids)).order_by(Contact.id)):
            contacts.setdefault(found.customer_id, found)
        for customer in chunk:
            contact = contacts.get(customer.id)
            yield [value_name(c.key, _value(customer, contact, owners, phones, c.key), lang) for c in columns]


def _value(
    customer: Customer,
    contact: Contact | None,
    owners: dict[int, str],
    phones: dict[tuple[int, int | None], list[str]],
    key: str,
) -> str:
    if key.startswith("custom."):
        return str((customer.custom or {}).get(key.removeprefix("custom."), ""))
    if key == "owner":
        return owners.get(customer.owner_id, "") if customer.owner_id else ""
    if key == "phones":
        return "; ".join(phones.get((customer.id, None), []))
    if key == "contact_name":
        return contact.name if contact else ""
    if key == "contact_position":
        return contact.position if contact else ""
    if key == "contact_phones":
        return "; ".join(phones.get((customer.id, contact.id), [])) if contact else ""
    value = getattr(customer, key)
    return "" if value is None else str(value)


def _in(lang: str, zh: str, en: str) -> str:
    return en if lang == "en" else zh


def export_customers(
    session: Session, user: User | None, fmt: str = "xlsx", lang: str = "zh-CN", search: Search = ALL
) -> bytes:
    if fmt not in FORMATS:
        raise InvalidInput(f"不支持的格式 unsupported format: {fmt[:10]}", "format")
    columns = customer_columns(session)
    header = [c.title(lang) for c in columns]
    rows = _customer_rows(session, user, columns, lang, search)
    if fmt == "xlsx":
        return write_xlsx([(_in(lang, "客户", "Customers"), header, rows)])
    return write_text(header, rows, fmt)


# (zh-CN, en) per column of the order sheet
ORDER_COLUMNS = [
    ("订单号", "Order number"),
    ("客户", "Customer"),
    ("状态", "Status"),
    ("下单时间", "Ordered at"),
    ("产品编号", "SKU"),
    ("产品", "Product"),
    ("数量", "Quantity"),
    ("单价", "Unit price"),
    ("金额", "Amount"),
    ("承运商", "Carrier"),
    ("运单号", "Tracking number"),
]
ORDER_STATUS_NAMES = {
    "draft": ("草稿", "Draft"),
    "in_approval": ("审批中", "In approval"),
    "completed": ("已完成", "Completed"),
    "returned": ("已退货", "Returned"),
    "void": ("已作废", "Void"),
}


def order_header(lang: str) -> list[str]:
    return [_in(lang, zh, en) for zh, en in ORDER_COLUMNS]


def _order_status(code: str, lang: str) -> str:
    names = ORDER_STATUS_NAMES.get(code)
    return _in(lang, *names) if names else code


def _order_rows(
    session: Session, user: User | None, lang: str = "zh-CN", search: Search = ALL
) -> list[tuple[int, str, list[str]]]:
    """(customer id, customer name, row) for every order line the user may export."""
    orders = _scoped(session, user, resources.ORDERS, search).subquery()
    stmt = (
        select(
            orders.c.customer_id,
            Customer.name,
            orders.c.number,
            orders.c.status,
            orders.c.created_at,
            Product.sku,
            Product.name.label("product"),
            OrderLine.quantity,
            OrderLine.unit_price,
            OrderLine.amount,
            orders.c.carrier,
            orders.c.tracking_number,
        )
        .join(OrderLine, OrderLine.order_id == orders.c.id)
        .join(Product, Product.id == OrderLine.product_id)
        .join(Customer, Customer.id == orders.c.customer_id)
        .order_by(orders.c.customer_id, orders.c.created_at, OrderLine.id)
    )
    found = []
    for row in session.execute(stmt):
        customer_id, name, number, status, created_at, *rest = row
        cells = [("" if v is None else str(v)) for v in rest]
        when = local_time(created_at, search.timezone)
        found.append((customer_id, name, [str(number), name, _order_status(str(status), lang), when, *cells]))
    return found


def export_orders(
    session: Session,
    user: User | None,
    fmt: str = "xlsx",
    per_customer: bool = False,
    lang: str = "zh-CN",
    search: Search = ALL,
) -> bytes:
    """Order lines; with ``per_customer`` (Excel only) one sheet per customer."""
    rows = _order_rows(session, user, lang, search)
    header = order_header(lang)
    if fmt != "xlsx":
        if per_customer:
            raise InvalidInput("按客户分表只支持 Excel one sheet per customer needs xlsx", "format")
        return write_text(header, (r for _, _, r in rows), fmt)
    if not per_customer:
        return write_xlsx([(_in(lang, "订单", "Orders"), header, [r for _, _, r in rows])])
    sheets: dict[int, tuple[str, list[list[str]]]] = {}
    for customer_id, name, row in rows:
        sheets.setdefault(customer_id, (name, []))[1].append(row)
    return write_xlsx((name, header, lines) for name, lines in sheets.values())


TICKET_COLUMNS = [
    ("编号", "ID"),
    ("标题", "Title"),
    ("类型", "Type"),
    ("客户", "Customer"),
    ("状态", "Status"),
    ("优先级", "Priority"),
    ("处理人", "Assignee"),
    ("截止时间", "Due at"),
    ("创建时间", "Created at"),
    ("办结时间", "Closed at"),
]
TICKET_STATUS_NAMES = {
    "open": ("待处理", "Open"),
    "in_progress": ("处理中", "In progress"),
    "returned": ("已退回", "Returned"),
    "resolved": ("已办结", "Resolved"),
    "closed": ("已关闭", "Closed"),
}
PRIORITY_NAMES = {
    "low": ("低", "Low"),
    "normal": ("普通", "Normal"),
    "high": ("高", "High"),
    "urgent": ("紧急", "Urgent"),
}


def _named(names: dict[str, tuple[str, str]], code: str, lang: str) -> str:
    found = names.get(code)
    return _in(lang, *found) if found else code


CJK = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uf900-\uffef]")


def in_language(text: str, lang: str) -> str:
    """A bilingual name ("投诉 Complaint") in one language, split as the pages split it; else as it is."""
    last = max((m.end() for m in CJK.finditer(text)), default=0)
    zh, en = text[:last].strip(), text[last:].strip()
    if not zh or not en or not en[0].isascii() or not any(ch.isalpha() for ch in en):
        return text
    return en if lang == "en" else zh


def export_tickets(
    session: Session, user: User | None, fmt: str = "xlsx", lang: str = "zh-CN", search: Search = ALL
) -> bytes:
    """The tickets of the list's search, one row each."""
    if fmt not in FORMATS:
        raise InvalidInput(f"不支持的格式 unsupported format: {fmt[:10]}", "format")
    tickets = _scoped(session, user, resources.TICKETS, search).subquery()
    stmt = (
        select(tickets, TicketType.name.label("type_name"), Customer.name.label("customer_name"), User.username)
        .join(TicketType, TicketType.id == tickets.c.type_id)
        .outerjoin(Customer, Customer.id == tickets.c.customer_id)
        .outerjoin(User, User.id == tickets.c.assignee_id)
        .order_by(tickets.c.id)
    )
    zone = search.timezone
    rows = [
        [
            str(t.id),
            t.title,
            in_language(t.type_name, lang),
            t.customer_name or "",
            _named(TICKET_STATUS_NAMES, t.status, lang),
            _named(PRIORITY_NAMES, t.priority, lang),
            t.username or "",
            local_time(t.due_at, zone),
            local_time(t.created_at, zone),
            local_time(t.closed_at, zone),
        ]
        for t in session.execute(stmt)
    ]
    header = [_in(lang, zh, en) for zh, en in TICKET_COLUMNS]
    if fmt == "xlsx":
        return write_xlsx([(_in(lang, "工单", "Tickets"), header, rows)])
    return write_text(header, rows, fmt)

"""Caller lookup for the screen-pop: one indexed query on the phone index, then batched queries.

Never one query per match: whatever the number of candidates, a lookup runs at most three statements,
all prepared once at import.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

from sqlalchemy import DateTime, Numeric, Select, String, Table, bindparam, literal, null, select, union_all
from sqlalchemy.orm import Session

from crm_core.db import Base
from crm_core.models import CallLink, Contact, Customer, Order, Phone, Ticket
from crm_core.phone import PhoneError, lookup_keys, normalize

OPEN_TICKET_STATES = ("open", "in_progress", "returned")
RECENT = 5


@dataclass
class LookupResult:
    normalized: str
    customer: dict[str, Any] | None = None
    contact: dict[str, Any] | None = None
    candidates: list[dict[str, Any]] = field(default_factory=list)
    open_tickets: list[dict[str, Any]] = field(default_factory=list)
    recent_orders: list[dict[str, Any]] = field(default_factory=list)
    recent_calls: list[dict[str, Any]] = field(default_factory=list)


def plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _rows(result: Any) -> list[dict[str, Any]]:
    return [{key: plain(value) for key, value in row._mapping.items()} for row in result]


CUSTOMER_COLUMNS = (
    Customer.id,
    Customer.name,
    Customer.kind,
    Customer.category,
    Customer.region,
    Customer.level,
    Customer.status,
    Customer.owner_id,
    Customer.department_id,
)

# Statements are built once: a lookup only binds values (building a select costs more than running it).
# Three round trips per lookup: matches with their contacts, tickets and orders together, calls.
MATCHES = (
    select(
        *CUSTOMER_COLUMNS,
        Phone.contact_id,
        Phone.extension.label("phone_extension"),
        Contact.name.label("contact_name"),
        Contact.position.label("contact_position"),
    )
    .join(Customer, Customer.id == Phone.customer_id)
    .outerjoin(Contact, Contact.id == Phone.contact_id)
    .where(Phone.key.in_(bindparam("keys", expanding=True)), Customer.status != "merged")
    .order_by(Phone.customer_id, Phone.contact_id)
    .limit(bindparam("limit"))
)
_NO_TEXT, _NO_TIME, _NO_MONEY = null().cast(String), null().cast(DateTime), null().cast(Numeric(14, 2))
_OPEN_TICKETS = (
    select(
        literal("ticket").label("kind"),
        Ticket.id,
        Ticket.customer_id,
        Ticket.title.label("label"),
        Ticket.status,
        Ticket.priority,
        Ticket.due_at,
        _NO_MONEY.label("total"),
        Ticket.created_at,
    )
    .where(Ticket.customer_id.in_(bindparam("ids", expanding=True)), Ticket.status.in_(OPEN_TICKET_STATES))
    .order_by(Ticket.created_at.desc())
    .limit(RECENT)
    .subquery()
)
_RECENT_ORDERS = (
    select(
        literal("order").label("kind"),
        Order.id,
        Order.customer_id,
        Order.number.label("label"),
        Order.status,
        _NO_TEXT.label("priority"),
        _NO_TIME.label("due_at"),
        Order.total,
        Order.created_at,
    )
    .where(Order.customer_id.in_(bindparam("ids", expanding=True)))
    .order_by(Order.created_at.desc())
    .limit(RECENT)
    .subquery()
)
ACTIVITY = union_all(select(_OPEN_TICKETS), select(_RECENT_ORDERS))
TICKET_KEYS = ("id", "customer_id", "title", "priority", "status", "due_at", "created_at")
ORDER_KEYS = ("id", "customer_id", "number", "status", "total", "created_at")


def _candidates(matches: list[dict[str, Any]], limit: int) -> list[dict[str, Any]]:
    """One entry per customer, in match order, each with the contacts whose number matched."""
    by_customer: dict[int, dict[str, Any]] = {}
    for row in matches:
        contact = {
            "id": row.pop("contact_id"),
            "customer_id": row["id"],
            "name": row.pop("contact_name"),
            "position": row.pop("contact_position"),
        }
        entry = by_customer.setdefault(row["id"], {**row, "contacts": []})
        if contact["id"] is not None:
            entry["contacts"].append(contact)
    return list(by_customer.values())[:limit]


def lookup(session: Session, number: str, region: str = "CN", limit: int = 5, area_code: str = "") -> LookupResult:
    """Customers and contacts whose phone matches ``number``, with their open tickets, orders and calls."""
    try:
        keys = lookup_keys(number, region, area_code)
    except PhoneError:
        return LookupResult(normalized="")
    result = LookupResult(normalized=keys[0])
    conn = session.connection()
    candidates = _candidates(_rows(conn.execute(MATCHES, {"keys": keys, "limit": limit * 4})), limit)
    if not candidates:
        return result
    result.candidates = candidates
    if len(candidates) == 1:
        result.customer = candidates[0]
        result.contact = candidates[0]["contacts"][0] if candidates[0]["contacts"] else None
    customer_ids = [c["id"] for c in candidates]
    for row in _rows(conn.execute(ACTIVITY, {"ids": customer_ids})):
        if row["kind"] == "ticket":
            row["title"] = row["label"]
            result.open_tickets.append({key: row[key] for key in TICKET_KEYS})
        else:
            row["number"] = row["label"]
            result.recent_orders.append({key: row[key] for key in ORDER_KEYS})
    # UNION ALL does not promise to keep each part's order: newest first again here.
    result.open_tickets.sort(key=lambda row: row["created_at"] or "", reverse=True)
    result.recent_orders.sort(key=lambda row: row["created_at"] or "", reverse=True)
    result.recent_calls = calls_for(session, customer_ids, RECENT)
    return result


HISTORY_TABLES = ("stats_calls", "calls")


def call_history_table() -> Table | None:
    """The statistics package's call history table (one row per call), when that package is loaded."""
    for name in HISTORY_TABLES:
        table = Base.metadata.tables.get(name)
        if table is not None and "call_id" in table.columns:
            return table
    return None


@lru_cache(maxsize=4)
def _calls_statement(history: Table | None) -> Select[Any]:
    links: Any = select(
        CallLink.call_id,
        CallLink.pbx,
        CallLink.customer_id,
        CallLink.contact_id,
        CallLink.ticket_id,
        CallLink.order_id,
        CallLink.created_at.label("linked_at"),
    ).where(CallLink.customer_id.in_(bindparam("ids", expanding=True)))
    if history is not None:
        taken = {c.key for c in links.selected_columns} | {"id"}
        extra = [c for c in history.columns if c.key not in taken]
        links = links.add_columns(*extra).outerjoin(history, history.c.call_id == CallLink.call_id)
    return links.order_by(CallLink.created_at.desc()).limit(bindparam("limit"))


def calls_for(session: Session, customer_ids: list[int], limit: int = 50) -> list[dict[str, Any]]:
    """Calls linked to the customers, newest first, with the call history row when one exists."""
    statement = _calls_statement(call_history_table())
    return _rows(session.connection().execute(statement, {"ids": customer_ids, "limit": limit}))


def normalized_key(number: str, region: str = "CN", area_code: str = "") -> str:
    return normalize(number, region, area_code).key

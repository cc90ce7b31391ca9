"""Caller lookup for the screen-pop: the phone index, then the matches' tickets, orders and calls.

On PostgreSQL a lookup is one statement (one round trip): the matches on the normalised phone index are a
CTE, the open tickets, recent orders and linked calls are CTEs over its customers, and every part comes
back as one ``to_jsonb`` row per record. Elsewhere (SQLite, in process: a round trip costs nothing) it runs
three statements: matches, tickets with orders, calls. Never one query per match; statements are built
once at import, and psycopg prepares them on the server after a few runs. ``lookup_as`` (the screen-pop)
also reads who the ringing agent is as the scope rules see him (``crm_core.permissions.Viewer``): on
PostgreSQL as one more part of the same statement, elsewhere one more statement.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    Connection,
    DateTime,
    Numeric,
    Select,
    String,
    Table,
    Text,
    bindparam,
    cast,
    func,
    literal,
    literal_column,
    null,
    select,
    union_all,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql.psycopg import dialect as psycopg_dialect
from sqlalchemy.orm import Session

from crm_core.db import Base
from crm_core.models import CallLink, Contact, Customer, Order, Phone, Ticket
from crm_core.permissions import VIEWER_FACTS, Viewer, viewer_from_facts, viewer_named
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


def _matches(keys: Any) -> Any:
    """Phone index rows whose key is one of ``keys``, with their customer and contact."""
    return (
        select(
            *CUSTOMER_COLUMNS,
            Phone.contact_id,
            Phone.extension.label("phone_extension"),
            Contact.name.label("contact_name"),
            Contact.position.label("contact_position"),
        )
        .join(Customer, Customer.id == Phone.customer_id)
        .outerjoin(Contact, Contact.id == Phone.contact_id)
        .where(keys, Customer.status != "merged")
        .order_by(Phone.customer_id, Phone.contact_id)
        .limit(bindparam("limit"))
    )


# Statements are built once: a lookup only binds values (building a select costs more than running it).
# Stepwise, three round trips per lookup: matches with their contacts, tickets and orders together, calls.
MATCHES = _matches(Phone.key.in_(bindparam("keys", expanding=True)))
_NO_TEXT, _NO_TIME, _NO_MONEY = null().cast(String), null().cast(DateTime), null().cast(Numeric(14, 2))
_BOUND_IDS: Any = bindparam("ids", expanding=True)


def _open_tickets(customers: Any, total: Any = _NO_MONEY) -> Any:
    return (
        select(
            literal("ticket").label("kind"),
            Ticket.id,
            Ticket.customer_id,
            Ticket.title.label("label"),
            Ticket.status,
            Ticket.priority,
            Ticket.due_at,
            total.label("total"),
            Ticket.created_at,
        )
        .where(Ticket.customer_id.in_(customers), Ticket.status.in_(OPEN_TICKET_STATES))
        .order_by(Ticket.created_at.desc())
        .limit(RECENT)
        .subquery()
    )


def _recent_orders(customers: Any, total: Any = Order.total) -> Any:
    return (
        select(
            literal("order").label("kind"),
            Order.id,
            Order.customer_id,
            Order.number.label("label"),
            Order.status,
            _NO_TEXT.label("priority"),
            _NO_TIME.label("due_at"),
            total.label("total"),
            Order.created_at,
        )
        .where(Order.customer_id.in_(customers))
        .order_by(Order.created_at.desc())
        .limit(RECENT)
        .subquery()
    )


ACTIVITY = union_all(select(_open_tickets(_BOUND_IDS)), select(_recent_orders(_BOUND_IDS)))
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
    return lookup_as(session.connection(), number, None, region, limit, area_code)[0]


def lookup_as(
    connection: Connection, number: str, agent: str | None, region: str = "CN", limit: int = 5, area_code: str = ""
) -> tuple[LookupResult, Viewer | None]:
    """``lookup`` and, when ``agent`` is given, who that name stands for as the scope rules see him
    (``crm_core.permissions.Viewer``; None: nobody): on PostgreSQL in the same one statement."""
    try:
        keys = lookup_keys(number, region, area_code)
    except PhoneError:
        return LookupResult(normalized=""), None
    if connection.dialect.name == "postgresql":
        return _lookup_at_once(connection, keys, limit, agent)
    found = _in_steps(connection, keys, limit)
    # an agent's scope matters only for records to cut
    viewer = viewer_named(connection, agent) if agent is not None and found.candidates else None
    return found, viewer


def lookup_in_steps(session: Session, keys: list[str], limit: int = 5) -> LookupResult:
    """The lookup in three statements (matches; tickets and orders; calls), for ``lookup_keys`` ``keys``."""
    return _in_steps(session.connection(), keys, limit)


def _in_steps(conn: Connection, keys: list[str], limit: int) -> LookupResult:
    result = LookupResult(normalized=keys[0])
    candidates = _candidates(_rows(conn.execute(MATCHES, {"keys": keys, "limit": limit * 4})), limit)
    if not candidates:
        return result
    result.candidates = candidates
    if len(candidates) == 1:
        result.customer = candidates[0]
        result.contact = candidates[0]["contacts"][0] if candidates[0]["contacts"] else None
    customer_ids = [c["id"] for c in candidates]
    _activity(result, _rows(conn.execute(ACTIVITY, {"ids": customer_ids})))
    result.recent_calls = _calls_on(conn, customer_ids, RECENT)
    return result


def _activity(result: LookupResult, rows: list[dict[str, Any]]) -> None:
    for row in rows:
        if row["kind"] == "ticket":
            row["title"] = row["label"]
            result.open_tickets.append({key: row[key] for key in TICKET_KEYS})
        else:
            row["number"] = row["label"]
            result.recent_orders.append({key: row[key] for key in ORDER_KEYS})
    # UNION ALL does not promise to keep each part's order: newest first again here.
    result.open_tickets.sort(key=lambda row: row["created_at"] or "", reverse=True)
    result.recent_orders.sort(key=lambda row: row["created_at"] or "", reverse=True)


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
    return _calls_select(history, _BOUND_IDS).limit(bindparam("limit"))


def _calls_select(history: Table | None, customers: Any) -> Select[Any]:
    links: Any = select(
        CallLink.call_id,
        CallLink.pbx,
        CallLink.customer_id,
        CallLink.contact_id,
        CallLink.ticket_id,
        CallLink.order_id,
        CallLink.created_at.label("linked_at"),
    ).where(CallLink.customer_id.in_(customers))
    if history is not None:
        taken = {c.key for c in links.selected_columns} | {"id"}
        extra = [c for c in history.columns if c.key not in taken]
        links = links.add_columns(*extra).outerjoin(history, history.c.call_id == CallLink.call_id)
    return links.order_by(CallLink.created_at.desc())


def _one_statement(history: Table | None, viewer: bool) -> Any:
    """The whole lookup as one PostgreSQL statement: ``(part, to_jsonb(row))`` rows, part m/a/c (and v).

    The parts are the stepwise lookup's statements over the matched customers (a CTE) instead of a
    bound list; money is cast to text so ``to_jsonb`` keeps its digits (12.50, not 12.5). The keys are
    one array parameter (``= ANY``), so the statement's text is the same for every lookup. With
    ``viewer``, part v is ``VIEWER_FACTS`` of the user named by the ``agent`` parameter (the screen-pop's
    ringing agent): his scope comes back in the same round trip."""
    matches = _matches(Phone.key == func.any(bindparam("keys", type_=ARRAY(String)))).cte("m")
    ids = select(matches.c.id).distinct().order_by(matches.c.id).limit(bindparam("n_customers")).cte("ids")
    customers = select(ids.c.id).scalar_subquery()
    activity = union_all(
        select(_open_tickets(customers, cast(_NO_MONEY, Text))),
        select(_recent_orders(customers, cast(Order.total, Text))),
    ).cte("a")
    calls = _calls_select(history, customers).limit(RECENT).cte("c")
    parts = [("m", matches), ("a", activity), ("c", calls)]
    if viewer:
        parts.append(("v", VIEWER_FACTS.cte("v")))
    return union_all(
        *(
            select(literal(name).label("part"), func.to_jsonb(literal_column(name)).label("row")).select_from(part)
            for name, part in parts
        )
    )


@lru_cache(maxsize=8)
def _one_statement_sql(history: Table | None, viewer: bool) -> tuple[str, dict[str, Any]]:
    """The statement compiled once, and its constant parameters: a lookup only binds keys, limits (and the
    agent) and hands the text to the driver (psycopg prepares it on the server after a few runs)."""
    compiled = _one_statement(history, viewer).compile(dialect=psycopg_dialect())
    # keys and limits are bound at each lookup; the fixed lists (ticket states) are rendered here
    bound = {"keys": [], "limit": 0, "n_customers": 0, **({"agent": ""} if viewer else {})}
    expanded = compiled.construct_expanded_state(bound)
    return expanded.statement, dict(expanded.parameters)


def _iso(value: Any) -> Any:
    """A timestamp as ``to_jsonb`` writes it, in the form the stepwise lookup gives (``isoformat()``)."""
    if isinstance(value, str) and len(value) >= 19 and value[10] == "T":
        try:
            return datetime.fromisoformat(value).isoformat()
        except ValueError:
            return value
    return value


def _lookup_at_once(
    conn: Connection, keys: list[str], limit: int, agent: str | None
) -> tuple[LookupResult, Viewer | None]:
    result = LookupResult(normalized=keys[0])
    sql, constants = _one_statement_sql(call_history_table(), agent is not None)
    params = {**constants, "keys": keys, "limit": limit * 4, "n_customers": limit}
    if agent is not None:
        params["agent"] = agent
    matches: list[dict[str, Any]] = []
    activity: list[dict[str, Any]] = []
    calls: list[dict[str, Any]] = []
    facts: list[tuple[str, str]] = []
    for part, row in conn.exec_driver_sql(sql, params):
        if part == "v":
            facts.append((row["fact"], row["value"]))
            continue
        row = {key: _iso(value) for key, value in row.items()}
        (matches if part == "m" else activity if part == "a" else calls).append(row)
    viewer = viewer_from_facts(facts) if agent is not None else None
    matches.sort(key=lambda r: (r["id"], r["contact_id"] is None, r["contact_id"] or 0))
    candidates = _candidates(matches, limit)
    if not candidates:
        return result, viewer
    result.candidates = candidates
    if len(candidates) == 1:
        result.customer = candidates[0]
        result.contact = candidates[0]["contacts"][0] if candidates[0]["contacts"] else None
    _activity(result, activity)
    calls.sort(key=lambda r: r["linked_at"] or "", reverse=True)
    result.recent_calls = calls
    return result, viewer


def calls_for(session: Session, customer_ids: list[int], limit: int = 50) -> list[dict[str, Any]]:
    """Calls linked to the customers, newest first, with the call history row when one exists."""
    return _calls_on(session.connection(), customer_ids, limit)


def _calls_on(conn: Connection, customer_ids: list[int], limit: int) -> list[dict[str, Any]]:
    statement = _calls_statement(call_history_table())
    return _rows(conn.execute(statement, {"ids": customer_ids, "limit": limit}))


def normalized_key(number: str, region: str = "CN", area_code: str = "") -> str:
    return normalize(number, region, area_code).key

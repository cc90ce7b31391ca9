"""Permission checks and data scope: which rows of a resource a user may see and change, in one place.

A role grants actions per resource and carries a data scope (own / department / department and
below / all); a user gets the union of the grants and the broadest scope of their roles.

Every table the API exposes is declared here exactly once: either with a :class:`ScopeRule` (how its
rows belong to an owner or a department, directly or through a parent row) in ``SCOPE_RULES``, or in
``SHARED_TABLES`` with the reason it belongs to no department (catalogues, configuration). The same
rules reach the people and extensions a user may act on (``agent_identities``, ``ensure_agent``), the
calls he may see (``ensure_call``), seats (``ensure_seat``) and the screen-pop (``visible_lookup``), so
that the REST routes, the websocket, the exports and the reports answer alike.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, false, or_, select, true
from sqlalchemy.orm import Session

from crm_core.errors import NotFound, PermissionDenied
from crm_core.models import (
    Announcement,
    Attachment,
    AuditEntry,
    CallLink,
    Contact,
    Customer,
    CustomFieldDef,
    DataScope,
    Department,
    DictionaryItem,
    FollowUp,
    KbArticle,
    KbCategory,
    Opportunity,
    OpportunityStage,
    Order,
    OrderEvent,
    OrderLine,
    OrderReturn,
    PauseReason,
    Permission,
    Phone,
    Product,
    ProductCategory,
    Role,
    Seat,
    StockMovement,
    Supplier,
    Ticket,
    TicketEvent,
    TicketType,
    User,
    Workflow,
    WorkflowStep,
)

ACTIONS = ("read", "create", "update", "delete", "export", "import", "approve", "claim", "transfer", "merge")
OUTSIDE_SCOPE = "不在数据权限范围内 outside your data scope"


@dataclass(frozen=True)
class ScopeRule:
    """How a table's rows belong to someone: owner columns, a department column, or a parent row.

    ``via`` is ``(column, parent model)``: the row is visible exactly when its parent row is (a contact
    through its customer, a return through its order, a ticket note through its ticket).
    """

    # Mapped columns (typed Any: mypy would apply the descriptor protocol to dataclass fields).
    owners: tuple[Any, ...] = ()
    department: Any = None
    via: tuple[Any, type] | None = None
    pool_visible: bool = False


SCOPE_RULES: dict[type, ScopeRule] = {
    Customer: ScopeRule((Customer.owner_id,), Customer.department_id, pool_visible=True),
    Ticket: ScopeRule((Ticket.owner_id, Ticket.assignee_id), Ticket.department_id),
    Order: ScopeRule((Order.owner_id,), Order.department_id),
    Opportunity: ScopeRule((Opportunity.owner_id,), Opportunity.department_id),
    User: ScopeRule((User.id,), User.department_id),
    Seat: ScopeRule((Seat.user_id,), Seat.department_id),
    Contact: ScopeRule(via=(Contact.customer_id, Customer)),
    Phone: ScopeRule(via=(Phone.customer_id, Customer)),
    FollowUp: ScopeRule(via=(FollowUp.customer_id, Customer)),
    CallLink: ScopeRule(via=(CallLink.customer_id, Customer)),
    OrderLine: ScopeRule(via=(OrderLine.order_id, Order)),
    OrderEvent: ScopeRule(via=(OrderEvent.order_id, Order)),
    OrderReturn: ScopeRule(via=(OrderReturn.order_id, Order)),
    TicketEvent: ScopeRule(via=(TicketEvent.ticket_id, Ticket)),
    Attachment: ScopeRule(via=(Attachment.ticket_id, Ticket)),
    AuditEntry: ScopeRule(via=(AuditEntry.user_id, User)),  # what the people in one's scope did
}

# Tables that belong to no department, and why; their routes are guarded by permissions alone.
SHARED_TABLES: dict[type, str] = {
    Department: "the organisation tree itself (read needs department.read)",
    Role: "roles and their grants (administration)",
    Permission: "grants of a role (administration)",
    CustomFieldDef: "field definitions shared by every department",
    DictionaryItem: "choice lists shared by every department",
    PauseReason: "pause reasons shared by every department",
    TicketType: "ticket types shared by every department",
    Workflow: "workflows shared by every department",
    WorkflowStep: "steps of a shared workflow",
    Product: "the product catalogue",
    ProductCategory: "the product catalogue",
    Supplier: "the product catalogue",
    StockMovement: "warehouse stock, not a department's business (stock.* permissions)",
    OpportunityStage: "the sales funnel's stages",
    KbCategory: "the knowledge base is shared; categories need kb.approve to change",
    KbArticle: "the knowledge base is shared; publishing needs kb.approve",
    Announcement: "targeted by department when shown (announcement_departments)",
}


def rule_for(model: type) -> ScopeRule | None:
    """The model's scope rule; a model declared nowhere is refused rather than shown to everybody."""
    if model in SCOPE_RULES:
        return SCOPE_RULES[model]
    if model in SHARED_TABLES:
        return None
    raise LookupError(f"{model.__name__} has no data scope rule: declare it in crm_core.permissions")


def check(user: User, resource: str, action: str) -> None:
    if not user.has_permission(resource, action):
        raise PermissionDenied(f"无权限 not allowed: {resource}.{action}")


def department_ids(session: Session, user: User, scope: DataScope) -> list[int]:
    """The departments ``user`` sees under ``scope`` (their own, or their own and below)."""
    if user.department_id is None or scope is DataScope.OWN:
        return []
    if scope is DataScope.DEPARTMENT:
        return [user.department_id]
    own = session.get(Department, user.department_id)
    if own is None:
        return []
    return list(session.scalars(select(Department.id).where(Department.path.startswith(own.path))))


def visible_departments(session: Session, user: User) -> list[int] | None:
    """The departments within the user's data scope; ``None`` means every department."""
    scope = user.data_scope
    return None if scope is DataScope.ALL else department_ids(session, user, scope)


def scope_clause(session: Session, user: User, model: type) -> ColumnElement[bool]:
    """A WHERE clause limiting ``model`` to the rows ``user`` may see (``true()`` when unscoped)."""
    rule = rule_for(model)
    scope = user.data_scope
    if rule is None or scope is DataScope.ALL:
        return true()
    if rule.via is not None:
        column, parent = rule.via
        pk = parent.id  # type: ignore[attr-defined]
        return column.in_(select(pk).where(scope_clause(session, user, parent)))
    parts: list[ColumnElement[bool]] = [column == user.id for column in rule.owners]
    if scope is not DataScope.OWN and rule.department is not None:
        ids = department_ids(session, user, scope)
        if ids:
            parts.append(rule.department.in_(ids))
    if rule.pool_visible and rule.owners:
        parts.append(rule.owners[0].is_(None))
    return or_(*parts) if parts else false()


def ensure_visible(session: Session, user: User, model: type, row_id: int) -> None:
    """Raise PermissionDenied when ``row_id`` exists but lies outside the user's scope."""
    pk = model.id  # type: ignore[attr-defined]
    if session.scalar(select(pk).where(pk == row_id, scope_clause(session, user, model))) is None:
        raise PermissionDenied(OUTSIDE_SCOPE)


def ensure_department(session: Session, user: User, department_id: int | None) -> None:
    """A department the user may put a record in (or act for): one within his scope."""
    allowed = visible_departments(session, user)
    if allowed is None or department_id is None or department_id == user.department_id:
        return
    if department_id not in allowed:
        raise PermissionDenied(OUTSIDE_SCOPE)


# --- people, extensions, calls and seats ------------------------------------------------------------------


def identities(user: User) -> set[str]:
    """The names an agent goes by in call events: agent number, extension, user name."""
    return {str(v) for v in (user.agent_number, user.extension, user.username) if v}


def agents_in_scope(session: Session, user: User) -> list[User] | None:
    """The users whose calls and state ``user`` may see and act on; ``None`` means everybody."""
    scope = user.data_scope
    if scope is DataScope.ALL:
        return None
    return list(session.scalars(select(User).where(scope_clause(session, user, User))))


def agent_identities(session: Session, user: User) -> set[str] | None:
    """The agent names (as call events carry them) within the user's scope; ``None`` means all."""
    people = agents_in_scope(session, user)
    if people is None:
        return None
    found = identities(user)
    for person in people:
        found |= identities(person)
    return found


def agent_by_identity(session: Session, name: str) -> User | None:
    """The user an extension, agent number or user name stands for (the extension's bound agent first)."""
    for column in (User.extension, User.agent_number, User.username):
        found = session.scalar(select(User).where(column == name))
        if found is not None:
            return found
    return None


def ensure_agent(session: Session, user: User, name: str) -> None:
    """Supervisor actions (pause, log out, listen): the target agent must be within the actor's scope."""
    if user.data_scope is DataScope.ALL:
        return
    target = agent_by_identity(session, name)
    if target is None:
        raise NotFound("没有这个座席 no agent at that extension")
    if target.id != user.id:
        ensure_visible(session, user, User, target.id)


def ensure_seat(session: Session, user: User, seat: Seat) -> None:
    """A seat the user may sit at: one of a department within his scope (or of no department)."""
    if seat.department_id is not None:
        ensure_department(session, user, seat.department_id)


def call_agents(session: Session, call_id: str) -> set[str] | None:
    """Agent names that took part in ``call_id`` from the call history; ``None`` when it has no row."""
    try:
        from stats.models import CallLegRow, CallRow
    except ImportError:  # the CRM without the statistics tables
        return None
    row_agents = list(session.scalars(select(CallRow.agent).where(CallRow.call_id == call_id)))
    if not row_agents:
        return None
    legs = session.execute(select(CallLegRow.agent, CallLegRow.extension).where(CallLegRow.call_id == call_id))
    names = {a for a in row_agents if a}
    for agent, extension in legs:
        names.update(v for v in (agent, extension) if v)
    return names


def ensure_call(session: Session, user: User, call_id: str) -> None:
    """A call the user may see or link: one his scope's agents took part in. A call the history does not
    know yet (it is ringing) reveals nothing and may be linked; its links are then checked as rows."""
    mine = agent_identities(session, user)
    if mine is None:
        return
    taken_by = call_agents(session, call_id)
    if taken_by is not None and not taken_by & mine:
        raise PermissionDenied("不是您范围内的通话 that call is outside your data scope")


# --- the screen-pop and the caller lookup -------------------------------------------------------------


def visible_customer_ids(session: Session, user: User, ids: Iterable[int]) -> set[int]:
    wanted = sorted(set(ids))
    if not wanted:
        return set()
    query = select(Customer.id).where(Customer.id.in_(wanted), scope_clause(session, user, Customer))
    return set(session.scalars(query))


LOOKUP_LISTS = ("open_tickets", "recent_orders", "recent_calls")


def visible_lookup(session: Session, user: User | None, result: dict[str, Any]) -> dict[str, Any]:
    """A caller lookup (REST or screen-pop) cut to the user's scope: matches outside it count only as
    ``hidden_matches``. Without a user (nobody bound to the ringing extension) nothing is shown."""
    candidates = list(result.get("candidates") or [])
    visible = visible_customer_ids(session, user, [c["id"] for c in candidates]) if user is not None else set()
    if all(c["id"] in visible for c in candidates) and user is not None:
        return result
    out = dict(result)
    out["candidates"] = [c for c in candidates if c["id"] in visible]
    customer = out.get("customer")
    out["customer"] = customer if customer and customer.get("id") in visible else None
    contact = out.get("contact")
    out["contact"] = contact if contact and contact.get("customer_id", -1) in visible else None
    for key in LOOKUP_LISTS:
        out[key] = [row for row in out.get(key) or [] if row.get("customer_id") in visible]
    out["hidden_matches"] = len(candidates) - len(out["candidates"])
    return out

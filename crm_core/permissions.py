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

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    String,
    bindparam,
    cast,
    false,
    literal,
    literal_column,
    or_,
    select,
    true,
    union_all,
)
from sqlalchemy.orm import Session, aliased

from crm_core.errors import NotFound, PermissionDenied
from crm_core.models import (
    Announcement,
    Attachment,
    AuditEntry,
    Callback,
    CallLink,
    Contact,
    Contract,
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
    ProductPrice,
    Quote,
    QuoteLine,
    Role,
    SalesTarget,
    Seat,
    StockMovement,
    StockThreshold,
    Supplier,
    SupplierDocument,
    SupplierDocumentLine,
    Ticket,
    TicketEvent,
    TicketType,
    User,
    Workflow,
    WorkflowStep,
)
from crm_core.models.org import SCOPE_RANK, user_roles

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
    SalesTarget: ScopeRule((SalesTarget.user_id,), SalesTarget.department_id),  # a person's, or a department's
    Quote: ScopeRule((Quote.owner_id,), Quote.department_id),
    QuoteLine: ScopeRule(via=(QuoteLine.quote_id, Quote)),
    Contract: ScopeRule((Contract.owner_id,), Contract.department_id),
    # one's own and those one scheduled; a queue's callbacks reach its agents by their queues (the desk's rule)
    Callback: ScopeRule((Callback.owner_id, Callback.created_by), Callback.department_id),
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
    SupplierDocument: "the warehouse's purchase, return and exchange documents (stock.* permissions)",
    SupplierDocumentLine: "lines of a warehouse document",
    StockThreshold: "the warehouse's alert levels (stock.* permissions)",
    ProductPrice: "the product catalogue's price schemes",
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


def _named(column: Any, rank: int) -> Select[int, int | None, int]:
    return select(User.id, User.department_id, literal(rank).label("rank")).where(column == bindparam("agent"))


# The user a name in call events stands for: the extension's bound agent first, then the agent number, then
# the user name (the lowest id on a tie). One statement, bound as ``agent``; the pop's lookup embeds it.
AGENT_NAMED = (
    union_all(_named(User.extension, 0), _named(User.agent_number, 1), _named(User.username, 2))
    .order_by(literal_column("rank"), literal_column("id"))
    .limit(1)
)


def agent_by_identity(session: Session, name: str) -> User | None:
    """The user an extension, agent number or user name stands for (the extension's bound agent first)."""
    found = session.execute(AGENT_NAMED, {"agent": name}).first()
    return session.get(User, found.id) if found is not None else None


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


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who looks at rows already read, as the scope rules see him: his id, scope and departments."""

    user_id: int
    scope: DataScope
    departments: frozenset[int] = frozenset()  # those within his scope (none for own, or with no department)


def viewer_of(session: Session, user: User) -> Viewer:
    scope = user.data_scope
    departments = department_ids(session, user, scope) if scope is not DataScope.ALL else []
    return Viewer(user.id, scope, frozenset(departments))


def _viewer_facts() -> Any:
    """``(fact, value)`` rows of the user named ``agent``: his id, department, his roles' scopes and, with a
    department-and-below role, the departments under his own. No row: the name stands for nobody."""
    agent = AGENT_NAMED.cte("viewer")
    own = aliased(Department)
    tree_role = (
        select(user_roles.c.user_id)
        .join(Role, Role.id == user_roles.c.role_id)
        .where(user_roles.c.user_id == agent.c.id, Role.data_scope == DataScope.DEPARTMENT_TREE.value)
        .exists()
    )
    return union_all(
        select(literal("user").label("fact"), cast(agent.c.id, String).label("value")),
        select(literal("department"), cast(agent.c.department_id, String)).where(agent.c.department_id.is_not(None)),
        select(literal("scope"), Role.data_scope)
        .select_from(agent)
        .join(user_roles, user_roles.c.user_id == agent.c.id)
        .join(Role, Role.id == user_roles.c.role_id),
        select(literal("subtree"), cast(Department.id, String))
        .select_from(agent)
        .join(own, own.id == agent.c.department_id)
        .join(Department, Department.path.startswith(own.path))
        .where(tree_role),
    )


VIEWER_FACTS = _viewer_facts()


def viewer_from_facts(facts: Iterable[tuple[str, str]]) -> Viewer | None:
    """The ``Viewer`` that ``VIEWER_FACTS`` rows describe (``department_ids`` and ``User.data_scope``'s rule
    over them); ``None`` for no rows: nobody goes by that name."""
    user_id, department, scopes, subtree = None, None, [], set()
    for fact, value in facts:
        if fact == "user":
            user_id = int(value)
        elif fact == "department":
            department = int(value)
        elif fact == "scope":
            scopes.append(DataScope(value))
        else:
            subtree.add(int(value))
    if user_id is None:
        return None
    scope = max(scopes, key=SCOPE_RANK.__getitem__, default=DataScope.OWN)
    if department is None or scope in (DataScope.OWN, DataScope.ALL):
        return Viewer(user_id, scope)
    return Viewer(user_id, scope, frozenset({department} if scope is DataScope.DEPARTMENT else subtree))


def viewer_named(connection: Connection, name: str) -> Viewer | None:
    """The viewer an extension, agent number or user name stands for now (one statement)."""
    return viewer_from_facts(connection.execute(VIEWER_FACTS, {"agent": name}))


def row_visible(viewer: Viewer, model: type, row: Mapping[str, Any]) -> bool:
    """``scope_clause`` for one row already read (its owner and department columns by name): the same rule,
    applied in Python, so a screen-pop needs no query to decide what its agent sees."""
    rule = rule_for(model)
    if rule is None or viewer.scope is DataScope.ALL:
        return True
    if rule.via is not None:
        raise ValueError(f"{model.__name__} rows are visible through their parent row: test that one")
    if any(row.get(column.key) == viewer.user_id for column in rule.owners):
        return True
    if viewer.scope is not DataScope.OWN and rule.department is not None:
        if row.get(rule.department.key) in viewer.departments:
            return True
    return rule.pool_visible and bool(rule.owners) and row.get(rule.owners[0].key) is None


LOOKUP_LISTS = ("open_tickets", "recent_orders", "recent_calls")
LOOKUP_RECORDS = ("customer", "contact", "candidates", *LOOKUP_LISTS)


def lookup_seen_by(viewer: Viewer | None, result: dict[str, Any]) -> dict[str, Any]:
    """A caller lookup (REST or screen-pop) cut to the viewer's scope, decided on the candidates' own owner and
    department: matches outside it count only as ``hidden_matches``. Without a viewer (nobody bound to the
    ringing extension) no record is shown."""
    if not any(result.get(key) for key in LOOKUP_RECORDS):
        return result  # nothing to cut
    candidates = list(result.get("candidates") or [])
    if viewer is None:
        visible: set[Any] = set()
    else:
        visible = {c["id"] for c in candidates if row_visible(viewer, Customer, c)}
        if len(visible) == len(candidates):
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


def visible_lookup(session: Session, user: User | None, result: dict[str, Any]) -> dict[str, Any]:
    """A caller lookup cut to ``user``'s scope (``lookup_seen_by``); ``None``: nobody, no record shown."""
    return lookup_seen_by(viewer_of(session, user) if user is not None else None, result)

"""Permission checks and data scope: which rows of a resource a user may see and change.

A role grants actions per resource and carries a data scope (own / department / department and
below / all); a user gets the union of the grants and the broadest scope of their roles.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, false, or_, select, true
from sqlalchemy.orm import Session

from crm_core.errors import PermissionDenied
from crm_core.models import (
    CallLink,
    Contact,
    Customer,
    DataScope,
    Department,
    Opportunity,
    Order,
    Phone,
    Ticket,
    User,
)

ACTIONS = ("read", "create", "update", "delete", "export", "import", "approve", "claim", "transfer", "merge")


@dataclass(frozen=True)
class ScopeRule:
    """How a table's rows belong to someone: owner columns, a department column, or via a customer."""

    # Mapped columns (typed Any: mypy would apply the descriptor protocol to dataclass fields).
    owners: tuple[Any, ...] = ()
    department: Any = None
    via_customer: Any = None
    pool_visible: bool = False


SCOPE_RULES: dict[type, ScopeRule] = {
    Customer: ScopeRule((Customer.owner_id,), Customer.department_id, pool_visible=True),
    Ticket: ScopeRule((Ticket.owner_id, Ticket.assignee_id), Ticket.department_id),
    Order: ScopeRule((Order.owner_id,), Order.department_id),
    Opportunity: ScopeRule((Opportunity.owner_id,), Opportunity.department_id),
    Contact: ScopeRule(via_customer=Contact.customer_id),
    Phone: ScopeRule(via_customer=Phone.customer_id),
    CallLink: ScopeRule(via_customer=CallLink.customer_id),
}


def check(user: User, resource: str, action: str) -> None:
    if not user.has_permission(resource, action):
        raise PermissionDenied(f"无权限 not allowed: {resource}.{action}")


def department_ids(session: Session, user: User, scope: DataScope) -> list[int]:
    """The departments ``user`` sees under ``scope`` (their own, or their own and below)."""
    if user.department_id is None:
        return []
    if scope is DataScope.DEPARTMENT:
        return [user.department_id]
    own = session.get(Department, user.department_id)
    if own is None:
        return []
    return list(session.scalars(select(Department.id).where(Department.path.startswith(own.path))))


def scope_clause(session: Session, user: User, model: type) -> ColumnElement[bool]:
    """A WHERE clause limiting ``model`` to the rows ``user`` may see (``true()`` when unscoped)."""
    rule = SCOPE_RULES.get(model)
    scope = user.data_scope
    if rule is None or scope is DataScope.ALL:
        return true()
    if rule.via_customer is not None:
        visible = select(Customer.id).where(scope_clause(session, user, Customer))
        return rule.via_customer.in_(visible)
    parts: list[ColumnElement[bool]] = [column == user.id for column in rule.owners]
    if scope is not DataScope.OWN and rule.department is not None:
        ids = department_ids(session, user, scope)
        if ids:
            parts.append(rule.department.in_(ids))
    if rule.pool_visible and rule.owners:
        parts.append(rule.owners[0].is_(None))
    return or_(*parts) if parts else false()


def ensure_visible(session: Session, user: User, model: type, row_id: int) -> None:
    """Raise NotFound-like PermissionDenied when ``row_id`` exists but lies outside the user's scope."""
    pk = model.id  # type: ignore[attr-defined]
    if session.scalar(select(pk).where(pk == row_id, scope_clause(session, user, model))) is None:
        raise PermissionDenied("不在数据权限范围内 outside your data scope")

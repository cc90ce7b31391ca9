"""Generic list/get/create/update/delete of a resource, honouring permission, data scope and audit.

Filters, search terms and sort keys are checked against the table's columns and always bound as
parameters; no client text ever becomes SQL.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import JSON, ColumnElement, Select, func, or_, select
from sqlalchemy.orm import Session

from crm_core import audit
from crm_core.errors import InvalidInput, NotFound
from crm_core.models import Customer, Order, Ticket, User
from crm_core.permissions import check, ensure_department, ensure_visible, scope_clause

MAX_PAGE_SIZE = 200


@dataclass(frozen=True)
class Page:
    items: list[Any]
    total: int
    page: int
    size: int


@dataclass
class Resource:
    """A table exposed as a resource: the permission name, what can be searched, and hooks."""

    name: str
    model: type
    search: tuple[str, ...] = ()
    default_sort: str = "-id"
    # Fields set from the acting user on create when the table has them.
    stamp_owner: bool = True
    before_write: Callable[[Session, User, dict[str, Any], Any | None], dict[str, Any]] | None = None
    after_write: Callable[[Session, Any], None] | None = None
    custom_fields_entity: str = ""
    hidden: frozenset[str] = field(default_factory=frozenset)
    # When set, creating, changing and deleting need this action instead (kb categories: kb.approve).
    change_action: str = ""

    def action(self, action: str) -> str:
        return self.change_action if self.change_action and action in ("create", "update", "delete") else action

    def column(self, name: str) -> Any:
        table = self.model.__table__  # type: ignore[attr-defined]
        if name not in table.columns or name in self.hidden:
            raise InvalidInput(f"未知字段 unknown field: {name[:50]}", name[:50])
        return getattr(self.model, name)


def _coerce(column: Any, raw: str) -> Any:
    """Convert a query-string value to the column's Python type, or fail with a readable message."""
    try:
        kind = column.type.python_type
    except NotImplementedError:
        return raw
    try:
        if kind is bool:
            if raw.lower() not in ("true", "false", "1", "0"):
                raise ValueError(raw)
            return raw.lower() in ("true", "1")
        if kind is datetime:
            return datetime.fromisoformat(raw)
        if kind is date:
            return date.fromisoformat(raw)
        if kind is Decimal:
            return Decimal(raw)
        return kind(raw)
    except (ValueError, InvalidOperation) as exc:
        raise InvalidInput(
            f"字段 {column.key} 的值无效 invalid value for {column.key}: {raw[:50]!r}", column.key
        ) from exc


def _escape_like(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class UnfilterableField(InvalidInput):
    """A filter names a column that holds JSON (``custom``, the audit log's ``changes``): a bad request."""

    status = 400


def filter_clauses(resource: Resource, filters: Mapping[str, str]) -> list[ColumnElement[bool]]:
    """``field=v``, ``field__gte=v``, ``field__lte=v``, ``field__in=a,b``, ``custom.key=v``."""
    clauses: list[ColumnElement[bool]] = []
    for key, raw in filters.items():
        if key.startswith("custom.") and resource.custom_fields_entity:
            custom = resource.column("custom")
            clauses.append(custom[key.removeprefix("custom.")].as_string() == raw)
            continue
        name, _, op = key.partition("__")
        column = resource.column(name)
        if isinstance(column.type, JSON):
            raise UnfilterableField(
                f"不能按 JSON 字段 {name[:50]} 筛选（自定义字段用 custom.<键>=值） cannot filter on the JSON field "
                f"{name[:50]}; for custom fields use custom.<key>=value",
                key[:50],
            )
        if op == "":
            clauses.append(column.is_(None) if raw == "null" else column == _coerce(column, raw))
        elif op == "gte":
            clauses.append(column >= _coerce(column, raw))
        elif op == "lte":
            clauses.append(column <= _coerce(column, raw))
        elif op == "in":
            clauses.append(column.in_([_coerce(column, part) for part in raw.split(",") if part]))
        else:
            raise InvalidInput(f"未知筛选 unknown filter operator: {op[:20]}", key[:50])
    return clauses


def search_clause(resource: Resource, term: str) -> ColumnElement[bool] | None:
    if not term or not resource.search:
        return None
    pattern = f"%{_escape_like(term)}%"
    return or_(*(resource.column(name).ilike(pattern, escape="\\") for name in resource.search))


def scoped_select(session: Session, user: User, resource: Resource) -> Select[Any]:
    return select(resource.model).where(scope_clause(session, user, resource.model))


def list_rows(
    session: Session,
    user: User,
    resource: Resource,
    *,
    filters: Mapping[str, str] | None = None,
    q: str = "",
    sort: str = "",
    page: int = 1,
    size: int = 50,
) -> Page:
    check(user, resource.name, "read")
    size = max(1, min(size, MAX_PAGE_SIZE))
    page = max(1, page)
    stmt = scoped_select(session, user, resource).where(*filter_clauses(resource, filters or {}))
    found = search_clause(resource, q)
    if found is not None:
        stmt = stmt.where(found)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    order = []
    for key in (sort or resource.default_sort).split(","):
        column = resource.column(key.lstrip("-"))
        order.append(column.desc() if key.startswith("-") else column.asc())
    if resource.default_sort.lstrip("-") != "id":
        order.append(resource.column("id").asc())
    rows = session.scalars(stmt.order_by(*order).limit(size).offset((page - 1) * size)).all()
    return Page(list(rows), total, page, size)


def get_row(session: Session, user: User, resource: Resource, row_id: int, action: str = "read") -> Any:
    check(user, resource.name, resource.action(action))
    row = session.get(resource.model, row_id)
    if row is None:
        raise NotFound(f"记录不存在 not found: {resource.name} {row_id}")
    ensure_visible(session, user, resource.model, row_id)
    return row


def row_values(row: Any) -> dict[str, Any]:
    return {c.key: getattr(row, c.key) for c in row.__table__.columns}


def _stamp(resource: Resource, user: User, data: dict[str, Any]) -> dict[str, Any]:
    columns = resource.model.__table__.columns  # type: ignore[attr-defined]
    if "created_by" in columns:
        data.setdefault("created_by", user.id)
    if resource.stamp_owner and "owner_id" in columns:
        data.setdefault("owner_id", user.id)
    if "department_id" in columns and data.get("department_id") is None:
        data["department_id"] = user.department_id
    return data


def guard_references(session: Session, user: User, resource: Resource, data: dict[str, Any], row: Any | None) -> None:
    """A record may only point at rows the user sees (customer, ticket, order, owner, department);
    handing it to someone else is a transfer, and only within the user's departments."""
    for key, model in (("customer_id", Customer), ("ticket_id", Ticket), ("order_id", Order)):
        if data.get(key) is not None and resource.model is not model:
            ensure_visible(session, user, model, data[key])
    for key, mine in (("owner_id", user.id), ("department_id", user.department_id)):
        if key not in data or data[key] is None:
            continue
        current = getattr(row, key) if row is not None else mine
        if data[key] not in (mine, current):
            check(user, resource.name, "transfer")
            if key == "owner_id":
                ensure_visible(session, user, User, data[key])
            else:
                ensure_department(session, user, data[key])



def create_row(session: Session, user: User, resource: Resource, data: dict[str, Any], ip: str = "") -> Any:
    check(user, resource.name, resource.action("create"))
    guard_references(session, user, resource, data, None)
    data = _stamp(resource, user, dict(data))
    if resource.before_write:
        data = resource.before_write(session, user, data, None)
    row = resource.model(**data)
    session.add(row)
    session.flush()
    if resource.after_write:
        resource.after_write(session, row)
    audit.record(session, user, "create", resource.name, row.id, row_values(row), ip)
    return row


def update_row(
    session: Session, user: User, resource: Resource, row_id: int, data: dict[str, Any], ip: str = ""
) -> Any:
    row = get_row(session, user, resource, row_id, "update")
    guard_references(session, user, resource, data, row)
    if resource.before_write:
        data = resource.before_write(session, user, dict(data), row)
    before = row_values(row)
    for key, value in data.items():
        setattr(row, key, value)
    session.flush()
    if resource.after_write:
        resource.after_write(session, row)
    changes = audit.changed_fields(before, {k: getattr(row, k) for k in data})
    if changes:
        audit.record(session, user, "update", resource.name, row.id, changes, ip)
    return row


def delete_row(session: Session, user: User, resource: Resource, row_id: int, ip: str = "") -> None:
    row = get_row(session, user, resource, row_id, "delete")
    values = row_values(row)
    session.delete(row)
    session.flush()
    audit.record(session, user, "delete", resource.name, row_id, values, ip)

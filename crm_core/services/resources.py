"""Every CRM table as a :class:`Resource`: its permission name, search fields and write hooks."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_core.errors import InvalidInput
from crm_core.models import (
    Announcement,
    AuditEntry,
    CallLink,
    Contact,
    Customer,
    CustomFieldDef,
    Department,
    FollowUp,
    KbArticle,
    KbCategory,
    Opportunity,
    OpportunityStage,
    Order,
    OrderReturn,
    Phone,
    Product,
    ProductCategory,
    Role,
    Seat,
    StockMovement,
    Supplier,
    Ticket,
    TicketType,
    User,
    Workflow,
    WorkflowStep,
)
from crm_core.services.customers import validate_custom
from crm_core.services.records import Resource


def _customer_write(session: Session, user: User, data: dict[str, Any], row: Any | None) -> dict[str, Any]:
    if "custom" in data or row is None:
        data["custom"] = validate_custom(session, data.get("custom"))
    if row is None:
        data.setdefault("status", "active" if data.get("owner_id") else "pool")
    return data


def _department_write(session: Session, user: User, data: dict[str, Any], row: Any | None) -> dict[str, Any]:
    parent_id = data.get("parent_id", row.parent_id if row is not None else None)
    parent = session.get(Department, parent_id) if parent_id is not None else None
    if parent_id is not None and parent is None:
        raise InvalidInput("上级部门不存在 unknown parent department", "parent_id")
    if row is not None and parent is not None and parent.path.startswith(row.path):
        raise InvalidInput("不能移到自己的下级 a department cannot move under itself", "parent_id")
    # The id is not known before insert: the path is completed by department_path().
    data["path"] = parent.path if parent else "/"
    return data


def department_path(session: Session, department: Any) -> None:
    """Set a department's materialised path from its parent's, then its sub-departments' paths."""
    parent = session.get(Department, department.parent_id) if department.parent_id is not None else None
    department.path = f"{parent.path if parent else '/'}{department.id}/"
    session.flush()
    for child in session.scalars(select(Department).where(Department.parent_id == department.id)):
        department_path(session, child)


CUSTOM_FIELD_KINDS = ("text", "number", "date", "choice")


def _custom_field_write(session: Session, user: User, data: dict[str, Any], row: Any | None) -> dict[str, Any]:
    kind = data.get("kind", row.kind if row is not None else "")
    if kind not in CUSTOM_FIELD_KINDS:
        raise InvalidInput(f"类型须为 kind must be one of {', '.join(CUSTOM_FIELD_KINDS)}", "kind")
    choices = data.get("choices", row.choices if row is not None else [])
    if kind == "choice" and not (isinstance(choices, list) and choices and all(isinstance(c, str) for c in choices)):
        raise InvalidInput("选项须为非空文本列表 choices must be a non-empty list of text", "choices")
    key = data.get("key", row.key if row is not None else "")
    if not key.replace("_", "").isalnum() or not key.isascii():
        raise InvalidInput("键只能包含字母、数字和下划线 key: letters, digits and _ only", "key")
    return data


def _article_write(session: Session, user: User, data: dict[str, Any], row: Any | None) -> dict[str, Any]:
    if data.get("status") == "published" and not user.has_permission("kb", "approve"):
        raise InvalidInput("发布须经审核 publishing needs approval: set status to pending", "status")
    if row is None:
        data.setdefault("author_id", user.id)
    return data


DEPARTMENTS = Resource(
    "department",
    Department,
    search=("name",),
    default_sort="path",
    before_write=_department_write,
    after_write=department_path,
)
USERS = Resource(
    "user",
    User,
    search=("username", "display_name"),
    default_sort="username",
    hidden=frozenset({"password_hash"}),
)
ROLES = Resource("role", Role, search=("name", "title"), default_sort="name")
SEATS = Resource("seat", Seat, search=("name", "extension"), default_sort="name")
CUSTOM_FIELDS = Resource(
    "custom_field", CustomFieldDef, search=("key", "label"), default_sort="position", before_write=_custom_field_write
)
CUSTOMERS = Resource(
    "customer",
    Customer,
    search=("name", "address", "notes", "region"),
    before_write=_customer_write,
    custom_fields_entity="customer",
)
CONTACTS = Resource("contact", Contact, search=("name", "position", "email"))
PHONES = Resource("contact", Phone, search=("raw", "key"))
FOLLOWUPS = Resource("customer", FollowUp, search=("note",), default_sort="-at")
TICKET_TYPES = Resource("ticket_type", TicketType, search=("code", "name"), default_sort="id")
WORKFLOWS = Resource("workflow", Workflow, search=("name",), default_sort="id")
WORKFLOW_STEPS = Resource("workflow", WorkflowStep, search=("name", "action"), default_sort="position")
TICKETS = Resource("ticket", Ticket, search=("title", "description"))
PRODUCTS = Resource("product", Product, search=("sku", "name"), default_sort="sku")
PRODUCT_CATEGORIES = Resource("product_category", ProductCategory, search=("name",), default_sort="id")
SUPPLIERS = Resource("supplier", Supplier, search=("name", "contact_name", "phone"), default_sort="id")
ORDERS = Resource("order", Order, search=("number", "tracking_number", "notes"))
ORDER_RETURNS = Resource("order", OrderReturn, search=("reason",))
STOCK_MOVEMENTS = Resource("stock", StockMovement, search=("note",), default_sort="-at")
OPPORTUNITIES = Resource("opportunity", Opportunity, search=("title", "notes"))
OPPORTUNITY_STAGES = Resource("opportunity", OpportunityStage, default_sort="position")
KB_CATEGORIES = Resource("kb", KbCategory, search=("name",), default_sort="id", change_action="approve")
KB_ARTICLES = Resource("kb", KbArticle, search=("title", "body", "tags"), before_write=_article_write)
ANNOUNCEMENTS = Resource("announcement", Announcement, search=("title", "body"), default_sort="-starts_at")
CALL_LINKS = Resource("call_link", CallLink, search=("call_id",), default_sort="-created_at")
AUDIT_LOG = Resource("audit", AuditEntry, search=("username", "resource", "action", "object_id"), default_sort="-at")

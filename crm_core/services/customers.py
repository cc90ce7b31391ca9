"""Customer rules: phone index upkeep, custom fields, the public pool, transfer and merge."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.orm import Session

from crm_core import audit
from crm_core.errors import Conflict, InvalidInput, NotFound
from crm_core.models import (
    CallLink,
    Contact,
    Customer,
    CustomFieldDef,
    FollowUp,
    Opportunity,
    Order,
    Phone,
    Ticket,
    User,
    utcnow,
)
from crm_core.permissions import check, ensure_visible
from crm_core.phone import PhoneError, normalize

POOL = "pool"
ACTIVE = "active"
MERGED = "merged"


def phone_row(
    customer_id: int,
    raw: str,
    contact_id: int | None = None,
    label: str = "",
    region: str = "CN",
    area_code: str = "",
) -> Phone:
    try:
        key = normalize(raw, region, area_code)
    except PhoneError as exc:
        raise InvalidInput(str(exc), "phone") from exc
    return Phone(
        customer_id=customer_id,
        contact_id=contact_id,
        raw=raw[:50],
        key=key.key,
        kind=key.kind,
        extension=key.extension,
        label=label,
    )


def add_phone(
    session: Session,
    customer_id: int,
    raw: str,
    *,
    contact_id: int | None = None,
    label: str = "",
    region: str = "CN",
    area_code: str = "",
) -> Phone:
    """Index ``raw`` for the customer (or one of its contacts); an already indexed number is kept once."""
    row = phone_row(customer_id, raw, contact_id, label, region, area_code)
    contact_owner = session.scalar(select(Contact.customer_id).where(Contact.id == contact_id)) if contact_id else None
    if contact_id is not None and contact_owner != customer_id:
        raise InvalidInput("联系人不属于该客户 the contact belongs to another customer", "contact_id")
    same_owner = Phone.contact_id.is_(None) if contact_id is None else Phone.contact_id == contact_id
    existing = session.scalar(select(Phone).where(Phone.key == row.key, Phone.customer_id == customer_id, same_owner))
    if existing is not None:
        return existing
    session.add(row)
    session.flush()
    return row


def customers_with_phone(session: Session, keys: Iterable[str], exclude_id: int | None = None) -> list[int]:
    stmt = select(Phone.customer_id).where(Phone.key.in_(list(keys))).distinct()
    if exclude_id is not None:
        stmt = stmt.where(Phone.customer_id != exclude_id)
    return list(session.scalars(stmt))


def validate_custom(session: Session, values: dict[str, Any] | None, entity: str = "customer") -> dict[str, Any]:
    """Check ``values`` against the administrator's field definitions; returns JSON-ready values."""
    values = values or {}
    defs = {d.key: d for d in session.scalars(select(CustomFieldDef).where(CustomFieldDef.entity == entity))}
    unknown = sorted(set(values) - set(defs))
    if unknown:
        raise InvalidInput(f"未定义的自定义字段 unknown custom field: {unknown[0][:50]}", f"custom.{unknown[0][:50]}")
    clean: dict[str, Any] = {}
    for key, spec in defs.items():
        value = values.get(key)
        if value in (None, ""):
            if spec.required:
                raise InvalidInput(f"{spec.label} 必填 is required", f"custom.{key}")
            continue
        clean[key] = custom_value(spec, value)
    return clean


def custom_value(spec: CustomFieldDef, value: Any) -> Any:
    field = f"custom.{spec.key}"
    text = str(value).strip()
    if spec.kind == "number":
        try:
            return str(Decimal(text))
        except InvalidOperation as exc:
            raise InvalidInput(f"{spec.label} 须为数字 must be a number", field) from exc
    if spec.kind == "date":
        if isinstance(value, datetime | date):
            return value.isoformat()[:10]
        try:
            return date.fromisoformat(text).isoformat()
        except ValueError as exc:
            raise InvalidInput(f"{spec.label} 须为日期 YYYY-MM-DD must be a date", field) from exc
    if spec.kind == "choice" and text not in spec.choices:
        raise InvalidInput(f"{spec.label} 须为 {'/'.join(spec.choices)} 之一 must be one of the choices", field)
    if len(text) > 500:
        raise InvalidInput(f"{spec.label} 过长 too long (max 500)", field)
    return text


def _customer(session: Session, customer_id: int) -> Customer:
    customer = session.get(Customer, customer_id)
    if customer is None or customer.status == MERGED:
        raise NotFound(f"客户不存在 customer not found: {customer_id}")
    return customer


def claim(session: Session, user: User, customer_id: int, now: datetime | None = None) -> Customer:
    """Take a pool customer; the claim fails if someone else got it first."""
    check(user, "customer", "claim")
    now = now or utcnow()
    taken = session.execute(
        update(Customer)
        .where(Customer.id == customer_id, Customer.owner_id.is_(None), Customer.status == POOL)
        .values(owner_id=user.id, department_id=user.department_id, status=ACTIVE, claimed_at=now)
    )
    if taken.rowcount != 1:  # type: ignore[attr-defined]
        _customer(session, customer_id)
        raise Conflict("该客户不在公海中 the customer is not in the public pool")
    audit.record(session, user, "claim", "customer", customer_id)
    customer = _customer(session, customer_id)
    session.refresh(customer)
    return customer


def release(session: Session, user: User, customer_id: int) -> Customer:
    """Give a customer back to the pool."""
    check(user, "customer", "update")
    ensure_visible(session, user, Customer, customer_id)
    customer = _customer(session, customer_id)
    customer.owner_id, customer.status, customer.claimed_at = None, POOL, None
    audit.record(session, user, "release", "customer", customer_id)
    return customer


def add_followup(
    session: Session,
    user: User,
    customer_id: int,
    note: str,
    channel: str = "phone",
    now: datetime | None = None,
) -> FollowUp:
    check(user, "customer", "update")
    ensure_visible(session, user, Customer, customer_id)
    now = now or utcnow()
    customer = _customer(session, customer_id)
    customer.last_followup_at = now
    row = FollowUp(customer_id=customer_id, user_id=user.id, note=note, channel=channel, at=now)
    session.add(row)
    session.flush()
    return row


def return_stale_to_pool(session: Session, days: int, now: datetime | None = None) -> list[int]:
    """Claimed customers with no follow-up for ``days`` go back to the pool; returns their ids."""
    cutoff = (now or utcnow()) - timedelta(days=days)
    last_touch = func.coalesce(Customer.last_followup_at, Customer.claimed_at)
    stale = list(
        session.scalars(
            select(Customer.id).where(
                Customer.status == ACTIVE,
                Customer.claimed_at.is_not(None),
                Customer.owner_id.is_not(None),
                last_touch < cutoff,
            )
        )
    )
    if stale:
        session.execute(
            update(Customer).where(Customer.id.in_(stale)).values(owner_id=None, status=POOL, claimed_at=None)
        )
        audit.record(session, None, "return_to_pool", "customer", ",".join(map(str, stale))[:50], {"ids": stale})
    return stale


def transfer(session: Session, user: User, customer_ids: list[int], new_owner_id: int) -> int:
    """Hand customers to another owner (and that owner's department); returns how many moved."""
    check(user, "customer", "transfer")
    owner = session.get(User, new_owner_id)
    if owner is None or not owner.is_active:
        raise InvalidInput("接收人不存在 the new owner does not exist", "new_owner_id")
    for customer_id in customer_ids:
        ensure_visible(session, user, Customer, customer_id)
        _customer(session, customer_id)
    moved = session.execute(
        update(Customer)
        .where(Customer.id.in_(customer_ids))
        .values(owner_id=owner.id, department_id=owner.department_id, status=ACTIVE)
    ).rowcount  # type: ignore[attr-defined]
    audit.record(session, user, "transfer", "customer", "", {"ids": customer_ids, "to": owner.id})
    return int(moved)


def merge(session: Session, user: User, survivor_id: int, duplicate_ids: list[int]) -> Customer:
    """Fold duplicates into the survivor: contacts, phones, tickets, orders, calls and the rest move."""
    check(user, "customer", "merge")
    duplicate_ids = [d for d in dict.fromkeys(duplicate_ids) if d != survivor_id]
    if not duplicate_ids:
        raise InvalidInput("没有可合并的客户 nothing to merge", "duplicate_ids")
    for customer_id in [survivor_id, *duplicate_ids]:
        ensure_visible(session, user, Customer, customer_id)
        _customer(session, customer_id)
    known = set(session.scalars(select(Phone.key).where(Phone.customer_id == survivor_id)))
    # A number both customers share stays once, on the survivor.
    session.execute(
        delete(Phone).where(Phone.customer_id.in_(duplicate_ids), Phone.key.in_(known), Phone.contact_id.is_(None))
    )
    moved: dict[str, int] = {}
    for model in (Contact, Phone, Ticket, Order, CallLink, Opportunity, FollowUp):
        column = model.customer_id
        result: Any = session.execute(update(model).where(column.in_(duplicate_ids)).values(customer_id=survivor_id))
        moved[model.__tablename__] = int(result.rowcount)
    session.execute(
        update(Customer)
        .where(Customer.id.in_(duplicate_ids))
        .values(status=MERGED, merged_into_id=survivor_id, owner_id=None)
    )
    audit.record(session, user, "merge", "customer", survivor_id, {"merged": duplicate_ids, "moved": moved})
    return _customer(session, survivor_id)


def duplicate_groups(session: Session, limit: int = 100) -> list[list[int]]:
    """Customers sharing a phone key: candidates for a merge."""
    keys = select(Phone.key).group_by(Phone.key).having(func.count(func.distinct(Phone.customer_id)) > 1).limit(limit)
    groups: dict[str, list[int]] = {}
    rows = session.execute(
        select(Phone.key, Phone.customer_id)
        .join(Customer, and_(Customer.id == Phone.customer_id, or_(Customer.status != MERGED)))
        .where(Phone.key.in_(keys))
        .distinct()
        .order_by(Phone.key, Phone.customer_id)
    )
    for key, customer_id in rows:
        groups.setdefault(key, []).append(customer_id)
    return [ids for ids in groups.values() if len(ids) > 1]

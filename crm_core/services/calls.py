"""Call links: any call (its Linkedid) can be linked to a customer, a ticket and an order."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_core import audit
from crm_core.errors import CrmError, InvalidInput
from crm_core.lookup import calls_for, lookup
from crm_core.models import CallLink, Customer, Order, Ticket, User
from crm_core.permissions import check, ensure_call, ensure_visible, visible_customer_ids


def link_call(
    session: Session,
    call_id: str,
    customer_id: int | None = None,
    ticket_id: int | None = None,
    order_id: int | None = None,
    user: User | None = None,
    *,
    contact_id: int | None = None,
    pbx: str = "",
) -> CallLink:
    """Link ``call_id``; a ticket or order brings its customer. Linking again fills in the same row.

    With a ``user`` (every request does), the user needs ``call_link.create``, the call must be within
    his scope and so must each record linked (a ticket or order would otherwise reveal its customer).
    """
    if not call_id or len(call_id) > 64:
        raise InvalidInput("通话编号无效 invalid call id", "call_id")
    if user is not None:
        _check_link(session, user, call_id, customer_id, ticket_id, order_id)
    if ticket_id is not None:
        customer_id = customer_id or _owner_of(session, Ticket, ticket_id, "ticket_id")
    if order_id is not None:
        customer_id = customer_id or _owner_of(session, Order, order_id, "order_id")
    if customer_id is not None and session.get(Customer, customer_id) is None:
        raise InvalidInput("客户不存在 unknown customer", "customer_id")
    same_customer = CallLink.customer_id.is_(None) if customer_id is None else CallLink.customer_id == customer_id
    link = session.scalar(select(CallLink).where(CallLink.call_id == call_id, same_customer))
    if link is None:
        link = CallLink(call_id=call_id, pbx=pbx, customer_id=customer_id, created_by=user.id if user else None)
        session.add(link)
    for attr, value in (("contact_id", contact_id), ("ticket_id", ticket_id), ("order_id", order_id)):
        if value is not None:
            setattr(link, attr, value)
    session.flush()
    audit.record(
        session,
        user,
        "link",
        "call_link",
        call_id,
        {"customer_id": customer_id, "ticket_id": ticket_id, "order_id": order_id},
    )
    return link


def link_dialled(
    session: Session,
    user: User,
    call_id: str,
    number: str,
    *,
    region: str = "CN",
    area_code: str = "",
    pbx: str = "",
) -> CallLink | None:
    """A click-to-dial call to a customer's number is linked to that customer, as a pop links the caller.

    Only when the number belongs to exactly one customer and the user may see him; a number shared by
    several customers (or by none) stays unlinked for the agent to choose. The dial itself never fails
    because of the link: a rule that refuses it leaves the call unlinked.
    """
    found = lookup(session, number, region, area_code=area_code)
    if found.customer is None or visible_customer_ids(session, user, [found.customer["id"]]) == set():
        return None
    contact_id = found.contact["id"] if found.contact else None
    try:
        with session.begin_nested():
            return link_call(session, call_id, found.customer["id"], user=user, contact_id=contact_id, pbx=pbx)
    except CrmError:
        return None


def _check_link(
    session: Session,
    user: User,
    call_id: str,
    customer_id: int | None,
    ticket_id: int | None,
    order_id: int | None,
) -> None:
    check(user, "call_link", "create")
    ensure_call(session, user, call_id)
    for model, row_id in ((Customer, customer_id), (Ticket, ticket_id), (Order, order_id)):
        if row_id is not None and session.get(model, row_id) is not None:
            ensure_visible(session, user, model, row_id)


def _owner_of(session: Session, model: type[Ticket] | type[Order], row_id: int, field: str) -> int | None:
    customer_id = session.scalar(select(model.customer_id).where(model.id == row_id))
    if customer_id is None and session.get(model, row_id) is None:
        raise InvalidInput(f"{field} 不存在 does not exist", field)
    return customer_id


def customer_calls(session: Session, customer_id: int, limit: int = 100) -> list[dict[str, Any]]:
    """The customer's calls, newest first, joined to the call history table when it exists."""
    return calls_for(session, [customer_id], limit)

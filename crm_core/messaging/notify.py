"""Service messages: what the ticket and order workflows call when a step is done.

``order_step(session, order, "shipping")`` composes, in the workflow's own transaction, one message per
active template whose trigger is ``order.shipping`` (the same for ``ticket.<step>``). Nothing is sent
here: the rows are queued and the outbox sends them once the step is committed, so a step that rolls
back sends nothing and a slow SMTP server never holds a workflow up.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_core.messaging.models import Message, MessageTemplate
from crm_core.messaging.services import Draft, compose, load_recipients
from crm_core.models import Order, Ticket


def _templates(session: Session, trigger: str) -> list[MessageTemplate]:
    return list(
        session.scalars(
            select(MessageTemplate)
            .where(MessageTemplate.trigger == trigger, MessageTemplate.is_active.is_(True))
            .order_by(MessageTemplate.id)
        )
    )


def order_step(session: Session, order: Order, action: str) -> list[Message]:
    """An order passed its step ``action`` (shipping, payment, ...): queue its service messages."""
    found = _templates(session, f"order.{action}")
    if not found:
        return []
    recipient = load_recipients(session, [order.customer_id]).get(order.customer_id)
    if recipient is None:
        return []
    return [compose(session, Draft.of(t), recipient, contact_id=order.contact_id, order=order) for t in found]


def ticket_step(session: Session, ticket: Ticket, action: str) -> list[Message]:
    """A ticket was created, passed a step (its action), was resolved or closed: queue its messages."""
    if ticket.customer_id is None or not action:
        return []
    found = _templates(session, f"ticket.{action}")
    if not found:
        return []
    recipient = load_recipients(session, [ticket.customer_id]).get(ticket.customer_id)
    if recipient is None:
        return []
    return [compose(session, Draft.of(t), recipient, contact_id=ticket.contact_id, ticket=ticket) for t in found]

"""Templates, opt-outs and composing messages: every message becomes a row before anything is sent.

A message is composed in the caller's transaction (the workflow step, the bulk send, the agent's send)
as ``queued``, or straight away as ``opted_out`` / ``no_address`` / ``failed`` (a field without a value)
so that the customer's history and the reports say what happened to everyone. ``outbox`` sends queued rows.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from crm_core import audit
from crm_core.errors import InvalidInput, NotFound
from crm_core.messaging import templates
from crm_core.messaging.channels.base import Delivery, Outgoing
from crm_core.messaging.models import (
    CHANNELS,
    EMAIL,
    FAILED,
    NO_ADDRESS,
    OPTED_OUT,
    QUEUED,
    SENDING,
    SENT,
    SMS,
    Message,
    MessageBatch,
    MessageOptOut,
    MessageTemplate,
)
from crm_core.models import Contact, Customer, Order, Phone, Ticket, User, utcnow
from crm_core.permissions import check, ensure_visible, scope_clause
from crm_core.services import records, resources

MAX_BULK = 50_000
CHUNK = 1_000
# Triggers a template may name: an order step's action (the seeded workflow's, or any step action), a
# ticket's creation, a ticket step done (its action), its resolution or closing.
ORDER_TRIGGERS = ("submit", "review", "manager_review", "shipping", "payment", "receipt", "followup", "void")
TICKET_TRIGGERS = ("create", "resolve", "close")


# --- templates ---------------------------------------------------------------------------------------


def _check_trigger(trigger: str) -> None:
    if not trigger:
        return
    kind, _, action = trigger.partition(".")
    if kind not in ("order", "ticket") or not action or not action.replace("_", "").isalnum():
        raise InvalidInput(f"触发条件无效 invalid trigger: {trigger[:50]} (order.<step> or ticket.<step>)", "trigger")


def validate_template(data: Mapping[str, Any]) -> None:
    if data.get("channel") not in CHANNELS:
        raise InvalidInput("渠道须为 email 或 sms channel must be email or sms", "channel")
    if not str(data.get("body") or "").strip():
        raise InvalidInput("请填写内容 the body is required", "body")
    if data["channel"] == EMAIL and not str(data.get("subject") or "").strip():
        raise InvalidInput("邮件须有主题 an e-mail needs a subject", "subject")
    trigger = str(data.get("trigger") or "")
    _check_trigger(trigger)
    texts = [str(data.get("subject") or ""), str(data["body"])]
    templates.check_fields(texts, templates.families_for(trigger))


TEMPLATE_FIELDS = ("name", "channel", "subject", "body", "trigger", "is_active")


def list_templates(session: Session, user: User) -> list[MessageTemplate]:
    check(user, "message_template", "read")
    return list(session.scalars(select(MessageTemplate).order_by(MessageTemplate.name)))


def get_template(session: Session, template_id: int) -> MessageTemplate:
    row = session.get(MessageTemplate, template_id)
    if row is None:
        raise NotFound(f"模板不存在 template not found: {template_id}")
    return row


def save_template(
    session: Session, user: User, data: Mapping[str, Any], template_id: int | None = None
) -> MessageTemplate:
    """Create (``template_id`` None) or change a template; its text is checked before it is kept."""
    check(user, "message_template", "create" if template_id is None else "update")
    row = get_template(session, template_id) if template_id is not None else None
    merged = {name: data.get(name, getattr(row, name) if row is not None else None) for name in TEMPLATE_FIELDS}
    merged["subject"] = merged["subject"] or ""
    merged["trigger"] = merged["trigger"] or ""
    merged["is_active"] = True if merged["is_active"] is None else bool(merged["is_active"])
    if not str(merged["name"] or "").strip():
        raise InvalidInput("请填写名称 the name is required", "name")
    validate_template(merged)
    clash = session.scalar(select(MessageTemplate.id).where(MessageTemplate.name == merged["name"]))
    if clash is not None and clash != template_id:
        raise InvalidInput("模板名称已存在 a template with this name exists", "name")
    if row is None:
        row = MessageTemplate(**merged, created_by=user.id)
        session.add(row)
    else:
        for name, value in merged.items():
            setattr(row, name, value)
    session.flush()
    audit.record(session, user, "create" if template_id is None else "update", "message_template", row.id)
    return row


def delete_template(session: Session, user: User, template_id: int) -> None:
    check(user, "message_template", "delete")
    row = get_template(session, template_id)
    session.delete(row)
    audit.record(session, user, "delete", "message_template", template_id)


# --- recipients --------------------------------------------------------------------------------------


@dataclass
class Recipient:
    """A customer with what sending needs: contacts, mobile numbers and opt-outs (preloaded in bulk)."""

    customer: Customer
    contacts: list[Contact] = field(default_factory=list)
    mobiles: list[Phone] = field(default_factory=list)
    opt_outs: set[tuple[int | None, str]] = field(default_factory=set)  # (contact_id or None, channel)

    def contact(self, contact_id: int | None) -> Contact | None:
        return next((c for c in self.contacts if c.id == contact_id), None)

    def address(self, channel: str, contact_id: int | None) -> tuple[int | None, str]:
        """(contact, address): the named contact's first, else the customer's own or primary contact's."""
        if channel == EMAIL:
            ranked = sorted(self.contacts, key=lambda c: (c.id != contact_id, not c.is_primary, c.id))
            found = next((c for c in ranked if c.email.strip()), None)
            return (found.id, found.email.strip()) if found else (contact_id, "")
        ranked_phones = sorted(
            self.mobiles, key=lambda p: (p.contact_id != contact_id, p.contact_id is not None, p.id)
        )
        phone = ranked_phones[0] if ranked_phones else None
        return (phone.contact_id or contact_id, phone.key) if phone else (contact_id, "")

    def opted_out(self, channel: str, contact_id: int | None) -> bool:
        return (None, channel) in self.opt_outs or (contact_id is not None and (contact_id, channel) in self.opt_outs)


def load_recipients(session: Session, customer_ids: Iterable[int]) -> dict[int, Recipient]:
    ids = list(dict.fromkeys(customer_ids))
    found: dict[int, Recipient] = {}
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        for customer in session.scalars(select(Customer).where(Customer.id.in_(chunk))):
            found[customer.id] = Recipient(customer)
        contacts = session.scalars(select(Contact).where(Contact.customer_id.in_(chunk)).order_by(Contact.id))
        for contact in contacts:
            found[contact.customer_id].contacts.append(contact)
        mobiles = session.scalars(
            select(Phone).where(Phone.customer_id.in_(chunk), Phone.kind == "mobile").order_by(Phone.id)
        )
        for phone in mobiles:
            found[phone.customer_id].mobiles.append(phone)
        outs = session.execute(
            select(MessageOptOut.customer_id, MessageOptOut.contact_id, MessageOptOut.channel).where(
                MessageOptOut.customer_id.in_(chunk)
            )
        )
        for customer_id, contact_id, channel in outs:
            found[customer_id].opt_outs.add((contact_id, channel))
    return found


def field_values(
    recipient: Recipient, contact: Contact | None, order: Order | None = None, ticket: Ticket | None = None
) -> dict[str, str]:
    """The values a template may use for this recipient: only the families that apply exist."""
    customer = recipient.customer
    values = {f"customer.{name}": str(getattr(customer, name) or "") for name in templates.FIELDS["customer"]}
    for key, value in (customer.custom or {}).items():
        if value is not None and value != "":
            values[f"{templates.CUSTOM_PREFIX}{key}"] = str(value)
    if contact is not None:
        values.update({f"contact.{name}": str(getattr(contact, name) or "") for name in templates.FIELDS["contact"]})
    if order is not None:
        values.update({f"order.{name}": str(getattr(order, name) or "") for name in templates.FIELDS["order"]})
        values["order.total"] = f"{order.total:.2f}"
    if ticket is not None:
        values.update({f"ticket.{name}": str(getattr(ticket, name) or "") for name in templates.FIELDS["ticket"]})
    return values


# --- composing ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Draft:
    """What to send: a template, or a subject and body typed for this one message."""

    channel: str
    subject: str
    body: str
    template_id: int | None = None
    trigger: str = ""

    @classmethod
    def of(cls, template: MessageTemplate) -> Draft:
        return cls(template.channel, template.subject, template.body, template.id, template.trigger)


def compose(
    session: Session,
    draft: Draft,
    recipient: Recipient,
    *,
    contact_id: int | None = None,
    order: Order | None = None,
    ticket: Ticket | None = None,
    batch_id: int | None = None,
    user: User | None = None,
    strict: bool = False,
    now: datetime | None = None,
) -> Message:
    """The message row for one recipient. ``strict``: a field without a value raises instead of being
    recorded as a failed message (an agent's single send, where someone can fix it at once)."""
    contact_id, address = recipient.address(draft.channel, contact_id)
    message = Message(
        channel=draft.channel,
        customer_id=recipient.customer.id,
        contact_id=contact_id,
        order_id=order.id if order is not None else None,
        ticket_id=ticket.id if ticket is not None else None,
        template_id=draft.template_id,
        batch_id=batch_id,
        trigger=draft.trigger,
        to_address=address[:200],
        created_by=user.id if user is not None else None,
        created_at=now or utcnow(),
    )
    try:
        rendered = templates.render(
            draft.subject if draft.channel == EMAIL else "",
            draft.body,
            field_values(recipient, recipient.contact(contact_id), order, ticket),
        )
    except templates.MissingFields as exc:
        if strict:
            raise
        message.status, message.error = FAILED, str(exc)[:500]
        message.body = draft.body
    else:
        message.subject, message.body = rendered.subject[:300], rendered.body
        if recipient.opted_out(draft.channel, contact_id):
            message.status = OPTED_OUT
        elif not address:
            message.status = NO_ADDRESS
        else:
            message.status = QUEUED
    session.add(message)
    return message


def send_to_customer(
    session: Session,
    user: User,
    customer_id: int,
    draft: Draft,
    contact_id: int | None = None,
) -> Message:
    """An agent's message to one customer (from a template or typed); the text is checked first."""
    check(user, "message", "create")
    if draft.channel not in CHANNELS:
        raise InvalidInput("渠道须为 email 或 sms channel must be email or sms", "channel")
    if session.get(Customer, customer_id) is None:
        raise InvalidInput("客户不存在 unknown customer", "customer_id")
    ensure_visible(session, user, Customer, customer_id)
    templates.check_fields([draft.subject, draft.body], templates.BASE_FAMILIES)
    recipient = load_recipients(session, [customer_id])[customer_id]
    if contact_id is not None and recipient.contact(contact_id) is None:
        raise InvalidInput("联系人不属于该客户 the contact is not this customer's", "contact_id")
    message = compose(session, draft, recipient, contact_id=contact_id, user=user, strict=True)
    session.flush()
    return message


def customer_search(session: Session, user: User, q: str = "", filters: Mapping[str, str] | None = None) -> Any:
    """The customers a CRM list search finds (same filters and terms as ``GET /api/crm/customers``)."""
    resource = resources.CUSTOMERS
    stmt = records.scoped_select(session, user, resource).where(
        Customer.status != "merged", *records.filter_clauses(resource, filters or {})
    )
    term = records.search_clause(resource, q)
    return stmt.where(term) if term is not None else stmt


def bulk_send(
    session: Session,
    user: User,
    draft: Draft,
    q: str = "",
    filters: Mapping[str, str] | None = None,
    now: datetime | None = None,
) -> MessageBatch:
    """A template (or a typed text) to every customer of a search; opted-out ones get a skipped row."""
    check(user, "message", "bulk")
    if draft.channel not in CHANNELS:
        raise InvalidInput("渠道须为 email 或 sms channel must be email or sms", "channel")
    if draft.trigger:
        raise InvalidInput("服务通知模板不能群发 a service-message template cannot be sent in bulk", "template_id")
    templates.check_fields([draft.subject, draft.body], templates.BASE_FAMILIES)
    ids = list(session.scalars(customer_search(session, user, q, filters).with_only_columns(Customer.id)))
    if len(ids) > MAX_BULK:
        raise InvalidInput(f"一次最多群发 {MAX_BULK} 位客户 at most {MAX_BULK} customers per bulk send", "q")
    now = now or utcnow()
    batch = MessageBatch(
        template_id=draft.template_id,
        channel=draft.channel,
        search=json.dumps({"q": q, "filters": dict(filters or {})}, ensure_ascii=False),
        matched=len(ids),
        created_by=user.id,
        created_at=now,
    )
    session.add(batch)
    session.flush()
    counts: dict[str, int] = defaultdict(int)
    for start in range(0, len(ids), CHUNK):
        recipients = load_recipients(session, ids[start : start + CHUNK])
        for customer_id in ids[start : start + CHUNK]:
            message = compose(session, draft, recipients[customer_id], batch_id=batch.id, user=user, now=now)
            counts[message.status] += 1
        session.flush()
    batch.queued, batch.opted_out, batch.no_address = counts[QUEUED], counts[OPTED_OUT], counts[NO_ADDRESS]
    audit.record(session, user, "bulk_send", "message_batch", batch.id, {"matched": len(ids), "queued": batch.queued})
    return batch


# --- opt-outs ----------------------------------------------------------------------------------------


def set_opt_out(
    session: Session,
    user: User,
    customer_id: int,
    channel: str,
    opted_out: bool,
    contact_id: int | None = None,
    note: str = "",
) -> bool:
    """Record (or lift) that the customer or one of its contacts wants no messages on ``channel``."""
    check(user, "customer", "update")
    if channel not in CHANNELS:
        raise InvalidInput("渠道须为 email 或 sms channel must be email or sms", "channel")
    if session.get(Customer, customer_id) is None:
        raise NotFound(f"客户不存在 customer not found: {customer_id}")
    ensure_visible(session, user, Customer, customer_id)
    if contact_id is not None:
        contact = session.get(Contact, contact_id)
        if contact is None or contact.customer_id != customer_id:
            raise InvalidInput("联系人不属于该客户 the contact is not this customer's", "contact_id")
    existing = session.scalar(
        select(MessageOptOut).where(
            MessageOptOut.customer_id == customer_id,
            MessageOptOut.channel == channel,
            MessageOptOut.contact_id.is_(None) if contact_id is None else MessageOptOut.contact_id == contact_id,
        )
    )
    if opted_out and existing is None:
        session.add(
            MessageOptOut(
                customer_id=customer_id, contact_id=contact_id, channel=channel, note=note[:300], created_by=user.id
            )
        )
    elif not opted_out and existing is not None:
        session.delete(existing)
    session.flush()
    audit.record(
        session, user, "opt_out" if opted_out else "opt_in", "customer", customer_id,
        {"channel": channel, "contact_id": contact_id},
    )
    return opted_out


def opt_outs(session: Session, user: User, customer_id: int) -> list[MessageOptOut]:
    check(user, "customer", "read")
    ensure_visible(session, user, Customer, customer_id)
    return list(session.scalars(select(MessageOptOut).where(MessageOptOut.customer_id == customer_id)))


# --- reading -----------------------------------------------------------------------------------------


def visible_messages(session: Session, user: User) -> Any:
    check(user, "message", "read")
    customers = select(Customer.id).where(scope_clause(session, user, Customer))
    return select(Message).where(Message.customer_id.in_(customers))


def list_messages(
    session: Session,
    user: User,
    *,
    customer_id: int | None = None,
    batch_id: int | None = None,
    status: str = "",
    channel: str = "",
    limit: int = 200,
    offset: int = 0,
) -> list[Message]:
    stmt = visible_messages(session, user)
    if customer_id is not None:
        stmt = stmt.where(Message.customer_id == customer_id)
    if batch_id is not None:
        stmt = stmt.where(Message.batch_id == batch_id)
    if status:
        stmt = stmt.where(Message.status == status)
    if channel:
        stmt = stmt.where(Message.channel == channel)
    stmt = stmt.order_by(Message.id.desc()).limit(max(1, min(limit, 1000))).offset(max(0, offset))
    return list(session.scalars(stmt))


# --- delivery (the outbox's side of the table) -------------------------------------------------------


def claim_due(
    session: Session, now: datetime, lease_s: float, limit: int = 100, ids: Iterable[int] = ()
) -> list[Outgoing]:
    """Queued messages that are due (or ``ids`` of them), each marked ``sending`` by exactly one claimer.

    A claim is a lease: a process that dies while sending leaves the row ``sending`` until the lease
    ends, and then it is claimed again.
    """
    wanted = list(ids)
    stmt = select(Message.id).where(
        ((Message.status == QUEUED) & ((Message.next_attempt_at.is_(None)) | (Message.next_attempt_at <= now)))
        | ((Message.status == SENDING) & (Message.next_attempt_at <= now))
    )
    if wanted:
        stmt = stmt.where(Message.id.in_(wanted))
    candidates = list(session.scalars(stmt.order_by(Message.id).limit(limit)))
    claimed: list[Outgoing] = []
    for message_id in candidates:
        result = session.execute(
            update(Message)
            .where(Message.id == message_id, Message.status.in_((QUEUED, SENDING)))
            .where((Message.next_attempt_at.is_(None)) | (Message.next_attempt_at <= now))
            .values(status=SENDING, attempts=Message.attempts + 1, next_attempt_at=now + timedelta(seconds=lease_s))
        )
        if result.rowcount == 1:  # type: ignore[attr-defined]
            row = session.get(Message, message_id)
            assert row is not None
            session.refresh(row)
            claimed.append(Outgoing(row.channel, row.to_address, row.subject, row.body, str(row.id)))
    session.commit()
    return claimed


def record_delivery(
    session: Session, message_id: int, delivery: Delivery, now: datetime, max_attempts: int, retry_s: float
) -> Message:
    row = session.get(Message, message_id)
    if row is None:
        raise NotFound(f"消息不存在 message not found: {message_id}")
    if delivery.ok:
        row.status, row.sent_at, row.error = SENT, now, ""
        row.provider_id, row.next_attempt_at = delivery.provider_id[:100], None
    elif delivery.transient and row.attempts < max_attempts:
        row.status, row.error = QUEUED, delivery.error[:500]
        row.next_attempt_at = now + timedelta(seconds=retry_s * row.attempts)
    else:
        row.status, row.error, row.next_attempt_at = FAILED, delivery.error[:500], None
    session.commit()
    return row


def gateway_report(session: Session, provider_id: str, delivered: bool, error: str = "") -> Message:
    """A gateway's delivery report for a message it accepted (matched by the id it gave)."""
    row = session.scalar(select(Message).where(Message.provider_id == provider_id, Message.channel == SMS))
    if row is None or not provider_id:
        raise NotFound(f"消息不存在 no message with gateway id {provider_id[:100]}")
    if row.status in (SENT, "delivered", FAILED):
        row.status = "delivered" if delivered else FAILED
        row.error = "" if delivered else (error or "gateway reported a failed delivery")[:500]
    return row

"""Ticket (work order) rules: creation with SLA due time, workflow steps, notes, follow-up, history."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_core import audit
from crm_core.errors import Conflict, InvalidInput
from crm_core.messaging import notify
from crm_core.models import Attachment, Customer, Ticket, TicketEvent, TicketType, User, WorkflowStep, utcnow
from crm_core.permissions import check, ensure_visible
from crm_core.schemas import plain_text
from crm_core.services import records, resources
from crm_core.services.workflow import ensure_handler, place_of, steps_of

OPEN, IN_PROGRESS, RETURNED, RESOLVED, CLOSED = "open", "in_progress", "returned", "resolved", "closed"
MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024


def _ticket(session: Session, user: User, ticket_id: int, action: str = "update") -> Ticket:
    row: Ticket = records.get_row(session, user, resources.TICKETS, ticket_id, action)
    return row


def _current(steps: list[WorkflowStep], ticket: Ticket) -> int:
    return place_of(
        steps, ticket.step_position, "工单所在步骤已不在流程中 the ticket's step is no longer in its workflow"
    )


def _event(
    session: Session, ticket: Ticket, user: User, action: str, note: str, to_step: int | None, now: datetime
) -> TicketEvent:
    event = TicketEvent(
        ticket_id=ticket.id,
        user_id=user.id,
        action=action,
        from_step=ticket.step_position,
        to_step=to_step,
        note=note,
        at=now,
    )
    session.add(event)
    session.flush()
    return event


def prepare_ticket(session: Session, user: User, data: dict[str, Any], now: datetime | None = None) -> dict[str, Any]:
    """Fill in what a new ticket derives: SLA due time, workflow, first step's assignee."""
    now = now or utcnow()
    ticket_type = session.get(TicketType, data.get("type_id") or 0)
    if ticket_type is None:
        raise InvalidInput("工单类型不存在 unknown ticket type", "type_id")
    if data.get("customer_id") is not None:
        if session.get(Customer, data["customer_id"]) is None:
            raise InvalidInput("客户不存在 unknown customer", "customer_id")
        ensure_visible(session, user, Customer, data["customer_id"])
    data.setdefault("due_at", now + timedelta(hours=ticket_type.sla_hours))
    data["workflow_id"] = data.get("workflow_id") or ticket_type.workflow_id
    data["step_position"], data["status"] = 0, OPEN
    if data["workflow_id"] is not None:
        first = steps_of(session, data["workflow_id"])[0]
        data["step_position"] = first.position
        if not data.get("assignee_id"):
            data["assignee_id"], data["assignee_role_id"] = first.assignee_user_id, first.assignee_role_id
    return data


def open_ticket(session: Session, user: User, data: dict[str, Any], now: datetime | None = None) -> Ticket:
    check(user, "ticket", "create")
    records.guard_references(session, user, resources.TICKETS, data, None)  # department_id, owner_id in scope
    now = now or utcnow()
    data = prepare_ticket(session, user, dict(data), now)
    data.setdefault("owner_id", user.id)
    data.setdefault("department_id", user.department_id)
    ticket = Ticket(**data, created_at=now)
    session.add(ticket)
    session.flush()
    _event(session, ticket, user, "create", data.get("description", ""), ticket.step_position, now)
    notify.ticket_step(session, ticket, "create")  # service messages (templates with trigger ticket.create)
    audit.record(session, user, "create", "ticket", ticket.id)
    return ticket


def pass_on(
    session: Session,
    user: User,
    ticket_id: int,
    note: str,
    assignee_id: int | None = None,
    now: datetime | None = None,
) -> Ticket:
    """The current step's handler passes the ticket to the next step; after the last it is resolved."""
    now = now or utcnow()
    ticket = _ticket(session, user, ticket_id)
    if ticket.status in (RESOLVED, CLOSED):
        raise Conflict("工单已办结 the ticket is already resolved")
    steps = steps_of(session, ticket.workflow_id)
    here = _current(steps, ticket)
    ensure_handler(user, steps[here], "ticket", ticket.assignee_id)
    notify.ticket_step(session, ticket, steps[here].action)  # the step done: ticket.<its action>
    if here + 1 >= len(steps):
        _event(session, ticket, user, "resolve", note, None, now)
        ticket.status, ticket.closed_at = RESOLVED, now
        notify.ticket_step(session, ticket, "resolve")
        ticket.assignee_id = ticket.assignee_role_id = None
        return ticket
    nxt = steps[here + 1]
    _event(session, ticket, user, "pass", note, nxt.position, now)
    ticket.step_position, ticket.status = nxt.position, IN_PROGRESS
    ticket.assignee_id = assignee_id or nxt.assignee_user_id
    ticket.assignee_role_id = nxt.assignee_role_id
    return ticket


def send_back(session: Session, user: User, ticket_id: int, note: str, now: datetime | None = None) -> Ticket:
    """The current step's handler returns the ticket to the previous step, with a reason."""
    now = now or utcnow()
    if not note.strip():
        raise InvalidInput("退回须填写原因 a reason is required to send back", "note")
    ticket = _ticket(session, user, ticket_id)
    if ticket.status in (RESOLVED, CLOSED):
        raise Conflict("此工单无法退回 the ticket cannot be sent back from here")
    steps = steps_of(session, ticket.workflow_id)
    here = _current(steps, ticket)
    if here == 0:
        raise Conflict("此工单无法退回 the ticket cannot be sent back from here")
    ensure_handler(user, steps[here], "ticket", ticket.assignee_id)
    back = steps[here - 1]
    previous_handler = session.scalar(
        select(TicketEvent.user_id)
        .where(TicketEvent.ticket_id == ticket.id, TicketEvent.to_step == ticket.step_position)
        .order_by(TicketEvent.id.desc())
    )
    _event(session, ticket, user, "return", note, back.position, now)
    ticket.step_position, ticket.status = back.position, RETURNED if here == 1 else IN_PROGRESS
    ticket.assignee_id = back.assignee_user_id or previous_handler
    ticket.assignee_role_id = back.assignee_role_id
    return ticket


def add_note(session: Session, user: User, ticket_id: int, note: str, now: datetime | None = None) -> TicketEvent:
    ticket = _ticket(session, user, ticket_id)
    return _event(session, ticket, user, "note", note, ticket.step_position, now or utcnow())


def close(session: Session, user: User, ticket_id: int, note: str = "", now: datetime | None = None) -> Ticket:
    now = now or utcnow()
    ticket = _ticket(session, user, ticket_id)
    if ticket.status == CLOSED:
        raise Conflict("工单已关闭 the ticket is already closed")
    if ticket.status != RESOLVED:
        check(user, "ticket", "approve")  # closing unfinished work is a supervisor's decision
    _event(session, ticket, user, "close", note, None, now)
    ticket.status, ticket.closed_at = CLOSED, now
    notify.ticket_step(session, ticket, "close")
    return ticket


def schedule_visit(session: Session, user: User, ticket_id: int, at: datetime, note: str = "") -> Ticket:
    ticket = _ticket(session, user, ticket_id)
    ticket.followup_at, ticket.followup_note = at, note
    _event(session, ticket, user, "visit_planned", note, ticket.step_position, utcnow())
    return ticket


def record_visit(session: Session, user: User, ticket_id: int, note: str, now: datetime | None = None) -> Ticket:
    ticket = _ticket(session, user, ticket_id)
    ticket.followup_note = note
    _event(session, ticket, user, "visit", note, ticket.step_position, now or utcnow())
    return ticket


def history(session: Session, user: User, ticket_id: int) -> list[TicketEvent]:
    _ticket(session, user, ticket_id, "read")
    return list(session.scalars(select(TicketEvent).where(TicketEvent.ticket_id == ticket_id).order_by(TicketEvent.id)))


def add_attachment(
    session: Session,
    user: User,
    ticket_id: int,
    filename: str,
    content: bytes,
    content_type: str,
    storage_dir: Path,
    event_id: int | None = None,
) -> Attachment:
    ticket = _ticket(session, user, ticket_id)
    if len(content) > MAX_ATTACHMENT_BYTES:
        raise InvalidInput("附件过大 attachment too large (max 10 MB)", "file")
    try:
        plain_text(filename)  # the same markup rule as every CRM text field
    except ValueError as exc:
        raise InvalidInput(f"文件名 file name: {exc}", "file") from exc
    key = f"{uuid.uuid4().hex}{Path(filename).suffix[:10]}"
    folder = storage_dir / "attachments"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / key).write_bytes(content)
    row = Attachment(
        ticket_id=ticket.id,
        event_id=event_id,
        filename=Path(filename).name[:200] or "file",
        content_type=content_type[:100],
        size=len(content),
        storage_key=key,
        uploaded_by=user.id,
    )
    session.add(row)
    session.flush()
    return row

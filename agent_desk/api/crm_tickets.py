"""Ticket routes: CRUD, workflow actions (pass on, send back, close), notes, visits, attachments."""

from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from agent_desk.api.crm_crud import OWNER_FIELDS, crm_router, crud_router
from agent_desk.deps import current_user, get_session
from crm_core.errors import InvalidInput, NotFound
from crm_core.models import Attachment, Ticket, TicketEvent, User
from crm_core.schemas import PlainText, input_schema, output_schema
from crm_core.services import resources as res
from crm_core.services import tickets as svc

# Fields only the workflow changes.
WORKFLOW_FIELDS = frozenset({"status", "step_position", "workflow_id", "assignee_role_id", "closed_at"})

TicketOut = output_schema(Ticket)
EventOut = output_schema(TicketEvent)
AttachmentOut = output_schema(Attachment, hidden=frozenset({"storage_key"}))
TicketCreate = input_schema(Ticket, exclude=WORKFLOW_FIELDS | OWNER_FIELDS, name="TicketOpen")

tickets = crm_router("/tickets", "tickets")


class StepNote(BaseModel):
    note: PlainText = Field("", max_length=5000)
    assignee_id: int | None = None


class Visit(BaseModel):
    at: datetime | None = None
    note: PlainText = Field("", max_length=5000)


@tickets.post("", response_model=TicketOut, status_code=201, summary="Open a ticket (due time from the SLA)")
def open_ticket(
    payload: TicketCreate,  # type: ignore[valid-type]
    user: User = Depends(current_user),
    session: Session = Depends(get_session),
) -> Any:
    ticket = svc.open_ticket(session, user, payload.model_dump(exclude_unset=True))  # type: ignore[attr-defined]
    session.commit()
    return TicketOut.model_validate(ticket)


@tickets.post("/{ticket_id}/pass", response_model=TicketOut, summary="Finish this step and pass the ticket on")
def pass_on(
    ticket_id: int,
    body: StepNote,
    user: User = Depends(current_user),
    session: Session = Depends(get_session),
) -> Any:
    ticket = svc.pass_on(session, user, ticket_id, body.note, body.assignee_id)
    session.commit()
    return TicketOut.model_validate(ticket)


@tickets.post("/{ticket_id}/return", response_model=TicketOut, summary="Send the ticket back one step")
def send_back(
    ticket_id: int,
    body: StepNote,
    user: User = Depends(current_user),
    session: Session = Depends(get_session),
) -> Any:
    ticket = svc.send_back(session, user, ticket_id, body.note)
    session.commit()
    return TicketOut.model_validate(ticket)


@tickets.post("/{ticket_id}/close", response_model=TicketOut, summary="Close the ticket")
def close(
    ticket_id: int,
    body: StepNote,
    user: User = Depends(current_user),
    session: Session = Depends(get_session),
) -> Any:
    ticket = svc.close(session, user, ticket_id, body.note)
    session.commit()
    return TicketOut.model_validate(ticket)


@tickets.post("/{ticket_id}/notes", response_model=EventOut, status_code=201, summary="Add a note")
def note(
    ticket_id: int,
    body: StepNote,
    user: User = Depends(current_user),
    session: Session = Depends(get_session),
) -> Any:
    event = svc.add_note(session, user, ticket_id, body.note)
    session.commit()
    return EventOut.model_validate(event)


@tickets.post("/{ticket_id}/visit", response_model=TicketOut, summary="Plan (with `at`) or record a follow-up visit")
def visit(
    ticket_id: int, body: Visit, user: User = Depends(current_user), session: Session = Depends(get_session)
) -> Any:
    if body.at is not None:
        ticket = svc.schedule_visit(session, user, ticket_id, body.at, body.note)
    else:
        ticket = svc.record_visit(session, user, ticket_id, body.note)
    session.commit()
    return TicketOut.model_validate(ticket)


@tickets.get("/{ticket_id}/history", response_model=list[EventOut], summary="Full history")  # type: ignore[valid-type]
def history(ticket_id: int, user: User = Depends(current_user), session: Session = Depends(get_session)) -> Any:
    return [EventOut.model_validate(e) for e in svc.history(session, user, ticket_id)]


def _data_dir(request: Request) -> Path:
    return Path(request.app.state.settings.data_dir)


@tickets.post("/{ticket_id}/attachments", response_model=AttachmentOut, status_code=201, summary="Attach a file")
async def attach(
    ticket_id: int,
    request: Request,
    file: UploadFile = File(...),
    event_id: int | None = Form(None),
    user: User = Depends(current_user),
    session: Session = Depends(get_session),
) -> Any:
    limit = svc.MAX_ATTACHMENT_BYTES
    content = await file.read(limit + 1)
    if len(content) > limit:
        raise InvalidInput("附件过大 attachment too large (max 10 MB)", "file")
    name, folder = file.filename or "file", _data_dir(request)
    kind = file.content_type or "application/octet-stream"

    def store() -> Attachment:  # database and disk work, off the event loop
        row = svc.add_attachment(session, user, ticket_id, name, content, kind, folder, event_id)
        session.commit()
        return row

    row = await run_in_threadpool(store)
    return AttachmentOut.model_validate(row)


@tickets.get("/{ticket_id}/attachments", response_model=list[AttachmentOut], summary="Files of a ticket")  # type: ignore[valid-type]
def attachments(ticket_id: int, user: User = Depends(current_user), session: Session = Depends(get_session)) -> Any:
    svc.history(session, user, ticket_id)  # permission and scope check
    rows = session.scalars(select(Attachment).where(Attachment.ticket_id == ticket_id).order_by(Attachment.id))
    return [AttachmentOut.model_validate(r) for r in rows]


@tickets.get("/{ticket_id}/attachments/{attachment_id}", summary="Download a file")
def download(
    ticket_id: int,
    attachment_id: int,
    request: Request,
    user: User = Depends(current_user),
    session: Session = Depends(get_session),
) -> FileResponse:
    svc.history(session, user, ticket_id)
    row = session.get(Attachment, attachment_id)
    if row is None or row.ticket_id != ticket_id:
        raise NotFound("附件不存在 attachment not found")
    return FileResponse(
        _data_dir(request) / "attachments" / row.storage_key,
        media_type=row.content_type,
        filename=row.filename,
    )


router = APIRouter()
router.include_router(tickets)
router.include_router(
    crud_router(res.TICKETS, "/tickets", "tickets", exclude=WORKFLOW_FIELDS, actions=("list", "get", "update"))
)
router.include_router(crud_router(res.TICKET_TYPES, "/ticket-types", "tickets"))

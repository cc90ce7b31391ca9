"""Messaging routes: templates (administration), sending to one customer or in bulk to a CRM search,
opt-outs, the message history, the sent/failed report with its Excel export, and the ``/messaging`` page."""

from __future__ import annotations

import hmac
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, BackgroundTasks, Depends, Header, Query, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from agent_desk.api.crm_crud import CrmRoute
from agent_desk.api.pages import _logged_in_page
from agent_desk.deps import app_sessionmaker, current_user, get_session, require
from crm_core.errors import AuthFailed, InvalidInput, NotFound
from crm_core.messaging import services as svc
from crm_core.messaging import templates
from crm_core.messaging.models import CHANNELS, STATUSES, Message, MessageBatch, MessageOptOut, MessageTemplate
from crm_core.messaging.outbox import Outbox, make_outbox
from crm_core.messaging.reports import COLUMNS, GROUPINGS, message_report
from crm_core.models import Customer, User
from crm_core.permissions import check, ensure_visible
from crm_core.schemas import PlainText, output_schema
from stats.export import CSV_MEDIA_TYPE, XLSX_MEDIA_TYPE, to_csv, to_xlsx
from stats.reports import Column, ReportTable

api = APIRouter(prefix="/api/messaging", tags=["messaging"], route_class=CrmRoute)

DbSession = Annotated[Session, Depends(get_session)]
Me = Annotated[User, Depends(current_user)]
TemplateOut = output_schema(MessageTemplate, name="MessageTemplateOut")
MessageOut = output_schema(Message, name="MessageOut")
BatchOut = output_schema(MessageBatch, name="MessageBatchOut")
OptOutOut = output_schema(MessageOptOut, name="MessageOptOutOut")
Channel = Literal["email", "sms"]


class TemplateIn(BaseModel):
    name: PlainText = Field(max_length=100)
    channel: Channel
    subject: PlainText = Field("", max_length=200)
    body: PlainText = Field(max_length=10_000)
    trigger: str = Field("", max_length=50)
    is_active: bool = True


class DraftIn(BaseModel):
    """A template, or a channel with the text typed for this send."""

    template_id: int | None = None
    channel: Channel | None = None
    subject: PlainText = Field("", max_length=200)
    body: PlainText = Field("", max_length=10_000)


class SendIn(DraftIn):
    customer_id: int
    contact_id: int | None = None


class BulkIn(DraftIn):
    q: str = Field("", max_length=100, description="The CRM customer search's terms.")
    filters: dict[str, str] = Field(default_factory=dict, description="The CRM list's filters (region=..., ...).")


class PreviewIn(DraftIn):
    customer_id: int
    contact_id: int | None = None
    trigger: str = Field("", max_length=50)


class OptOutIn(BaseModel):
    channel: Channel
    opted_out: bool
    contact_id: int | None = None
    note: PlainText = Field("", max_length=300)


def outbox_of(request: Request) -> Outbox:
    """The runtime's outbox (its worker sends what is queued), else one for this app."""
    runtime = request.app.state.runtime
    found: Outbox | None = getattr(runtime, "outbox", None) or getattr(request.app.state, "outbox", None)
    if found is None:
        found = request.app.state.outbox = make_outbox(app_sessionmaker(request.app), request.app.state.settings)
    return found


def _draft(session: Session, body: DraftIn) -> svc.Draft:
    if body.template_id is not None:
        template = svc.get_template(session, body.template_id)
        if not template.is_active:
            raise InvalidInput("模板已停用 the template is not active", "template_id")
        return svc.Draft.of(template)
    if body.channel is None:
        raise InvalidInput("请选择模板或渠道 choose a template or a channel", "channel")
    return svc.Draft(body.channel, body.subject, body.body)


# --- templates ---------------------------------------------------------------------------------------


@api.get("/templates", summary="Templates, the fields they may use and the triggers of service messages")
def list_templates(session: DbSession, user: Me) -> dict[str, Any]:
    rows = svc.list_templates(session, user)
    return {
        "templates": [TemplateOut.model_validate(t).model_dump(mode="json") for t in rows],
        "fields": {family: templates.known_fields([family]) for family in templates.FIELDS},
        "custom_prefix": templates.CUSTOM_PREFIX,
        "triggers": [f"order.{a}" for a in svc.ORDER_TRIGGERS] + [f"ticket.{a}" for a in svc.TICKET_TRIGGERS],
        "channels": list(CHANNELS),
    }


@api.post("/templates", status_code=201, response_model=TemplateOut, summary="Create a template")
def create_template(body: TemplateIn, session: DbSession, user: Me) -> Any:
    row = svc.save_template(session, user, body.model_dump())
    session.commit()
    return TemplateOut.model_validate(row)


@api.put("/templates/{template_id}", response_model=TemplateOut, summary="Change a template")
def update_template(template_id: int, body: TemplateIn, session: DbSession, user: Me) -> Any:
    row = svc.save_template(session, user, body.model_dump(), template_id)
    session.commit()
    return TemplateOut.model_validate(row)


@api.delete("/templates/{template_id}", status_code=204, summary="Delete a template (its messages stay)")
def delete_template(template_id: int, session: DbSession, user: Me) -> Response:
    svc.delete_template(session, user, template_id)
    session.commit()
    return Response(status_code=204)


@api.post("/preview", summary="The text a customer would get (fields filled in), or which fields lack a value")
def preview(body: PreviewIn, session: DbSession, user: Me) -> dict[str, Any]:
    check(user, "message_template", "read")
    draft = _draft(session, body)
    trigger = body.trigger or draft.trigger
    templates.check_fields([draft.subject, draft.body], templates.families_for(trigger))
    ensure_visible(session, user, Customer, body.customer_id)
    recipient = svc.load_recipients(session, [body.customer_id]).get(body.customer_id)
    if recipient is None:
        raise NotFound(f"客户不存在 customer not found: {body.customer_id}")
    contact_id, address = recipient.address(draft.channel, body.contact_id)
    values = svc.field_values(recipient, recipient.contact(contact_id))
    sample = {name: f"[{name}]" for name in templates.known_fields(("order", "ticket"))}  # no order or ticket here
    rendered = templates.render(draft.subject if draft.channel == "email" else "", draft.body, {**sample, **values})
    return {
        "subject": rendered.subject,
        "body": rendered.body,
        "to": address,
        "opted_out": recipient.opted_out(draft.channel, contact_id),
    }


# --- sending -----------------------------------------------------------------------------------------


@api.post("/send", status_code=201, response_model=MessageOut, summary="Send to one customer now")
async def send(request: Request, body: SendIn, session: DbSession, user: Me) -> Any:
    def compose() -> int:
        message = svc.send_to_customer(session, user, body.customer_id, _draft(session, body), body.contact_id)
        session.commit()
        return message.id

    message_id = await run_in_threadpool(compose)
    await outbox_of(request).deliver([message_id])

    def reread() -> Any:
        session.expire_all()
        return MessageOut.model_validate(session.get(Message, message_id))

    return await run_in_threadpool(reread)


class DeliveryReportIn(BaseModel):
    """An SMS gateway's word on a message it accepted: ``id`` is the id it answered the send with."""

    id: str = Field(min_length=1, max_length=100)
    status: Literal["delivered", "failed", "undelivered", "expired", "rejected"]
    error: PlainText = Field("", max_length=500)


@api.post("/gateway/reports", summary="An SMS gateway's delivery report (authenticated by the shared secret)")
def gateway_report(
    body: DeliveryReportIn,
    request: Request,
    session: DbSession,
    x_gateway_secret: Annotated[str, Header()] = "",
) -> dict[str, Any]:
    """No user: the gateway proves itself with ``CC_SMS_GATEWAY_REPORT_SECRET`` (none set: refused)."""
    secret = str(request.app.state.settings.sms_gateway_report_secret or "")
    if not secret or not hmac.compare_digest(x_gateway_secret.encode(), secret.encode()):
        raise AuthFailed("短信网关凭据无效 / The gateway's secret is missing or wrong")
    row = svc.gateway_report(session, body.id, body.status == "delivered", body.error)
    session.commit()
    return {"id": row.id, "status": row.status}


async def _drain(outbox: Outbox) -> None:
    while len(await outbox.deliver()) == 100:
        pass


@api.post("/bulk", status_code=201, response_model=BatchOut, summary="Send to every customer of a CRM search")
def bulk(request: Request, body: BulkIn, background: BackgroundTasks, session: DbSession, user: Me) -> Any:
    check(user, "message", "bulk")
    draft = _draft(session, body)
    batch = svc.bulk_send(session, user, draft, body.q, body.filters)
    session.commit()
    background.add_task(_drain, outbox_of(request))
    return BatchOut.model_validate(batch)


@api.get("/messages", response_model=list[MessageOut], summary="Messages, newest first (a customer's history)")  # type: ignore[valid-type]
def messages(
    session: DbSession,
    user: Me,
    customer_id: int | None = None,
    batch_id: int | None = None,
    status: Annotated[str, Query(pattern="^(" + "|".join(STATUSES) + ")?$")] = "",
    channel: Annotated[str, Query(pattern="^(email|sms)?$")] = "",
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Any:
    if customer_id is not None:
        check(user, "message", "read")
        ensure_visible(session, user, Customer, customer_id)
    rows = svc.list_messages(
        session,
        user,
        customer_id=customer_id,
        batch_id=batch_id,
        status=status,
        channel=channel,
        limit=limit,
        offset=offset,
    )
    return [MessageOut.model_validate(m) for m in rows]


# --- opt-outs ----------------------------------------------------------------------------------------


@api.get("/customers/{customer_id}/opt-outs", response_model=list[OptOutOut], summary="A customer's opt-outs")  # type: ignore[valid-type]
def get_opt_outs(customer_id: int, session: DbSession, user: Me) -> Any:
    return [OptOutOut.model_validate(o) for o in svc.opt_outs(session, user, customer_id)]


@api.put("/customers/{customer_id}/opt-outs", response_model=list[OptOutOut], summary="Opt out or back in")  # type: ignore[valid-type]
def put_opt_out(customer_id: int, body: OptOutIn, session: DbSession, user: Me) -> Any:
    svc.set_opt_out(session, user, customer_id, body.channel, body.opted_out, body.contact_id, body.note)
    session.commit()
    return [OptOutOut.model_validate(o) for o in svc.opt_outs(session, user, customer_id)]


# --- report ------------------------------------------------------------------------------------------


def _report(request: Request, session: Session, user: User, start: datetime, end: datetime, group_by: str) -> Any:
    rows = message_report(session, user, start, end, group_by, request.app.state.settings.timezone)
    columns = [Column(key, zh, en, kind) for key, zh, en, kind in COLUMNS]
    chart = {"x": "period", "series": ["sent", "failed"]}
    return ReportTable("messages", columns, [row.values() for row in rows], chart)


GroupBy = Annotated[str, Query(pattern="^(" + "|".join(GROUPINGS) + ")$")]


@api.get("/report", summary="Messages sent and failed per period, channel and template")
def report(
    request: Request,
    session: DbSession,
    user: Annotated[User, Depends(require("report", "read"))],
    start: datetime,
    end: datetime,
    group_by: GroupBy = "day",
    lang: Literal["zh-CN", "en"] = "zh-CN",
) -> dict[str, Any]:
    return dict(_report(request, session, user, start, end, group_by).to_json(lang))


@api.get("/report/export", summary="The report as Excel or CSV")
def report_export(
    request: Request,
    session: DbSession,
    user: Annotated[User, Depends(require("report", "export"))],
    start: datetime,
    end: datetime,
    group_by: GroupBy = "day",
    lang: Literal["zh-CN", "en"] = "zh-CN",
    format: Literal["xlsx", "csv"] = "xlsx",
) -> Response:
    table = _report(request, session, user, start, end, group_by)
    name = f"messages_{start:%Y%m%d}_{end:%Y%m%d}.{format}"
    if format == "csv":
        content, media = to_csv(table, lang), CSV_MEDIA_TYPE
    else:
        content, media = to_xlsx(table, lang, "messages"), XLSX_MEDIA_TYPE
    return Response(content, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'})


# The API, and the page beside it (outside the API's prefix).
router = APIRouter()
router.include_router(api)
router.add_api_route("/messaging", _logged_in_page("/messaging", "messaging.html"), methods=["GET"])

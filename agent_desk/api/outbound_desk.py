"""REST for the agent's outbound work on the desk: the campaigns he dials for, the preview flow (next lead,
dial, skip), the campaign call's context (lead, script, codes), wrap-up dispositions with script answers,
and callbacks (schedule, list what is due, dial in one click).

Dialling refuses a do-not-call number with a clear message in both languages (409), as click-to-dial
does (``refuse_do_not_call``).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from agent_desk.api.desk import extension_of, run_command, runtime_of
from agent_desk.api.outbound import work
from agent_desk.deps import app_sessionmaker, csrf_protect, get_session, require
from agent_desk.desk_calls import NotYourCall, parties_of
from crm_core.models import Callback, CallDisposition, Campaign, Customer, Lead
from crm_core.schemas import PlainText
from crm_core.services import outbound as svc
from stats.models import CallLegRow, CallRow

router = APIRouter(prefix="/api/outbound", tags=["outbound desk"])

# Agents (and supervisors) hold campaign.read; a user without it has no outbound work.
CurrentUser = Annotated[Any, Depends(require("campaign", "read"))]
DbSession = Annotated[Session, Depends(get_session)]
Unsafe = [Depends(csrf_protect)]
CallId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")]


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def refuse_do_not_call(
    factory: sessionmaker[Session], number: str, region: str, campaign_id: int | None = None
) -> None:
    """409 with the do-not-call message when ``number`` is on a list (run in a worker thread)."""
    with factory() as session:
        try:
            svc.ensure_dialable(session, number, campaign_id, region)
        except svc.DoNotCall as exc:
            raise HTTPException(409, str(exc)) from exc


class DispositionBody(BaseModel):
    code: str = Field(pattern=r"^[a-z0-9_]{1,30}$")
    note: PlainText = Field("", max_length=1000)
    answers: dict[str, PlainText] = Field(default_factory=dict, max_length=30)
    queue: str = Field("", pattern=r"^[A-Za-z0-9_-]{0,64}$")
    callback_at: datetime | None = None


class CallbackBody(BaseModel):
    phone: str = Field(min_length=2, max_length=32, pattern=r"^\+?[0-9*#()\- ]{2,32}$")
    due_at: datetime
    customer_id: int | None = None
    for_queue: str = Field("", pattern=r"^[A-Za-z0-9_-]{0,64}$")  # empty: for oneself
    note: PlainText = Field("", max_length=500)
    call_id: str = Field("", max_length=64)


def ensure_own_call(request: Request, session: Session, user: Any, call_id: str) -> None:
    """403 unless the agent took part in the call (its campaign attempt, the live call, or the call's
    history names his extension); campaign managers reach every call."""
    if user.has_permission("campaign", "update"):
        return
    extension = user.extension or ""
    if extension:
        attempt = svc.attempt_for_call(session, call_id)
        if attempt is not None and attempt.agent == extension:
            return
        runtime: Any = getattr(request.app.state, "runtime", None)
        snapshot = runtime.tracker_snapshot() if hasattr(runtime, "tracker_snapshot") else {}
        try:
            parties_of(snapshot, call_id, extension)
            return
        except NotYourCall:
            pass
        legs = select(CallLegRow.call_id).where(CallLegRow.call_id == call_id, CallLegRow.extension == extension)
        rows = select(CallRow.call_id).where(CallRow.call_id == call_id, CallRow.agent == extension)
        if session.scalar(rows.limit(1)) is not None or session.scalar(legs.limit(1)) is not None:
            return
    raise HTTPException(403, "不是您的通话 / Not your call")


def _naive_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def _my_campaigns(session: Session, extension: str, queues: list[str]) -> list[Campaign]:
    rows = session.scalars(select(Campaign).where(Campaign.status == "running").order_by(Campaign.id)).all()
    return [c for c in rows if (extension in (c.agents or [])) or (not c.agents and c.queue in queues)]


def _lead_view(session: Session, lead: Lead) -> dict[str, Any]:
    campaign = session.get(Campaign, lead.campaign_id)
    fields = svc.lead_fields(session, lead)
    script = svc.script_for(session, lead.campaign_id, campaign.queue if campaign else "")
    codes = svc.codes_for(session, campaign.queue if campaign else "", lead.campaign_id)
    return {
        "lead": {
            "id": lead.id,
            "name": lead.name,
            "phone": lead.phone,
            "customer_id": lead.customer_id,
            "attempts": lead.attempts,
            "state": lead.state,
            "fields": fields,
        },
        "campaign": {
            "id": lead.campaign_id,
            "name": campaign.name if campaign else "",
            "mode": campaign.mode if campaign else "",
            "queue": campaign.queue if campaign else "",
        },
        "script": None
        if script is None
        else {"name": script.name, "text": svc.render_script(script.body, fields), "questions": script.questions},
        "codes": [{"code": c.code, "name": c.name, "is_success": c.is_success} for c in codes],
        "required": bool(campaign and campaign.disposition_required),
    }


@router.get("/desk")
def desk_outbound(request: Request, user: CurrentUser, session: DbSession) -> dict[str, Any]:
    """The agent's running campaigns (with the dialer's last pacing) and the callbacks due for him."""
    extension = user.extension or ""
    queues = list(request.app.state.settings.desk_queues)
    dialer = getattr(getattr(request.app.state, "runtime", None), "dialer", None)
    status = dialer.status() if dialer is not None else {}
    campaigns = [
        {"id": c.id, "name": c.name, "mode": c.mode, "queue": c.queue, "dialer": status.get(c.id)}
        for c in _my_campaigns(session, extension, queues)
    ]
    due = svc.due_callbacks(
        session, user.id, queues, _now(), ahead=timedelta(minutes=5), department_id=user.department_id
    )
    return {"campaigns": campaigns, "callbacks": [_callback_view(session, c) for c in due]}


def _callback_view(session: Session, row: Callback) -> dict[str, Any]:
    out = svc.callback_dict(row)
    customer = session.get(Customer, row.customer_id) if row.customer_id else None
    out["customer_name"] = customer.name if customer else ""
    return out


# --- preview ------------------------------------------------------------------------------------------------
@router.post("/campaigns/{campaign_id}/preview", dependencies=Unsafe)
def preview_next(request: Request, campaign_id: int, user: CurrentUser, session: DbSession) -> dict[str, Any]:
    """The lead this agent previews now (the one he holds, else the next due one); 404 when none is left."""
    extension = extension_of(user)
    campaign = session.get(Campaign, campaign_id)
    if campaign is None or campaign.status != "running" or campaign.mode != "preview":
        raise HTTPException(409, "该活动不是进行中的预览外呼 / Not a running preview campaign")
    mine = _my_campaigns(session, extension, list(request.app.state.settings.desk_queues))
    if campaign.id not in {c.id for c in mine}:
        raise HTTPException(403, "您不在该活动中 / You are not in that campaign")
    with work(session):
        lead = svc.preview_lead(session, campaign_id, extension, _now(), request.app.state.settings.default_region)
    if lead is None:
        raise HTTPException(404, "没有待拨打的名单 / No lead left to call now")
    return _lead_view(session, lead)


@router.post("/leads/{lead_id}/skip", dependencies=Unsafe)
def preview_skip(lead_id: int, user: CurrentUser, session: DbSession) -> dict[str, Any]:
    with work(session):
        svc.skip_preview(session, lead_id, extension_of(user))
    return {"ok": True}


@router.post("/leads/{lead_id}/dial", dependencies=Unsafe)
async def preview_dial(request: Request, lead_id: int, user: CurrentUser) -> dict[str, Any]:
    """Dial the previewed lead: the agent's phone rings, then the customer (click-to-dial)."""
    runtime, extension = runtime_of(request), extension_of(user)
    factory = app_sessionmaker(request.app)
    region = request.app.state.settings.default_region

    def take() -> tuple[int, int, str, str]:
        with factory() as session:
            lead = session.get(Lead, lead_id)
            if lead is None or lead.state != "offered" or lead.agent != extension:
                raise HTTPException(409, "该名单不在您这里 / That lead is not offered to you")
            campaign = session.get(Campaign, lead.campaign_id)
            try:
                svc.ensure_dialable(session, lead.phone, lead.campaign_id, region)
            except svc.DoNotCall as exc:
                svc.skip_if_dnc(session, lead, region)
                session.commit()
                raise HTTPException(409, str(exc)) from exc
            attempt = svc.start_attempt(session, lead, _now(), extension)
            session.commit()
            return attempt.id, lead.campaign_id, lead.phone, campaign.caller_id if campaign else ""

    attempt_id, campaign_id, number, _caller_id = await asyncio.to_thread(take)  # the agent's own ID rings him
    digits = "".join(ch for ch in number if ch.isdigit() or ch == "+")
    try:
        result = await run_command(
            runtime.commands.originate_click_to_dial(
                extension, digits, caller_id=None, variables={"CC_CAMPAIGN": campaign_id, "CC_ATTEMPT": attempt_id}
            )
        )
    except HTTPException:
        await asyncio.to_thread(_close, factory, attempt_id, "failed")
        raise
    call_id = str((result.get("response") or {}).get("Uniqueid") or "")
    await asyncio.to_thread(_set_call, factory, attempt_id, call_id)
    dialer = getattr(runtime, "dialer", None)
    if dialer is not None and call_id:
        dialer.track_preview(call_id, attempt_id, campaign_id, lead_id, extension)
    return {**result, "call_id": call_id}


def _close(factory: sessionmaker[Session], attempt_id: int, outcome: str) -> None:
    with factory() as session:
        svc.finish_attempt(session, attempt_id, outcome, _now())
        session.commit()


def _set_call(factory: sessionmaker[Session], attempt_id: int, call_id: str) -> None:
    with factory() as session:
        svc.set_attempt_call(session, attempt_id, call_id)
        session.commit()


# --- the call's campaign context and wrap-up ---------------------------------------------------------------
@router.get("/calls/{call_id}/context")
def call_context(
    request: Request,
    call_id: CallId,
    user: CurrentUser,
    session: DbSession,
    queue: Annotated[str, Query(max_length=64, pattern=r"^[A-Za-z0-9_-]*$")] = "",
) -> dict[str, Any]:
    """What the desk shows for a call: the campaign's lead and script, the codes to choose from, whether
    one is required, and the disposition already given."""
    ensure_own_call(request, session, user, call_id)
    context = svc.call_context(session, call_id, queue)
    out: dict[str, Any] = {"call_id": call_id, "campaign": None, "lead": None, "script": None}
    if context.lead_id is not None:
        lead = session.get(Lead, context.lead_id)
        if lead is not None:
            out.update(_lead_view(session, lead))
    else:
        script = svc.script_for(session, None, context.queue)
        if script is not None:
            out["script"] = {"name": script.name, "text": script.body, "questions": script.questions}
    codes = svc.codes_for(session, context.queue, context.campaign_id)
    out["codes"] = [{"code": c.code, "name": c.name, "is_success": c.is_success} for c in codes]
    out["required"] = svc.disposition_required(session, call_id, context.queue)
    given = session.scalar(select(CallDisposition).where(CallDisposition.call_id == call_id))
    out["disposition"] = None if given is None else {"code": given.code, "note": given.note, "answers": given.answers}
    return out


@router.post("/calls/{call_id}/disposition", dependencies=Unsafe)
def set_disposition(
    request: Request, call_id: CallId, body: DispositionBody, user: CurrentUser, session: DbSession
) -> dict[str, Any]:
    """The agent's wrap-up code for the call, with a note and the script's answers; with ``callback_at`` the
    lead is dialled again then (and a callback is scheduled for the agent)."""
    ensure_own_call(request, session, user, call_id)
    callback_at = _naive_utc(body.callback_at) if body.callback_at else None
    with work(session):
        row = svc.record_disposition(
            session,
            call_id,
            body.code,
            queue=body.queue,
            agent=user.extension or "",
            user_id=user.id,
            note=body.note,
            answers=body.answers,
            now=_now(),
            callback_at=callback_at,
        )
        if body.code == "do_not_call" and row.lead_id is not None:
            lead = session.get(Lead, row.lead_id)
            if lead is not None:
                svc.add_dnc(session, [lead.phone], None, "disposition", request.app.state.settings.default_region)
    return {"ok": True, "call_id": call_id, "code": row.code, "campaign_id": row.campaign_id}


# --- callbacks -----------------------------------------------------------------------------------------------
@router.post("/callbacks", dependencies=Unsafe, status_code=201)
def schedule(request: Request, body: CallbackBody, user: CurrentUser, session: DbSession) -> dict[str, Any]:
    """A callback for oneself (``for_queue`` empty) or for a queue's agents."""
    with work(session):
        row = svc.schedule_callback(
            session,
            phone=body.phone,
            due_at=_naive_utc(body.due_at),
            customer_id=body.customer_id,
            owner_id=None if body.for_queue else user.id,
            queue=body.for_queue,
            note=body.note,
            call_id=body.call_id,
            created_by=user.id,
            region=request.app.state.settings.default_region,
            department_id=user.department_id,
        )
    return svc.callback_dict(row)


@router.get("/callbacks")
def list_callbacks(
    request: Request,
    user: CurrentUser,
    session: DbSession,
    status: Annotated[str | None, Query(pattern=r"^(scheduled|done|missed|cancelled)$")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    """The agent's callbacks and his queues', soonest first; a campaign manager's: those of his data scope."""
    query = select(Callback).order_by(Callback.due_at).limit(limit)
    if user.has_permission("campaign", "update"):
        query = query.where(svc.callbacks_in_scope(session, user))
    else:
        queues = list(request.app.state.settings.desk_queues)
        query = query.where(svc.agent_callbacks(user.id, user.department_id, queues))
    if status:
        query = query.where(Callback.status == status)
    return {"items": [_callback_view(session, c) for c in session.scalars(query)]}


@router.post("/callbacks/{callback_id}/dial", dependencies=Unsafe)
async def dial_callback(request: Request, callback_id: int, user: CurrentUser) -> dict[str, Any]:
    """One click: ring the agent, then the customer; the callback is kept with the call."""
    runtime, extension = runtime_of(request), extension_of(user)
    factory = app_sessionmaker(request.app)
    region = request.app.state.settings.default_region

    def number() -> str:
        with factory() as session:
            row = session.get(Callback, callback_id)
            if row is None:
                raise HTTPException(404, "回拨不存在 / No such callback")
            if row.status not in ("scheduled", "missed"):
                raise HTTPException(409, "回拨已处理 / That callback is closed")
            queues = list(request.app.state.settings.desk_queues)
            mine = svc.agent_callbacks(user.id, user.department_id, queues)
            if session.scalar(select(Callback.id).where(Callback.id == callback_id, mine)) is None:
                raise HTTPException(403, "这是别人的回拨 / That callback is somebody else's")
            return row.phone

    phone = await asyncio.to_thread(number)
    await asyncio.to_thread(refuse_do_not_call, factory, phone, region)
    digits = "".join(ch for ch in phone if ch.isdigit() or ch == "+")
    result = await run_command(runtime.commands.originate_click_to_dial(extension, digits))
    call_id = str((result.get("response") or {}).get("Uniqueid") or "")

    def done() -> None:
        with factory() as session:
            svc.complete_callback(session, callback_id, call_id, _now())
            session.commit()

    await asyncio.to_thread(done)
    return {**result, "call_id": call_id}


@router.post("/callbacks/{callback_id}/cancel", dependencies=Unsafe)
def cancel_callback(callback_id: int, user: CurrentUser, session: DbSession) -> dict[str, Any]:
    row = session.get(Callback, callback_id)
    if row is None:
        raise HTTPException(404, "回拨不存在 / No such callback")
    manager = user.has_permission("campaign", "update")
    if (
        manager
        and session.scalar(select(Callback.id).where(Callback.id == callback_id, svc.callbacks_in_scope(session, user)))
        is None
    ):
        raise HTTPException(403, "不在数据权限范围内 / That callback is outside your data scope")
    if row.owner_id not in (None, user.id) and not manager:
        raise HTTPException(403, "这是别人的回拨 / That callback is somebody else's")
    row.status = "cancelled"
    session.commit()
    return svc.callback_dict(row)

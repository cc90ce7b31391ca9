"""REST for outbound administration: campaigns (start, pause, resume), their leads (from a CRM search, a
list or a file), do-not-call numbers, disposition codes and agent scripts.

Reading needs ``campaign.read``; changing needs ``campaign.update`` (supervisors and administrators).
The rules live in ``crm_core.services.outbound``; each route is one unit of work.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, Form, HTTPException, Query, Request, UploadFile
from pydantic import BaseModel, Field
from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from agent_desk.deps import get_session, require
from crm_core.errors import CrmError, InvalidInput
from crm_core.models import AgentScript, Campaign, Customer, DispositionCode, DncNumber, Lead
from crm_core.schemas import PlainText
from crm_core.services import outbound as svc
from crm_core.tabular import detect_format, read_rows

router = APIRouter(prefix="/api/outbound", tags=["outbound"])

Reader = Annotated[Any, Depends(require("campaign", "read"))]
Editor = Annotated[Any, Depends(require("campaign", "update"))]
DbSession = Annotated[Session, Depends(get_session)]

QUEUE = r"^[A-Za-z0-9_-]{0,64}$"
EXTENSION = r"^[0-9]{2,15}$"
PHONE_HEADERS = ("phone", "number", "电话", "号码", "手机", "mobile")
NAME_HEADERS = ("name", "姓名", "客户", "名称")


@contextmanager
def work(session: Session) -> Iterator[None]:
    try:
        yield
        session.commit()
    except CrmError as exc:
        session.rollback()
        raise HTTPException(exc.status, str(exc)) from exc


class RetryRule(BaseModel):
    max: int = Field(ge=1, le=20)
    delay_s: int = Field(ge=0, le=30 * 86400)


class ScheduleBody(BaseModel):
    days: list[Annotated[int, Field(ge=0, le=6)]] = Field(default_factory=lambda: [0, 1, 2, 3, 4], max_length=7)
    start: str = Field("09:00", pattern=r"^\d{2}:\d{2}$")
    end: str = Field("18:00", pattern=r"^\d{2}:\d{2}$")
    calendar: bool = True


class CampaignBody(BaseModel):
    name: PlainText = Field(min_length=1, max_length=100)
    mode: Literal["preview", "progressive", "predictive"] = "progressive"
    caller_id: str = Field("", max_length=40, pattern=r"^[0-9+ ]*$")
    queue: str = Field("", pattern=QUEUE)
    agents: list[Annotated[str, Field(pattern=EXTENSION)]] = Field(default_factory=list, max_length=500)
    schedule: ScheduleBody = Field(default_factory=ScheduleBody)
    retry: dict[Literal["busy", "no_answer", "failed", "machine", "dropped"], RetryRule] = Field(default_factory=dict)
    abandon_cap_pct: float = Field(3.0, ge=0.0, le=20.0)
    max_ratio: float = Field(3.0, ge=1.0, le=10.0)
    amd: bool = False
    script_id: int | None = None
    disposition_required: bool = True


class StatusBody(BaseModel):
    status: Literal["running", "paused", "finished"]


class LeadRow(BaseModel):
    phone: str = Field(min_length=2, max_length=50)
    name: PlainText = Field("", max_length=200)
    fields: dict[str, PlainText] = Field(default_factory=dict, max_length=50)


class LeadsBody(BaseModel):
    leads: list[LeadRow] = Field(default_factory=list, max_length=50_000)
    customer_ids: list[int] = Field(default_factory=list, max_length=50_000)
    # a CRM search: customers whose name, category, region or level contains the text
    search: PlainText | None = Field(None, max_length=100)
    category: PlainText | None = Field(None, max_length=50)
    region: PlainText | None = Field(None, max_length=100)


class DncBody(BaseModel):
    numbers: list[Annotated[str, Field(max_length=50)]] = Field(min_length=1, max_length=100_000)
    campaign_id: int | None = None
    note: PlainText = Field("", max_length=200)


class CodeBody(BaseModel):
    code: str = Field(pattern=r"^[a-z0-9_]{1,30}$")
    name: PlainText = Field(min_length=1, max_length=100)
    queue: str = Field("", pattern=QUEUE)
    campaign_id: int | None = None
    is_success: bool = False
    retry: bool = False
    position: int = Field(0, ge=0, le=1000)
    is_active: bool = True


class Question(BaseModel):
    key: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,30}$")
    label: PlainText = Field(min_length=1, max_length=200)
    kind: Literal["text", "choice"] = "text"
    options: list[PlainText] = Field(default_factory=list, max_length=20)


class ScriptBody(BaseModel):
    name: PlainText = Field(min_length=1, max_length=100)
    queue: str = Field("", pattern=QUEUE)
    body: str = Field("", max_length=20_000)
    questions: list[Question] = Field(default_factory=list, max_length=30)


def _row(campaign: Campaign, session: Session, status: dict[int, Any]) -> dict[str, Any]:
    return {**svc.campaign_dict(campaign), "leads": svc.lead_counts(session, campaign.id),
            "dialer": status.get(campaign.id)}


def _dialer_status(request: Request) -> dict[int, Any]:
    dialer = getattr(getattr(request.app.state, "runtime", None), "dialer", None)
    return dialer.status() if dialer is not None else {}


# --- campaigns -----------------------------------------------------------------------------------------
@router.get("/campaigns")
def list_campaigns(request: Request, user: Reader, session: DbSession) -> dict[str, Any]:
    status = _dialer_status(request)
    rows = session.scalars(select(Campaign).order_by(Campaign.id.desc())).all()
    return {"items": [_row(c, session, status) for c in rows]}


@router.post("/campaigns", status_code=201)
def create_campaign(body: CampaignBody, user: Editor, session: DbSession) -> dict[str, Any]:
    with work(session):
        check_script(session, body.script_id)
        campaign = svc.create_campaign(session, body.model_dump(mode="json"), user.id)
    return svc.campaign_dict(campaign)


@router.get("/campaigns/{campaign_id}")
def get_campaign(request: Request, campaign_id: int, user: Reader, session: DbSession) -> dict[str, Any]:
    with work(session):
        campaign = svc.get_campaign(session, campaign_id)
    return _row(campaign, session, _dialer_status(request))


@router.put("/campaigns/{campaign_id}")
def update_campaign(campaign_id: int, body: CampaignBody, user: Editor, session: DbSession) -> dict[str, Any]:
    with work(session):
        check_script(session, body.script_id)
        campaign = svc.update_campaign(session, campaign_id, body.model_dump(mode="json"))
    return svc.campaign_dict(campaign)


@router.post("/campaigns/{campaign_id}/status")
def set_status(campaign_id: int, body: StatusBody, user: Editor, session: DbSession) -> dict[str, Any]:
    """Start, pause (every lead keeps its place; calls ringing finish) or finish a campaign."""
    with work(session):
        campaign = svc.set_status(session, campaign_id, body.status)
    return svc.campaign_dict(campaign)


@router.delete("/campaigns/{campaign_id}", status_code=204)
def delete_campaign(campaign_id: int, user: Editor, session: DbSession) -> None:
    with work(session):
        session.delete(svc.get_campaign(session, campaign_id))


# --- leads -----------------------------------------------------------------------------------------------
@router.post("/campaigns/{campaign_id}/leads")
def add_leads(request: Request, campaign_id: int, body: LeadsBody, user: Editor, session: DbSession) -> dict[str, Any]:
    """Leads from a list, from customers by id, or from a CRM search (name/category/region)."""
    region = request.app.state.settings.default_region
    added = 0
    with work(session):
        if body.leads:
            added += svc.add_leads(session, campaign_id, [row.model_dump() for row in body.leads], region)
        ids = list(body.customer_ids)
        if body.search or body.category or body.region:
            query = select(Customer.id).where(Customer.status != "merged")
            if body.search:
                like = f"%{body.search}%"
                query = query.where(or_(Customer.name.like(like), Customer.category.like(like),
                                        Customer.region.like(like), Customer.level.like(like)))
            if body.category:
                query = query.where(Customer.category == body.category)
            if body.region:
                query = query.where(Customer.region == body.region)
            ids += list(session.scalars(query.order_by(Customer.id).limit(50_000)))
        if ids:
            added += svc.leads_from_customers(session, campaign_id, ids, region)
    return {"added": added}


@router.post("/campaigns/{campaign_id}/leads/import")
async def import_leads(
    request: Request, campaign_id: int, user: Editor, session: DbSession, file: UploadFile = File(...)
) -> dict[str, Any]:
    """An Excel/CSV/TXT file: a header row naming the phone column (phone/电话/号码), a name column, and
    any other columns (kept as the lead's fields for the script)."""
    settings = request.app.state.settings
    data = await file.read(settings.upload_max_mb * 1024 * 1024 + 1)
    if len(data) > settings.upload_max_mb * 1024 * 1024:
        raise HTTPException(413, f"文件超过 {settings.upload_max_mb} MB / file too large")
    try:
        rows = list(read_rows(data, detect_format(file.filename or "", data[:8])))
    except CrmError as exc:
        raise HTTPException(exc.status, str(exc)) from exc
    if not rows:
        raise HTTPException(422, "文件为空 / The file is empty")
    header = [cell.strip().lower() for cell in rows[0]]
    phone_col = next((i for i, h in enumerate(header) if h in PHONE_HEADERS), None)
    if phone_col is None:
        raise HTTPException(422, "找不到电话列（phone/电话/号码）/ No phone column (phone, 电话, 号码)")
    name_col = next((i for i, h in enumerate(header) if h in NAME_HEADERS), None)
    leads = []
    for cells in rows[1:]:
        cells = cells + [""] * (len(header) - len(cells))
        fields = {rows[0][i].strip(): cells[i] for i in range(len(header)) if i not in (phone_col, name_col)}
        leads.append({"phone": cells[phone_col], "name": cells[name_col] if name_col is not None else "",
                      "fields": fields})
    with work(session):
        added = svc.add_leads(session, campaign_id, leads, settings.default_region)
    return {"added": added}


@router.get("/campaigns/{campaign_id}/leads")
def list_leads(
    campaign_id: int,
    user: Reader,
    session: DbSession,
    state: Annotated[str | None, Query(max_length=12)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    query = select(Lead).where(Lead.campaign_id == campaign_id)
    if state:
        query = query.where(Lead.state == state)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(Lead.position).limit(limit).offset(offset)).all()
    keys = ("id", "position", "name", "phone", "state", "attempts", "last_outcome", "disposition", "agent",
            "customer_id", "next_at")
    items = [{k: getattr(r, k) for k in keys} for r in rows]
    for item in items:
        item["next_at"] = item["next_at"].isoformat() + "Z" if item["next_at"] else None
    return {"items": items, "total": total}


# --- do-not-call -----------------------------------------------------------------------------------------
@router.get("/dnc")
def list_dnc(
    user: Reader,
    session: DbSession,
    campaign_id: int | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> dict[str, Any]:
    query = select(DncNumber).order_by(DncNumber.id.desc()).limit(limit)
    if campaign_id is not None:
        query = query.where(DncNumber.campaign_id == campaign_id)
    rows = session.scalars(query).all()
    return {"items": [{"id": r.id, "raw": r.raw, "phone_key": r.phone_key, "campaign_id": r.campaign_id,
                       "note": r.note} for r in rows]}


@router.post("/dnc")
def add_dnc(request: Request, body: DncBody, user: Editor, session: DbSession) -> dict[str, Any]:
    with work(session):
        if body.campaign_id is not None:
            svc.get_campaign(session, body.campaign_id)
        region = request.app.state.settings.default_region
        added = svc.add_dnc(session, body.numbers, body.campaign_id, body.note, region)
    return {"added": added}


@router.post("/dnc/import")
async def import_dnc(
    request: Request,
    user: Editor,
    session: DbSession,
    file: UploadFile = File(...),
    campaign_id: Annotated[int | None, Form()] = None,
) -> dict[str, Any]:
    """Numbers from a file: every cell that holds a phone number, header rows skipped by themselves."""
    data = await file.read(request.app.state.settings.upload_max_mb * 1024 * 1024)
    try:
        rows = read_rows(data, detect_format(file.filename or "", data[:8]))
        numbers = [cell for row in rows for cell in row if sum(ch.isdigit() for ch in cell) >= 5]
    except CrmError as exc:
        raise HTTPException(exc.status, str(exc)) from exc
    with work(session):
        added = svc.add_dnc(session, numbers, campaign_id, "import", request.app.state.settings.default_region)
    return {"added": added}


@router.delete("/dnc/{entry_id}", status_code=204)
def remove_dnc(entry_id: int, user: Editor, session: DbSession) -> None:
    with work(session):
        svc.remove_dnc(session, entry_id)


# --- disposition codes and scripts ------------------------------------------------------------------------
def _code(c: DispositionCode) -> dict[str, Any]:
    keys = ("id", "code", "name", "queue", "campaign_id", "is_success", "retry", "position", "is_active")
    return {k: getattr(c, k) for k in keys}


@router.get("/dispositions")
def list_codes(user: Reader, session: DbSession) -> dict[str, Any]:
    rows = session.scalars(select(DispositionCode).order_by(DispositionCode.position, DispositionCode.id)).all()
    return {"items": [_code(c) for c in rows]}


@router.post("/dispositions", status_code=201)
def create_code(body: CodeBody, user: Editor, session: DbSession) -> dict[str, Any]:
    exists = select(DispositionCode.id).where(
        DispositionCode.code == body.code, DispositionCode.queue == body.queue,
        DispositionCode.campaign_id.is_(None) if body.campaign_id is None else DispositionCode.campaign_id
        == body.campaign_id,
    )
    if session.scalar(exists) is not None:
        raise HTTPException(409, "该处理结果代码已存在 / That code exists here")
    code = DispositionCode(**body.model_dump())
    session.add(code)
    session.commit()
    return _code(code)


@router.put("/dispositions/{code_id}")
def update_code(code_id: int, body: CodeBody, user: Editor, session: DbSession) -> dict[str, Any]:
    code = session.get(DispositionCode, code_id)
    if code is None:
        raise HTTPException(404, "处理结果代码不存在 / No such code")
    for key, value in body.model_dump().items():
        setattr(code, key, value)
    session.commit()
    return _code(code)


@router.delete("/dispositions/{code_id}", status_code=204)
def delete_code(code_id: int, user: Editor, session: DbSession) -> None:
    session.execute(delete(DispositionCode).where(DispositionCode.id == code_id))
    session.commit()


def _script(s: AgentScript) -> dict[str, Any]:
    return {"id": s.id, "name": s.name, "queue": s.queue, "body": s.body, "questions": s.questions}


@router.get("/scripts")
def list_scripts(user: Reader, session: DbSession) -> dict[str, Any]:
    return {"items": [_script(s) for s in session.scalars(select(AgentScript).order_by(AgentScript.id))]}


@router.post("/scripts", status_code=201)
def create_script(body: ScriptBody, user: Editor, session: DbSession) -> dict[str, Any]:
    script = AgentScript(**body.model_dump(mode="json"))
    session.add(script)
    session.commit()
    return _script(script)


@router.put("/scripts/{script_id}")
def update_script(script_id: int, body: ScriptBody, user: Editor, session: DbSession) -> dict[str, Any]:
    script = session.get(AgentScript, script_id)
    if script is None:
        raise HTTPException(404, "话术不存在 / No such script")
    for key, value in body.model_dump(mode="json").items():
        setattr(script, key, value)
    session.commit()
    return _script(script)


def check_script(session: Session, script_id: int | None) -> None:
    if script_id is not None and session.get(AgentScript, script_id) is None:
        raise InvalidInput("话术不存在 / No such script", "script_id")

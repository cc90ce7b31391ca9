"""IVR administration: flows (list, validate, upload, view as a tree), the business calendar,
voicemail per mailbox (linked to customers by caller number), and the FastAGI server's counters.

Flows are read from and written to ``settings.ivr_flows_dir``; the FastAGI server picks a changed
file up on its next call. An upload is validated first and refused with every problem and its line.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel

from agent_desk.deps import require
from config import Settings
from ivr.calendar import CalendarError, CalendarFile, calendar_from_dict
from ivr.flow import FlowLibrary, FlowNotFound, FlowValidationError, parse_flow
from ivr.tree import flow_tree, render_tree
from recordings.access import may_hear_mailbox
from recordings.voicemail import VoicemailIndex, VoicemailNameError

router = APIRouter(prefix="/api/ivr", tags=["ivr"])

IvrReader = Annotated[Any, Depends(require("ivr", "read"))]
IvrEditor = Annotated[Any, Depends(require("ivr", "update"))]
VoicemailReader = Annotated[Any, Depends(require("voicemail", "read"))]
MAX_FLOW_BYTES = 256 * 1024


class FlowIssueOut(BaseModel):
    line: int
    path: str
    message: str


class ValidationOut(BaseModel):
    name: str
    valid: bool
    issues: list[FlowIssueOut]


class FlowSummary(BaseModel):
    name: str
    description: str
    valid: bool
    nodes: int
    issues: list[FlowIssueOut]


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _language(request: Request) -> str:
    wanted = request.headers.get("accept-language", "")
    return "en" if wanted.lower().startswith("en") else _settings(request).language


def _library(request: Request) -> FlowLibrary:
    server = getattr(getattr(request.app.state, "runtime", None), "ivr", None)
    flows = getattr(server, "flows", None)
    return flows if isinstance(flows, FlowLibrary) else FlowLibrary(_settings(request).ivr_flows_dir)


def _issues(error: FlowValidationError, language: str) -> list[FlowIssueOut]:
    return [FlowIssueOut(line=i.line, path=i.path, message=i.text(language)) for i in error.issues]


def _refusal(name: str, error: FlowValidationError, language: str) -> HTTPException:
    detail = ValidationOut(name=name, valid=False, issues=_issues(error, language)).model_dump()
    return HTTPException(422, detail=detail)


async def _flow_text(request: Request) -> str:
    """The YAML of an upload: a JSON body ``{"text": ...}`` or the raw YAML itself."""
    body = await request.body()
    if len(body) > MAX_FLOW_BYTES:
        raise HTTPException(413, f"流程文件过大 flow larger than {MAX_FLOW_BYTES // 1024} KiB")
    try:
        if request.headers.get("content-type", "").startswith("application/json"):
            text = json.loads(body).get("text")
            if not isinstance(text, str):
                raise HTTPException(422, '需要 {"text": YAML} expected {"text": YAML}')
            return text
        return body.decode("utf-8")
    except (UnicodeDecodeError, json.JSONDecodeError, AttributeError):
        raise HTTPException(400, "无法读取流程内容 unreadable flow body") from None


@router.get("/flows")
def list_flows(request: Request, user: IvrReader) -> list[FlowSummary]:
    library, language = _library(request), _language(request)
    out = []
    for name in library.names():
        try:
            flow = library.get(name)
            out.append(FlowSummary(name=name, description=flow.description, valid=True,
                                   nodes=len(flow.nodes), issues=[]))
        except FlowValidationError as exc:
            out.append(FlowSummary(name=name, description="", valid=False, nodes=0,
                                   issues=_issues(exc, language)))
    return out


@router.post("/flows/{name}/validate")
async def validate_flow(name: str, request: Request, user: IvrReader) -> ValidationOut:
    text = await _flow_text(request)
    try:
        parse_flow(text, name)
    except FlowValidationError as exc:
        return ValidationOut(name=name, valid=False, issues=_issues(exc, _language(request)))
    return ValidationOut(name=name, valid=True, issues=[])


@router.put("/flows/{name}")
async def upload_flow(name: str, request: Request, user: IvrEditor) -> FlowSummary:
    text = await _flow_text(request)
    try:
        flow = _library(request).save(name, text)
    except FlowNotFound as exc:
        raise HTTPException(400, str(exc)) from exc
    except FlowValidationError as exc:
        raise _refusal(name, exc, _language(request)) from exc
    return FlowSummary(name=name, description=flow.description, valid=True, nodes=len(flow.nodes), issues=[])


@router.get("/flows/{name}")
def get_flow(name: str, request: Request, user: IvrReader) -> dict[str, Any]:
    library = _library(request)
    try:
        flow = library.get(name)
    except FlowNotFound as exc:
        raise HTTPException(404, str(exc)) from exc
    except FlowValidationError as exc:
        raise _refusal(name, exc, _language(request)) from exc
    tree = flow_tree(flow)
    text = library.path_of(name).read_text(encoding="utf-8")
    return {**tree, "start": flow.start, "text": render_tree(tree), "yaml": text}


def _calendar_file(request: Request) -> CalendarFile:
    server = getattr(getattr(request.app.state, "runtime", None), "ivr", None)
    source = getattr(server, "calendar", None)
    return source if isinstance(source, CalendarFile) else CalendarFile(_settings(request).ivr_calendar_file)


@router.get("/calendar")
def get_calendar(request: Request, user: IvrReader) -> dict[str, Any]:
    try:
        return _calendar_file(request).current().to_dict()
    except CalendarError as exc:
        raise HTTPException(500, f"日历文件无效 calendar file invalid: {exc}") from exc


@router.put("/calendar")
def put_calendar(body: dict[str, Any], request: Request, user: IvrEditor) -> dict[str, Any]:
    try:
        calendar = calendar_from_dict(body)
    except CalendarError as exc:
        raise HTTPException(422, str(exc)) from exc
    _calendar_file(request).replace(calendar)
    return calendar.to_dict()


@router.get("/voicemail")
def list_mailboxes(request: Request, user: VoicemailReader) -> list[str]:
    """The mailboxes this user may open."""
    scopes = _settings(request).recordings_role_scopes
    mailboxes = VoicemailIndex(_settings(request).voicemail_dir).mailboxes()
    return [m for m in mailboxes if may_hear_mailbox(user, m.split("@", 1)[0], scopes)]


@router.get("/voicemail/{mailbox}")
async def list_voicemail(
    mailbox: str, request: Request, user: VoicemailReader, folder: Literal["INBOX", "Old", "all"] = "all"
) -> list[dict[str, Any]]:
    """Messages of one mailbox, newest first, each with the customer its caller number belongs to."""
    folders = ("INBOX", "Old") if folder == "all" else (folder,)
    if not may_hear_mailbox(user, mailbox.split("@", 1)[0], _settings(request).recordings_role_scopes):
        raise HTTPException(403, "无权查看此语音信箱 / you may not open this mailbox")
    try:
        messages = VoicemailIndex(_settings(request).voicemail_dir).scan(mailbox, folders)
    except VoicemailNameError as exc:
        raise HTTPException(400, str(exc)) from exc
    customers = await _customers_of(request, {m.caller for m in messages if m.caller})
    listed = sorted(messages, key=lambda m: m.origtime.timestamp() if m.origtime else 0, reverse=True)
    return [{**m.as_dict(), "customer": customers.get(m.caller)} for m in listed]


async def _customers_of(request: Request, numbers: set[str]) -> dict[str, dict[str, Any] | None]:
    server = getattr(getattr(request.app.state, "runtime", None), "ivr", None)
    directory = getattr(server, "directory", None)
    found: dict[str, dict[str, Any] | None] = {}
    for number in sorted(numbers):
        customer = await directory.find_by_number(number) if directory is not None else None
        found[number] = {"id": customer.get("id"), "name": customer.get("name")} if customer else None
    return found


@router.get("/stats")
def ivr_stats(request: Request, user: IvrReader) -> dict[str, Any]:
    server: Any = getattr(getattr(request.app.state, "runtime", None), "ivr", None)
    stats = getattr(server, "stats", None)
    if stats is None:
        raise HTTPException(503, "FastAGI 服务未运行 the FastAGI server is not running")
    return {**stats.as_dict(), "port": server.port}

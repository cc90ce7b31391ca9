"""REST for recordings: search, play (browser copy with Range), waveform, download, status, retention.

Audio is served by recording id only; the file name comes from our own row and is checked to stay in
the recording folder. Every play and download is permission-checked and written to the audit log.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from sqlalchemy import delete, or_, select, true
from sqlalchemy.orm import Session
from starlette.responses import Response

from agent_desk.deps import csrf_protect, current_user, get_session, require
from config import Settings
from crm_core import audit
from crm_core.permissions import visible_departments
from recordings import playback
from recordings.access import Listener, ensure_can_download, ensure_can_hear, listener_for
from recordings.models import Recording, RecordingStatus, RetentionRule
from recordings.paths import resolve_inside
from recordings.retention import prune
from recordings.schemas import PLAYABLE, RecordedCallOut, RecordingOut, RecordingPage, RetentionRules
from recordings.search import RecordingQuery, file_kind, search_calls
from recordings.transcode import recordings_cache_dir

router = APIRouter(prefix="/api/recordings", tags=["recordings"])

CurrentUser = Annotated[Any, Depends(current_user)]
DbSession = Annotated[Session, Depends(get_session)]
RecordingReader = Annotated[Any, Depends(require("recording", "read"))]


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _listener(request: Request, session: Session, user: Any) -> Listener:
    return listener_for(session, user, _settings(request).recordings_role_scopes)


def _visible(request: Request, session: Session, user: Any, recording_id: int) -> tuple[Recording, Listener]:
    row = session.get(Recording, recording_id)
    if row is None:
        raise HTTPException(404, "录音不存在 no such recording")
    listener = _listener(request, session, user)
    try:
        ensure_can_hear(listener, row)
    except playback.PLAYBACK_ERRORS as exc:
        raise playback.http_error(exc) from exc
    return row, listener


def _audio_path(settings: Settings, row: Recording) -> Path:
    if row.status == RecordingStatus.DELETED:
        raise playback.AudioGone("录音已按保留策略删除 the audio was deleted by the retention rules")
    if row.status not in PLAYABLE:
        raise playback.AudioUnavailable(f"录音不可播放 the audio is not playable ({row.status})")
    return resolve_inside(settings.recordings_dir, row.file_name)


def _audit(session: Session, request: Request, user: Any, action: str, row: Recording) -> None:
    ip = request.client.host if request.client else ""
    audit.record(session, user, action, "recording", row.id, {"call_id": row.call_id, "file": row.file_name}, ip)
    session.commit()


@router.get("", response_model=RecordingPage)
def list_recordings(
    request: Request,
    session: DbSession,
    user: RecordingReader,
    date_from: datetime | None = Query(None, alias="from"),
    date_to: datetime | None = Query(None, alias="to"),
    call_id: str | None = Query(None, max_length=64),
    agent: str | None = Query(None, max_length=80),
    queue: str | None = Query(None, max_length=80),
    customer_id: int | None = Query(None, ge=1),
    ticket_id: int | None = Query(None, ge=1),
    number: str | None = Query(None, max_length=40),
    direction: Literal["inbound", "outbound", "internal"] | None = None,
    min_duration: float | None = Query(None, ge=0),
    max_duration: float | None = Query(None, ge=0),
    min_score: int | None = Query(None, ge=0, le=10),
    max_score: int | None = Query(None, ge=0, le=10),
    status: Literal["recording", "pending", "ready", "unlinked", "missing", "invalid", "deleted"] | None = None,
    limit: int = Query(50, ge=1, le=500),
    offset: int = Query(0, ge=0),
) -> RecordingPage:
    """Search recorded calls, one row per call with its files; only what the user may hear is listed
    (``?call_id=`` for one call), and ``counts`` are those rows per status."""
    query = RecordingQuery(
        date_from=date_from,
        date_to=date_to,
        call_id=call_id,
        agent=agent,
        queue=queue,
        customer_id=customer_id,
        ticket_id=ticket_id,
        number=number,
        direction=direction,
        min_duration_s=min_duration,
        max_duration_s=max_duration,
        min_score=min_score,
        max_score=max_score,
        status=status,
        limit=limit,
        offset=offset,
    )
    calls, total, counts = search_calls(session, _listener(request, session, user), query)
    items = [RecordedCallOut.of_call(call.files, file_kind) for call in calls]
    return RecordingPage(items=items, total=total, counts=counts)


@router.get("/status")
def index_status(request: Request, session: DbSession, user: RecordingReader) -> dict[str, int]:
    """Recorded calls per status that the user may hear (missing files, unlinked files, ...): the
    same rows as the unfiltered list, so the counters match it."""
    _calls, _total, counts = search_calls(session, _listener(request, session, user), RecordingQuery(limit=1))
    return counts


def _rule_out(rule: RetentionRule) -> dict[str, Any]:
    out: dict[str, Any] = {"queue": rule.queue, "keep_days": rule.keep_days}
    if rule.department_id is not None:
        out["department_id"] = rule.department_id
    return out


def _managed_rules(session: Session, user: Any) -> tuple[list[int] | None, Any]:
    """The departments whose retention the user manages (``None``: all, the center-wide rules too) and
    a WHERE clause for the rules he sees: his departments' and the center-wide ones."""
    departments = visible_departments(session, user)
    if departments is None:
        return None, true()
    return departments, or_(RetentionRule.department_id.is_(None), RetentionRule.department_id.in_(departments))


@router.get("/retention", dependencies=[Depends(require("recording", "delete"))])
def get_retention(session: DbSession, request: Request, user: CurrentUser) -> dict[str, Any]:
    _, visible = _managed_rules(session, user)
    rules = [_rule_out(r) for r in session.scalars(select(RetentionRule).where(visible).order_by(RetentionRule.id))]
    return {"rules": rules, "default_keep_days": _settings(request).recordings_keep_days}


@router.put("/retention", dependencies=[Depends(require("recording", "delete")), Depends(csrf_protect)])
def put_retention(body: RetentionRules, session: DbSession, user: CurrentUser) -> dict[str, Any]:
    """Replace the retention rules the user manages (queue ``*`` is the default rule). Administrators
    replace every rule; a department's supervisor only his departments' rules, each naming one of them."""
    departments, _ = _managed_rules(session, user)
    if departments is not None and any(r.department_id not in departments for r in body.rules):
        raise HTTPException(403, "只能设置本部门的保留策略 you may set retention rules for your departments only")
    replaced = delete(RetentionRule)
    if departments is not None:
        replaced = replaced.where(RetentionRule.department_id.in_(departments))
    session.execute(replaced)
    session.flush()
    for rule in {(r.department_id, r.queue): r for r in body.rules}.values():
        session.add(RetentionRule(queue=rule.queue, keep_days=rule.keep_days, department_id=rule.department_id))
    audit.record(session, user, "update", "recording_retention", "", {"rules": body.model_dump()["rules"]})
    session.commit()
    return {"rules": [r.model_dump(exclude_none=True) for r in body.rules]}


@router.get("/retention/preview", dependencies=[Depends(require("recording", "delete"))])
def preview_retention(session: DbSession, request: Request, user: CurrentUser) -> dict[str, Any]:
    """Dry run: the recordings whose audio the rules would delete now (of the user's departments)."""
    from crm_core.models import utcnow

    departments, _ = _managed_rules(session, user)
    report = prune(session, _settings(request), utcnow(), dry_run=True, departments=departments)
    session.rollback()
    return {"dry_run": True, "items": report.items, "count": len(report.items)}


@router.get("/{recording_id}", response_model=RecordingOut)
def get_recording(recording_id: int, request: Request, session: DbSession, user: CurrentUser) -> RecordingOut:
    row, _ = _visible(request, session, user, recording_id)
    return RecordingOut.of(row)


@router.get("/{recording_id}/audio")
async def play(recording_id: int, request: Request, session: DbSession, user: CurrentUser) -> Response:
    """The recording in a browser format, with HTTP Range so the player can seek."""
    row, _ = _visible(request, session, user, recording_id)
    settings = _settings(request)
    range_header = request.headers.get("range")
    try:
        source = _audio_path(settings, row)
        response = await playback.browser_response(
            source,
            recordings_cache_dir(settings),
            "rec",
            str(row.id),
            settings.recordings_browser_format,
            range_header,
        )
    except playback.PLAYBACK_ERRORS as exc:
        raise playback.http_error(exc) from exc
    if playback.is_first_request(range_header):
        _audit(session, request, user, "play", row)
    return response


@router.get("/{recording_id}/peaks")
async def waveform(recording_id: int, request: Request, session: DbSession, user: CurrentUser) -> dict[str, Any]:
    """Peak amplitudes (0..1) the player draws as a waveform, with the duration in seconds."""
    row, _ = _visible(request, session, user, recording_id)
    settings = _settings(request)
    try:
        return await playback.peaks(_audio_path(settings, row), recordings_cache_dir(settings), "rec", str(row.id))
    except playback.PLAYBACK_ERRORS as exc:
        raise playback.http_error(exc) from exc


@router.get("/{recording_id}/download")
def download(recording_id: int, request: Request, session: DbSession, user: CurrentUser) -> Response:
    """The original file, for users allowed to download."""
    row, listener = _visible(request, session, user, recording_id)
    range_header = request.headers.get("range")
    try:
        ensure_can_download(listener, row)
        source = _audio_path(_settings(request), row)
        response = playback.original_response(source, range_header, Path(row.file_name).name)
    except playback.PLAYBACK_ERRORS as exc:
        raise playback.http_error(exc) from exc
    if playback.is_first_request(range_header):
        _audit(session, request, user, "download", row)
    return response

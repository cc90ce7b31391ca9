"""Voicemail audio: play a message in the browser (with HTTP Range), its waveform, and mark it heard.

Messages are named by mailbox (``100@default``) and message id (``msg0000`` or Asterisk's msg_id),
never by a path. A user may hear a mailbox that is his own (agent number, extension or login), or any
mailbox with the ``voicemail.read`` permission or an ``all`` recording scope.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Request
from sqlalchemy.orm import Session
from starlette.responses import Response

from agent_desk.deps import csrf_protect, current_user, get_session
from config import Settings
from crm_core import audit
from recordings import playback
from recordings.access import may_hear_mailbox
from recordings.transcode import recordings_cache_dir
from recordings.voicemail_audio import MessageFiles, find_message, mark_heard, parse_mailbox

router = APIRouter(prefix="/api/voicemail", tags=["voicemail"])

CurrentUser = Annotated[Any, Depends(current_user)]
DbSession = Annotated[Session, Depends(get_session)]
Folder = Literal["INBOX", "Old", "Urgent"]


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _message(
    mailbox: str,
    message_id: str,
    request: Request,
    session: DbSession,
    user: CurrentUser,
    folder: Folder = "INBOX",
) -> MessageFiles:
    """The message named in the path, once the user is known to be allowed to hear its mailbox."""
    try:
        ref = parse_mailbox(mailbox)
        if not may_hear_mailbox(user, ref.box, _settings(request).recordings_role_scopes):
            raise HTTPException(403, "无权收听此语音信箱 you may not hear this mailbox")
        return find_message(_settings(request).voicemail_dir, ref, message_id, folder)
    except playback.PLAYBACK_ERRORS as exc:
        raise playback.http_error(exc) from exc


Message = Annotated[MessageFiles, Depends(_message)]


def _audit(session: Session, request: Request, user: Any, action: str, message: MessageFiles) -> None:
    ip = request.client.host if request.client else ""
    detail = {
        "mailbox": message.mailbox.label,
        "folder": message.folder,
        "message": message.stem,
        "msg_id": message.msg_id,
    }
    audit.record(session, user, action, "voicemail", f"{message.mailbox.label}/{message.stem}", detail, ip)
    session.commit()


def _ident(message: MessageFiles) -> str:
    ref = message.mailbox
    return f"{ref.context}.{ref.box}.{message.folder}.{message.stem}"


@router.get("/{mailbox}/{message_id}/audio")
async def play_voicemail(
    message: Message, request: Request, session: DbSession, user: CurrentUser
) -> Response:
    settings = _settings(request)
    range_header = request.headers.get("range")
    try:
        response = await playback.browser_response(
            message.audio,
            recordings_cache_dir(settings),
            "vm",
            _ident(message),
            settings.recordings_browser_format,
            range_header,
        )
    except playback.PLAYBACK_ERRORS as exc:
        raise playback.http_error(exc) from exc
    if playback.is_first_request(range_header):
        _audit(session, request, user, "play", message)
    return response


@router.get("/{mailbox}/{message_id}/peaks")
async def voicemail_waveform(message: Message, request: Request) -> dict[str, Any]:
    try:
        return await playback.peaks(
            message.audio, recordings_cache_dir(_settings(request)), "vm", _ident(message)
        )
    except playback.PLAYBACK_ERRORS as exc:
        raise playback.http_error(exc) from exc


@router.post("/{mailbox}/{message_id}/heard", dependencies=[Depends(csrf_protect)])
def heard(message: Message, request: Request, session: DbSession, user: CurrentUser) -> dict[str, Any]:
    """Mark a message heard: it moves from INBOX to Old, as when the caller listens on a phone."""
    try:
        moved = mark_heard(_settings(request).voicemail_dir, message)
    except playback.PLAYBACK_ERRORS as exc:
        raise playback.http_error(exc) from exc
    except OSError as exc:
        raise HTTPException(409, f"无法移动留言 could not move the message: {exc.strerror}") from exc
    _audit(session, request, user, "heard", moved)
    return {
        "mailbox": moved.mailbox.label,
        "folder": moved.folder,
        "message_id": moved.stem,
        "msg_id": moved.msg_id,
        "heard": True,
    }

"""Who may hear which recording.

Each role is given a recording scope in settings (``recordings_role_scopes``): an agent hears his own
calls, a supervisor his department's, quality staff and administrators all. A user's scope is the
broadest of his roles'. Hearing also needs the ``recording.read`` permission, downloading the original
file ``recording.download`` (or ``recording.export``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from sqlalchemy import ColumnElement, and_, false, or_, true
from sqlalchemy.orm import Session

from recordings.models import Recording


class RecordingScope(StrEnum):
    NONE = "none"
    OWN = "own"
    DEPARTMENT = "department"
    DEPARTMENT_TREE = "department_tree"
    ALL = "all"


_RANK = {s: i for i, s in enumerate(RecordingScope)}
_BY_VALUE = {s.value: s for s in RecordingScope}
DEFAULT_ROLE_SCOPES: dict[str, str] = {
    "admin": "all",
    "quality": "all",
    "supervisor": "department",
    "agent": "own",
}


class AccessDenied(PermissionError):
    """The user may not hear (or download) this recording."""


class OwnedRecording(Protocol):
    agent: str | None
    agent_user_id: int | None
    department_id: int | None


@dataclass(frozen=True, slots=True)
class Listener:
    user_id: int
    username: str
    identities: frozenset[str]  # names an agent goes by on a call: username, agent number
    scope: RecordingScope
    department_ids: frozenset[int]
    may_download: bool


def scope_of_roles(role_names: Iterable[str], role_scopes: Mapping[str, str]) -> RecordingScope:
    """The broadest recording scope among ``role_names``; NONE when no role is configured."""
    best = RecordingScope.NONE
    for name in role_names:
        value = role_scopes.get(name)
        if value not in _BY_VALUE:
            continue  # unlisted role, or a misspelt scope: grants nothing
        scope = _BY_VALUE[str(value)]
        if _RANK[scope] > _RANK[best]:
            best = scope
    return best


def _role_names(user: Any) -> list[str]:
    return [str(getattr(role, "name", role)) for role in getattr(user, "roles", []) or []]


def listener_for(session: Session, user: Any, role_scopes: Mapping[str, str]) -> Listener:
    """Build the pure Listener of ``user`` (reads the department tree when the scope needs it)."""
    scope = scope_of_roles(_role_names(user), role_scopes)
    if not user.has_permission("recording", "read"):
        scope = RecordingScope.NONE
    departments: frozenset[int] = frozenset()
    if (
        scope in (RecordingScope.DEPARTMENT, RecordingScope.DEPARTMENT_TREE)
        and user.department_id is not None
    ):
        from crm_core.models import DataScope
        from crm_core.permissions import department_ids

        data_scope = DataScope.DEPARTMENT if scope is RecordingScope.DEPARTMENT else DataScope.DEPARTMENT_TREE
        departments = frozenset(department_ids(session, user, data_scope))
    identities = {str(v) for v in (user.username, getattr(user, "agent_number", None)) if v}
    return Listener(
        user_id=int(user.id),
        username=str(user.username),
        identities=frozenset(identities),
        scope=scope,
        department_ids=departments,
        may_download=scope is not RecordingScope.NONE
        and (user.has_permission("recording", "download") or user.has_permission("recording", "export")),
    )


def may_hear_mailbox(user: Any, mailbox: str, role_scopes: Mapping[str, str]) -> bool:
    """Voicemail: a user with ``voicemail.read`` hears his own mailbox (user name, agent number or
    extension); other mailboxes need supervisor monitoring, or a role whose recording scope is ``all``."""
    own = {str(v) for v in (user.username, getattr(user, "agent_number", None), getattr(user, "extension", None)) if v}
    if mailbox in own and user.has_permission("voicemail", "read"):
        return True
    if user.has_permission("supervisor", "monitor"):
        return True
    return scope_of_roles(_role_names(user), role_scopes) is RecordingScope.ALL


def is_own(listener: Listener, recording: OwnedRecording) -> bool:
    if recording.agent_user_id is not None:
        return recording.agent_user_id == listener.user_id
    return recording.agent is not None and recording.agent in listener.identities


def can_hear(listener: Listener, recording: OwnedRecording) -> bool:
    if listener.scope is RecordingScope.ALL:
        return True
    if listener.scope is RecordingScope.NONE:
        return False
    if is_own(listener, recording):
        return True
    return listener.scope is not RecordingScope.OWN and recording.department_id in listener.department_ids


def ensure_can_hear(listener: Listener, recording: OwnedRecording) -> None:
    if not can_hear(listener, recording):
        raise AccessDenied("无权收听此录音 you may not hear this recording")


def ensure_can_download(listener: Listener, recording: OwnedRecording) -> None:
    ensure_can_hear(listener, recording)
    if not listener.may_download:
        raise AccessDenied("无权下载录音原文件 you may not download recordings")


def visible_clause(listener: Listener) -> ColumnElement[bool]:
    """The same rule as ``can_hear`` as a WHERE clause on ``recordings`` for searches."""
    if listener.scope is RecordingScope.ALL:
        return true()
    if listener.scope is RecordingScope.NONE:
        return false()
    own = or_(
        Recording.agent_user_id == listener.user_id,
        and_(Recording.agent_user_id.is_(None), Recording.agent.in_(sorted(listener.identities))),
    )
    if listener.scope is RecordingScope.OWN or not listener.department_ids:
        return own
    return or_(own, Recording.department_id.in_(sorted(listener.department_ids)))

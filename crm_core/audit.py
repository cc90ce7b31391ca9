"""Writing the audit log: one row per change, with the changed fields before and after."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from crm_core.models import AuditEntry, User


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def changed_fields(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """``{field: [old, new]}`` for every field whose value differs."""
    return {
        key: [_plain(before.get(key)), _plain(value)]
        for key, value in after.items()
        if _plain(before.get(key)) != _plain(value)
    }


def record(
    session: Session,
    user: User | None,
    action: str,
    resource: str,
    object_id: object = "",
    changes: dict[str, Any] | None = None,
    ip: str = "",
) -> None:
    session.add(
        AuditEntry(
            user_id=user.id if user else None,
            username=user.username if user else "",
            action=action,
            resource=resource,
            object_id=str(object_id),
            changes={k: _plain(v) for k, v in (changes or {}).items()},
            ip=ip,
        )
    )

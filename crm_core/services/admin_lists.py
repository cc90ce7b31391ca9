"""Pause reasons and customer-field dictionaries as resources, with the rules that keep them usable."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_core.errors import InvalidInput
from crm_core.models import DictionaryItem, PauseReason, User
from crm_core.models.choices import DICTIONARY_KINDS
from crm_core.services.records import Resource

REASON_CODE = re.compile(r"[a-z][a-z0-9_]{0,29}")


def _pause_reason_write(session: Session, user: User, data: dict[str, Any], row: Any | None) -> dict[str, Any]:
    code = data.get("code", row.code if row is not None else "")
    if not REASON_CODE.fullmatch(code or ""):
        raise InvalidInput("代码须以小写字母开头，只含小写字母、数字和下划线 the code: a-z, 0-9 and _ only", "code")
    other = session.scalar(select(PauseReason.id).where(PauseReason.code == code))
    if other is not None and (row is None or other != row.id):
        raise InvalidInput("代码已存在 this code already exists", "code")
    name = str(data.get("name", row.name if row is not None else "")).strip()
    if not name:
        raise InvalidInput("请填写名称 the name is required", "name")
    data["name"] = name
    return data


def _dictionary_write(session: Session, user: User, data: dict[str, Any], row: Any | None) -> dict[str, Any]:
    kind = data.get("kind", row.kind if row is not None else "")
    if kind not in DICTIONARY_KINDS:
        raise InvalidInput("字典类别无效 unknown dictionary", "kind")
    value = str(data.get("value", row.value if row is not None else "")).strip()
    if not value:
        raise InvalidInput("请填写取值 the value is required", "value")
    other = session.scalar(select(DictionaryItem.id).where(DictionaryItem.kind == kind, DictionaryItem.value == value))
    if other is not None and (row is None or other != row.id):
        raise InvalidInput("该取值已存在 this value already exists", "value")
    data["value"] = value
    return data


PAUSE_REASONS = Resource(
    "pause_reason", PauseReason, search=("code", "name"), default_sort="position", before_write=_pause_reason_write
)
DICTIONARY = Resource(
    "dictionary", DictionaryItem, search=("value",), default_sort="position", before_write=_dictionary_write
)

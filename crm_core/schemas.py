"""Pydantic shapes derived once from the table definitions, for the API, imports and tests.

Text fields are checked here: length from the column, no markup (``<script>``...), no NUL bytes.
SQL metacharacters are ordinary text: every value is a bound parameter, never spliced into SQL.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, create_model
from sqlalchemy import JSON, Boolean, Date, DateTime, Integer, Numeric, String, Text
from sqlalchemy.orm import DeclarativeBase

TEXT_MAX = 20_000
_MARKUP = re.compile(r"<\s*/?\s*[a-zA-Z!?]|javascript:", re.IGNORECASE)


def plain_text(value: str) -> str:
    if "\x00" in value:
        raise ValueError("不能包含空字符 must not contain NUL characters")
    if _MARKUP.search(value):
        raise ValueError("不能包含 HTML 标记 must not contain HTML markup such as <script>")
    return value


PlainText = Annotated[str, AfterValidator(plain_text)]
SERVER_FIELDS = frozenset({"id", "created_at", "updated_at"})


def _python_type(column: Any) -> tuple[Any, dict[str, Any]]:
    kind = column.type
    if isinstance(kind, Text):
        return PlainText, {"max_length": TEXT_MAX}
    if isinstance(kind, String):
        return PlainText, {"max_length": kind.length} if kind.length else {}
    if isinstance(kind, Boolean):
        return bool, {}
    if isinstance(kind, Integer):
        return int, {"ge": -(2**31), "le": 2**31 - 1}
    if isinstance(kind, Numeric):
        return Decimal, {"max_digits": kind.precision, "decimal_places": kind.scale}
    if isinstance(kind, DateTime):
        return datetime, {}
    if isinstance(kind, Date):
        return date, {}
    if isinstance(kind, JSON):
        return Any, {}
    return str, {}


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class _Output(BaseModel):
    model_config = ConfigDict(from_attributes=True)


def _columns(model: type[DeclarativeBase]) -> list[Any]:
    return list(model.__table__.columns)


def input_schema(
    model: type[DeclarativeBase],
    *,
    exclude: frozenset[str] = frozenset(),
    partial: bool = False,
    name: str = "",
) -> type[BaseModel]:
    """Fields a client may send: every column but server-set and ``exclude`` ones.

    ``partial`` makes every field optional (for updates: only the fields sent are changed).
    """
    fields: dict[str, Any] = {}
    for column in _columns(model):
        if column.key in SERVER_FIELDS or column.key in exclude:
            continue
        annotation, limits = _python_type(column)
        required = not partial and not column.nullable and column.default is None
        if column.nullable or partial:
            annotation = annotation | None
        default = ... if required else None
        fields[column.key] = (annotation, Field(default, **limits))
    suffix = "Update" if partial else "Create"
    return create_model(name or f"{model.__name__}{suffix}", __base__=_Input, **fields)


def output_schema(
    model: type[DeclarativeBase], *, hidden: frozenset[str] = frozenset(), name: str = ""
) -> type[BaseModel]:
    fields: dict[str, Any] = {}
    for column in _columns(model):
        if column.key in hidden:
            continue
        annotation, _ = _python_type(column)
        if annotation is PlainText:
            annotation = str
        fields[column.key] = (annotation | None if column.nullable else annotation, None)
    return create_model(name or f"{model.__name__}Out", __base__=_Output, **fields)

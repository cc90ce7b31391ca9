"""Message templates: ``{{ customer.name }}`` placeholders filled from a flat table of field values.

Pure and safe: a placeholder is a dotted field name looked up in a dict of strings built by the caller;
no expression is evaluated, no attribute is read from an object, no filter or loop exists. A template
that names a field outside its families is refused when it is saved; a field without a value at send
time (a custom field the customer lacks, an order field in a message about no order) is a clear error.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from crm_core.errors import InvalidInput

PLACEHOLDER = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
FIELD_NAME = re.compile(r"[a-z]+(?:\.[\w-]+)+")

# Field families and their fields (custom customer fields are customer.custom.<key>).
FIELDS: dict[str, tuple[str, ...]] = {
    "customer": ("name", "category", "region", "level", "source", "address"),
    "contact": ("name", "position", "email"),
    "order": ("number", "total", "carrier", "tracking_number", "shipping_address", "status"),
    "ticket": ("id", "title", "status", "priority"),
}
CUSTOM_PREFIX = "customer.custom."
BASE_FAMILIES = ("customer", "contact")


class TemplateError(InvalidInput):
    """The template's text is malformed or names fields it may not use."""


class MissingFields(InvalidInput):
    """Fields the template needs have no value for this recipient."""

    def __init__(self, names: list[str]) -> None:
        self.names = names
        listed = ", ".join(names)
        super().__init__(f"模板字段缺少值「{listed}」 missing template fields: {listed}", "body")


@dataclass(frozen=True, slots=True)
class Rendered:
    subject: str
    body: str


def families_for(trigger: str) -> tuple[str, ...]:
    """The field families a template may use: customer and contact always, order or ticket by trigger."""
    kind = trigger.split(".", 1)[0] if trigger else ""
    return (*BASE_FAMILIES, kind) if kind in ("order", "ticket") else BASE_FAMILIES


def known_fields(families: Iterable[str]) -> list[str]:
    return [f"{family}.{name}" for family in families for name in FIELDS.get(family, ())]


def _line_of(text: str, index: int) -> int:
    return text.count("\n", 0, index) + 1


def fields_in(text: str) -> list[str]:
    """The field names ``text`` uses, in order of first use; raises TemplateError when malformed."""
    names: list[str] = []
    end = 0
    for match in PLACEHOLDER.finditer(text):
        stray = text.find("}}", end, match.start())
        if stray >= 0:
            raise TemplateError(f"第 {_line_of(text, stray)} 行多余的 }}}} stray }}}} on line {_line_of(text, stray)}")
        name = match.group(1).strip()
        if not FIELD_NAME.fullmatch(name):
            line = _line_of(text, match.start())
            raise TemplateError(
                f"第 {line} 行的占位符无效 invalid placeholder on line {line}: {{{{{match.group(1)[:40]}}}}}"
            )
        if name not in names:
            names.append(name)
        end = match.end()
    for marker in ("{{", "}}"):
        at = text.find(marker, end)
        if at >= 0:
            line = _line_of(text, at)
            raise TemplateError(f"第 {line} 行的 {marker} 未配对 unmatched {marker} on line {line}")
    return names


def check_fields(texts: Iterable[str], families: Iterable[str]) -> list[str]:
    """Every field the texts use, each of which must belong to ``families``."""
    allowed = set(known_fields(families))
    customs = "customer" in families
    used: list[str] = []
    for text in texts:
        for name in fields_in(text):
            if name not in allowed and not (customs and name.startswith(CUSTOM_PREFIX) and name != CUSTOM_PREFIX):
                raise TemplateError(f"模板不能使用字段「{name}」 the template cannot use the field {name}")
            if name not in used:
                used.append(name)
    return used


def fill(text: str, values: Mapping[str, str]) -> str:
    """``text`` with each placeholder replaced by its value; MissingFields names every absent one."""
    missing = [name for name in fields_in(text) if name not in values]
    if missing:
        raise MissingFields(missing)
    return PLACEHOLDER.sub(lambda m: values[m.group(1).strip()], text)


def render(subject: str, body: str, values: Mapping[str, str]) -> Rendered:
    missing = [name for name in fields_in(subject) + fields_in(body) if name not in values]
    if missing:
        raise MissingFields(list(dict.fromkeys(missing)))
    return Rendered(fill(subject, values), fill(body, values))

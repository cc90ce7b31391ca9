"""The column layout of customer sheets, shared by import and export so that they round-trip."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_core.models import CustomFieldDef

PHONE_SEPARATORS = (";", "；", ",", "，", "、")


@dataclass(frozen=True)
class Column:
    key: str  # a Customer column, "owner", "phones", "contact_*", or "custom.<key>"
    label: str  # the header written on export; import accepts the label or the key


CUSTOMER_COLUMNS = [
    Column("name", "客户名称"),
    Column("kind", "类型"),
    Column("category", "客户分类"),
    Column("region", "地区"),
    Column("source", "来源"),
    Column("level", "等级"),
    Column("status", "状态"),
    Column("owner", "负责人"),
    Column("address", "地址"),
    Column("notes", "备注"),
    Column("phones", "电话"),
    Column("contact_name", "联系人"),
    Column("contact_position", "职务"),
    Column("contact_phones", "联系人电话"),
]


def customer_columns(session: Session) -> list[Column]:
    """The fixed columns plus one per administrator-defined customer field."""
    defs = session.scalars(
        select(CustomFieldDef).where(CustomFieldDef.entity == "customer").order_by(CustomFieldDef.position)
    )
    return CUSTOMER_COLUMNS + [Column(f"custom.{d.key}", d.label) for d in defs]


def split_phones(cell: str) -> list[str]:
    for separator in PHONE_SEPARATORS[1:]:
        cell = cell.replace(separator, PHONE_SEPARATORS[0])
    return [part.strip() for part in cell.split(PHONE_SEPARATORS[0]) if part.strip()]

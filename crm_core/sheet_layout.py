"""The column layout of customer sheets, shared by import and export so that they round-trip."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_core.models import CustomFieldDef

PHONE_SEPARATORS = (";", "；", ",", "，", "、")


@dataclass(frozen=True)
class Column:
    key: str  # a Customer column ("id" too), "owner", "phones", "contact_*", or "custom.<key>"
    label: str  # the header written on export; import accepts either label or the key
    label_en: str = ""  # the English header (an administrator's custom field has one label)

    def title(self, lang: str) -> str:
        return self.label_en if lang == "en" and self.label_en else self.label


CUSTOMER_COLUMNS = [
    Column("id", "客户编号", "Customer ID"),  # a re-import updates this customer
    Column("name", "客户名称", "Customer name"),
    Column("kind", "类型", "Kind"),
    Column("category", "客户分类", "Category"),
    Column("region", "地区", "Region"),
    Column("source", "来源", "Source"),
    Column("level", "等级", "Level"),
    Column("status", "状态", "Status"),
    Column("owner", "负责人", "Owner"),
    Column("address", "地址", "Address"),
    Column("notes", "备注", "Notes"),
    Column("phones", "电话", "Phones"),
    Column("contact_name", "联系人", "Contact"),
    Column("contact_position", "职务", "Position"),
    Column("contact_phones", "联系人电话", "Contact phones"),
]

# Columns whose cells are codes: code -> (zh-CN, en). Export writes a name, import takes a name or the code.
VALUE_NAMES: dict[str, dict[str, tuple[str, str]]] = {
    "kind": {"company": ("企业", "Company"), "person": ("个人", "Person")},
    "status": {"active": ("正常", "Active"), "pool": ("公海", "Public pool"), "merged": ("已合并", "Merged")},
}


def value_name(key: str, code: str, lang: str) -> str:
    names = VALUE_NAMES.get(key, {}).get(code)
    if names is None:
        return code
    return names[1] if lang == "en" else names[0]


def value_code(key: str, text: str) -> str:
    """The code a cell names (either language, any case), or the cell as it is."""
    wanted = text.strip().lower()
    for code, names in VALUE_NAMES.get(key, {}).items():
        if wanted in (code, names[0].lower(), names[1].lower()):
            return code
    return text


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

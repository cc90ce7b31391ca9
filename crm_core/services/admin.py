"""Administration rules: users with their numbers and roles, roles with their grants, the permission catalogue.

Every refusal is an ``InvalidInput`` naming the field, its message in Chinese then English ("中文 English"):
the pages show the half for the reader's language.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm_core import audit
from crm_core.errors import Conflict, InvalidInput, NotFound
from crm_core.models import DataScope, Department, Role, User
from crm_core.services.users import create_user

# What each resource's permissions can grant, as the product's checks ask for them.
CRUD = ("read", "create", "update", "delete")
PERMISSION_CATALOGUE: dict[str, tuple[str, ...]] = {
    "customer": (*CRUD, "export", "import", "claim", "transfer", "merge"),
    "contact": CRUD,
    "ticket": (*CRUD, "export", "approve", "transfer"),
    "order": (*CRUD, "export", "approve", "transfer"),
    "opportunity": (*CRUD, "transfer"),
    "call_link": ("read", "create"),
    "product": (*CRUD, "export"),
    "product_category": CRUD,
    "supplier": CRUD,
    "stock": ("read", "create"),
    "kb": (*CRUD, "approve"),
    "announcement": CRUD,
    "report": ("read", "export"),
    "message_template": CRUD,
    "message": ("read", "create", "bulk"),
    "recording": ("read", "delete", "download", "export"),
    "voicemail": ("read",),
    "supervisor": ("monitor",),
    "extension": ("bind",),
    "ivr": ("read", "update"),
    "user": CRUD,
    "role": CRUD,
    "department": CRUD,
    "seat": CRUD,
    "custom_field": CRUD,
    "workflow": CRUD,
    "ticket_type": CRUD,
    "pause_reason": CRUD,
    "dictionary": CRUD,
    "audit": ("read",),
}

USERNAME = re.compile(r"[A-Za-z0-9_.]{1,50}")
ROLE_NAME = re.compile(r"[a-z][a-z_]{0,49}")
EXTENSION = re.compile(r"[0-9]{2,20}")
AGENT_NUMBER = re.compile(r"[0-9A-Za-z]{1,20}")
PHONE = re.compile(r"\+?[0-9][0-9 -]{2,28}")
TEXT_LIMITS = {"display_name": 100, "email": 200, "position": 50}
USER_FIELDS = frozenset(
    {"display_name", "email", "department_id", "is_active", "agent_number", "extension", "phone", "mobile", "position"}
)


def _text(data: dict[str, Any], key: str) -> None:
    if key in data and data[key] is not None:
        data[key] = str(data[key]).strip()
        if len(data[key]) > TEXT_LIMITS.get(key, 30):
            raise InvalidInput(f"内容过长（最多 {TEXT_LIMITS.get(key, 30)} 字） too long", key)


def _pattern(data: dict[str, Any], key: str, pattern: re.Pattern[str], zh: str, en: str) -> None:
    value = data.get(key)
    if value and not pattern.fullmatch(value):
        raise InvalidInput(f"{zh} {en}", key)


def _unique(session: Session, key: str, value: Any, row: User | None, zh: str, en: str) -> None:
    if not value:
        return
    other = session.scalar(select(User).where(getattr(User, key) == value))
    if other is not None and (row is None or other.id != row.id):
        raise InvalidInput(f"{zh}已被其他用户使用 {en} is already used by {other.username}", key)


def check_user_fields(session: Session, data: dict[str, Any], row: User | None) -> dict[str, Any]:
    """Clean and check the fields of a user an administrator creates or edits; empty numbers become None."""
    data = dict(data)
    for key in ("display_name", "email", "position", "phone", "mobile", "agent_number", "extension"):
        _text(data, key)
    for key in ("agent_number", "extension"):
        if key in data and not data[key]:
            data[key] = None
    _pattern(data, "extension", EXTENSION, "分机号须为 2 到 20 位数字", "the extension must be 2 to 20 digits")
    _pattern(data, "agent_number", AGENT_NUMBER, "工号只能包含字母和数字", "the agent number: letters and digits only")
    for key, zh in (("phone", "电话"), ("mobile", "手机")):
        _pattern(data, key, PHONE, f"{zh}号码格式不正确", f"the {key} number is not a phone number")
    if data.get("department_id") is not None and session.get(Department, data["department_id"]) is None:
        raise InvalidInput("部门不存在 unknown department", "department_id")
    _unique(session, "agent_number", data.get("agent_number"), row, "工号", "the agent number")
    _unique(session, "extension", data.get("extension"), row, "分机号", "the extension")
    return data


def roles_named(session: Session, names: list[str]) -> list[Role]:
    found = list(session.scalars(select(Role).where(Role.name.in_(names))))
    if not names or len(found) != len(set(names)):
        raise InvalidInput("请至少选择一个有效角色 choose at least one existing role", "roles")
    return found


def add_user(session: Session, actor: User, data: dict[str, Any], ip: str = "") -> User:
    username = str(data.get("username") or "").strip()
    if not USERNAME.fullmatch(username):
        raise InvalidInput("登录名只能包含字母、数字、点和下划线 the login: letters, digits, . and _ only", "username")
    if session.scalar(select(User.id).where(func.lower(User.username) == username.lower())) is not None:
        raise InvalidInput("登录名已存在 this login already exists", "username")
    password = str(data.get("password") or "")
    if len(password) < 8:
        raise InvalidInput("密码至少 8 位 the password needs at least 8 characters", "password")
    roles = roles_named(session, list(data.get("roles") or []))
    fields = check_user_fields(session, {k: v for k, v in data.items() if k in USER_FIELDS}, None)
    user = create_user(
        session, username, password, display_name=fields.pop("display_name", "") or "", roles=[r.name for r in roles]
    )
    for key, value in fields.items():
        setattr(user, key, value)
    session.flush()
    audit.record(session, actor, "create", "user", user.id, {"username": username, "roles": user.role_names}, ip)
    return user


def edit_user(session: Session, actor: User, user_id: int, data: dict[str, Any], ip: str = "") -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("用户不存在 no such user")
    fields = check_user_fields(session, {k: v for k, v in data.items() if k in USER_FIELDS}, user)
    if fields.get("is_active") is False and user.id == actor.id:
        raise InvalidInput("不能停用自己的账号 you cannot disable your own account", "is_active")
    changes = {k: [getattr(user, k), v] for k, v in fields.items() if getattr(user, k) != v}
    for key, value in fields.items():
        setattr(user, key, value)
    if "roles" in data:
        roles = roles_named(session, list(data["roles"] or []))
        if user.id == actor.id and not any(r.name == "admin" for r in roles) and "admin" in user.role_names:
            raise InvalidInput("不能撤销自己的管理员角色 you cannot remove your own administrator role", "roles")
        if sorted(r.name for r in roles) != user.role_names:
            changes["roles"] = [user.role_names, sorted(r.name for r in roles)]
        user.roles = roles
    session.flush()
    if changes:
        audit.record(session, actor, "update", "user", user.id, changes, ip)
    return user


def check_role_fields(session: Session, data: dict[str, Any], row: Role | None) -> dict[str, Any]:
    data = {k: v for k, v in data.items() if k in ("name", "title", "data_scope")}
    if "name" in data or row is None:
        name = str(data.get("name") or "").strip()
        if not ROLE_NAME.fullmatch(name):
            raise InvalidInput("角色代码须以小写字母开头，只含小写字母和下划线 the role code: a-z and _ only", "name")
        other = session.scalar(select(Role).where(Role.name == name))
        if other is not None and (row is None or other.id != row.id):
            raise InvalidInput("角色代码已存在 this role code already exists", "name")
        if row is not None and row.name == "admin" and name != "admin":
            raise InvalidInput("不能重命名管理员角色 the administrator role keeps its code", "name")
        data["name"] = name
    if "title" in data or row is None:
        data["title"] = str(data.get("title") or "").strip()
        if not data["title"] or len(data["title"]) > 100:
            raise InvalidInput("请填写角色名称（最多 100 字） the role needs a title (up to 100 characters)", "title")
    if "data_scope" in data or row is None:
        scope = data.get("data_scope") or DataScope.OWN.value
        if scope not in {s.value for s in DataScope}:
            raise InvalidInput("数据范围无效 unknown data scope", "data_scope")
        data["data_scope"] = scope
    return data


def save_role(session: Session, actor: User, role_id: int | None, data: dict[str, Any], ip: str = "") -> Role:
    row = session.get(Role, role_id) if role_id is not None else None
    if role_id is not None and row is None:
        raise NotFound("角色不存在 no such role")
    fields = check_role_fields(session, data, row)
    if row is None:
        row = Role(**fields)
        session.add(row)
        action = "create"
    else:
        for key, value in fields.items():
            setattr(row, key, value)
        action = "update"
    session.flush()
    audit.record(session, actor, action, "role", row.id, fields, ip)
    return row


def check_grants(grants: list[str]) -> list[tuple[str, str]]:
    """``resource.action`` pairs from the catalogue (or ``*.*`` for everything)."""
    pairs = set()
    for grant in grants:
        resource, _, action = grant.partition(".")
        if (resource, action) != ("*", "*") and action not in PERMISSION_CATALOGUE.get(resource, ()):
            raise InvalidInput("权限不在权限表中 this permission is not in the permission table", "permissions")
        pairs.add((resource, action))
    return sorted(pairs)


def delete_role(session: Session, actor: User, role_id: int, ip: str = "") -> None:
    role = session.get(Role, role_id)
    if role is None:
        raise NotFound("角色不存在 no such role")
    if role.name == "admin":
        raise Conflict("管理员角色不能删除 the administrator role cannot be deleted")
    holders = session.scalar(select(func.count()).select_from(User).where(User.roles.any(Role.id == role_id))) or 0
    if holders:
        raise Conflict(f"仍有 {holders} 个用户使用此角色 still held by {holders} user(s)")
    session.delete(role)
    session.flush()
    audit.record(session, actor, "delete", "role", role_id, {"name": role.name}, ip)

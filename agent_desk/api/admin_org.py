"""Administration routes the pages under ``/admin`` need beyond the generic CRUD of ``crm_org``:
users with their roles and numbers, roles with their grants, the permission catalogue, pause reasons and
the dictionaries of customer-field values.

(No ``from __future__ import annotations`` here: FastAPI must see the generated schema classes.)
"""

from typing import Any

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from agent_desk.api.crm_crud import crm_router, crud_router
from agent_desk.api.ws import announce_binding
from agent_desk.deps import client_ip, current_user, get_session, require
from crm_core import audit
from crm_core.errors import InvalidInput, NotFound
from crm_core.models import DataScope, Department, PauseReason, Permission, Role, User
from crm_core.permissions import ensure_visible, scope_clause
from crm_core.services import admin as svc
from crm_core.services.admin_lists import DICTIONARY, PAUSE_REASONS

router = APIRouter()
admin = crm_router("", "administration")


class AdminUserOut(BaseModel):
    id: int
    username: str
    display_name: str
    email: str
    agent_number: str | None
    extension: str | None
    phone: str
    mobile: str
    position: str
    department_id: int | None
    department_name: str
    roles: list[str]
    is_active: bool


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class UserEdit(_Body):
    display_name: str | None = Field(None, max_length=200)
    email: str | None = Field(None, max_length=400)
    agent_number: str | None = Field(None, max_length=100)
    extension: str | None = Field(None, max_length=100)
    phone: str | None = Field(None, max_length=100)
    mobile: str | None = Field(None, max_length=100)
    position: str | None = Field(None, max_length=200)
    department_id: int | None = None
    is_active: bool | None = None
    roles: list[str] | None = Field(None, max_length=20)


class UserNew(UserEdit):
    username: str = Field("", max_length=100)
    password: str = Field("", max_length=200)


class RoleEdit(_Body):
    name: str | None = Field(None, max_length=100)
    title: str | None = Field(None, max_length=200)
    data_scope: str | None = Field(None, max_length=30)


class RoleOut(BaseModel):
    id: int
    name: str
    title: str
    data_scope: str
    permissions: list[str]
    users: int


class Grants(_Body):
    permissions: list[str] = Field(max_length=500)


def user_row(user: User) -> AdminUserOut:
    return AdminUserOut(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        email=user.email,
        agent_number=user.agent_number,
        extension=user.extension,
        phone=user.phone,
        mobile=user.mobile,
        position=user.position,
        department_id=user.department_id,
        department_name=user.department.name if user.department else "",
        roles=user.role_names,
        is_active=user.is_active,
    )


@admin.get("/admin/users", summary="Users with their roles, numbers and department, for administration")
def list_users(
    q: str = Query("", max_length=100),
    department_id: int | None = None,
    page: int = Query(1, ge=1, le=100_000),
    size: int = Query(50, ge=1, le=200),
    actor: User = Depends(require("user", "read")),
    session: Session = Depends(get_session),
) -> dict[str, Any]:
    stmt = select(User).where(scope_clause(session, actor, User))  # the actor's departments only
    if q:
        like = f"%{q}%"
        stmt = stmt.where(
            or_(
                User.username.ilike(like),
                User.display_name.ilike(like),
                User.agent_number.ilike(like),
                User.extension.ilike(like),
            )
        )
    if department_id is not None:
        stmt = stmt.where(User.department_id == department_id)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(stmt.order_by(User.username).limit(size).offset((page - 1) * size))
    return {"items": [user_row(u) for u in rows], "total": total, "page": page, "size": size}


@admin.get("/admin/users/{user_id}", response_model=AdminUserOut, summary="One user, for the edit form")
def one_user(
    user_id: int, actor: User = Depends(require("user", "read")), session: Session = Depends(get_session)
) -> AdminUserOut:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("用户不存在 no such user")
    ensure_visible(session, actor, User, user_id)
    return user_row(user)


@admin.post("/admin/users", response_model=AdminUserOut, status_code=201, summary="Create a user")
def new_user(
    body: UserNew,
    request: Request,
    actor: User = Depends(require("user", "create")),
    session: Session = Depends(get_session),
) -> AdminUserOut:
    user = svc.add_user(session, actor, body.model_dump(exclude_unset=True), client_ip(request))
    session.commit()
    return user_row(user)


@admin.patch("/admin/users/{user_id}", response_model=AdminUserOut, summary="Edit a user, roles included")
def edit_user(
    user_id: int,
    body: UserEdit,
    request: Request,
    actor: User = Depends(require("user", "update")),
    session: Session = Depends(get_session),
) -> AdminUserOut:
    data = body.model_dump(exclude_unset=True)
    if "roles" in data and not actor.has_permission("role", "update"):
        raise InvalidInput("无权分配角色 you may not assign roles", "roles")
    previous = session.scalar(select(User.extension).where(User.id == user_id))
    user = svc.edit_user(session, actor, user_id, data, client_ip(request))
    session.commit()
    announce_binding(request.app, user.id, previous, user.extension)
    return user_row(user)


def role_row(session: Session, role: Role) -> RoleOut:
    holders = session.scalar(select(func.count()).select_from(User).where(User.roles.any(Role.id == role.id)))
    return RoleOut(
        id=role.id,
        name=role.name,
        title=role.title,
        data_scope=role.data_scope,
        # the menu settings (agent_desk.api.admin_menus) are kept beside the permissions, not among them
        permissions=sorted(f"{p.resource}.{p.action}" for p in role.permissions if p.resource != "menu_hidden"),
        users=holders or 0,
    )


@admin.get("/admin/roles", response_model=list[RoleOut], summary="Roles with their grants and holders")
def list_roles(actor: User = Depends(require("role", "read")), session: Session = Depends(get_session)) -> Any:
    return [role_row(session, r) for r in session.scalars(select(Role).order_by(Role.id))]


@admin.get("/admin/permission-catalogue", summary="What a role can be granted, resource by resource")
def catalogue(actor: User = Depends(require("role", "read"))) -> dict[str, Any]:
    return {
        "resources": [{"resource": r, "actions": list(a)} for r, a in svc.PERMISSION_CATALOGUE.items()],
        "scopes": [s.value for s in DataScope],
    }


@admin.post("/admin/roles", response_model=RoleOut, status_code=201, summary="Create a role")
def new_role(
    body: RoleEdit,
    request: Request,
    actor: User = Depends(require("role", "create")),
    session: Session = Depends(get_session),
) -> RoleOut:
    role = svc.save_role(session, actor, None, body.model_dump(exclude_unset=True), client_ip(request))
    session.commit()
    return role_row(session, role)


@admin.patch("/admin/roles/{role_id}", response_model=RoleOut, summary="Edit a role's code, title or scope")
def edit_role(
    role_id: int,
    body: RoleEdit,
    request: Request,
    actor: User = Depends(require("role", "update")),
    session: Session = Depends(get_session),
) -> RoleOut:
    role = svc.save_role(session, actor, role_id, body.model_dump(exclude_unset=True), client_ip(request))
    session.commit()
    return role_row(session, role)


@admin.put("/admin/roles/{role_id}/permissions", response_model=RoleOut, summary="Replace a role's grants")
def put_grants(
    role_id: int,
    body: Grants,
    request: Request,
    actor: User = Depends(require("role", "update")),
    session: Session = Depends(get_session),
) -> RoleOut:
    role = session.get(Role, role_id)
    if role is None:
        raise InvalidInput("角色不存在 no such role", "role")
    pairs = svc.check_grants(body.permissions)
    if role.name == "admin" and ("*", "*") not in pairs:
        raise InvalidInput("管理员角色须保留全部权限 the administrator role keeps every permission", "permissions")
    menus = [p for p in role.permissions if p.resource == "menu_hidden"]  # not grants: kept as they are
    before = sorted(f"{p.resource}.{p.action}" for p in role.permissions if p.resource != "menu_hidden")
    role.permissions = menus + [Permission(resource=r, action=a) for r, a in pairs]
    after = sorted(f"{r}.{a}" for r, a in pairs)
    audit.record(session, actor, "permissions", "role", role.id, {"permissions": [before, after]}, client_ip(request))
    session.commit()
    return role_row(session, role)


@admin.delete("/admin/roles/{role_id}", status_code=204, summary="Delete a role no user holds")
def remove_role(
    role_id: int,
    request: Request,
    actor: User = Depends(require("role", "delete")),
    session: Session = Depends(get_session),
) -> Response:
    svc.delete_role(session, actor, role_id, client_ip(request))
    session.commit()
    return Response(status_code=204)


@admin.get("/admin/departments/tree", summary="Departments as a tree, with how many users each has")
def department_tree(
    actor: User = Depends(require("department", "read")), session: Session = Depends(get_session)
) -> list[dict[str, Any]]:
    counts = dict(session.execute(select(User.department_id, func.count()).group_by(User.department_id)).all())
    rows = list(session.scalars(select(Department).order_by(Department.path)))
    nodes: dict[int, dict[str, Any]] = {
        d.id: {"id": d.id, "name": d.name, "parent_id": d.parent_id, "users": counts.get(d.id, 0), "children": []}
        for d in rows
    }
    roots: list[dict[str, Any]] = []
    for dept in rows:
        node = nodes[dept.id]
        parent = nodes.get(dept.parent_id) if dept.parent_id is not None else None
        (parent["children"] if parent else roots).append(node)
    return roots


@admin.get("/pause-reasons/active", summary="The pause reasons an agent may choose now")
def active_pause_reasons(
    user: User = Depends(current_user), session: Session = Depends(get_session)
) -> list[dict[str, Any]]:
    rows = session.scalars(select(PauseReason).where(PauseReason.is_active.is_(True)).order_by(PauseReason.position))
    return [{"code": r.code, "name": r.name} for r in rows]


router.include_router(admin)
router.include_router(crud_router(PAUSE_REASONS, "/pause-reasons", "administration"))
router.include_router(crud_router(DICTIONARY, "/dictionary", "administration"))

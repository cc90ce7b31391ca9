"""Organisation routes: departments, users, roles, seats, custom fields, workflows, the audit log."""

from __future__ import annotations

import re

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from agent_desk.api.auth import UserOut, user_out
from agent_desk.api.crm_crud import crm_router, crud_router
from agent_desk.api.ws import announce_binding
from agent_desk.deps import client_ip, current_user, get_session, require
from agent_desk.ws import hub_for
from crm_core import audit
from crm_core.auth import change_password
from crm_core.errors import InvalidInput, PermissionDenied
from crm_core.models import Permission, Role, User
from crm_core.permissions import check
from crm_core.schemas import PlainText
from crm_core.services import resources as res
from crm_core.services.records import get_row
from crm_core.services.users import create_user, set_password, sit_at

router = APIRouter()
router.include_router(crud_router(res.DEPARTMENTS, "/departments", "organisation", exclude=frozenset({"path"})))
router.include_router(crud_router(res.USERS, "/users", "organisation", actions=("list", "get", "update", "delete")))
router.include_router(crud_router(res.ROLES, "/roles", "organisation"))
router.include_router(crud_router(res.SEATS, "/seats", "organisation"))
router.include_router(crud_router(res.CUSTOM_FIELDS, "/custom-fields", "organisation"))
router.include_router(crud_router(res.WORKFLOWS, "/workflows", "organisation"))
router.include_router(crud_router(res.WORKFLOW_STEPS, "/workflow-steps", "organisation"))
router.include_router(crud_router(res.AUDIT_LOG, "/audit", "organisation", actions=("list", "get")))

users = crm_router("/users", "organisation")


class NewUser(BaseModel):
    username: str = Field(min_length=1, max_length=50, pattern=r"^[A-Za-z0-9_.]+$")
    password: str = Field(min_length=8, max_length=200)
    display_name: PlainText = Field("", max_length=100)
    roles: list[str] = Field(default_factory=lambda: ["agent"], max_length=10)
    department_id: int | None = None
    extension: str | None = Field(None, max_length=20, pattern=r"^[0-9*#]+$")
    agent_number: str | None = Field(None, max_length=20, pattern=r"^[0-9A-Za-z]+$")


class RoleNames(BaseModel):
    roles: list[str] = Field(min_length=1, max_length=10)


class NewPassword(BaseModel):
    password: str = Field(min_length=8, max_length=200)
    current_password: str = Field("", max_length=200, description="Required when changing one's own password")


class Grants(BaseModel):
    permissions: list[str] = Field(
        max_length=500, description='"resource.action" pairs; "*" for every resource or action'
    )


class SeatLogin(BaseModel):
    seat: str = Field(min_length=1, max_length=50)


@users.post("", response_model=UserOut, status_code=201, summary="Create a user with a password and roles")
def add_user(
    body: NewUser,
    request: Request,
    actor: User = Depends(require("user", "create")),
    session: Session = Depends(get_session),
) -> UserOut:
    user = create_user(
        session,
        body.username,
        body.password,
        display_name=body.display_name,
        roles=body.roles,
        department_id=body.department_id,
        extension=body.extension,
        agent_number=body.agent_number,
    )
    audit.record(
        session,
        actor,
        "create",
        "user",
        user.id,
        {"username": user.username, "roles": body.roles},
        client_ip(request),
    )
    session.commit()
    return user_out(user)


@users.put("/{user_id}/roles", response_model=UserOut, summary="Replace a user's roles")
def put_roles(
    user_id: int,
    body: RoleNames,
    request: Request,
    actor: User = Depends(require("role", "update")),
    session: Session = Depends(get_session),
) -> UserOut:
    user = get_row(session, actor, res.USERS, user_id, "update")
    found = list(session.scalars(select(Role).where(Role.name.in_(body.roles))))
    if len(found) != len(set(body.roles)):
        raise InvalidInput("角色不存在 unknown role", "roles")
    audit.record(session, actor, "roles", "user", user.id, {"roles": [user.role_names, body.roles]}, client_ip(request))
    user.roles = found
    session.commit()
    return user_out(user)


@users.put("/{user_id}/password", status_code=204, summary="Set a password (one's own, or as administrator)")
async def put_password(
    user_id: int,
    body: NewPassword,
    request: Request,
    actor: User = Depends(current_user),
    session: Session = Depends(get_session),
) -> None:
    """One's own password needs the current one; either way the user's other logins end."""

    def change() -> None:  # argon2 is slow on purpose: off the event loop
        if actor.id == user_id:
            change_password(session, request.state.login, body.current_password, body.password)
        else:
            check(actor, "user", "update")
            user = session.get(User, user_id)
            if user is None:
                raise PermissionDenied("无权限 not allowed")
            set_password(session, user.username, body.password)
        audit.record(session, actor, "password", "user", user_id, ip=client_ip(request))
        session.commit()

    await run_in_threadpool(change)
    hub_for(request.app).disconnect_user(user_id)


@users.post("/me/seat", response_model=UserOut, summary="Log in at a seat: take its extension")
def login_at_seat(
    body: SeatLogin,
    request: Request,
    actor: User = Depends(current_user),
    session: Session = Depends(get_session),
) -> UserOut:
    previous = actor.extension
    sit_at(session, actor, body.seat)
    session.commit()
    announce_binding(request.app, actor.id, previous, actor.extension)
    return user_out(actor)


roles = crm_router("/roles", "organisation")
NAME = re.compile(r"[a-z][a-z_]{0,49}")


@roles.get("/{role_id}/permissions", summary="A role's permissions as resource.action")
def get_grants(
    role_id: int, actor: User = Depends(require("role", "read")), session: Session = Depends(get_session)
) -> list[str]:
    role = get_row(session, actor, res.ROLES, role_id)
    return sorted(f"{p.resource}.{p.action}" for p in role.permissions)


@roles.put("/{role_id}/permissions", summary="Replace a role's permissions")
def put_grants(
    role_id: int,
    body: Grants,
    request: Request,
    actor: User = Depends(require("role", "update")),
    session: Session = Depends(get_session),
) -> list[str]:
    role = get_row(session, actor, res.ROLES, role_id, "update")
    pairs = set()
    for grant in body.permissions:
        resource, _, action = grant.partition(".")
        if not (resource == "*" or NAME.fullmatch(resource)) or not (action == "*" or NAME.fullmatch(action)):
            raise InvalidInput(f"无效权限 invalid permission: {grant[:60]}", "permissions")
        pairs.add((resource, action))
    before = sorted(f"{p.resource}.{p.action}" for p in role.permissions)
    role.permissions = [Permission(resource=r, action=a) for r, a in sorted(pairs)]
    after = sorted(f"{r}.{a}" for r, a in pairs)
    audit.record(session, actor, "permissions", "role", role.id, {"permissions": [before, after]}, client_ip(request))
    session.commit()
    return after


router.include_router(users)
router.include_router(roles)

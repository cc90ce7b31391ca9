"""Menu visibility per role: which of the product's pages a role's links leave out of the top bar.

Kept as the role's ``menu_hidden.<page address>`` grants (beside its permissions, never mixed with them:
the permission matrix neither shows nor replaces them). Hiding is only about the links: every page and
API still checks the permissions. A page is left out for a user when every one of his roles hides it.
(No ``from __future__ import annotations`` here: FastAPI must see the body class.)
"""

import re
from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from agent_desk.api.crm_crud import crm_router
from agent_desk.deps import client_ip, current_user, get_session, require
from crm_core import audit
from crm_core.errors import InvalidInput, NotFound
from crm_core.models import Permission, Role, User

HIDDEN = "menu_hidden"  # the grants' resource; the action is a page's address ("/wallboard")
ADDRESS = re.compile(r"/[a-z][a-z/-]{0,28}")

admin = crm_router("", "administration")


class MenuBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    hidden: list[str] = Field(max_length=50)


def hidden_of(role: Role) -> list[str]:
    return sorted(p.action for p in role.permissions if p.resource == HIDDEN)


@admin.get("/admin/menus", summary="Each role with the pages its links leave out")
def list_menus(
    actor: User = Depends(require("role", "read")), session: Session = Depends(get_session)
) -> list[dict[str, Any]]:
    roles = session.scalars(select(Role).order_by(Role.name))
    return [{"id": r.id, "name": r.name, "title": r.title, "hidden": hidden_of(r)} for r in roles]


@admin.put("/admin/roles/{role_id}/menus", summary="Set the pages a role's links leave out")
def put_menus(
    role_id: int,
    body: MenuBody,
    request: Request,
    actor: User = Depends(require("role", "update")),
    session: Session = Depends(get_session),
) -> dict[str, Any]:
    role = session.get(Role, role_id)
    if role is None:
        raise NotFound(f"角色不存在 no such role: {role_id}")
    for index, address in enumerate(body.hidden):
        if not ADDRESS.fullmatch(address):
            raise InvalidInput(f"页面地址无效 not a page address: {address[:30]}", f"hidden.{index}")
    if role.name == "admin" and "/admin" in body.hidden:
        raise InvalidInput("管理员角色不能隐藏系统管理 the administrator role keeps the administration", "hidden")
    before = hidden_of(role)
    kept = [p for p in role.permissions if p.resource != HIDDEN]
    role.permissions = kept + [Permission(resource=HIDDEN, action=a) for a in sorted(set(body.hidden))]
    audit.record(
        session, actor, "menus", "role", role.id, {"hidden": [before, sorted(set(body.hidden))]}, client_ip(request)
    )
    session.commit()
    return {"id": role.id, "name": role.name, "title": role.title, "hidden": hidden_of(role)}


@admin.get("/menus/mine", summary="The pages every one of my roles leaves out of the top bar")
def my_menus(user: User = Depends(current_user)) -> dict[str, list[str]]:
    sets = [set(hidden_of(role)) for role in user.roles]
    hidden = set.intersection(*sets) if sets else set()
    return {"hidden": sorted(hidden)}


router = APIRouter()
router.include_router(admin)

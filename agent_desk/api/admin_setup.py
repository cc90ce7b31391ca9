"""Administration routes for the configuration the work runs on: ticket and order workflows with their
steps, ticket types with their SLA, opportunity stages (create, reorder), seats and their extensions.

The rules are in ``crm_core.services.admin_setup``; every route needs the matching permission.
(No ``from __future__ import annotations`` here: FastAPI must see the body classes.)
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from agent_desk.api.crm_crud import crm_router
from agent_desk.deps import get_session, require
from crm_core.errors import NotFound
from crm_core.models import OpportunityStage, Seat, TicketType, User, Workflow
from crm_core.services import admin_setup as svc

admin = crm_router("/admin", "administration")


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class WorkflowBody(_Body):
    name: str = Field("", max_length=200)
    kind: str = Field("ticket", max_length=10)


class StepBody(_Body):
    id: int | None = None
    name: str = Field("", max_length=200)
    action: str = Field("", max_length=60)
    assignee_role_id: int | None = None
    assignee_user_id: int | None = None


class StepsBody(_Body):
    steps: list[StepBody] = Field(max_length=50)


class TicketTypeBody(_Body):
    code: str = Field("", max_length=60)
    name: str = Field("", max_length=200)
    sla_hours: Any = None  # checked by the rule, with its own message
    workflow_id: int | None = None


class StageBody(_Body):
    name: str = Field("", max_length=100)
    probability: Any = None
    outcome: str = Field("open", max_length=10)


class StageOrder(_Body):
    ids: list[int] = Field(max_length=200)


class SeatBody(_Body):
    name: str = Field("", max_length=100)
    extension: str = Field("", max_length=40)
    department_id: int | None = None
    user_id: int | None = None


def shown(*names: str) -> Callable[[Any], dict[str, Any]]:
    """A row as the page shows it: these of its columns, by name."""
    return lambda row: {name: getattr(row, name) for name in names}


step_out = shown("id", "position", "name", "action", "assignee_role_id", "assignee_user_id")
type_out = shown("id", "code", "name", "sla_hours", "workflow_id")
stage_out = shown("id", "name", "position", "probability", "outcome")


def workflow_out(row: Workflow) -> dict[str, Any]:
    return {"id": row.id, "name": row.name, "kind": row.kind, "steps": [step_out(s) for s in row.steps]}


def _saved(session: Session, row: Any, out: Callable[[Any], dict[str, Any]]) -> dict[str, Any]:
    """Commit what a rule saved and answer with the row as the page shows it."""
    session.commit()
    return out(row)


def _get(session: Session, model: Any, row_id: int, what: str) -> Any:
    row = session.get(model, row_id)
    if row is None:
        raise NotFound(f"{what}不存在 not found: {row_id}")
    return row


@dataclass(frozen=True)
class Editable:
    """One kind of configuration created and edited through its service rule ``save(session, actor, data,
    row=None)``, which checks the body and writes the row: ``POST path`` and ``PATCH path/{param}``."""

    path: str
    param: str  # the id's name in the path, as the API documents it
    body: type[_Body]
    resource: str
    create_action: str
    model: Any
    what: str  # the row's name in a "not found" message
    save: Callable[..., Any]
    out: Callable[[Any], dict[str, Any]]
    summaries: tuple[str, str]


def _fields(body: BaseModel) -> dict[str, Any]:
    return body.model_dump()


def create_and_edit(kind: Editable) -> None:
    """Register the create and edit routes of ``kind``: the rule saves, the route commits and answers."""
    body_type = kind.body

    def create(
        body: body_type,  # type: ignore[valid-type]
        actor: User = Depends(require(kind.resource, kind.create_action)),
        session: Session = Depends(get_session),
    ) -> dict[str, Any]:
        return _saved(session, kind.save(session, actor, _fields(body)), kind.out)

    def edit(
        body: body_type,  # type: ignore[valid-type]
        row_id: int = Path(alias=kind.param),
        actor: User = Depends(require(kind.resource, "update")),
        session: Session = Depends(get_session),
    ) -> dict[str, Any]:
        row = kind.save(session, actor, _fields(body), _get(session, kind.model, row_id, kind.what))
        return _saved(session, row, kind.out)

    admin.add_api_route(kind.path, create, methods=["POST"], status_code=201, summary=kind.summaries[0])
    admin.add_api_route(f"{kind.path}/{{{kind.param}}}", edit, methods=["PATCH"], summary=kind.summaries[1])


@admin.get("/workflows/{kind}", summary="Ticket or order workflows with their steps, in order")
def list_workflows(
    kind: str, actor: User = Depends(require("workflow", "read")), session: Session = Depends(get_session)
) -> list[dict[str, Any]]:
    return [workflow_out(w) for w in svc.workflows(session, kind)]


@admin.put("/workflows/{workflow_id}/steps", summary="Replace the steps (numbered 1, 2, 3 in the order given)")
def put_steps(
    workflow_id: int,
    body: StepsBody,
    actor: User = Depends(require("workflow", "update")),
    session: Session = Depends(get_session),
) -> dict[str, Any]:
    row = svc.replace_steps(session, actor, workflow_id, [s.model_dump() for s in body.steps])
    return _saved(session, row, workflow_out)


@admin.get("/ticket-types", summary="Ticket types with their SLA and workflow")
def list_types(
    actor: User = Depends(require("ticket_type", "read")), session: Session = Depends(get_session)
) -> list[dict[str, Any]]:
    return [type_out(t) for t in session.scalars(select(TicketType).order_by(TicketType.id))]


@admin.get("/opportunity-stages", summary="Opportunity stages in order, open ones first")
def list_stages(
    actor: User = Depends(require("opportunity_stage", "update")), session: Session = Depends(get_session)
) -> list[dict[str, Any]]:
    return [stage_out(s) for s in svc.stages(session)]


for editable in (
    Editable(
        "/workflows",
        "workflow_id",
        WorkflowBody,
        "workflow",
        "create",
        Workflow,
        "流程",
        svc.save_workflow,
        workflow_out,
        ("Create a workflow (its steps come next)", "Rename a workflow"),
    ),
    Editable(
        "/ticket-types",
        "type_id",
        TicketTypeBody,
        "ticket_type",
        "create",
        TicketType,
        "工单类型",
        svc.save_ticket_type,
        type_out,
        ("Create a ticket type", "Edit a ticket type (code, name, SLA hours, workflow)"),
    ),
    Editable(
        "/opportunity-stages",
        "stage_id",
        StageBody,
        "opportunity_stage",
        "update",
        OpportunityStage,
        "阶段",
        svc.save_stage,
        stage_out,
        ("Create a stage (an open one goes before the closed)", "Edit a stage; won and lost stages stay closed"),
    ),
):
    create_and_edit(editable)


@admin.put("/opportunity-stages/order", summary="Reorder every stage; won and lost stay last")
def order_stages(
    body: StageOrder,
    actor: User = Depends(require("opportunity_stage", "update")),
    session: Session = Depends(get_session),
) -> list[dict[str, Any]]:
    rows = svc.reorder_stages(session, actor, body.ids)
    session.commit()
    return [stage_out(s) for s in rows]


def seat_out(row: Seat, names: dict[int, str]) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "extension": row.extension,
        "department_id": row.department_id,
        "user_id": row.user_id,
        "user_name": names.get(row.user_id or 0, ""),
    }


def _names(session: Session) -> dict[int, str]:
    return {
        uid: shown or login for uid, login, shown in session.execute(select(User.id, User.username, User.display_name))
    }


@admin.get("/seats", summary="Seats with their extension, department and the agent sitting there")
def list_seats(
    actor: User = Depends(require("seat", "update")), session: Session = Depends(get_session)
) -> list[dict[str, Any]]:
    names = _names(session)
    return [seat_out(s, names) for s in session.scalars(select(Seat).order_by(Seat.name))]


@admin.post("/seats", status_code=201, summary="Create a seat bound to an extension")
def new_seat(
    body: SeatBody, actor: User = Depends(require("seat", "create")), session: Session = Depends(get_session)
) -> dict[str, Any]:
    row = svc.save_seat(session, actor, body.model_dump(exclude={"user_id"}))
    session.commit()
    return seat_out(row, _names(session))


@admin.patch("/seats/{seat_id}", summary="Edit a seat; user_id null unbinds its agent")
def edit_seat(
    seat_id: int,
    body: SeatBody,
    actor: User = Depends(require("seat", "update")),
    session: Session = Depends(get_session),
) -> dict[str, Any]:
    row = svc.save_seat(session, actor, body.model_dump(exclude_unset=True), _get(session, Seat, seat_id, "座席"))
    session.commit()
    return seat_out(row, _names(session))


router = APIRouter()
router.include_router(admin)

"""The configuration the work runs on, as an administrator edits it: ticket and order workflows with their
steps, ticket types with their SLA, opportunity stages, seats with their extensions.

Each rule refuses bad input with a message in both languages naming the field; records already standing on
a configuration (a ticket on a step, a user at a seat) are kept consistent with it.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import case, func, select, update
from sqlalchemy.orm import Session

from crm_core import audit
from crm_core.errors import Conflict, InvalidInput, NotFound
from crm_core.models import (
    Department,
    OpportunityStage,
    Order,
    Role,
    Seat,
    Ticket,
    TicketType,
    User,
    Workflow,
    WorkflowStep,
)

KINDS = ("ticket", "order")
# What an order step does (crm_core.services.orders applies each); ticket steps are free text.
ORDER_ACTIONS = ("review", "manager_review", "shipping", "payment", "receipt", "followup")
OUTCOMES = ("open", "won", "lost")
CODE = re.compile(r"[a-z][a-z0-9_]{0,29}")
EXTENSION = re.compile(r"[0-9]{2,20}")
MAX_SLA_HOURS = 24 * 365


def _text(data: dict[str, Any], key: str, limit: int, zh: str, en: str) -> str:
    value = str(data.get(key) or "").strip()
    if not value:
        raise InvalidInput(f"请填写{zh} {en} is required", key)
    if len(value) > limit:
        raise InvalidInput(f"{zh}最多 {limit} 个字 {en}: at most {limit} characters", key)
    return value


def _whole(data: dict[str, Any], key: str, low: int, high: int, zh: str, en: str) -> int:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidInput(f"{zh}须为 {low} 到 {high} 的整数 {en} must be a whole number from {low} to {high}", key)
    return value


# --- workflows and steps ---------------------------------------------------------------------------------


def workflows(session: Session, kind: str) -> list[Workflow]:
    if kind not in KINDS:
        raise InvalidInput("流程类别须为 ticket 或 order the kind is ticket or order", "kind")
    return list(session.scalars(select(Workflow).where(Workflow.kind == kind).order_by(Workflow.id)))


def save_workflow(session: Session, user: User, data: dict[str, Any], row: Workflow | None = None) -> Workflow:
    name = _text(data, "name", 100, "流程名称", "the workflow name")
    other = session.scalar(select(Workflow.id).where(Workflow.name == name))
    if other is not None and (row is None or other != row.id):
        raise InvalidInput("流程名称已存在 a workflow with this name exists", "name")
    if row is None:
        kind = data.get("kind")
        if kind not in KINDS:
            raise InvalidInput("流程类别须为 ticket 或 order the kind is ticket or order", "kind")
        row = Workflow(name=name, kind=kind)
        session.add(row)
    row.name = name
    session.flush()
    audit.record(session, user, "save", "workflow", row.id, {"name": name})
    return row


def _step(session: Session, kind: str, index: int, data: dict[str, Any]) -> dict[str, Any]:
    at = f"steps.{index}"
    name = str(data.get("name") or "").strip()
    if not name or len(name) > 100:
        raise InvalidInput(f"第 {index + 1} 步须填写名称（最多 100 字） step {index + 1} needs a name", f"{at}.name")
    action = str(data.get("action") or "").strip()
    if kind == "order" and action not in ORDER_ACTIONS:
        raise InvalidInput(f"第 {index + 1} 步须选择动作 step {index + 1} needs an action", f"{at}.action")
    if len(action) > 30:
        raise InvalidInput("动作最多 30 个字 the action: at most 30 characters", f"{at}.action")
    role_id, user_id = data.get("assignee_role_id"), data.get("assignee_user_id")
    if role_id is None and user_id is None:
        raise InvalidInput(
            f"第 {index + 1} 步须指定处理角色或处理人 step {index + 1} needs a handling role or person",
            f"{at}.assignee_role_id",
        )
    if role_id is not None and session.get(Role, role_id) is None:
        raise InvalidInput("角色不存在 no such role", f"{at}.assignee_role_id")
    if user_id is not None and session.get(User, user_id) is None:
        raise InvalidInput("用户不存在 no such user", f"{at}.assignee_user_id")
    return {"id": data.get("id"), "name": name, "action": action, "role": role_id, "user": user_id}


def _standing(session: Session, workflow: Workflow, position: int) -> int:
    """Unfinished tickets or orders in approval standing on the step numbered ``position``."""
    if workflow.kind == "ticket":
        where = (Ticket.workflow_id == workflow.id) & (Ticket.step_position == position)
        open_work = where & Ticket.status.not_in(("resolved", "closed"))
        return session.scalar(select(func.count(Ticket.id)).where(open_work)) or 0
    where = (Order.workflow_id == workflow.id) & (Order.step_position == position) & (Order.status == "in_approval")
    return session.scalar(select(func.count(Order.id)).where(where)) or 0


def replace_steps(session: Session, user: User, workflow_id: int, steps: list[dict[str, Any]]) -> Workflow:
    """The workflow's steps become ``steps`` in that order, numbered 1, 2, 3 ...

    A step kept (by its id) keeps the tickets and orders standing on it, under its new number; a step
    removed while work stands on it is refused.
    """
    workflow = session.get(Workflow, workflow_id)
    if workflow is None:
        raise NotFound(f"流程不存在 no such workflow: {workflow_id}")
    if not steps:
        raise InvalidInput("流程至少需要一个步骤 a workflow needs at least one step", "steps")
    wanted = [_step(session, workflow.kind, i, s) for i, s in enumerate(steps)]
    existing = {s.id: s for s in workflow.steps}
    kept_ids = [w["id"] for w in wanted if w["id"] is not None]
    for index, step in enumerate(wanted):
        if step["id"] is not None and step["id"] not in existing:
            raise InvalidInput("该步骤不属于此流程 that step is not in this workflow", f"steps.{index}.id")
    if len(set(kept_ids)) != len(kept_ids):
        raise InvalidInput("同一步骤出现两次 a step is listed twice", "steps")
    for gone in (s for s in existing.values() if s.id not in kept_ids):
        count = _standing(session, workflow, gone.position)
        if count:
            raise Conflict(
                f"步骤“{gone.name}”上还有 {count} 条未办结的记录 {count} open records stand on step {gone.name!r}"
            )
    moves = {existing[w["id"]].position: i + 1 for i, w in enumerate(wanted) if w["id"] is not None}
    for old in existing.values():  # out of the way of the unique (workflow, position) first
        old.position = -old.id
    session.flush()
    for gone in [s for s in existing.values() if s.id not in kept_ids]:
        session.delete(gone)
    session.flush()
    for number, step in enumerate(wanted, start=1):
        row = existing[step["id"]] if step["id"] is not None else WorkflowStep(workflow_id=workflow.id)
        row.position, row.name, row.action = number, step["name"], step["action"]
        row.assignee_role_id, row.assignee_user_id = step["role"], step["user"]
        session.add(row)
    _follow(session, workflow, moves)
    session.flush()
    session.expire(workflow, ["steps"])
    audit.record(session, user, "steps", "workflow", workflow.id, {"steps": [w["name"] for w in wanted]})
    return workflow


def _follow(session: Session, workflow: Workflow, moves: dict[int, int]) -> None:
    """Tickets and orders keep standing on their step under its new number."""
    moves = {old: new for old, new in moves.items() if old != new}
    if not moves:
        return
    model: Any = Ticket if workflow.kind == "ticket" else Order
    renumbered = case(moves, value=model.step_position, else_=model.step_position)
    session.execute(
        update(model)
        .where(model.workflow_id == workflow.id, model.step_position.in_(list(moves)))
        .values(step_position=renumbered)
        .execution_options(synchronize_session="fetch")
    )


# --- ticket types ----------------------------------------------------------------------------------------


def save_ticket_type(session: Session, user: User, data: dict[str, Any], row: TicketType | None = None) -> TicketType:
    code = str(data.get("code", row.code if row else "") or "").strip()
    if not CODE.fullmatch(code):
        raise InvalidInput("代码须以小写字母开头，只含小写字母、数字和下划线 the code: a-z, 0-9 and _ only", "code")
    other = session.scalar(select(TicketType.id).where(TicketType.code == code))
    if other is not None and (row is None or other != row.id):
        raise InvalidInput("代码已存在 this code already exists", "code")
    name = _text(data, "name", 100, "名称", "the name")
    hours = _whole(data, "sla_hours", 1, MAX_SLA_HOURS, "处理时限（小时）", "the SLA in hours")
    workflow_id = data.get("workflow_id")
    if workflow_id is not None:
        workflow = session.get(Workflow, workflow_id)
        if workflow is None or workflow.kind != "ticket":
            raise InvalidInput("须选择工单流程 choose a ticket workflow", "workflow_id")
    row = row or TicketType()
    row.code, row.name, row.sla_hours, row.workflow_id = code, name, hours, workflow_id
    session.add(row)
    session.flush()
    audit.record(session, user, "save", "ticket_type", row.id, {"code": code, "sla_hours": hours})
    return row


# --- opportunity stages ----------------------------------------------------------------------------------


def stages(session: Session) -> list[OpportunityStage]:
    return list(session.scalars(select(OpportunityStage).order_by(OpportunityStage.position, OpportunityStage.id)))


def save_stage(
    session: Session, user: User, data: dict[str, Any], row: OpportunityStage | None = None
) -> OpportunityStage:
    """Open stages take the probability given; a won stage is 100 %, a lost one 0 %, and stays closed."""
    name = _text(data, "name", 50, "阶段名称", "the stage name")
    other = session.scalar(select(OpportunityStage.id).where(OpportunityStage.name == name))
    if other is not None and (row is None or other != row.id):
        raise InvalidInput("阶段名称已存在 a stage with this name exists", "name")
    outcome = data.get("outcome", row.outcome if row else "open")
    if outcome not in OUTCOMES:
        raise InvalidInput("结果须为进行中、赢单或输单 the outcome is open, won or lost", "outcome")
    if row is not None and row.outcome != "open" and outcome != row.outcome:
        raise InvalidInput("赢单和输单阶段保持关闭 a won or lost stage stays closed", "outcome")
    if row is not None and row.outcome == "open" and outcome != "open":
        raise InvalidInput("进行中的阶段不能改为关闭阶段 an open stage cannot become a closed one", "outcome")
    if outcome == "open":
        probability = _whole(data, "probability", 0, 100, "赢单概率（%）", "the probability (%)")
    else:
        probability = 100 if outcome == "won" else 0
    everyone = stages(session)
    if row is None:
        row = OpportunityStage(name=name, outcome=outcome, probability=probability, position=0)
        session.add(row)
        opened = [s for s in everyone if s.outcome == "open"]
        closed = [s for s in everyone if s.outcome != "open"]
        order = [*opened, row, *closed] if outcome == "open" else [*everyone, row]
        _number(order)
    row.name, row.probability = name, probability
    session.flush()
    audit.record(session, user, "save", "opportunity_stage", row.id, {"name": name, "outcome": outcome})
    return row


def _number(order: list[OpportunityStage]) -> None:
    for number, stage in enumerate(order, start=1):
        stage.position = number


def reorder_stages(session: Session, user: User, ids: list[int]) -> list[OpportunityStage]:
    """Stages in the order given (every stage once); won and lost stages come after every open one."""
    everyone = {s.id: s for s in stages(session)}
    if sorted(ids) != sorted(everyone):
        raise InvalidInput("须列出每个阶段各一次 list every stage exactly once", "ids")
    order = [everyone[i] for i in ids]
    closed_seen = False
    for stage in order:
        if stage.outcome != "open":
            closed_seen = True
        elif closed_seen:
            raise InvalidInput("赢单和输单阶段须排在最后 won and lost stages stay last", "ids")
    _number(order)
    session.flush()
    audit.record(session, user, "reorder", "opportunity_stage", "", {"ids": ids})
    return order


# --- seats -----------------------------------------------------------------------------------------------


def save_seat(session: Session, user: User, data: dict[str, Any], row: Seat | None = None) -> Seat:
    """A seat's name and extension are unique; its agent may be cleared (unbound) but not moved here."""
    name = _text(data, "name", 50, "座席名称", "the seat name")
    other = session.scalar(select(Seat.id).where(Seat.name == name))
    if other is not None and (row is None or other != row.id):
        raise InvalidInput("座席名称已存在 a seat with this name exists", "name")
    extension = str(data.get("extension") or "").strip()
    if not EXTENSION.fullmatch(extension):
        raise InvalidInput("分机号须为 2 到 20 位数字 the extension: 2 to 20 digits", "extension")
    other = session.scalar(select(Seat.id).where(Seat.extension == extension))
    if other is not None and (row is None or other != row.id):
        raise InvalidInput("该分机已绑定其他座席 the extension belongs to another seat", "extension")
    department_id = data.get("department_id")
    if department_id is not None and session.get(Department, department_id) is None:
        raise InvalidInput("部门不存在 no such department", "department_id")
    if "user_id" in data and data["user_id"] is not None and (row is None or data["user_id"] != row.user_id):
        raise InvalidInput("坐席登录时自行入座；这里只能解除绑定 agents take a seat when they log in", "user_id")
    if row is not None and row.user_id is not None and extension != row.extension:
        raise Conflict("座席有人使用时不能改分机，请先解除绑定 unbind the agent before changing the extension")
    row = row or Seat()
    row.name, row.extension, row.department_id = name, extension, department_id
    if "user_id" in data and data["user_id"] is None:
        row.user_id = None
    session.add(row)
    session.flush()
    audit.record(session, user, "save", "seat", row.id, {"name": name, "extension": extension})
    return row

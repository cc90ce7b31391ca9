"""Rules shared by ticket and order workflows: who may handle a step, where a step leads."""

from __future__ import annotations

from sqlalchemy.orm import Session

from crm_core.errors import Conflict, PermissionDenied
from crm_core.models import User, Workflow, WorkflowStep


def steps_of(session: Session, workflow_id: int | None) -> list[WorkflowStep]:
    workflow = session.get(Workflow, workflow_id) if workflow_id is not None else None
    if workflow is None or not workflow.steps:
        raise Conflict("流程未配置步骤 the workflow has no steps")
    return list(workflow.steps)


def place_of(steps: list[WorkflowStep], number: int, gone: str) -> int:
    """Where in ``steps`` the step numbered ``number`` is: a record's ``step_position`` holds a step's
    number, never a list index. Administrators number steps as they like (0, 1, 2 or 1, 2, 3 or 10, 20,
    30); only their order counts. ``gone`` is the conflict's message when no step has that number."""
    for index, step in enumerate(steps):
        if step.position == number:
            return index
    raise Conflict(gone)


def can_handle(user: User, step: WorkflowStep, resource: str, assignee_id: int | None = None) -> bool:
    """The step's user, a holder of the step's role, the record's assignee, or an approver may act."""
    if step.assignee_user_id is not None and step.assignee_user_id == user.id:
        return True
    if assignee_id is not None and assignee_id == user.id:
        return True
    if step.assignee_role_id is not None and step.assignee_role_id in {role.id for role in user.roles}:
        return True
    return user.has_permission(resource, "approve")


def ensure_handler(user: User, step: WorkflowStep, resource: str, assignee_id: int | None = None) -> None:
    if not can_handle(user, step, resource, assignee_id):
        raise PermissionDenied(f"您不是“{step.name}”步骤的处理人 you are not a handler of step {step.name!r}")

"""A ticket walks every step of its workflow whatever numbers the administrator gave the steps."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_core.errors import Conflict, PermissionDenied
from crm_core.models import Role, Ticket, TicketType, Workflow, WorkflowStep
from crm_core.services import tickets
from crm_core.testing import Org

pytest_plugins = ["crm_core.testing"]

STEPS = (("受理 Intake", "agent"), ("处理 Handling", "supervisor"), ("回访 Follow-up visit", "agent"))


@pytest.fixture
def db(any_db: Session) -> Session:
    return any_db


def _ticket_on(db: Session, org: Org, numbers: tuple[int, int, int]) -> Ticket:
    roles = {r.name: r.id for r in db.scalars(select(Role))}
    flow = Workflow(name=f"投诉 {numbers}", kind="ticket")
    db.add(flow)
    db.flush()
    for number, (name, role) in zip(numbers, STEPS, strict=True):
        db.add(WorkflowStep(workflow_id=flow.id, position=number, name=name, assignee_role_id=roles[role]))
    db.flush()
    db.expire(flow)
    kind = TicketType(code=f"c{numbers[0]}_{numbers[2]}", name="投诉 Complaint", sla_hours=4, workflow_id=flow.id)
    db.add(kind)
    db.flush()
    return tickets.open_ticket(db, org.agent_a, {"title": "送货延迟", "type_id": kind.id})


@pytest.mark.parametrize("numbers", [(1, 2, 3), (0, 1, 2), (10, 20, 35)], ids=["from-1", "from-0", "gaps"])
def test_the_follow_up_visit_step_happens(db: Session, org: Org, numbers: tuple[int, int, int]) -> None:
    first, handling, visit = numbers
    ticket = _ticket_on(db, org, numbers)
    assert (ticket.step_position, ticket.status) == (first, "open")

    tickets.pass_on(db, org.agent_a, ticket.id, "已受理")
    assert (ticket.step_position, ticket.status) == (handling, "in_progress")
    with pytest.raises(PermissionDenied):
        tickets.pass_on(db, org.agent_a2, ticket.id, "the supervisor's step, not an agent's")

    tickets.pass_on(db, org.supervisor_a, ticket.id, "已处理")
    assert (ticket.step_position, ticket.status) == (visit, "in_progress"), "the visit step was skipped"
    assert ticket.assignee_role_id == db.scalar(select(Role.id).where(Role.name == "agent"))

    tickets.pass_on(db, org.agent_a, ticket.id, "回访满意")
    assert ticket.status == "resolved"
    moves = [(e.action, e.from_step, e.to_step) for e in tickets.history(db, org.agent_a, ticket.id)]
    assert moves == [
        ("create", first, first),
        ("pass", first, handling),
        ("pass", handling, visit),
        ("resolve", visit, None),
    ]


@pytest.mark.parametrize("numbers", [(1, 2, 3), (0, 1, 2), (10, 20, 35)], ids=["from-1", "from-0", "gaps"])
def test_sending_back_goes_one_step_up_and_not_past_the_first(
    db: Session, org: Org, numbers: tuple[int, int, int]
) -> None:
    first, handling, _visit = numbers
    ticket = _ticket_on(db, org, numbers)
    with pytest.raises(Conflict):
        tickets.send_back(db, org.agent_a, ticket.id, "nothing before the first step")
    tickets.pass_on(db, org.agent_a, ticket.id, "")
    tickets.pass_on(db, org.supervisor_a, ticket.id, "")
    tickets.send_back(db, org.agent_a, ticket.id, "处理不彻底")
    assert (ticket.step_position, ticket.status, ticket.assignee_id) == (handling, "in_progress", org.supervisor_a.id)
    tickets.send_back(db, org.supervisor_a, ticket.id, "请补充订单号")
    assert (ticket.step_position, ticket.status) == (first, "returned")


def test_a_step_removed_under_a_ticket_is_a_clear_conflict(db: Session, org: Org) -> None:
    ticket = _ticket_on(db, org, (1, 2, 3))
    here = (WorkflowStep.workflow_id == ticket.workflow_id) & (WorkflowStep.position == 1)
    step = db.scalar(select(WorkflowStep).where(here))
    db.delete(step)
    db.flush()
    db.expire_all()
    with pytest.raises(Conflict, match="no longer in its workflow"):
        tickets.pass_on(db, org.admin, ticket.id, "")

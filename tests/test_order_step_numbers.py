"""An order walks every step of its approval workflow whatever numbers the administrator gave the steps."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_core.errors import Conflict, InvalidInput, PermissionDenied
from crm_core.models import Customer, Order, Product, Role, Workflow, WorkflowStep
from crm_core.services import orders
from crm_core.testing import Org

pytest_plugins = ["crm_core.testing"]

# (name, action, role): review by an agent, manager review by a supervisor, the follow-up visit by an agent.
STEPS = (
    ("审核 Review", "review", "agent"),
    ("主管审核 Manager review", "manager_review", "supervisor"),
    ("回访 Follow-up visit", "followup", "agent"),
)
NUMBERINGS = [(1, 2, 3), (0, 1, 2), (10, 20, 35)]
IDS = ["from-1", "from-0", "gaps"]


@pytest.fixture
def db(any_db: Session) -> Session:
    return any_db


def _order_on(db: Session, org: Org, numbers: tuple[int, int, int]) -> Order:
    roles = {r.name: r.id for r in db.scalars(select(Role))}
    flow = Workflow(name=f"订单审批 {numbers}", kind="order")
    db.add(flow)
    db.flush()
    for number, (name, action, role) in zip(numbers, STEPS, strict=True):
        db.add(
            WorkflowStep(workflow_id=flow.id, position=number, name=name, action=action, assignee_role_id=roles[role])
        )
    db.flush()
    db.expire(flow)
    customer = Customer(name="北京华鑫科技有限公司", owner_id=org.agent_a.id, department_id=org.dept_a.id)
    product = Product(sku=f"P-{numbers[0]}-{numbers[2]}", name="净水器", price=Decimal("100"), stock=10)
    db.add_all([customer, product])
    db.flush()
    return orders.create_order(
        db,
        org.agent_a,
        {"customer_id": customer.id, "workflow_id": flow.id},
        [{"product_id": product.id, "quantity": 1}],
    )


@pytest.mark.parametrize("numbers", NUMBERINGS, ids=IDS)
def test_the_follow_up_visit_step_happens(db: Session, org: Org, numbers: tuple[int, int, int]) -> None:
    review, manager, visit = numbers
    order = _order_on(db, org, numbers)
    orders.submit(db, org.agent_a, order.id)
    assert (order.step_position, order.status) == (review, "in_approval")

    orders.approve(db, org.agent_a, order.id)
    assert order.step_position == manager
    with pytest.raises(PermissionDenied):
        orders.approve(db, org.agent_a, order.id)  # the manager's step, not an agent's

    orders.approve(db, org.supervisor_a, order.id)
    assert (order.step_position, order.status) == (visit, "in_approval"), "the follow-up step was skipped"
    with pytest.raises(InvalidInput):
        orders.approve(db, org.agent_a, order.id)  # the follow-up step is really run: it needs its note
    orders.approve(db, org.agent_a, order.id, {"note": "客户满意"})
    assert (order.status, order.followup_note) == ("completed", "客户满意")
    moves = [(e.action, e.from_step, e.to_step) for e in orders.history(db, org.agent_a, order.id)]
    assert moves == [
        ("create", 0, None),
        ("submit", 0, review),
        ("review", review, manager),
        ("manager_review", manager, visit),
        ("followup", visit, None),
    ]


@pytest.mark.parametrize("numbers", NUMBERINGS, ids=IDS)
def test_sending_back_goes_one_step_up_then_to_draft(db: Session, org: Org, numbers: tuple[int, int, int]) -> None:
    review, manager, _visit = numbers
    order = _order_on(db, org, numbers)
    orders.submit(db, org.agent_a, order.id)
    orders.approve(db, org.agent_a, order.id)
    orders.approve(db, org.supervisor_a, order.id)
    orders.send_back(db, org.agent_a, order.id, "地址不全")
    assert (order.step_position, order.status) == (manager, "in_approval")
    orders.send_back(db, org.supervisor_a, order.id, "请核对价格")
    assert (order.step_position, order.status) == (review, "in_approval")
    orders.send_back(db, org.agent_a, order.id, "客户改主意")
    assert order.status == "draft"


def test_a_step_removed_under_an_order_is_a_clear_conflict(db: Session, org: Org) -> None:
    order = _order_on(db, org, (1, 2, 3))
    orders.submit(db, org.agent_a, order.id)
    here = (WorkflowStep.workflow_id == order.workflow_id) & (WorkflowStep.position == 1)
    db.delete(db.scalar(select(WorkflowStep).where(here)))
    db.flush()
    db.expire_all()
    with pytest.raises(Conflict, match="no longer in its workflow"):
        orders.approve(db, org.admin, order.id)

"""Data scope rules: own, department, department and below, all; and the role permission matrix."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_core.errors import InvalidInput, PermissionDenied
from crm_core.models import Customer, DataScope, Role, Ticket, User
from crm_core.services import records
from crm_core.services import resources as res
from crm_core.testing import Org, add_department

pytest_plugins = ["crm_core.testing"]


@pytest.fixture
def db(any_db: Session) -> Session:
    """Every test here runs on SQLite and on PostgreSQL."""
    return any_db


def _tickets(db: Session, org: Org) -> dict[str, int]:
    team = add_department(db, "一组下属小组", org.dept_a)
    rows = {
        "a_own": Ticket(title="a_own", type_id=1, owner_id=org.agent_a.id, department_id=org.dept_a.id),
        "a_mate": Ticket(title="a_mate", type_id=1, owner_id=org.agent_a2.id, department_id=org.dept_a.id),
        "a_sub": Ticket(title="a_sub", type_id=1, department_id=team.id),
        "b": Ticket(title="b", type_id=1, owner_id=org.agent_b.id, department_id=org.dept_b.id),
        "assigned": Ticket(title="assigned", type_id=1, assignee_id=org.agent_a.id, department_id=org.dept_b.id),
    }
    db.add_all(rows.values())
    db.commit()
    return {k: v.id for k, v in rows.items()}


def _visible(db: Session, user: User) -> set[str]:
    page = records.list_rows(db, user, res.TICKETS, size=200)
    return {t.title for t in page.items}


def _with_scope(db: Session, user: User, scope: DataScope) -> User:
    role = db.scalar(select(Role).where(Role.name == "agent"))
    assert role is not None
    role.data_scope = scope.value
    db.flush()
    db.expire(user)
    return user


@pytest.mark.parametrize(
    ("scope", "expected"),
    [
        (DataScope.OWN, {"a_own", "assigned"}),
        (DataScope.DEPARTMENT, {"a_own", "a_mate", "assigned"}),
        (DataScope.DEPARTMENT_TREE, {"a_own", "a_mate", "a_sub", "assigned"}),
        (DataScope.ALL, {"a_own", "a_mate", "a_sub", "b", "assigned"}),
    ],
)
def test_each_scope_shows_exactly_its_rows(db: Session, org: Org, scope: DataScope, expected: set[str]) -> None:
    ids = _tickets(db, org)
    agent = _with_scope(db, org.agent_a, scope)
    assert _visible(db, agent) == expected
    for name, ticket_id in ids.items():
        if name in expected:
            records.get_row(db, agent, res.TICKETS, ticket_id)
        else:
            with pytest.raises(PermissionDenied):
                records.get_row(db, agent, res.TICKETS, ticket_id)


def test_supervisor_sees_department_and_below_but_not_a_sibling(db: Session, org: Org) -> None:
    _tickets(db, org)
    assert _visible(db, org.supervisor_a) == {"a_own", "a_mate", "a_sub"}
    assert _visible(db, org.admin) == {"a_own", "a_mate", "a_sub", "b", "assigned"}


def test_pool_customers_are_visible_to_every_agent_but_owned_ones_are_not(db: Session, org: Org) -> None:
    db.add_all(
        [
            Customer(name="公海", status="pool"),
            Customer(name="二组的", owner_id=org.agent_b.id, department_id=org.dept_b.id),
        ]
    )
    db.commit()
    names = {c.name for c in records.list_rows(db, org.agent_a, res.CUSTOMERS).items}
    assert names == {"公海"}


def test_quality_role_reads_everything_and_changes_nothing(db: Session, org: Org) -> None:
    quality = User(
        username="qa",
        roles=list(db.scalars(select(Role).where(Role.name == "quality"))),
        department_id=org.dept_b.id,
    )
    db.add(quality)
    ids = _tickets(db, org)
    assert len(_visible(db, quality)) == 5
    with pytest.raises(PermissionDenied):
        records.update_row(db, quality, res.TICKETS, ids["a_own"], {"title": "x"})
    with pytest.raises(PermissionDenied):
        records.create_row(db, quality, res.CUSTOMERS, {"name": "x"})


def test_giving_a_record_to_someone_else_is_a_transfer(db: Session, org: Org) -> None:
    with pytest.raises(PermissionDenied):
        records.create_row(db, org.agent_a, res.CUSTOMERS, {"name": "x", "owner_id": org.agent_b.id})
    row = records.create_row(db, org.agent_a, res.CUSTOMERS, {"name": "mine"})
    assert (row.owner_id, row.department_id, row.created_by) == (
        org.agent_a.id,
        org.dept_a.id,
        org.agent_a.id,
    )
    with pytest.raises(PermissionDenied):
        records.update_row(db, org.agent_a, res.CUSTOMERS, row.id, {"department_id": org.dept_b.id})
    moved = records.update_row(db, org.supervisor_a, res.CUSTOMERS, row.id, {"owner_id": org.agent_a2.id})
    assert moved.owner_id == org.agent_a2.id


def test_departments_get_a_tree_path(db: Session, org: Org) -> None:
    child = records.create_row(db, org.admin, res.DEPARTMENTS, {"name": "新组", "parent_id": org.dept_a.id})
    assert child.path == f"{org.dept_a.path}{child.id}/"


def test_moving_a_department_moves_its_sub_departments(db: Session, org: Org) -> None:
    team = records.create_row(db, org.admin, res.DEPARTMENTS, {"name": "小组", "parent_id": org.dept_a.id})
    records.update_row(db, org.admin, res.DEPARTMENTS, org.dept_a.id, {"parent_id": org.dept_b.id})
    db.refresh(team)
    assert team.path == f"{org.dept_b.path}{org.dept_a.id}/{team.id}/"
    with pytest.raises(InvalidInput):
        records.update_row(db, org.admin, res.DEPARTMENTS, org.dept_b.id, {"parent_id": team.id})

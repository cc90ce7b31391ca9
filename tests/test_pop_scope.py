"""The screen-pop's data scope: each ringing agent sees of the caller's card exactly what the REST lookup shows
him (own / department / department and below / all), decided on the card's own owner and department columns;
a change of his department, roles or seat is seen by his next pop; an extension bound to nobody pops no record.
Every test runs on SQLite and on PostgreSQL (where the card and the agent's scope are one statement)."""

from __future__ import annotations

import asyncio
from dataclasses import asdict
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import Engine, event, select
from sqlalchemy.orm import Session

from crm_core.lookup import lookup
from crm_core.models import Customer, DataScope, Role, Seat, Ticket, User
from crm_core.permissions import Viewer, row_visible, scope_clause, viewer_of, visible_lookup
from crm_core.services.admin import edit_user, save_role
from crm_core.services.customers import add_phone
from crm_core.services.users import sit_at
from crm_core.testing import Org, make_org
from cti.screen_pop import LOOKUP_FIELDS, CrmCards, crm_screen_pop

pytest_plugins = ["crm_core.testing"]

SHARED = "400-800-1234"  # one number, a customer of each kind behind it


@pytest.fixture
def world(any_db: Session) -> tuple[Session, Org, dict[str, int]]:
    org = make_org(any_db)
    own_role = Role(name="own_only", title="本人", data_scope=DataScope.OWN.value)
    any_db.add(own_role)
    any_db.flush()
    loner = User(username="loner", roles=[own_role], department_id=org.dept_b.id, extension="2002")
    any_db.add(loner)
    any_db.flush()
    kinds = {
        "pool": (None, None),
        "a_dept": (org.dept_a.id, org.supervisor_a.id),
        "a2_owned": (org.dept_a.id, org.agent_a2.id),
        "b_owned": (org.dept_b.id, org.agent_b.id),
        "loner_owned": (org.dept_b.id, loner.id),
        "head": (org.head.id, org.admin.id),
    }
    ids = {}
    for name, (department, owner) in kinds.items():
        customer = Customer(name=name, status="active", department_id=department, owner_id=owner)
        any_db.add(customer)
        any_db.flush()
        add_phone(any_db, customer.id, SHARED)
        any_db.add(Ticket(title=f"工单 {name}", type_id=1, customer_id=customer.id, status="open"))
        ids[name] = customer.id
    any_db.commit()
    return any_db, org, ids


def pops_of(engine: Engine, rings: list[tuple[str, str]], number: str = SHARED) -> list[dict[str, Any]]:
    """What the pop service (as ``serve`` builds it) publishes for each ``(call_id, extension)`` ringing."""
    published: list[dict[str, Any]] = []

    async def publish(pop: dict[str, Any]) -> None:
        published.append(pop)

    async def ring() -> None:
        settings = SimpleNamespace(screen_pop_threads=2, default_region="CN", default_area_code="")
        service = crm_screen_pop(engine, settings, publish)
        for call_id, extension in rings:
            ringing = {"type": "call.ringing", "call_id": call_id, "agent": extension, "ts": "2026-11-20T01:30:00Z"}
            await service.handle({**ringing, "caller": {"number": number}})
        await service.stop()

    asyncio.run(ring())
    return published


def pop_of(engine: Engine, extension: str) -> dict[str, Any]:
    """The pop of one ringing of ``extension`` (a fresh call)."""
    (pop,) = pops_of(engine, [(f"c-{extension}", extension)])
    return pop


def rest_answer(session: Session, username: str, number: str = SHARED) -> dict[str, Any]:
    """The REST lookup's answer (``GET /api/crm/lookup``) for that user, in the pop's fields."""
    session.expire_all()
    user = session.scalar(select(User).where(User.username == username))
    assert user is not None
    return card(visible_lookup(session, user, asdict(lookup(session, number))))


def card(found: dict[str, Any]) -> dict[str, Any]:
    return {key: found.get(key) for key in (*LOOKUP_FIELDS, "hidden_matches")}


def names(pop: dict[str, Any], ids: dict[str, int]) -> set[str]:
    by_id = {v: k for k, v in ids.items()}
    return {by_id[c["id"]] for c in pop["candidates"]}


def seen_in_sql(session: Session, username: str) -> set[int]:
    user = session.scalar(select(User).where(User.username == username))
    assert user is not None
    return set(session.scalars(select(Customer.id).where(scope_clause(session, user, Customer))))


@pytest.mark.parametrize(
    ("username", "extension", "expected"),
    [
        ("admin", "9000", {"pool", "a_dept", "a2_owned", "b_owned", "loner_owned", "head"}),  # all
        ("sup_a", "9001", {"pool", "a_dept", "a2_owned"}),  # department A and below
        ("agent_a", "1001", {"pool", "a_dept", "a2_owned"}),  # department A
        ("agent_b", "2001", {"pool", "b_owned", "loner_owned"}),  # department B
        ("loner", "2002", {"pool", "loner_owned"}),  # own records (and the public pool)
    ],
)
def test_the_pop_shows_what_the_rest_lookup_shows(
    world: tuple[Session, Org, dict[str, int]], username: str, extension: str, expected: set[str]
) -> None:
    session, _org, ids = world
    session.execute(User.__table__.update().where(User.username == username).values(extension=extension))
    session.commit()
    engine = session.get_bind()
    assert isinstance(engine, Engine)
    pop = pop_of(engine, extension)
    assert card(pop) == rest_answer(session, username)
    assert names(pop, ids) == expected - {"head"}  # the sixth match is past the lookup's five candidates
    assert {t["customer_id"] for t in pop["open_tickets"]} <= {c["id"] for c in pop["candidates"]}
    assert seen_in_sql(session, username) == {ids[name] for name in expected}


def test_the_rule_in_python_is_the_rule_in_sql(world: tuple[Session, Org, dict[str, int]]) -> None:
    session, _org, ids = world
    rows = [dict(r._mapping) for r in session.execute(select(Customer.id, Customer.owner_id, Customer.department_id))]
    for user in session.scalars(select(User)):
        viewer = viewer_of(session, user)
        in_python = {row["id"] for row in rows if row_visible(viewer, Customer, row)}
        assert in_python == seen_in_sql(session, user.username), user.username
    assert len(ids) == 6


def test_a_change_of_department_role_or_seat_is_seen_by_the_next_pop(
    world: tuple[Session, Org, dict[str, int]],
) -> None:
    session, org, ids = world
    engine = session.get_bind()
    assert isinstance(engine, Engine)
    shown = lambda: names(pop_of(engine, "1001"), ids)  # noqa: E731
    assert shown() == {"pool", "a_dept", "a2_owned"}

    admin = session.get(User, org.admin.id)
    assert admin is not None
    edit_user(session, admin, org.agent_a.id, {"department_id": org.dept_b.id})
    session.commit()
    assert shown() == {"pool", "b_owned", "loner_owned"}  # moved to department B

    edit_user(session, admin, org.agent_a.id, {"roles": ["own_only"]})
    session.commit()
    assert shown() == {"pool"}  # his own records only: he owns none of these

    own_only = session.scalar(select(Role).where(Role.name == "own_only"))
    assert own_only is not None
    save_role(session, admin, own_only.id, {"data_scope": DataScope.ALL.value})
    session.commit()
    assert len(shown()) == 5  # the role itself now reaches everything (the pop's limit: 5 candidates)

    seat = Seat(name="B-01", extension="1001", department_id=org.dept_b.id)
    session.add(seat)
    session.commit()
    agent_b = session.get(User, org.agent_b.id)
    assert agent_b is not None
    session.execute(User.__table__.update().where(User.id == org.agent_a.id).values(extension=None))
    sit_at(session, agent_b, "B-01")  # 1001 is now agent B's
    session.commit()
    assert shown() == {"pool", "b_owned", "loner_owned"}


def test_an_extension_bound_to_nobody_pops_no_record(world: tuple[Session, Org, dict[str, int]]) -> None:
    session, _org, _ids = world
    engine = session.get_bind()
    assert isinstance(engine, Engine)
    pop = pop_of(engine, "7777")
    assert pop["caller"] == {"number": SHARED}
    assert pop["customer"] is None and pop["contact"] is None and pop["candidates"] == []
    assert pop["open_tickets"] == pop["recent_orders"] == pop["recent_calls"] == []
    assert pop["hidden_matches"] == 5


def test_ring_all_cuts_the_shared_card_for_each_agent(world: tuple[Session, Org, dict[str, int]]) -> None:
    session, _org, ids = world
    engine = session.get_bind()
    assert isinstance(engine, Engine)
    published = pops_of(engine, [("c1", "1001"), ("c1", "2001"), ("c1", "7777")])  # one call rings three
    pops = {p["agent"]: p for p in published}
    assert names(pops["1001"], ids) == {"pool", "a_dept", "a2_owned"}
    assert names(pops["2001"], ids) == {"pool", "b_owned", "loner_owned"}
    assert pops["7777"]["candidates"] == []


def test_on_postgresql_the_first_pop_is_one_statement(world: tuple[Session, Org, dict[str, int]]) -> None:
    session, _org, _ids = world
    engine = session.get_bind()
    assert isinstance(engine, Engine)
    cards = CrmCards(engine)
    statements: list[str] = []
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(cards.engine, "before_cursor_execute", listener)
    try:
        _whole, mine = cards.first_pop(SHARED, "1001")
    finally:
        event.remove(cards.engine, "before_cursor_execute", listener)
        cards.close()
    assert len(mine["candidates"]) == 3 and mine["hidden_matches"] == 2
    # SQLite (in process) keeps its steps: matches, tickets and orders, calls, the agent's scope
    assert len(statements) == (1 if engine.dialect.name == "postgresql" else 4)


def test_a_viewer_is_the_users_scope_and_departments(world: tuple[Session, Org, dict[str, int]]) -> None:
    session, org, _ids = world
    sup = session.get(User, org.supervisor_a.id)
    assert sup is not None
    assert viewer_of(session, sup) == Viewer(sup.id, DataScope.DEPARTMENT_TREE, frozenset({org.dept_a.id}))
    admin = session.get(User, org.admin.id)
    assert admin is not None and viewer_of(session, admin) == Viewer(admin.id, DataScope.ALL)

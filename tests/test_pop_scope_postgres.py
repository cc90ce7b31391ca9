"""On PostgreSQL a screen-pop's CRM work is one round trip on the wire: the caller's card and the agent's scope
in one prepared statement on one generic plan, without BEGIN, ROLLBACK or a ping around it; a dropped connection
is replaced."""

from __future__ import annotations

import os
import re
import tempfile

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from crm_core.models import Customer
from crm_core.services.customers import add_phone
from crm_core.testing import make_org
from cti.screen_pop import CrmCards

pytest_plugins = ["crm_core.testing"]
pytestmark = pytest.mark.postgres

MESSAGE = re.compile(r"\t([FB])\t\d+\t(\w+)")


def wire(cards: CrmCards, number: str, agent: str) -> list[str]:
    """The protocol messages one ``first_pop`` exchanges with the server (libpq's trace of its connection)."""
    fd, path = tempfile.mkstemp()
    try:
        with cards.engine.connect() as conn:  # the pool's one connection: the pop below takes it again
            conn.connection.driver_connection.pgconn.trace(fd)  # type: ignore[union-attr]
        cards.first_pop(number, agent)
        with cards.engine.connect() as conn:
            conn.connection.driver_connection.pgconn.untrace()  # type: ignore[union-attr]
        with open(path, encoding="utf-8", errors="replace") as trace:
            return [f"{side} {kind}" for side, kind in MESSAGE.findall(trace.read())]
    finally:
        os.close(fd)
        os.unlink(path)


def test_a_pop_is_one_prepared_statement_and_one_round_trip(crm_pg_session: Session) -> None:
    org = make_org(crm_pg_session)
    customer = Customer(name="恒达", status="active", department_id=org.dept_a.id, owner_id=org.agent_a2.id)
    crm_pg_session.add(customer)
    crm_pg_session.flush()
    add_phone(crm_pg_session, customer.id, "13812345678")
    crm_pg_session.commit()
    engine = crm_pg_session.get_bind()
    assert isinstance(engine, Engine)
    cards = CrmCards(engine, connections=1)
    try:
        first = wire(cards, "13812345678", "1001")
        again = wire(cards, "+86 138 1234 5678", "2001")
        _card, seen = cards.first_pop("13812345678", "2001")
        with cards.engine.connect() as conn:
            prepared = conn.execute(
                text(
                    "SELECT generic_plans, custom_plans FROM pg_prepared_statements "
                    "WHERE statement LIKE '%to_jsonb%' AND statement NOT LIKE '%pg_prepared_statements%'"
                )
            ).all()
    finally:
        cards.close()
    # the connection's first use prepares the statement (Parse, its own round trip), once
    assert "F Parse" in first and "F Query" not in first
    # every pop after it: the prepared statement bound and run, one round trip, no BEGIN / ROLLBACK / ping
    assert again.count("F Sync") == 1 and again.count("B ReadyForQuery") == 1
    assert "F Parse" not in again and "F Query" not in again
    # one statement, planned once for every caller: no plan made anew per pop (a custom plan)
    assert len(prepared) == 1 and prepared[0].custom_plans == 0 and prepared[0].generic_plans >= 3
    assert seen["candidates"] == [] and seen["hidden_matches"] == 1  # agent B: department A's customer hidden


def test_a_connection_the_server_dropped_is_replaced(crm_pg_session: Session) -> None:
    make_org(crm_pg_session)
    engine = crm_pg_session.get_bind()
    assert isinstance(engine, Engine)
    cards = CrmCards(engine, connections=1)
    try:
        with cards.engine.connect() as conn:
            pid = conn.scalar(text("SELECT pg_backend_pid()"))
        crm_pg_session.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        card, seen = cards.first_pop("13812345678", "1001")
    finally:
        cards.close()
    assert card["candidates"] == [] and seen["customer"] is None

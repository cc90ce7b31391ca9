"""A click-to-dial call to a customer's number is stored linked to that customer, as an inbound pop is."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from test_desk_support import Desk

from crm_core.db import Base, make_engine, make_sessionmaker
from crm_core.models import CallLink, Customer
from crm_core.services.customers import add_phone
from stats.models import CallRow
from stats.writer import HistoryWriter

pytest_plugins = ["crm_core.testing", "test_desk_support"]

CALL = "1790000000.42"  # the Uniqueid of the originated agent leg: the call's Linkedid


def _answering(desk: Desk, uniqueid: str = CALL) -> None:
    """The PBX answers the Originate like Asterisk does: OriginateResponse carries the leg's Uniqueid."""
    sent = desk.runtime.commands.sent

    async def originate_click_to_dial(*args: Any) -> dict[str, Any]:
        sent.append(("originate_click_to_dial", args))
        return {"Response": "Success", "Uniqueid": uniqueid, "Reason": "4"}

    desk.runtime.commands.originate_click_to_dial = originate_click_to_dial


def _customer(desk: Desk, name: str, number: str, department_id: int, owner_id: int) -> int:
    with desk.sessionmaker() as session:
        customer = Customer(name=name, owner_id=owner_id, department_id=department_id, status="active")
        session.add(customer)
        session.flush()
        add_phone(session, customer.id, number)
        session.commit()
        return customer.id


def test_dialling_a_customer_links_the_call_and_tells_the_history(desk: Desk) -> None:
    customer_id = _customer(desk, "北京华鑫科技有限公司", "13812345678", desk.org.dept_a.id, desk.org.agent_a.id)
    _answering(desk)
    linked = desk.runtime.bus.subscribe(["call.linked"])
    response = desk.login("agent_a").post("/api/desk/dial", json={"number": "138-1234-5678"})
    assert response.status_code == 200 and response.json()["customer_id"] == customer_id
    with desk.sessionmaker() as session:
        link = session.scalars(select(CallLink).where(CallLink.call_id == CALL)).one()
        assert (link.customer_id, link.pbx) == (customer_id, "pbx1")
    event = asyncio.run(asyncio.wait_for(linked.__anext__(), 2))
    assert (event["call_id"], event["customer_id"]) == (CALL, customer_id)


def test_a_number_of_another_department_or_of_nobody_stays_unlinked(desk: Desk) -> None:
    _customer(desk, "上海远景贸易", "13900001111", desk.org.dept_b.id, desk.org.agent_b.id)
    _answering(desk)
    client = desk.login("agent_a")
    for number in ("13900001111", "13700009999"):
        response = client.post("/api/desk/dial", json={"number": number})
        assert response.status_code == 200 and response.json()["customer_id"] is None
    with desk.sessionmaker() as session:
        assert session.scalars(select(CallLink)).all() == []


def test_the_history_row_takes_the_link_from_call_linked(tmp_path: Any) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'stats.db'}")
    Base.metadata.create_all(engine, tables=[t for t in Base.metadata.sorted_tables if t.name.startswith("stats_")])
    factory: sessionmaker[Session] = make_sessionmaker(engine)
    ts = "2026-12-03T08:00:00+00:00"
    HistoryWriter(factory).apply_many(
        [
            {
                "type": "call.new",
                "ts": ts,
                "pbx": "pbx1",
                "call_id": CALL,
                "direction": "outbound",
                "caller": {"number": "1001"},
                "dialed": "13812345678",
            },
            {"type": "call.linked", "ts": ts, "pbx": "pbx1", "call_id": CALL, "customer_id": 7, "contact_id": None},
            {"type": "call.linked", "ts": ts, "pbx": "pbx1", "call_id": "never-seen", "customer_id": 8},
        ]
    )
    with factory() as session:
        assert [(r.call_id, r.customer_id) for r in session.scalars(select(CallRow))] == [(CALL, 7)]

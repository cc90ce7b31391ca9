"""The cross-department leaks found by probing, each replayed: agent B (department B) and supervisor A
(department A) try what they did, and the answer now keeps every department's data to itself."""

from __future__ import annotations

import asyncio
import csv
import io
from typing import Any

from sqlalchemy import select
from test_scope_matrix import Matrix, matrix, world_template, write_matrix  # noqa: F401  (the matrix's fixtures)

from crm_core.lookup import lookup
from crm_core.models import Seat, Ticket, User
from crm_core.permissions import SCOPE_RULES, SHARED_TABLES, rule_for
from crm_core.services import resources
from crm_core.services.records import Resource
from cti.screen_pop import ScreenPopService, crm_scope, lookup_fields

pytest_plugins = ["crm_core.testing"]


def as_user(m: Matrix, name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {m.world.tokens[name]}"}


def test_every_resource_table_declares_its_scope_rule() -> None:
    declared = [r.model for r in vars(resources).values() if isinstance(r, Resource)]
    assert declared and all(rule_for(model) is not None or model in SHARED_TABLES for model in declared)
    assert not set(SCOPE_RULES) & set(SHARED_TABLES)

    class Undeclared:
        __name__ = "Undeclared"

    try:
        rule_for(Undeclared)  # type: ignore[arg-type]
    except LookupError as exc:
        assert "declare it" in str(exc)
    else:
        raise AssertionError("an undeclared table must not be shown to everybody")


def test_3_linking_another_departments_call_or_ticket_is_refused(matrix: Matrix) -> None:  # noqa: F811
    ids, b = matrix.world.ids, as_user(matrix, "agent_b")
    call_a = ids["callA"]
    answer = matrix.client.post(f"/api/desk/calls/{call_a}/link", json={"customer_id": ids["customerB"]}, headers=b)
    assert answer.status_code == 403
    answer = matrix.client.post(f"/api/desk/calls/{ids['callB']}/link", json={"ticket_id": ids["ticketA"]}, headers=b)
    assert answer.status_code == 403
    calls = matrix.client.get(f"/api/crm/customers/{ids['customerB']}/calls", headers=b).json()
    assert call_a not in {c.get("call_id") for c in calls}


def test_4_followups_and_order_returns_of_another_department_stay_hidden(matrix: Matrix) -> None:  # noqa: F811
    ids, a = matrix.world.ids, as_user(matrix, "agent_a")
    found = matrix.client.get("/api/crm/followups", params={"q": "回访"}, headers=a).json()["items"]
    assert {row["id"] for row in found} == {ids["followupA"]}
    assert matrix.client.get(f"/api/crm/order-returns/{ids['returnB']}", headers=a).status_code in (403, 404)
    returns = matrix.client.get("/api/crm/order-returns", headers=a).json()["items"]
    assert {row["id"] for row in returns} == {ids["returnA"]}


def test_5_the_screen_pop_shows_only_what_the_rest_lookup_shows(matrix: Matrix) -> None:  # noqa: F811
    ids = matrix.world.ids
    factory = matrix.client.app.state.sessionmaker  # type: ignore[attr-defined]
    published: list[dict[str, Any]] = []

    async def publish(event: dict[str, Any]) -> None:
        published.append(event)

    def find(number: str) -> Any:
        with factory() as session:
            return lookup(session, number)

    async def ring_both() -> None:
        service = ScreenPopService(find, publish, scope_fn=crm_scope(factory))
        for ext in (ids["extA"], ids["extB"]):
            await service.handle(
                {
                    "type": "call.ringing",
                    "call_id": "c1",
                    "agent": ext,
                    "ts": "2026-11-20T01:30:00Z",
                    "caller": {"number": ids["numberA"]},
                }
            )

    asyncio.run(ring_both())
    pops = {p["agent"]: p for p in published}
    assert pops[ids["extA"]]["customer"]["id"] == ids["customerA"]
    assert pops[ids["extB"]]["customer"] is None and pops[ids["extB"]]["candidates"] == []
    assert pops[ids["extB"]]["open_tickets"] == [] and pops[ids["extB"]]["hidden_matches"] == 1
    rest = matrix.client.get("/api/crm/lookup", params={"number": ids["numberA"]}, headers=as_user(matrix, "agent_b"))
    assert rest.json()["candidates"] == [] and rest.json()["hidden_matches"] == 1
    assert lookup_fields({})["customer"] is None


def test_6_a_seat_of_another_department_or_in_use_cannot_be_taken(matrix: Matrix) -> None:  # noqa: F811
    ids, client = matrix.world.ids, matrix.client
    other = client.post("/api/desk/seat", json={"seat": ids["seatnameB"]}, headers=as_user(matrix, "agent_a"))
    assert other.status_code == 403
    assert client.post("/api/desk/seat", json={"seat": ids["seatnameA"]}, headers=as_user(matrix, "agent_a")).is_success
    taken = client.post("/api/desk/seat", json={"seat": ids["seatnameA"]}, headers=as_user(matrix, "agent_a2"))
    assert taken.status_code == 409
    with client.app.state.sessionmaker() as session:  # type: ignore[attr-defined]
        seat = session.scalar(select(Seat).where(Seat.name == ids["seatnameA"]))
        assert seat is not None and seat.user_id == ids["agent_a"]
        assert session.get(User, ids["agent_a"]).extension == seat.extension  # nobody was moved off


def test_7_a_ticket_cannot_be_opened_in_another_department_or_for_its_people(matrix: Matrix) -> None:  # noqa: F811
    ids, sup = matrix.world.ids, as_user(matrix, "sup_a")
    body = {"type_id": ids["type"], "title": "越权"}
    for extra in ({"department_id": ids["deptB"]}, {"owner_id": ids["agent_b"]}):
        assert matrix.client.post("/api/crm/tickets", json={**body, **extra}, headers=sup).status_code == 403
    mine = matrix.client.post("/api/crm/tickets", json={**body, "owner_id": ids["agent_a2"]}, headers=sup)
    assert mine.status_code == 201
    with matrix.client.app.state.sessionmaker() as session:  # type: ignore[attr-defined]
        assert session.scalars(select(Ticket).where(Ticket.department_id == ids["deptB"])).all()[0].title == "工单B"


def test_8_reports_supervisor_actions_retention_and_the_knowledge_base(matrix: Matrix) -> None:  # noqa: F811
    ids, client, sup = matrix.world.ids, matrix.client, as_user(matrix, "sup_a")
    window = {"start": "2026-11-20", "end": "2026-11-21"}
    cdr = client.get("/api/stats/reports/cdr", params=window, headers=sup).json()
    call_ids = {row[1] for row in cdr["rows"]}
    assert call_ids == {ids["callA"]}
    exported = client.get("/api/stats/reports/cdr/export", params={**window, "format": "csv"}, headers=sup)
    assert ids["callB"] not in exported.text and ids["callA"] in exported.text
    assert (
        client.get("/api/stats/reports/cdr", params={**window, "department": ids["deptB"]}, headers=sup).status_code
        == 403
    )
    everyone = client.get("/api/stats/reports/cdr", params=window, headers=as_user(matrix, "admin")).json()
    assert {row[1] for row in everyone["rows"]} == {ids["callA"], ids["callB"]}
    for path, body in (
        ("pause", {"extension": ids["extB"]}),
        ("logout", {"extension": ids["extB"], "queues": ["q"]}),
        ("spy", {"extension": ids["extB"]}),
    ):
        assert client.post(f"/api/supervisor/{path}", json=body, headers=sup).status_code == 403
    assert matrix.runtime.commands.sent == []
    rule = {"queue": "*", "keep_days": 1}
    put = client.put(
        "/api/recordings/retention", json={"rules": [{**rule, "department_id": ids["deptB"]}]}, headers=sup
    )
    assert put.status_code == 403
    assert client.put("/api/recordings/retention", json={"rules": [rule]}, headers=sup).status_code == 403
    ok = client.put("/api/recordings/retention", json={"rules": [{**rule, "department_id": ids["deptA"]}]}, headers=sup)
    assert ok.status_code == 200
    preview = client.get("/api/recordings/retention/preview", headers=sup).json()
    assert [item["id"] for item in preview["items"]] == [ids["recordingA"]]
    admin_view = client.get("/api/recordings/retention/preview", headers=as_user(matrix, "admin")).json()
    assert [item["id"] for item in admin_view["items"]] == [ids["recordingA"]]  # B keeps audio forever by default
    category = client.post("/api/crm/kb-categories", json={"name": "坐席建的类别"}, headers=as_user(matrix, "agent_a"))
    assert category.status_code == 403
    draft = client.post("/api/crm/kb-articles", json={"title": "草稿", "body": "b"}, headers=as_user(matrix, "agent_a"))
    assert draft.status_code == 201


def test_exports_carry_only_the_departments_rows(matrix: Matrix) -> None:  # noqa: F811
    rows = matrix.client.get("/api/crm/export/customers", params={"format": "csv"}, headers=as_user(matrix, "sup_a"))
    names = {cell for row in csv.reader(io.StringIO(rows.text.lstrip("\ufeff"))) for cell in row}
    assert "客户A" in names and "客户B" not in names

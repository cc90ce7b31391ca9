"""The CRM REST API: login (cookie + CSRF, bearer), CRUD with search and filters, bad input, scope."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from agent_desk.app import create_app
from config import Settings
from crm_core.models import AuditEntry, Customer
from crm_core.testing import TEST_PASSWORD, Org

pytest_plugins = ["crm_core.testing"]


@pytest.fixture
def client(crm_url: str, org: Org, tmp_path: Path) -> Iterator[TestClient]:
    app = create_app(Settings(database_url=crm_url, data_dir=tmp_path))
    with TestClient(app) as test_client:
        yield test_client


def bearer(client: TestClient, username: str) -> dict[str, str]:
    reply = client.post("/api/auth/token", json={"username": username, "password": TEST_PASSWORD})
    assert reply.status_code == 200, reply.text
    return {"Authorization": f"Bearer {reply.json()['access_token']}"}


def test_cookie_login_needs_the_csrf_token_for_changes(client: TestClient) -> None:
    assert client.get("/api/auth/me").status_code == 401
    assert client.post("/api/auth/login", json={"username": "agent_a", "password": "wrong-pass"}).status_code == 401
    reply = client.post("/api/auth/login", json={"username": "agent_a", "password": TEST_PASSWORD})
    assert reply.status_code == 200
    csrf = reply.json()["csrf_token"]
    assert client.get("/api/auth/me").json()["roles"] == ["agent"]
    body = {"name": "上海瑞丰贸易有限公司", "phones": ["021-62345678"]}
    assert client.post("/api/crm/customers", json=body).status_code == 403
    created = client.post("/api/crm/customers", json=body, headers={"X-CSRF-Token": csrf})
    assert created.status_code == 201, created.text
    assert client.post("/api/auth/logout", headers={"X-CSRF-Token": csrf}).status_code == 204
    assert client.get("/api/auth/me").status_code == 401


def test_bearer_token_needs_no_csrf(client: TestClient) -> None:
    headers = bearer(client, "agent_a")
    reply = client.post("/api/crm/customers", json={"name": "张伟", "kind": "person"}, headers=headers)
    assert reply.status_code == 201
    assert client.get("/api/auth/me", headers={"Authorization": "Bearer nope"}).status_code == 401


def test_list_paginates_searches_filters_and_sorts(client: TestClient) -> None:
    headers = bearer(client, "agent_a")
    for i in range(7):
        level = "A" if i % 2 else "B"
        client.post("/api/crm/customers", json={"name": f"客户{i}号", "level": level}, headers=headers)
    page = client.get("/api/crm/customers?size=3&page=2&sort=name", headers=headers).json()
    assert (page["total"], [c["name"] for c in page["items"]]) == (7, ["客户3号", "客户4号", "客户5号"])
    found = client.get("/api/crm/customers", params={"q": "6号"}, headers=headers).json()
    assert [c["name"] for c in found["items"]] == ["客户6号"]
    level_a = client.get("/api/crm/customers", params={"level": "A", "sort": "-name"}, headers=headers).json()
    assert [c["name"] for c in level_a["items"]] == ["客户5号", "客户3号", "客户1号"]
    assert client.get("/api/crm/customers", params={"nosuch": "1"}, headers=headers).status_code == 422
    assert client.get("/api/crm/customers", params={"sort": "password"}, headers=headers).status_code == 422


@pytest.mark.parametrize(
    "body",
    [
        {"name": "<script>alert(1)</script>"},
        {"name": "x" * 201},
        {"name": "ok", "level": ["not", "a", "string"]},
        {"name": "ok", "owner_id": "abc"},
        {"name": "ok", "unknown_field": 1},
        {},
    ],
)
def test_hostile_input_gets_422_and_changes_nothing(client: TestClient, db: Session, body: dict[str, object]) -> None:
    headers = bearer(client, "agent_a")
    before = db.scalar(select(func.count(Customer.id)))
    reply = client.post("/api/crm/customers", json=body, headers=headers)
    assert reply.status_code == 422
    assert reply.json()["detail"][0]["msg"]
    db.expire_all()
    assert db.scalar(select(func.count(Customer.id))) == before


def test_sql_metacharacters_are_plain_text(client: TestClient, db: Session) -> None:
    headers = bearer(client, "agent_a")
    name = "O'Brien\"; DROP TABLE customers; --"
    assert client.post("/api/crm/customers", json={"name": name}, headers=headers).status_code == 201
    found = client.get("/api/crm/customers", params={"q": "'Brien\"; DROP", "name": name}, headers=headers).json()
    assert [c["name"] for c in found["items"]] == [name]
    assert client.get("/api/crm/customers", params={"q": "%"}, headers=headers).json()["total"] == 0


def test_changes_are_audited(client: TestClient, db: Session) -> None:
    headers = bearer(client, "agent_a")
    created = client.post("/api/crm/customers", json={"name": "审计客户"}, headers=headers).json()
    client.patch(f"/api/crm/customers/{created['id']}", json={"level": "A"}, headers=headers)
    rows = db.execute(
        select(AuditEntry.username, AuditEntry.action, AuditEntry.changes).where(AuditEntry.resource == "customer")
    ).all()
    assert [(r.username, r.action) for r in rows] == [("agent_a", "create"), ("agent_a", "update")]
    assert rows[1].changes == {"level": ["", "A"]}


def test_lookup_route_finds_the_customer_in_any_format(client: TestClient) -> None:
    headers = bearer(client, "agent_a")
    body = {"name": "北京恒达科技有限公司", "phones": ["13812345678", "010-62345678"]}
    customer_id = client.post("/api/crm/customers", json=body, headers=headers).json()["id"]
    for number in ("+86 138 1234 5678", "008613812345678", "+861062345678", "01062345678"):
        found = client.get("/api/crm/lookup", params={"number": number}, headers=headers).json()
        assert found["customer"]["id"] == customer_id, number


def test_agent_of_department_a_cannot_reach_department_b_tickets(client: TestClient) -> None:
    a, b = bearer(client, "agent_a"), bearer(client, "agent_b")
    customer = client.post("/api/crm/customers", json={"name": "二组客户", "phones": ["13900001111"]}, headers=b).json()
    ticket = client.post(
        "/api/crm/tickets", json={"title": "二组工单", "type_id": 1, "customer_id": customer["id"]}, headers=b
    )
    assert ticket.status_code == 201, ticket.text
    tid = ticket.json()["id"]
    assert client.get("/api/crm/tickets", headers=b).json()["total"] == 1
    assert client.get("/api/crm/tickets", headers=a).json()["total"] == 0
    assert client.get("/api/crm/tickets", params={"id": tid}, headers=a).json()["total"] == 0
    assert client.get("/api/crm/tickets", params={"q": "二组"}, headers=a).json()["total"] == 0
    denied = [
        client.get(f"/api/crm/tickets/{tid}", headers=a),
        client.patch(f"/api/crm/tickets/{tid}", json={"title": "改"}, headers=a),
        client.post(f"/api/crm/tickets/{tid}/pass", json={"note": "x"}, headers=a),
        client.post(f"/api/crm/tickets/{tid}/return", json={"note": "x"}, headers=a),
        client.post(f"/api/crm/tickets/{tid}/notes", json={"note": "x"}, headers=a),
        client.post(f"/api/crm/tickets/{tid}/close", json={"note": "x"}, headers=a),
        client.get(f"/api/crm/tickets/{tid}/history", headers=a),
        client.get(f"/api/crm/tickets/{tid}/attachments", headers=a),
        client.post(f"/api/crm/tickets/{tid}/attachments", files={"file": ("a.txt", b"x")}, headers=a),
        client.get(f"/api/crm/customers/{customer['id']}", headers=a),
        client.post("/api/crm/tickets", json={"title": "t", "type_id": 1, "customer_id": customer["id"]}, headers=a),
    ]
    assert [r.status_code for r in denied] == [403] * len(denied)
    pop = client.get("/api/crm/lookup", params={"number": "13900001111"}, headers=a).json()
    assert pop["customer"] is None and pop["open_tickets"] == [] and pop["hidden_matches"] == 1
    assert client.get(f"/api/crm/tickets/{tid}", headers=bearer(client, "sup_a")).status_code == 403
    assert client.get(f"/api/crm/tickets/{tid}", headers=bearer(client, "admin")).status_code == 200


def test_permissions_are_checked_per_action(client: TestClient) -> None:
    agent = bearer(client, "agent_a")
    assert client.get("/api/crm/audit", headers=agent).status_code == 403
    assert client.post("/api/crm/products", json={"sku": "X1", "name": "x"}, headers=agent).status_code == 403
    admin = bearer(client, "admin")
    assert client.post("/api/crm/products", json={"sku": "X1", "name": "x"}, headers=admin).status_code == 201
    assert client.get("/api/crm/audit", headers=admin).status_code == 200


def test_upload_import_and_download_export(client: TestClient) -> None:
    supervisor = bearer(client, "sup_a")
    good = "客户名称,电话,等级\n2/4,13800000001,007\n".encode()
    reply = client.post("/api/crm/import/customers", files={"file": ("c.csv", good, "text/csv")}, headers=supervisor)
    assert reply.status_code == 200 and reply.json()["imported"] == 1
    bad = "客户名称,电话\n好,13800000002\n坏,abc\n".encode()
    reply = client.post("/api/crm/import/customers", files={"file": ("c.csv", bad)}, headers=supervisor)
    assert reply.json()["imported"] == 0 and reply.json()["errors"][0]["row"] == 3
    report = client.post("/api/crm/import/customers/errors", files={"file": ("c.csv", bad)}, headers=supervisor)
    assert "abc" in report.content.decode("utf-8-sig")
    lying = client.post("/api/crm/import/customers", files={"file": ("c.xlsx", b"not excel")}, headers=supervisor)
    assert lying.status_code == 422 and lying.json()["detail"][0]["loc"] == ["body", "file"]
    exported = client.get("/api/crm/export/customers", params={"format": "csv"}, headers=supervisor)
    # names in the server's default language (zh-CN), not codes; lang=en asks for English
    # (Excel-bound CSV cells that look like dates or numbers are written ="2/4", ="007")
    plain = exported.content.decode("utf-8-sig").replace('"', "").replace("=", "")
    assert exported.status_code == 200 and "2/4,企业,,,,007,公海" in plain
    english = client.get("/api/crm/export/customers", params={"format": "csv", "lang": "en"}, headers=supervisor)
    assert "2/4,Company,,,,007,Public pool" in english.content.decode("utf-8-sig").replace('"', "").replace("=", "")
    agent = bearer(client, "agent_a")
    assert client.get("/api/crm/export/customers", headers=agent).status_code == 403


def test_upload_over_the_size_limit_is_refused(crm_url: str, org: Org, tmp_path: Path) -> None:
    app = create_app(Settings(database_url=crm_url, data_dir=tmp_path, upload_max_mb=1))
    with TestClient(app) as client:
        big = b"name\n" + b"x" * (1024 * 1024 + 10)
        reply = client.post(
            "/api/crm/import/customers", files={"file": ("c.csv", big)}, headers=bearer(client, "sup_a")
        )
        assert reply.status_code == 422 and "MB" in reply.json()["detail"][0]["msg"]


def test_ticket_attachment_round_trip(client: TestClient) -> None:
    headers = bearer(client, "agent_a")
    tid = client.post("/api/crm/tickets", json={"title": "报修", "type_id": 3}, headers=headers).json()["id"]
    up = client.post(f"/api/crm/tickets/{tid}/attachments", files={"file": ("照片.txt", b"hello")}, headers=headers)
    assert up.status_code == 201 and up.json()["size"] == 5
    got = client.get(f"/api/crm/tickets/{tid}/attachments/{up.json()['id']}", headers=headers)
    assert got.content == b"hello"


def test_order_workflow_over_http(client: TestClient) -> None:
    admin, agent = bearer(client, "admin"), bearer(client, "agent_a")
    product = client.post(
        "/api/crm/products", json={"sku": "P1", "name": "净水器", "price": "100", "stock": 5}, headers=admin
    ).json()
    customer = client.post("/api/crm/customers", json={"name": "客户"}, headers=agent).json()
    order = client.post(
        "/api/crm/orders",
        json={"customer_id": customer["id"], "lines": [{"product_id": product["id"], "quantity": 2}]},
        headers=agent,
    )
    assert order.status_code == 201 and order.json()["total"] == "200.00"
    oid = order.json()["id"]
    assert client.post(f"/api/crm/orders/{oid}/submit", headers=agent).json()["status"] == "in_approval"
    assert client.post(f"/api/crm/orders/{oid}/approve", json={}, headers=agent).json()["step_position"] == 1
    assert client.post(f"/api/crm/orders/{oid}/approve", json={}, headers=agent).status_code == 403
    assert client.post(f"/api/crm/orders/{oid}/approve", json={"carrier": "<b>x</b>"}, headers=admin).status_code == 422
    history = client.get(f"/api/crm/orders/{oid}/history", headers=agent).json()
    assert [h["action"] for h in history] == ["create", "submit", "review"]


def test_every_list_route_answers_for_an_administrator(client: TestClient) -> None:
    admin = bearer(client, "admin")
    paths = [
        path
        for path, ops in client.app.openapi()["paths"].items()  # type: ignore[attr-defined]
        if path.startswith("/api/crm/")
        and "get" in ops
        and "{" not in path
        and not any(p.get("required") for p in ops["get"].get("parameters", []))
    ]
    assert len(paths) >= 25
    failing = {path: client.get(path, headers=admin).status_code for path in paths}
    assert {p: s for p, s in failing.items() if s != 200} == {}


def test_custom_fields_are_validated_filtered_and_exported(client: TestClient) -> None:
    admin, agent = bearer(client, "admin"), bearer(client, "agent_a")
    bad = client.post("/api/crm/custom-fields", json={"key": "grade", "label": "评级", "kind": "choice"}, headers=admin)
    assert bad.status_code == 422
    made = client.post(
        "/api/crm/custom-fields",
        json={"key": "grade", "label": "评级", "kind": "choice", "choices": ["金", "银"]},
        headers=admin,
    )
    assert made.status_code == 201
    assert (
        client.post("/api/crm/customers", json={"name": "x", "custom": {"grade": "铜"}}, headers=agent).status_code
        == 422
    )
    assert (
        client.post("/api/crm/customers", json={"name": "y", "custom": {"nosuch": "1"}}, headers=agent).status_code
        == 422
    )
    client.post("/api/crm/customers", json={"name": "金牌", "custom": {"grade": "金"}}, headers=agent)
    client.post("/api/crm/customers", json={"name": "银牌", "custom": {"grade": "银"}}, headers=agent)
    found = client.get("/api/crm/customers", params={"custom.grade": "金"}, headers=agent).json()
    assert [c["name"] for c in found["items"]] == ["金牌"]
    exported = client.get("/api/crm/export/customers", params={"format": "csv"}, headers=admin)
    assert exported.content.decode("utf-8-sig").splitlines()[0].endswith(",评级")


def test_an_administrator_configures_a_ticket_workflow(client: TestClient) -> None:
    admin, agent = bearer(client, "admin"), bearer(client, "agent_a")
    workflow = client.post("/api/crm/workflows", json={"name": "投诉快速流程", "kind": "ticket"}, headers=admin)
    wid = workflow.json()["id"]
    agent_id = client.get("/api/auth/me", headers=agent).json()["id"]
    for position, name in enumerate(["受理", "复核"]):
        step = client.post(
            "/api/crm/workflow-steps",
            json={"workflow_id": wid, "position": position, "name": name, "assignee_user_id": agent_id},
            headers=admin,
        )
        assert step.status_code == 201, step.text
    kind = client.post(
        "/api/crm/ticket-types",
        json={"code": "vip", "name": "VIP 投诉", "sla_hours": 2, "workflow_id": wid},
        headers=admin,
    ).json()
    ticket = client.post("/api/crm/tickets", json={"title": "VIP", "type_id": kind["id"]}, headers=agent).json()
    assert ticket["assignee_id"] == agent_id
    assert (
        client.post(f"/api/crm/tickets/{ticket['id']}/pass", json={"note": "ok"}, headers=agent).json()["step_position"]
        == 1
    )
    done = client.post(f"/api/crm/tickets/{ticket['id']}/pass", json={"note": "ok"}, headers=agent).json()
    assert done["status"] == "resolved"


def test_role_permissions_can_be_replaced_by_an_administrator(client: TestClient) -> None:
    admin, agent = bearer(client, "admin"), bearer(client, "agent_a")
    roles = client.get("/api/crm/roles", params={"name": "agent"}, headers=admin).json()["items"]
    role_id = roles[0]["id"]
    assert "customer.claim" in client.get(f"/api/crm/roles/{role_id}/permissions", headers=admin).json()
    bad = client.put(f"/api/crm/roles/{role_id}/permissions", json={"permissions": ["x.'; drop"]}, headers=admin)
    assert bad.status_code == 422
    assert (
        client.put(
            f"/api/crm/roles/{role_id}/permissions", json={"permissions": ["audit.read"]}, headers=agent
        ).status_code
        == 403
    )
    reply = client.put(f"/api/crm/roles/{role_id}/permissions", json={"permissions": ["audit.read"]}, headers=admin)
    assert reply.json() == ["audit.read"]
    assert client.get("/api/crm/audit", headers=agent).status_code == 200
    assert client.get("/api/crm/customers", headers=agent).status_code == 403


def test_pool_phones_merge_and_calls_over_http(client: TestClient) -> None:
    a, a2, sup = bearer(client, "agent_a"), bearer(client, "agent_a2"), bearer(client, "sup_a")
    first = client.post("/api/crm/customers", json={"name": "甲", "phones": ["13800000001"]}, headers=a).json()
    second = client.post("/api/crm/customers", json={"name": "甲公司", "phones": ["+8613800000001"]}, headers=a).json()
    phone = client.post(f"/api/crm/customers/{first['id']}/phones", json={"number": "010-62345678 转 8"}, headers=a)
    assert phone.status_code == 201 and phone.json()["extension"] == "8"
    assert client.post(f"/api/crm/customers/{first['id']}/release", headers=a).json()["status"] == "pool"
    assert client.post(f"/api/crm/customers/{first['id']}/claim", headers=a2).json()["owner_id"] is not None
    assert client.post(f"/api/crm/customers/{first['id']}/claim", headers=a).status_code == 409
    assert (
        client.post(f"/api/crm/customers/{first['id']}/followups", json={"note": "已回访"}, headers=a2).status_code
        == 201
    )
    assert client.get("/api/crm/customers/duplicates", headers=sup).json() == [[first["id"], second["id"]]]
    assert client.get("/api/crm/customers/duplicates", headers=a).status_code == 403
    link = client.post("/api/crm/call-links", json={"call_id": "1700000000.9", "customer_id": second["id"]}, headers=a)
    assert link.status_code == 201
    merged = client.post(
        "/api/crm/customers/merge", json={"survivor_id": first["id"], "duplicate_ids": [second["id"]]}, headers=sup
    )
    assert merged.status_code == 200
    calls = client.get(f"/api/crm/customers/{first['id']}/calls", headers=sup).json()
    assert [c["call_id"] for c in calls] == ["1700000000.9"]
    assert client.post("/api/crm/customers/pool/return-stale", headers=a).status_code == 403
    assert client.post("/api/crm/customers/pool/return-stale", headers=sup).json() == {"returned": []}

"""Administration API: users with numbers and roles, roles and their grants, pause reasons and dictionaries."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from agent_desk.app import create_app
from config import Settings
from crm_core.models import AuditEntry
from crm_core.testing import TEST_PASSWORD, Org

pytest_plugins = ["crm_core.testing"]


@pytest.fixture
def client(crm_url: str, org: Org, tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(Settings(database_url=crm_url, data_dir=tmp_path))) as test_client:
        yield test_client


def bearer(client: TestClient, username: str) -> dict[str, str]:
    reply = client.post("/api/auth/token", json={"username": username, "password": TEST_PASSWORD})
    assert reply.status_code == 200, reply.text
    return {"Authorization": f"Bearer {reply.json()['access_token']}"}


def refusal(reply: object) -> tuple[int, str, str]:
    body = reply.json()  # type: ignore[attr-defined]
    detail = body["detail"][0]
    return reply.status_code, detail["loc"][-1], detail["msg"]  # type: ignore[attr-defined]


NEW_USER = {
    "username": "zhang.wei",
    "password": "a-long-password",
    "display_name": "张伟",
    "agent_number": "A1020",
    "extension": "1020",
    "phone": "010-62345678",
    "mobile": "13812345678",
    "position": "客服专员",
    "roles": ["agent"],
}


def test_an_administrator_creates_and_edits_a_user(client: TestClient, org: Org, db: Session) -> None:
    admin = bearer(client, "admin")
    created = client.post("/api/crm/admin/users", json={**NEW_USER, "department_id": org.dept_a.id}, headers=admin)
    assert created.status_code == 201, created.text
    user = created.json()
    assert (user["agent_number"], user["extension"], user["position"], user["roles"]) == (
        "A1020",
        "1020",
        "客服专员",
        ["agent"],
    )
    assert user["department_name"] == "客服一组" and user["is_active"] is True
    assert (
        client.post("/api/auth/token", json={"username": "zhang.wei", "password": "a-long-password"}).status_code == 200
    )

    edit = {"position": "组长", "roles": ["agent", "quality"], "is_active": False, "extension": ""}
    edited = client.patch(f"/api/crm/admin/users/{user['id']}", json=edit, headers=admin).json()
    assert (edited["position"], edited["roles"], edited["is_active"], edited["extension"]) == (
        "组长",
        ["agent", "quality"],
        False,
        None,
    )
    listed = client.get("/api/crm/admin/users", params={"q": "A1020"}, headers=admin).json()
    assert [u["username"] for u in listed["items"]] == ["zhang.wei"]
    logged = db.scalars(select(AuditEntry.action).where(AuditEntry.resource == "user")).all()
    assert {"create", "update"} <= set(logged)


def test_bad_user_input_is_refused_with_a_message_naming_the_field(client: TestClient, org: Org) -> None:
    admin = bearer(client, "admin")
    cases = [
        ({"extension": "12ab"}, "extension", "分机号须为 2 到 20 位数字"),
        ({"extension": "1001"}, "extension", "分机号已被其他用户使用"),  # agent_a's
        ({"username": "Agent_A"}, "username", "登录名已存在"),
        ({"password": "short"}, "password", "密码至少 8 位"),
        ({"roles": []}, "roles", "请至少选择一个有效角色"),
        ({"roles": ["nosuch"]}, "roles", "请至少选择一个有效角色"),
        ({"mobile": "call me"}, "mobile", "手机号码格式不正确"),
    ]
    for change, field, message in cases:
        status, where, message_shown = refusal(
            client.post("/api/crm/admin/users", json={**NEW_USER, **change}, headers=admin)
        )
        assert (status, where) == (422, field) and message_shown.startswith(message), change
    me = client.get("/api/auth/me", headers=admin).json()
    reply = client.patch(f"/api/crm/admin/users/{me['id']}", json={"is_active": False}, headers=admin)
    assert refusal(reply)[:2] == (422, "is_active")
    assert client.post("/api/crm/admin/users", json=NEW_USER, headers=bearer(client, "agent_a")).status_code == 403


def test_roles_get_a_permission_matrix_from_the_catalogue(client: TestClient) -> None:
    admin = bearer(client, "admin")
    catalogue = client.get("/api/crm/admin/permission-catalogue", headers=admin).json()
    resources = {r["resource"]: r["actions"] for r in catalogue["resources"]}
    assert "merge" in resources["customer"] and resources["audit"] == ["read"]
    role = client.post(
        "/api/crm/admin/roles",
        json={"name": "team_lead", "title": "组长 Team lead", "data_scope": "department"},
        headers=admin,
    )
    assert role.status_code == 201, role.text
    role_id = role.json()["id"]
    granted = client.put(
        f"/api/crm/admin/roles/{role_id}/permissions",
        json={"permissions": ["customer.read", "ticket.approve", "customer.read"]},
        headers=admin,
    ).json()
    assert granted["permissions"] == ["customer.read", "ticket.approve"]
    bad = client.put(
        f"/api/crm/admin/roles/{role_id}/permissions", json={"permissions": ["customer.fly"]}, headers=admin
    )
    assert refusal(bad)[:2] == (422, "permissions")
    assert (
        refusal(client.post("/api/crm/admin/roles", json={"name": "Team Lead", "title": "x"}, headers=admin))[1]
        == "name"
    )
    assert (
        refusal(
            client.post("/api/crm/admin/roles", json={"name": "x", "title": "x", "data_scope": "galaxy"}, headers=admin)
        )[1]
        == "data_scope"
    )
    roles = {r["name"]: r for r in client.get("/api/crm/admin/roles", headers=admin).json()}
    assert roles["agent"]["users"] == 3 and roles["team_lead"]["data_scope"] == "department"
    assert client.delete(f"/api/crm/admin/roles/{roles['agent']['id']}", headers=admin).status_code == 409
    assert client.delete(f"/api/crm/admin/roles/{role_id}", headers=admin).status_code == 204
    admin_role = roles["admin"]["id"]
    kept = client.put(f"/api/crm/admin/roles/{admin_role}/permissions", json={"permissions": []}, headers=admin)
    assert refusal(kept)[:2] == (422, "permissions")


def test_the_four_pause_reasons_are_data_an_administrator_extends(client: TestClient) -> None:
    admin, agent = bearer(client, "admin"), bearer(client, "agent_a")
    codes = [r["code"] for r in client.get("/api/crm/pause-reasons/active", headers=agent).json()]
    assert codes == ["lunch", "meeting", "training", "after_call_work"]
    made = client.post(
        "/api/crm/pause-reasons", json={"code": "coaching", "name": "辅导 Coaching", "position": 5}, headers=admin
    )
    assert made.status_code == 201, made.text
    client.patch("/api/crm/pause-reasons/1", json={"is_active": False}, headers=admin)
    codes = [r["code"] for r in client.get("/api/crm/pause-reasons/active", headers=agent).json()]
    assert codes == ["meeting", "training", "after_call_work", "coaching"]
    dup = client.post("/api/crm/pause-reasons", json={"code": "coaching", "name": "x"}, headers=admin)
    assert refusal(dup)[:2] == (422, "code")
    assert client.post("/api/crm/pause-reasons", json={"code": "x1", "name": "x"}, headers=agent).status_code == 403


def test_dictionaries_hold_the_customer_field_values(client: TestClient) -> None:
    admin = bearer(client, "admin")
    levels = client.get("/api/crm/dictionary", params={"kind": "level"}, headers=admin).json()
    assert [i["value"] for i in levels["items"]] == ["A", "B", "C", "D"]
    assert client.post("/api/crm/dictionary", json={"kind": "level", "value": "VIP"}, headers=admin).status_code == 201
    assert (
        refusal(client.post("/api/crm/dictionary", json={"kind": "level", "value": "A"}, headers=admin))[1] == "value"
    )
    assert refusal(client.post("/api/crm/dictionary", json={"kind": "mood", "value": "A"}, headers=admin))[1] == "kind"

"""Bad input gets a clear answer: a filter on a JSON column is a 400 (not a 500), and the desk's write
bodies, attachment names and user display names refuse markup with the CRM's own rule (422)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from test_desk_support import snapshot_during

from agent_desk.app import create_app
from agent_desk.pages import STATIC_DIR
from config import Settings
from crm_core.models import Attachment, CallLink, Customer, User
from crm_core.testing import TEST_PASSWORD, Org

pytest_plugins = ["crm_core.testing", "test_desk_support"]

CALL = "1795451267.14"  # transcript 06: 5551237 answered by agent 1001
MARKUP = ["<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "点我 javascript:alert(1)", "a\x00b"]


@pytest.fixture
def client(crm_url: str, org: Org, tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(Settings(database_url=crm_url, data_dir=tmp_path))) as test_client:
        yield test_client


def bearer(client: TestClient, username: str) -> dict[str, str]:
    reply = client.post("/api/auth/token", json={"username": username, "password": TEST_PASSWORD})
    return {"Authorization": f"Bearer {reply.json()['access_token']}"}


# --- JSON columns in filters ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/api/crm/customers", {"custom": "1"}),
        ("/api/crm/customers", {"custom__gte": "1"}),
        ("/api/crm/customers", {"custom__in": "1,2"}),
        ("/api/crm/audit", {"changes": "1"}),
        ("/api/crm/audit", {"changes__lte": "x"}),
    ],
)
def test_a_filter_on_a_json_column_is_a_clear_400(client: TestClient, path: str, params: dict[str, str]) -> None:
    reply = client.get(path, params=params, headers=bearer(client, "admin"))
    assert reply.status_code == 400, reply.text
    detail = reply.json()["detail"][0]
    assert "JSON" in detail["msg"] and "不能" in detail["msg"] and detail["loc"][-1] == next(iter(params))


def test_custom_fields_are_still_filtered_by_key(client: TestClient) -> None:
    reply = client.get("/api/crm/customers", params={"custom.vip": "1"}, headers=bearer(client, "admin"))
    assert reply.status_code == 200 and reply.json()["total"] == 0


# --- markup in write bodies ------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", MARKUP)
def test_the_desk_write_bodies_refuse_markup_and_store_nothing(desk, text: str) -> None:
    desk.runtime.snapshot = snapshot_during("06_blind_transfer_redirect.jsonl", "BridgeEnter", 2)
    client = desk.login("agent_a")
    catalog = client.get("/api/desk/catalog").json()
    bodies = {
        "customer": [{"name": text, "phone": "13812345678"}, {"name": "王五", "phone": "13812345678", "notes": text}],
        "ticket": [{"type_id": catalog["ticket_types"][0]["id"], "title": text},
                   {"type_id": catalog["ticket_types"][0]["id"], "title": "退货", "description": text}],
        "order": [{"customer_id": 1, "lines": [{"product_id": 1, "quantity": 1}], "notes": text}],
        "note": [{"customer_id": 1, "note": text}],
    }
    for kind, variants in bodies.items():
        for body in variants:
            reply = client.post(f"/api/desk/calls/{CALL}/{kind}", json=body)
            assert reply.status_code == 422, (kind, body, reply.text)
            assert "HTML" in str(reply.json()) or "NUL" in str(reply.json())
    with desk.sessionmaker() as session:
        assert session.scalar(select(func.count(CallLink.id))) == 0
        assert session.scalar(select(func.count(Customer.id)).where(Customer.name == text)) == 0


def test_an_attachment_name_with_markup_is_refused(client: TestClient, db: Session) -> None:
    headers = bearer(client, "agent_a")
    ticket = client.post("/api/crm/tickets", json={"title": "报修", "type_id": 3}, headers=headers).json()["id"]
    for name in ("<img src=x onerror=alert(1)>.png", "<script>x</script>.txt"):
        reply = client.post(f"/api/crm/tickets/{ticket}/attachments", files={"file": (name, b"hello")},
                            headers=headers)
        assert reply.status_code == 422 and "HTML" in reply.json()["detail"][0]["msg"]
    assert db.scalar(select(func.count(Attachment.id))) == 0
    fine = client.post(f"/api/crm/tickets/{ticket}/attachments", files={"file": ("照片 1.png", b"hi")},
                       headers=headers)
    assert fine.status_code == 201


def test_a_user_display_name_with_markup_is_refused(client: TestClient, db: Session) -> None:
    headers = bearer(client, "admin")
    body = {"username": "agent_c", "password": "long-enough-1", "display_name": "<b onmouseover=alert(1)>C</b>"}
    assert client.post("/api/crm/users", json=body, headers=headers).status_code == 422
    assert db.scalar(select(User).where(User.username == "agent_c")) is None
    user_id = client.post("/api/crm/users", json=body | {"display_name": "小陈"}, headers=headers).json()["id"]
    patched = client.patch(f"/api/crm/users/{user_id}", json={"display_name": "<svg onload=alert(1)>"},
                           headers=headers)
    assert patched.status_code == 422


def test_pages_put_text_from_the_server_into_the_dom_as_text_only() -> None:
    # Caller names from the PBX (CallerIDName), customers and notes reach the pages through h()/textContent.
    for path in STATIC_DIR.glob("*.js"):
        source = path.read_text(encoding="utf-8")
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write"):
            assert sink not in source, f"{path.name} uses {sink}"

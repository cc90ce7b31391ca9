"""Customer lists name the owner (not "#4") for whoever sees the customer; the demo seed fits categories to kinds."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from agent_desk.app import create_app
from config import Settings
from crm_core.models import Customer, Ticket, User, WorkflowStep
from crm_core.seed import COMPANY_CATEGORIES, PERSON_CATEGORY, seed_demo
from crm_core.testing import TEST_PASSWORD, Org

pytest_plugins = ["crm_core.testing"]


@pytest.fixture
def client(crm_url: str, org: Org, db: Session, tmp_path: Path) -> Iterator[TestClient]:
    for user, name in ((org.agent_a, "王芳"), (org.agent_a2, "")):
        db.get(User, user.id).display_name = name  # type: ignore[union-attr]
    db.commit()
    with TestClient(create_app(Settings(database_url=crm_url, data_dir=tmp_path))) as test_client:
        yield test_client


def bearer(client: TestClient, username: str) -> dict[str, str]:
    reply = client.post("/api/auth/token", json={"username": username, "password": TEST_PASSWORD})
    assert reply.status_code == 200, reply.text
    return {"Authorization": f"Bearer {reply.json()['access_token']}"}


def test_a_colleague_sees_the_owner_by_name_without_reading_users(client: TestClient) -> None:
    owner, colleague, other = bearer(client, "agent_a"), bearer(client, "agent_a2"), bearer(client, "agent_b")
    mine = client.post("/api/crm/customers", json={"name": "北京恒达科技有限公司"}, headers=owner).json()
    theirs = client.post("/api/crm/customers", json={"name": "上海瑞丰贸易有限公司"}, headers=colleague).json()
    assert client.get("/api/crm/users", headers=colleague).status_code == 403

    listed = client.get("/api/crm/customers", params={"sort": "name"}, headers=colleague).json()["items"]
    names = {c["id"]: c["owner_name"] for c in listed}
    assert names == {mine["id"]: "王芳", theirs["id"]: "agent_a2"}  # an empty display name falls back to the login
    card = client.get(f"/api/crm/customers/{mine['id']}", headers=colleague).json()
    assert card["owner_name"] == "王芳"
    # Outside the data scope: neither the customer nor its owner's name.
    assert client.get("/api/crm/customers", headers=other).json()["total"] == 0
    assert client.get(f"/api/crm/customers/{mine['id']}", headers=other).status_code == 403


def test_a_pool_customer_has_no_owner_name(client: TestClient) -> None:
    admin = bearer(client, "admin")
    created = client.post("/api/crm/customers", json={"name": "公海客户", "owner_id": None}, headers=admin).json()
    assert (created["owner_id"], created["owner_name"]) == (None, None)


def test_seeded_companies_carry_a_company_category(db: Session) -> None:
    seed_demo(db, customers=300, password="demo-password-1")
    db.commit()
    kinds = {k: set(db.scalars(select(Customer.category).where(Customer.kind == k))) for k in ("company", "person")}
    assert kinds["company"] and kinds["company"] <= set(COMPANY_CATEGORIES)
    assert kinds["person"] == {PERSON_CATEGORY}
    # Seeded tickets stand on a step that their workflow has.
    for ticket in db.scalars(select(Ticket).where(Ticket.workflow_id.is_not(None))):
        numbers = set(db.scalars(select(WorkflowStep.position).where(WorkflowStep.workflow_id == ticket.workflow_id)))
        assert ticket.step_position in numbers

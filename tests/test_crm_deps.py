"""The FastAPI dependencies others build on: websocket login, require(), data_scope(), the seed."""

from __future__ import annotations

from pathlib import Path

from fastapi import Depends, FastAPI, WebSocket
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from agent_desk.deps import data_scope, require, ws_user
from config import Settings
from crm_core.auth import issue_ws_ticket, open_session, resolve_token
from crm_core.models import Customer, DataScope, Phone, User
from crm_core.seed import seed_demo
from crm_core.testing import Org

pytest_plugins = ["crm_core.testing"]


def _app(crm_url: str, tmp_path: Path) -> FastAPI:
    app = FastAPI()
    app.state.settings = Settings(database_url=crm_url, data_dir=tmp_path)

    @app.websocket("/ws")
    async def socket(websocket: WebSocket) -> None:
        user = await ws_user(websocket)
        await websocket.accept()
        await websocket.send_json({"user": user.username if user else None})
        await websocket.close()

    @app.get("/audit-only")
    def audit_only(user: User = Depends(require("audit", "read"))) -> dict[str, str]:
        return {"user": user.username}

    return app


def test_websocket_user_from_ticket_or_nobody(crm_url: str, tmp_path: Path, db: Session, org: Org) -> None:
    from datetime import timedelta

    issued = open_session(db, org.agent_a, "bearer", timedelta(hours=1))
    db.commit()
    app = _app(crm_url, tmp_path)
    login = resolve_token(db, issued.token, "bearer")
    assert login is not None
    ticket = issue_ws_ticket(app.state.settings.secret_key, login)
    with TestClient(app) as client:
        with client.websocket_connect(f"/ws?ticket={ticket}") as ws:
            assert ws.receive_json() == {"user": "agent_a"}
        with client.websocket_connect(f"/ws?token={issued.token}") as ws:
            assert ws.receive_json() == {"user": None}  # a bearer token is never read from the URL
        with client.websocket_connect("/ws?ticket=forged") as ws:
            assert ws.receive_json() == {"user": None}
        headers = {"Authorization": f"Bearer {issued.token}"}
        assert client.get("/audit-only", headers=headers).status_code == 403
        assert client.get("/audit-only").status_code == 401


def test_data_scope_follows_the_broadest_role(org: Org) -> None:
    assert data_scope(org.agent_a, "ticket") is DataScope.DEPARTMENT
    assert data_scope(org.supervisor_a, "ticket") is DataScope.DEPARTMENT_TREE
    assert data_scope(org.admin, "ticket") is DataScope.ALL
    assert data_scope(org.agent_a, "audit") is DataScope.OWN


def test_seed_makes_a_demo_data_set_quietly(db: Session, capsys: object) -> None:
    seed_demo(db, customers=300, password="demo-password-1")
    db.commit()
    assert db.scalar(select(func.count(Customer.id))) == 300
    names = set(db.scalars(select(User.username)))
    assert {"admin", "supervisor", *(str(n) for n in range(1001, 1011))} <= names
    assert db.scalar(select(User.extension).where(User.username == "1005")) == "1005"
    keys = set(db.scalars(select(Phone.key)))
    assert {"+865551234", "+865551299"} <= keys
    assert capsys.readouterr().out == ""  # type: ignore[attr-defined]

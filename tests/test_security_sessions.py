"""Hardened logins and sessions: throttling with a captcha and a lock, password changes that end other
logins, a websocket opened without a token in the URL and only from this site, same-site ``next``,
security headers on every page, and the secret key that signs what sessions hand out."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect
from test_desk_support import FakeRuntime

from agent_desk.app import create_app
from agent_desk.pages import STATIC_DIR
from agent_desk.ws import Connection, WebSocketHub
from config import Settings
from crm_core import captcha
from crm_core.auth import WS_TICKET, OneTime, sign
from crm_core.login_throttle import LoginThrottle, ThrottleRules, Verdict
from crm_core.testing import TEST_PASSWORD, Org

pytest_plugins = ["crm_core.testing"]


def make_client(crm_url: str, tmp_path: Path, **settings: Any) -> TestClient:
    app = create_app(Settings(database_url=crm_url, data_dir=tmp_path, **settings), FakeRuntime())
    return TestClient(app)


@pytest.fixture
def client(crm_url: str, org: Org, tmp_path: Path) -> Iterator[TestClient]:
    with make_client(crm_url, tmp_path) as test_client:
        yield test_client


def login(client: TestClient, username: str = "agent_a", password: str = TEST_PASSWORD, **extra: Any) -> Any:
    return client.post("/api/auth/login", json={"username": username, "password": password, **extra})


def solved_captcha(client: TestClient) -> dict[str, str]:
    """What a person reading the picture would send: a challenge signed with the app's key, and its digits."""
    challenge = captcha.new_challenge(client.app.state.settings.secret_key)  # type: ignore[attr-defined]
    return {"captcha_token": challenge.token, "captcha_answer": challenge.answer}


# --- finding 9: throttling, captcha, lock ------------------------------------------------------------------


def test_fifty_wrong_passwords_then_the_right_one_does_not_log_in(client: TestClient) -> None:
    statuses = [login(client, password=f"guess-{n}").status_code for n in range(50)]
    assert statuses[:3] == [401, 401, 401]
    assert statuses[-1] == 429  # the address is locked after 30 failures
    right = login(client)
    assert right.status_code == 429 and "cc_session" not in right.cookies
    assert right.json()["reason"] == "locked" and int(right.headers["Retry-After"]) > 0
    assert client.get("/api/auth/me").status_code == 401


def test_a_captcha_is_asked_after_three_failures_and_each_one_counts_once(client: TestClient) -> None:
    for n in range(3):
        assert login(client, password=f"guess-{n}").status_code == 401
    asked = login(client)
    assert asked.status_code == 401 and asked.json()["reason"] == "captcha" and asked.json()["captcha_required"]
    wrong = solved_captcha(client) | {"captcha_answer": "not-it"}
    assert login(client, **wrong).json()["reason"] == "captcha"
    solved = solved_captcha(client)
    assert login(client, **solved).status_code == 200
    client.cookies.clear()
    assert login(client, **solved).json()["reason"] == "captcha"  # the same challenge is spent


def test_the_captcha_endpoint_draws_digits_as_strokes_and_the_answer_is_not_in_it(client: TestClient) -> None:
    import base64

    reply = client.get("/api/auth/captcha")
    assert reply.status_code == 200 and reply.headers["cache-control"] == "no-store"
    body = reply.json()
    svg = base64.b64decode(body["image"].removeprefix("data:image/svg+xml;base64,")).decode()
    assert svg.startswith("<svg") and "<text" not in svg and svg.count("<path") >= 5 + 5
    assert "请输入" in body["prompt"] and "Type the digits" in body["prompt"]
    key = client.app.state.settings.secret_key  # type: ignore[attr-defined]
    challenge = captcha.new_challenge(key)
    assert challenge.answer not in challenge.token
    assert not captcha.solved("another-key", challenge.token, challenge.answer, OneTime())
    fullwidth = challenge.answer.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    assert captcha.solved(key, challenge.token, fullwidth, OneTime())


def test_an_account_locks_after_ten_wrong_passwords_even_with_captchas(
    crm_url: str, org: Org, tmp_path: Path
) -> None:
    with make_client(crm_url, tmp_path, login_address_lock_after=1000) as client:
        for n in range(10):
            reply = login(client, password=f"guess-{n}", **solved_captcha(client))
        assert reply.status_code == 429
        locked = login(client, **solved_captcha(client))
        assert locked.status_code == 429 and "cc_session" not in locked.cookies
        token = client.post("/api/auth/token", json={"username": "agent_a", "password": TEST_PASSWORD})
        assert token.status_code == 429  # the bearer login goes through the same guard
        assert login(client, "agent_a2").json()["reason"] == "captcha"  # this address has failed often
        assert login(client, "agent_a2", **solved_captcha(client)).status_code == 200  # not locked


def test_the_lock_ends_and_a_success_clears_the_account() -> None:
    throttle = LoginThrottle(ThrottleRules(captcha_after=3, lock_after=5, address_lock_after=50, lock_s=600))
    for n in range(5):
        throttle.failed("Agent_A", "10.0.0.1", float(n))
    assert throttle.check("agent_a", "10.0.0.9", 10.0).verdict is Verdict.LOCKED
    assert throttle.check("agent_a", "10.0.0.9", 10.0).retry_after_s == 594
    assert throttle.check("agent_a", "10.0.0.9", 605.0).verdict is Verdict.CAPTCHA  # just unlocked
    throttle.succeeded("agent_a", "10.0.0.9")
    assert throttle.check("agent_a", "10.0.0.9", 606.0).verdict is Verdict.OPEN
    for n in range(60):  # captcha misses count against the address only
        throttle.failed("victim", "10.0.0.2", 700.0 + n, against_account=False)
    assert throttle.check("victim", "10.0.0.3", 800.0).verdict is Verdict.OPEN
    assert throttle.check("anyone", "10.0.0.2", 800.0).verdict is Verdict.LOCKED


# --- finding 10: password change -----------------------------------------------------------------------------


def test_a_password_change_needs_the_current_one_and_ends_the_other_logins(client: TestClient) -> None:
    other = client.post("/api/auth/token", json={"username": "agent_a", "password": TEST_PASSWORD}).json()
    other_headers = {"Authorization": f"Bearer {other['access_token']}"}
    with TestClient(client.app) as second_browser:
        assert login(second_browser).status_code == 200
        csrf = login(client).json()["csrf_token"]
        headers = {"X-CSRF-Token": csrf}
        change = {"current_password": "not-my-password", "new_password": "brand-new-secret-1"}
        assert client.post("/api/auth/password", json=change, headers=headers).status_code == 422
        assert client.get("/api/auth/me", headers=other_headers).status_code == 200
        change["current_password"] = TEST_PASSWORD
        assert client.post("/api/auth/password", json=change, headers=headers).status_code == 204
        assert client.get("/api/auth/me").status_code == 200  # this login goes on
        assert second_browser.get("/api/auth/me").status_code == 401
    assert client.get("/api/auth/me", headers=other_headers).status_code == 401
    client.cookies.clear()
    assert login(client).status_code == 401
    assert login(client, password="brand-new-secret-1").status_code == 200


def test_the_user_route_asks_the_current_password_too_and_an_admin_reset_ends_all_logins(
    client: TestClient, org: Org
) -> None:
    agent = client.post("/api/auth/token", json={"username": "agent_a", "password": TEST_PASSWORD}).json()
    agent_headers = {"Authorization": f"Bearer {agent['access_token']}"}
    own = client.put(f"/api/crm/users/{org.agent_a.id}/password", json={"password": "another-secret-2"},
                     headers=agent_headers)
    assert own.status_code == 422
    admin = client.post("/api/auth/token", json={"username": "admin", "password": TEST_PASSWORD}).json()
    reset = client.put(f"/api/crm/users/{org.agent_a.id}/password", json={"password": "reset-secret-3"},
                       headers={"Authorization": f"Bearer {admin['access_token']}"})
    assert reset.status_code == 204
    assert client.get("/api/auth/me", headers=agent_headers).status_code == 401


def test_the_hub_closes_every_tab_of_a_user() -> None:
    class Sink:
        closed = False

        def write(self, text: str, frame: bytes) -> bool:
            return True

        def close(self) -> None:
            self.closed = True

    hub = WebSocketHub()
    mine, theirs = Sink(), Sink()
    hub.register(Connection(7, "1001", False, mine), None)
    hub.register(Connection(8, "1002", True, theirs), None)
    assert hub.disconnect_user(7) == 1 and mine.closed and not theirs.closed
    assert hub.connection_count() == 1


# --- finding 11: no bearer token in the websocket URL ----------------------------------------------------


def test_the_websocket_takes_a_one_time_ticket_never_the_bearer_token(client: TestClient) -> None:
    bearer = client.post("/api/auth/token", json={"username": "agent_a", "password": TEST_PASSWORD}).json()
    with pytest.raises(WebSocketDisconnect) as refused, client.websocket_connect(
        f"/ws?token={bearer['access_token']}"
    ):
        pass
    assert refused.value.code == 4401
    headers = {"Authorization": f"Bearer {bearer['access_token']}"}
    ticket = client.post("/api/auth/ws-ticket", headers=headers).json()
    assert ticket["expires_in"] <= 60 and bearer["access_token"] not in ticket["ticket"]
    with client.websocket_connect(f"/ws?ticket={ticket['ticket']}") as ws:
        hello = ws.receive_json()
        assert hello["type"] == "hub.hello" and hello["agent"] == "1001"
    with pytest.raises(WebSocketDisconnect) as again, client.websocket_connect(f"/ws?ticket={ticket['ticket']}"):
        pass
    assert again.value.code == 4401  # used once


def test_a_ticket_of_an_ended_login_a_forged_or_an_expired_one_is_refused(client: TestClient) -> None:
    bearer = client.post("/api/auth/token", json={"username": "agent_a", "password": TEST_PASSWORD}).json()
    headers = {"Authorization": f"Bearer {bearer['access_token']}"}
    ticket = client.post("/api/auth/ws-ticket", headers=headers).json()["ticket"]
    key = client.app.state.settings.secret_key  # type: ignore[attr-defined]
    expired = sign(key, WS_TICKET, {"login": "x", "id": "y"}, ttl_s=-1)
    forged = sign("not-the-key", WS_TICKET, {"login": "x", "id": "z"}, ttl_s=30)
    assert client.post("/api/auth/logout", headers=headers).status_code == 204
    for bad in (ticket, expired, forged, ticket[:-2] + "AA"):
        with pytest.raises(WebSocketDisconnect) as refused, client.websocket_connect(f"/ws?ticket={bad}"):
            pass
        assert refused.value.code == 4401


def test_no_page_script_puts_a_token_in_the_websocket_address() -> None:
    scripts = {path.name: path.read_text(encoding="utf-8") for path in STATIC_DIR.glob("*.js")}
    assert "new WebSocket(" in scripts["ws.js"]
    for name, text in scripts.items():
        assert not re.search(r"[?&]token=", text), name


# --- finding 12: the next parameter ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "requested",
    [
        "/\\evil.example/x",
        "/%5Cevil.example/x",
        "/%5cevil.example",
        "//evil.example",
        "/%2F/evil.example",
        "/%252F%252Fevil.example",
        "https://evil.example/",
        "HTTPS://evil.example",
        "javascript:alert(1)",
        "/\t/evil.example",
        "/%09/evil.example",
        "\\\\evil.example",
        "evil.example",
        " /desk",
    ],
)
def test_next_never_leaves_the_site(client: TestClient, requested: str) -> None:
    reply = login(client, next=requested)
    assert reply.status_code == 200 and reply.json()["next"] == "/desk"


@pytest.mark.parametrize("requested", ["/crm", "/reports?day=2024-02-04", "/admin/ivr#flow", "/crm/%E5%AE%A2"])
def test_next_keeps_a_same_site_path(client: TestClient, requested: str) -> None:
    assert login(client, next=requested).json()["next"] == requested


def test_a_page_sends_a_visitor_to_login_with_its_own_path(client: TestClient) -> None:
    reply = client.get("/wallboard", follow_redirects=False)
    assert reply.status_code == 303 and reply.headers["location"] == "/login?next=/wallboard"


# --- finding 15: Origin, CSP and framing, the secret key ---------------------------------------------------


def test_the_websocket_refuses_another_sites_page(client: TestClient) -> None:
    assert login(client).status_code == 200
    for origin in ("https://evil.example", "http://testserver.evil.example", "null"):
        with pytest.raises(WebSocketDisconnect) as refused, client.websocket_connect(
            "/ws", headers={"Origin": origin}
        ):
            pass
        assert refused.value.code == 4403
    with client.websocket_connect("/ws", headers={"Origin": "http://testserver"}) as ws:
        assert ws.receive_json()["type"] == "hub.hello"


def test_configured_origins_may_open_the_websocket(crm_url: str, org: Org, tmp_path: Path) -> None:
    with make_client(crm_url, tmp_path, ws_allowed_origins=["https://wallboard.example:8443"]) as client:
        assert login(client).status_code == 200
        with client.websocket_connect("/ws", headers={"Origin": "https://wallboard.example:8443"}) as ws:
            assert ws.receive_json()["type"] == "hub.hello"


@pytest.mark.parametrize("path", ["/login", "/static/login.js", "/api/auth/me", "/desk"])
def test_every_response_forbids_framing_and_foreign_scripts(client: TestClient, path: str) -> None:
    reply = client.get(path, follow_redirects=False)
    policy = reply.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy and "script-src 'self'" in policy
    assert "'unsafe-eval'" not in policy and "object-src 'none'" in policy
    assert reply.headers["x-frame-options"] == "DENY"
    assert reply.headers["x-content-type-options"] == "nosniff"


def test_the_softphone_websocket_is_the_only_outside_connection(crm_url: str, org: Org, tmp_path: Path) -> None:
    with make_client(crm_url, tmp_path, sip_wss_url="wss://pbx.example:8089/ws") as client:
        policy = client.get("/login").headers["content-security-policy"]
    assert "connect-src 'self' wss://pbx.example:8089;" in policy


def test_the_secret_key_signs_tickets_and_captchas(crm_url: str, org: Org, tmp_path: Path) -> None:
    with make_client(crm_url, tmp_path, secret_key="key-one") as first, make_client(
        crm_url, tmp_path, secret_key="key-two"
    ) as second:
        bearer = first.post("/api/auth/token", json={"username": "agent_a", "password": TEST_PASSWORD}).json()
        headers = {"Authorization": f"Bearer {bearer['access_token']}"}
        ticket = first.post("/api/auth/ws-ticket", headers=headers).json()["ticket"]
        with pytest.raises(WebSocketDisconnect) as refused, second.websocket_connect(f"/ws?ticket={ticket}"):
            pass
        assert refused.value.code == 4401  # same database, another key
        with first.websocket_connect(f"/ws?ticket={ticket}") as ws:
            assert ws.receive_json()["type"] == "hub.hello"
        challenge = captcha.new_challenge("key-one")
        assert captcha.solved("key-one", challenge.token, challenge.answer, OneTime())
        assert not captcha.solved("key-two", challenge.token, challenge.answer, OneTime())

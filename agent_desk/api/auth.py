"""Login and logout: a browser session (cookie + CSRF token) or a bearer token for API clients.

Both logins go through one guard: failures are counted per account and per address, a captcha is asked
after a few (``GET /api/auth/captcha``), and too many lock the account or address for a while (429).
The websocket takes a short-lived single-use ticket (``POST /api/auth/ws-ticket``) or the session cookie,
so a bearer token never travels in a URL.
"""

from __future__ import annotations

import base64
import math
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import unquote, urlsplit

from fastapi import (
    APIRouter,
    Depends,
    Request,
    Response,
)
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from agent_desk.api.crm_crud import CrmRoute
from agent_desk.deps import CSRF_COOKIE, SESSION_COOKIE, client_ip, current_user, get_session
from agent_desk.ws import hub_for
from crm_core import audit, captcha
from crm_core.auth import WS_TICKET_TTL_S, OneTime, authenticate, change_password, issue_ws_ticket, open_session
from crm_core.errors import AuthFailed
from crm_core.login_throttle import LoginThrottle, ThrottleRules, Verdict
from crm_core.models import User

router = APIRouter(prefix="/api/auth", tags=["auth"], route_class=CrmRoute)


class Credentials(BaseModel):
    username: str = Field(min_length=1, max_length=50)
    password: str = Field(min_length=1, max_length=200)
    captcha_token: str = Field("", max_length=500, description="From GET /api/auth/captcha, when one is asked")
    captcha_answer: str = Field("", max_length=20)


class BrowserCredentials(Credentials):
    next: str = Field("", max_length=2000, description="Where to go after login; only same-site paths")


class UserOut(BaseModel):
    id: int
    username: str
    display_name: str
    department_id: int | None
    extension: str | None
    roles: list[str]
    data_scope: str


def user_out(user: User) -> UserOut:
    return UserOut(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        department_id=user.department_id,
        extension=user.extension,
        roles=user.role_names,
        data_scope=user.data_scope.value,
    )


class LoginOut(BaseModel):
    user: UserOut
    csrf_token: str
    next: str = Field(description="The page to open now: the requested same-site path, or /desk")


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_at: str


def _settings(request: Request) -> Any:
    return request.app.state.settings


DEFAULT_NEXT = "/desk"


def _is_local_path(value: str) -> bool:
    if not value.startswith("/") or value.startswith(("//", "/\\")) or "\\" in value:
        return False
    if any(ord(ch) <= 0x20 or ord(ch) == 0x7F for ch in value):
        return False  # browsers drop tabs and newlines: "/\t/evil" would become "//evil"
    parts = urlsplit(value)
    return not parts.scheme and not parts.netloc


def same_site_path(value: str, default: str = DEFAULT_NEXT) -> str:
    """``value`` if it is a path on this site, else ``default``; encoded variants are judged decoded too."""
    candidate = value
    for _ in range(3):
        if not _is_local_path(candidate):
            return default
        decoded = unquote(candidate)
        if decoded == candidate:
            return value
        candidate = decoded
    return default


@dataclass
class LoginGuard:
    """The app's failed-login bookkeeping and the captchas already answered."""

    throttle: LoginThrottle
    used: OneTime = field(default_factory=OneTime)


def login_guard(app: Any) -> LoginGuard:
    guard: LoginGuard | None = getattr(app.state, "login_guard", None)
    if guard is None:
        settings = app.state.settings
        rules = ThrottleRules(
            captcha_after=settings.login_captcha_after,
            lock_after=settings.login_lock_after,
            address_lock_after=settings.login_address_lock_after,
            window_s=settings.login_window_minutes * 60.0,
            lock_s=settings.login_lock_minutes * 60.0,
        )
        guard = app.state.login_guard = LoginGuard(LoginThrottle(rules))
    return guard


class LoginRefused(Exception):
    """A refused login; ``reason`` is ``password``, ``captcha`` or ``locked`` (for the login page's text)."""

    def __init__(
        self, status: int, message: str, reason: str, captcha_required: bool, retry_after_s: int = 0
    ) -> None:
        super().__init__(message)
        self.status, self.reason = status, reason
        self.captcha_required, self.retry_after_s = captcha_required, retry_after_s

    def response(self) -> JSONResponse:
        body: dict[str, Any] = {
            "detail": str(self),
            "reason": self.reason,
            "captcha_required": self.captcha_required,
        }
        headers = {}
        if self.retry_after_s:
            body["retry_after_s"] = self.retry_after_s
            headers["Retry-After"] = str(self.retry_after_s)
        return JSONResponse(body, status_code=self.status, headers=headers)


def _locked(retry_after_s: int) -> LoginRefused:
    minutes = max(1, math.ceil(retry_after_s / 60))
    return LoginRefused(
        429,
        f"登录失败次数过多，已临时锁定，请 {minutes} 分钟后再试 "
        f"too many failed logins: locked, try again in {minutes} min",
        "locked",
        True,
        retry_after_s,
    )


def guarded_authenticate(request: Request, session: Session, credentials: Credentials) -> User:
    """``authenticate`` behind the throttle and the captcha; raises :class:`LoginRefused`."""
    guard, key = login_guard(request.app), _settings(request).secret_key
    account, address, now = credentials.username, client_ip(request), time.monotonic()
    decision = guard.throttle.check(account, address, now)
    if decision.verdict is Verdict.LOCKED:
        raise _locked(decision.retry_after_s)
    if decision.verdict is Verdict.CAPTCHA and not captcha.solved(
        key, credentials.captcha_token, credentials.captcha_answer, guard.used
    ):
        guard.throttle.failed(account, address, now, against_account=False)
        typed = bool(credentials.captcha_token and credentials.captcha_answer)
        message = "验证码错误 wrong captcha" if typed else "请输入验证码 please type the captcha"
        raise LoginRefused(401, message, "captcha", True)
    try:
        user = authenticate(session, account, credentials.password)
    except AuthFailed as exc:
        guard.throttle.failed(account, address, now)
        after = guard.throttle.check(account, address, now)
        if after.verdict is Verdict.LOCKED:
            raise _locked(after.retry_after_s) from exc
        raise LoginRefused(401, str(exc), "password", after.verdict is Verdict.CAPTCHA) from exc
    guard.throttle.succeeded(account, address)
    return user


@router.get("/captcha", summary="A login captcha: an SVG picture of digits and the token to send back")
def new_captcha(request: Request) -> JSONResponse:
    challenge = captcha.new_challenge(_settings(request).secret_key)
    image = "data:image/svg+xml;base64," + base64.b64encode(challenge.svg.encode()).decode()
    return JSONResponse(
        {"token": challenge.token, "image": image, "prompt": captcha.PROMPT},
        headers={"Cache-Control": "no-store"},
    )


@router.post("/login", response_model=LoginOut, summary="Browser login: sets the session cookie")
def login(
    credentials: BrowserCredentials, request: Request, response: Response, session: Session = Depends(get_session)
) -> Any:
    try:
        user = guarded_authenticate(request, session, credentials)
    except LoginRefused as refused:
        return refused.response()
    settings = _settings(request)
    issued = open_session(session, user, "cookie", timedelta(hours=settings.session_hours))
    audit.record(session, user, "login", "user", user.id, ip=client_ip(request))
    session.commit()
    max_age = settings.session_hours * 3600
    response.set_cookie(
        SESSION_COOKIE,
        issued.token,
        max_age=max_age,
        httponly=True,
        samesite="lax",
        secure=settings.session_cookie_secure,
        path="/",
    )
    # Readable by the page's script, which echoes it in the X-CSRF-Token header.
    response.set_cookie(
        CSRF_COOKIE,
        issued.csrf_token,
        max_age=max_age,
        httponly=False,
        samesite="lax",
        secure=settings.session_cookie_secure,
        path="/",
    )
    return LoginOut(user=user_out(user), csrf_token=issued.csrf_token, next=same_site_path(credentials.next))


@router.post("/token", response_model=TokenOut, summary="API login: returns a bearer token")
def token(credentials: Credentials, request: Request, session: Session = Depends(get_session)) -> Any:
    try:
        user = guarded_authenticate(request, session, credentials)
    except LoginRefused as refused:
        return refused.response()
    issued = open_session(session, user, "bearer", timedelta(days=_settings(request).bearer_token_days))
    audit.record(session, user, "token", "user", user.id, ip=client_ip(request))
    session.commit()
    return TokenOut(access_token=issued.token, expires_at=issued.expires_at.isoformat())


@router.post("/logout", status_code=204, summary="End this login (cookie or bearer token)")
def logout(request: Request, user: User = Depends(current_user), session: Session = Depends(get_session)) -> Response:
    session.delete(request.state.login)
    audit.record(session, user, "logout", "user", user.id, ip=client_ip(request))
    session.commit()
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")
    return response


@router.get("/me", response_model=UserOut, summary="The logged-in user")
def me(user: User = Depends(current_user)) -> UserOut:
    return user_out(user)


class WsTicketOut(BaseModel):
    ticket: str
    expires_in: float


@router.post("/ws-ticket", response_model=WsTicketOut, summary="A 30-second single-use ticket for /ws?ticket=")
def ws_ticket(request: Request, user: User = Depends(current_user)) -> WsTicketOut:
    return WsTicketOut(
        ticket=issue_ws_ticket(_settings(request).secret_key, request.state.login), expires_in=WS_TICKET_TTL_S
    )


class PasswordChange(BaseModel):
    current_password: str = Field(min_length=1, max_length=200)
    new_password: str = Field(min_length=8, max_length=200)


@router.post("/password", status_code=204, summary="Change one's password; every other login of the user ends")
async def new_password(
    body: PasswordChange,
    request: Request,
    user: User = Depends(current_user),
    session: Session = Depends(get_session),
) -> Response:
    def change() -> None:  # argon2 is slow on purpose: off the event loop
        change_password(session, request.state.login, body.current_password, body.new_password)
        audit.record(session, user, "password", "user", user.id, ip=client_ip(request))
        session.commit()

    await run_in_threadpool(change)
    hub_for(request.app).disconnect_user(user.id)  # tabs of the ended logins close; this one reconnects
    return Response(status_code=204)

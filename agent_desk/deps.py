"""FastAPI dependencies: the database session, the logged-in user, permission and CSRF checks.

A request is authenticated by the session cookie (browsers; unsafe methods then need the CSRF token
in the ``X-CSRF-Token`` header) or by ``Authorization: Bearer <token>`` (API clients).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from urllib.parse import urlsplit

from fastapi import Depends, HTTPException, Request, WebSocket, status
from sqlalchemy.orm import Session, sessionmaker

from crm_core.auth import OneTime, csrf_matches, redeem_ws_ticket, resolve_token
from crm_core.db import make_engine, make_sessionmaker
from crm_core.models import AuthSession, DataScope, User

SESSION_COOKIE = "cc_session"
CSRF_COOKIE = "cc_csrf"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def app_sessionmaker(app: object) -> sessionmaker[Session]:
    """The app's sessionmaker, made on first use from ``settings.effective_database_url``."""
    state = app.state  # type: ignore[attr-defined]
    factory: sessionmaker[Session] | None = getattr(state, "sessionmaker", None)
    if factory is None:
        factory = make_sessionmaker(make_engine(state.settings.effective_database_url))
        state.sessionmaker = factory
    return factory


def get_session(request: Request) -> Iterator[Session]:
    session = app_sessionmaker(request.app)()
    try:
        yield session
    finally:
        session.rollback()
        session.close()


def _bearer(header: str) -> str:
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def authenticate_request(request: Request, session: Session) -> AuthSession | None:
    token = _bearer(request.headers.get("authorization", ""))
    if token:
        return resolve_token(session, token, "bearer")
    return resolve_token(session, request.cookies.get(SESSION_COOKIE, ""), "cookie")


def _check_csrf(request: Request, login: AuthSession) -> None:
    if login.kind == "cookie" and request.method not in SAFE_METHODS:
        if not csrf_matches(login, request.headers.get(CSRF_HEADER, "")):
            raise HTTPException(status.HTTP_403_FORBIDDEN, "CSRF 校验失败 CSRF token missing or wrong")


def current_user(request: Request, session: Session = Depends(get_session)) -> User:
    """The logged-in user (401 otherwise). Cookie logins must carry the CSRF token on unsafe methods."""
    login = authenticate_request(request, session)
    if login is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "请先登录 login required", headers={"WWW-Authenticate": "Bearer"}
        )
    _check_csrf(request, login)
    request.state.login = login
    return login.user


def csrf_protect(request: Request, user: User = Depends(current_user)) -> None:
    """Explicit CSRF check for routes that want it spelled out (``current_user`` already applies it)."""
    _check_csrf(request, request.state.login)


def require(resource: str, action: str) -> Callable[..., User]:
    """Dependency: the current user, who must hold ``action`` on ``resource`` (403 otherwise)."""

    def dependency(user: User = Depends(current_user)) -> User:
        if not user.has_permission(resource, action):
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"无权限 not allowed: {resource}.{action}")
        return user

    return dependency


def data_scope(user: User, resource: str) -> DataScope:
    """The rows of ``resource`` the user sees: own, department, department_tree or all."""
    return user.data_scope if user.has_permission(resource, "read") else DataScope.OWN


def client_ip(request: Request) -> str:
    return request.client.host if request.client else ""


def origin_allowed(websocket: WebSocket) -> bool:
    """A browser's websocket must come from a page of this site (or of ``CC_WS_ALLOWED_ORIGINS``).

    Browsers always send ``Origin``; other clients (scripts, benchmarks) send none and are judged by their
    credentials alone. The site is named by the Host header, so TLS ended at a proxy changes nothing.
    """
    origin = websocket.headers.get("origin")
    if origin is None:
        return True
    origin = origin.strip().rstrip("/").lower()
    allowed = {o.strip().rstrip("/").lower() for o in websocket.app.state.settings.ws_allowed_origins}
    if origin in allowed:
        return True
    host = websocket.headers.get("host", "").lower()
    return bool(host) and urlsplit(origin).netloc == host


def _used_tickets(app: object) -> OneTime:
    state = app.state  # type: ignore[attr-defined]
    used: OneTime | None = getattr(state, "ws_tickets_used", None)
    if used is None:
        used = state.ws_tickets_used = OneTime()
    return used


async def ws_user(websocket: WebSocket) -> User | None:
    """The user of a websocket: a ``?ticket=`` from ``POST /api/auth/ws-ticket`` or the session cookie.

    Bearer tokens are never taken from the URL (it ends up in access logs); a ticket lives 30 s, once.
    """
    factory = app_sessionmaker(websocket.app)
    with factory() as session:
        ticket = websocket.query_params.get("ticket", "")
        key = websocket.app.state.settings.secret_key
        login = redeem_ws_ticket(session, key, ticket, _used_tickets(websocket.app)) if ticket else None
        if login is None and not ticket:
            login = resolve_token(session, websocket.cookies.get(SESSION_COOKIE, ""), "cookie")
        if login is None:
            return None
        user = login.user
        session.expunge_all()
        return user

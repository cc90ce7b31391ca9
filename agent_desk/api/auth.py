"""Login and logout: a browser session (cookie + CSRF token) or a bearer token for API clients."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import (
    APIRouter,
    Depends,
    Request,
    Response,
)
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from agent_desk.api.crm_crud import CrmRoute
from agent_desk.deps import CSRF_COOKIE, SESSION_COOKIE, client_ip, current_user, get_session
from crm_core import audit
from crm_core.auth import authenticate, open_session
from crm_core.models import User

router = APIRouter(prefix="/api/auth", tags=["auth"], route_class=CrmRoute)


class Credentials(BaseModel):
    username: str = Field(min_length=1, max_length=50)
    password: str = Field(min_length=1, max_length=200)


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


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_at: str


def _settings(request: Request) -> Any:
    return request.app.state.settings


@router.post("/login", response_model=LoginOut, summary="Browser login: sets the session cookie")
def login(
    credentials: Credentials, request: Request, response: Response, session: Session = Depends(get_session)
) -> LoginOut:
    user = authenticate(session, credentials.username, credentials.password)
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
    return LoginOut(user=user_out(user), csrf_token=issued.csrf_token)


@router.post("/token", response_model=TokenOut, summary="API login: returns a bearer token")
def token(credentials: Credentials, request: Request, session: Session = Depends(get_session)) -> TokenOut:
    user = authenticate(session, credentials.username, credentials.password)
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

"""Passwords (argon2) and login sessions: browser cookies with a CSRF token, or bearer tokens.

Short-lived values handed to a client and checked later without a table row (websocket tickets, login
captcha challenges) are signed with the server's secret key (``CC_SECRET_KEY``) by ``sign``/``unsign``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from crm_core.errors import AuthFailed, InvalidInput
from crm_core.models import AuthSession, User, utcnow

_hasher = PasswordHasher()
# Verified against when the user does not exist, so that timing does not reveal user names.
_DUMMY_HASH = _hasher.hash("not-a-real-password")

MIN_PASSWORD_LENGTH = 8


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"密码至少 {MIN_PASSWORD_LENGTH} 位 password needs at least {MIN_PASSWORD_LENGTH} characters")
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return False


def authenticate(session: Session, username: str, password: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    ok = verify_password(user.password_hash if user else _DUMMY_HASH, password)
    if user is None or not ok or not user.is_active or not user.password_hash:
        raise AuthFailed("用户名或密码错误 wrong user name or password")
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return user


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class IssuedSession:
    token: str
    csrf_token: str
    expires_at: datetime


def open_session(session: Session, user: User, kind: str, ttl: timedelta) -> IssuedSession:
    """Store a new login of ``kind`` (``cookie`` or ``bearer``); only the token's hash is kept."""
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(24) if kind == "cookie" else ""
    now = utcnow()
    session.execute(delete(AuthSession).where(AuthSession.user_id == user.id, AuthSession.expires_at < now))
    session.add(
        AuthSession(token_hash=_digest(token), user_id=user.id, kind=kind, csrf_token=csrf, expires_at=now + ttl)
    )
    return IssuedSession(token, csrf, now + ttl)


def resolve_token(session: Session, token: str, kind: str) -> AuthSession | None:
    """The live login for ``token`` of ``kind``, or None (unknown, expired, or its user disabled)."""
    if not token:
        return None
    found = session.get(AuthSession, _digest(token))
    if found is None or found.kind != kind or found.expires_at < utcnow() or not found.user.is_active:
        return None
    return found


def csrf_matches(login: AuthSession, presented: str) -> bool:
    return bool(login.csrf_token) and hmac.compare_digest(login.csrf_token, presented or "")


def close_session(session: Session, token: str) -> None:
    session.execute(delete(AuthSession).where(AuthSession.token_hash == _digest(token)))


def end_sessions(session: Session, user_id: int, keep: str = "") -> int:
    """End every login of the user (cookies and bearer tokens) except the one stored as ``keep``."""
    query = delete(AuthSession).where(AuthSession.user_id == user_id)
    if keep:
        query = query.where(AuthSession.token_hash != keep)
    return session.execute(query).rowcount or 0  # type: ignore[attr-defined]


def change_password(session: Session, login: AuthSession, current: str, new: str) -> None:
    """The user of ``login`` changes his password: the current one must be right; other logins end."""
    user = login.user
    if not verify_password(user.password_hash, current):
        raise InvalidInput("当前密码错误 the current password is wrong", "current_password")
    try:
        user.password_hash = hash_password(new)
    except ValueError as exc:
        raise InvalidInput(str(exc), "password") from exc
    end_sessions(session, user.id, keep=login.token_hash)


# --- signed values ----------------------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: str, purpose: str, body: str) -> str:
    return _b64(hmac.new(key.encode(), f"{purpose}:{body}".encode(), hashlib.sha256).digest())


def sign(key: str, purpose: str, payload: dict[str, object], ttl_s: float, now: float | None = None) -> str:
    """``payload`` with an expiry, as a URL-safe string only the holder of ``key`` can make."""
    body = _b64(json.dumps({**payload, "exp": (time.time() if now is None else now) + ttl_s}).encode())
    return f"{body}.{_mac(key, purpose, body)}"


def unsign(key: str, purpose: str, value: str, now: float | None = None) -> dict[str, object] | None:
    """The payload of a value made by ``sign`` for ``purpose``, or None if forged, altered or expired."""
    body, _, mac = (value or "").partition(".")
    if not body or not hmac.compare_digest(mac.encode(), _mac(key, purpose, body).encode()):
        return None
    try:
        payload = json.loads(_unb64(body))
    except ValueError:
        return None
    if not isinstance(payload, dict) or payload.get("exp", 0) < (time.time() if now is None else now):
        return None
    return payload


class OneTime:
    """Remembers the ids of used signed values until they expire, so that each is accepted once."""

    def __init__(self, limit: int = 100_000) -> None:
        self.limit = limit
        self._used: dict[str, float] = {}

    def first_use(self, value_id: str, expires_at: float, now: float) -> bool:
        if len(self._used) >= self.limit:
            self._used = {k: exp for k, exp in self._used.items() if exp >= now}
            if len(self._used) >= self.limit:
                return False  # refuse rather than forget: a flood must not reopen used values
        if value_id in self._used:
            return False
        self._used[value_id] = expires_at
        return True


WS_TICKET = "ws-ticket"
WS_TICKET_TTL_S = 30.0


def issue_ws_ticket(key: str, login: AuthSession) -> str:
    """A single-use, 30-second ticket that opens one websocket as the user of ``login``."""
    return sign(key, WS_TICKET, {"login": login.token_hash, "id": secrets.token_urlsafe(12)}, WS_TICKET_TTL_S)


def redeem_ws_ticket(session: Session, key: str, ticket: str, used: OneTime) -> AuthSession | None:
    """The live login a ticket was issued for, once; None if forged, expired, used or the login ended."""
    now = time.time()
    payload = unsign(key, WS_TICKET, ticket, now)
    if payload is None or not used.first_use(str(payload.get("id")), float(payload["exp"]), now):  # type: ignore[arg-type]
        return None
    found = session.get(AuthSession, str(payload.get("login")))
    if found is None or found.expires_at < utcnow() or not found.user.is_active:
        return None
    return found

"""Passwords (argon2) and login sessions: browser cookies with a CSRF token, or bearer tokens."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from crm_core.errors import AuthFailed
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

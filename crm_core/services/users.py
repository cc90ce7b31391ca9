"""Users and seats: creating users, passwords, binding an extension through a seat."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from crm_core.auth import end_sessions, hash_password
from crm_core.errors import Conflict, InvalidInput, NotFound
from crm_core.models import Department, Role, Seat, User
from crm_core.permissions import check, ensure_seat


def create_user(
    session: Session,
    username: str,
    password: str,
    *,
    display_name: str = "",
    roles: list[str] | None = None,
    department_id: int | None = None,
    extension: str | None = None,
    agent_number: str | None = None,
) -> User:
    if not username or len(username) > 50 or not username.replace("_", "").replace(".", "").isalnum():
        raise InvalidInput("用户名只能包含字母、数字、点和下划线 invalid user name", "username")
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise Conflict(f"用户已存在 user already exists: {username}")
    if department_id is not None and session.get(Department, department_id) is None:
        raise InvalidInput("部门不存在 unknown department", "department_id")
    wanted = roles or ["agent"]
    found = list(session.scalars(select(Role).where(Role.name.in_(wanted))))
    if len(found) != len(set(wanted)):
        missing = sorted(set(wanted) - {r.name for r in found})
        raise InvalidInput(f"角色不存在 unknown role: {', '.join(missing)}", "roles")
    try:
        password_hash = hash_password(password)
    except ValueError as exc:
        raise InvalidInput(str(exc), "password") from exc
    user = User(
        username=username,
        password_hash=password_hash,
        display_name=display_name or username,
        department_id=department_id,
        extension=extension,
        agent_number=agent_number,
        roles=found,
    )
    session.add(user)
    session.flush()
    return user


def set_password(session: Session, username: str, password: str) -> User:
    """An administrator sets ``username``'s password (no current one needed); all his logins end."""
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"用户不存在 no such user: {username}")
    try:
        user.password_hash = hash_password(password)
    except ValueError as exc:
        raise InvalidInput(str(exc), "password") from exc
    end_sessions(session, user.id)  # a reset password ends every login made with the old one
    return user


def sit_at(session: Session, user: User, seat_name: str) -> Seat:
    """The agent logs in at a seat of his departments and takes its extension (leaving any other seat).

    A seat somebody else is logged in at is refused: taking it would silently move him off and hand over
    his calls, pops and call control.
    """
    check(user, "extension", "bind")  # a role that takes no calls (quality staff) sits at no seat
    seat = session.scalar(select(Seat).where(Seat.name == seat_name))
    if seat is None:
        raise NotFound(f"座席不存在 no such seat: {seat_name}")
    ensure_seat(session, user, seat)
    occupant = session.scalar(
        select(User.id).where(User.extension == seat.extension, User.id != user.id, User.is_active.is_(True))
    )
    if occupant is not None:
        raise Conflict("座席已有人登录 someone else is logged in at that seat")
    session.execute(update(Seat).where(Seat.user_id == user.id).values(user_id=None))
    session.execute(update(User).where(User.extension == seat.extension, User.id != user.id).values(extension=None))
    seat.user_id, user.extension = user.id, seat.extension
    return seat


def ensure_extension(session: Session, user: User, extension: str) -> None:
    """Binding an extension by hand: a seat's extension only within the user's departments."""
    seat = session.scalar(select(Seat).where(Seat.extension == extension))
    if seat is not None:
        ensure_seat(session, user, seat)


def user_for_extension(session: Session, extension: str) -> User | None:
    """The agent bound to ``extension`` now, for the screen-pop."""
    return session.scalar(select(User).where(User.extension == extension, User.is_active.is_(True)))

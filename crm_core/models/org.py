"""Organisation: departments (a tree), users, roles, permissions, data scope, seats, login sessions."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, Column, DateTime, ForeignKey, Index, String, Table, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm_core.db import Base
from crm_core.models.base import IdMixin, TimestampMixin, utcnow


class DataScope(StrEnum):
    """Which rows of a scoped resource a role sees, narrowest first."""

    OWN = "own"
    DEPARTMENT = "department"
    DEPARTMENT_TREE = "department_tree"
    ALL = "all"


SCOPE_RANK = {DataScope.OWN: 0, DataScope.DEPARTMENT: 1, DataScope.DEPARTMENT_TREE: 2, DataScope.ALL: 3}

user_roles = Table(
    "user_roles",
    Base.metadata,
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("role_id", ForeignKey("roles.id", ondelete="CASCADE"), primary_key=True),
)


class Department(IdMixin, TimestampMixin, Base):
    __tablename__ = "departments"

    name: Mapped[str] = mapped_column(String(100))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), index=True)
    # Materialised path "/1/4/9/" so that "this department and below" is one LIKE on an index.
    path: Mapped[str] = mapped_column(String(500), default="/", index=True)


class Role(IdMixin, Base):
    __tablename__ = "roles"

    name: Mapped[str] = mapped_column(String(50), unique=True)
    title: Mapped[str] = mapped_column(String(100), default="")
    data_scope: Mapped[str] = mapped_column(String(20), default=DataScope.OWN.value)
    permissions: Mapped[list[Permission]] = relationship(
        back_populates="role", cascade="all, delete-orphan", lazy="selectin"
    )


class Permission(IdMixin, Base):
    __tablename__ = "permissions"
    __table_args__ = (UniqueConstraint("role_id", "resource", "action"),)

    role_id: Mapped[int] = mapped_column(ForeignKey("roles.id", ondelete="CASCADE"))
    resource: Mapped[str] = mapped_column(String(50))  # "*" means every resource
    action: Mapped[str] = mapped_column(String(30))  # "*" means every action
    role: Mapped[Role] = relationship(back_populates="permissions")


class User(IdMixin, TimestampMixin, Base):
    __tablename__ = "users"

    username: Mapped[str] = mapped_column(String(50), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200), default="")
    display_name: Mapped[str] = mapped_column(String(100), default="")
    email: Mapped[str] = mapped_column(String(200), default="")
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), index=True)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    agent_number: Mapped[str | None] = mapped_column(String(20), unique=True)
    # The extension the agent uses now: from the seat logged in at, or bound by the agent.
    extension: Mapped[str | None] = mapped_column(String(20), index=True)
    phone: Mapped[str] = mapped_column(String(30), default="")  # office line
    mobile: Mapped[str] = mapped_column(String(30), default="")
    position: Mapped[str] = mapped_column(String(50), default="")  # 职位, the job title
    roles: Mapped[list[Role]] = relationship(secondary=user_roles, lazy="selectin")
    department: Mapped[Department | None] = relationship(lazy="selectin")

    def has_permission(self, resource: str, action: str) -> bool:
        for role in self.roles:
            for perm in role.permissions:
                if perm.resource in ("*", resource) and perm.action in ("*", action):
                    return True
        return False

    @property
    def role_names(self) -> list[str]:
        return sorted(role.name for role in self.roles)

    @property
    def data_scope(self) -> DataScope:
        """The broadest scope among the user's roles; ``own`` with no role."""
        scopes = [DataScope(role.data_scope) for role in self.roles] or [DataScope.OWN]
        return max(scopes, key=lambda s: SCOPE_RANK[s])


class Seat(IdMixin, TimestampMixin, Base):
    """A workstation bound to an extension: an agent who logs in there uses that extension."""

    __tablename__ = "seats"

    name: Mapped[str] = mapped_column(String(50), unique=True)
    extension: Mapped[str] = mapped_column(String(20), unique=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class AuthSession(Base):
    """A login: a browser cookie (with its CSRF token) or a bearer token. Only the hash is kept."""

    __tablename__ = "auth_sessions"
    __table_args__ = (Index("ix_auth_sessions_user", "user_id"),)

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(10))  # cookie | bearer
    csrf_token: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    user: Mapped[User] = relationship(lazy="joined")

"""Test support for code that needs a migrated CRM database (a pytest plugin).

Use it from a test module with ``pytest_plugins = ["crm_core.testing"]``. SQLite databases are
copies of one migrated template (fast); PostgreSQL databases are created under a unique name on the
server of ``CC_TEST_DATABASE_URL`` and dropped afterwards.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, MetaData, Table, create_engine, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

import crm_core.models  # noqa: F401  (every table in Base.metadata)
from crm_core.auth import hash_password
from crm_core.db import make_engine, make_sessionmaker, migrate
from crm_core.models import Department, Role, User

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
TEST_PASSWORD = "test-password-1"


@contextmanager
def postgres_database(area: str = "crm") -> Iterator[str]:
    """A fresh, uniquely named PostgreSQL database (migrated), dropped on exit."""
    base = make_url(os.environ.get("CC_TEST_DATABASE_URL", DEFAULT_PG_URL))
    name = f"cc_{area}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = base.set(database=name).render_as_string(hide_password=False)
    try:
        migrate(url)
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def crm_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("crm") / "template.db"
    migrate(f"sqlite:///{path}")
    engine = make_engine(f"sqlite:///{path}")
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


@pytest.fixture
def crm_url(crm_template: Path, tmp_path: Path) -> str:
    path = tmp_path / "crm.db"
    shutil.copyfile(crm_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def crm_sessionmaker(crm_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(crm_url)
    yield make_sessionmaker(engine)
    engine.dispose()


@pytest.fixture
def crm_sqlite_session(crm_sessionmaker: sessionmaker[Session]) -> Iterator[Session]:
    with crm_sessionmaker() as session:
        yield session


@pytest.fixture
def db(crm_sqlite_session: Session) -> Session:
    """A session on a fresh, migrated SQLite database (override it to run a module on PostgreSQL too)."""
    return crm_sqlite_session


# Never emptied between tests: the migrations' own bookkeeping.
KEPT_TABLES = frozenset({"alembic_version"})


@dataclass(frozen=True)
class PgDatabase:
    url: str
    emptied: tuple[str, ...]  # tables to empty between tests, children first
    seeded: tuple[tuple[Table, tuple[dict[str, Any], ...]], ...]  # the migrations' rows, parents first


def seeded_rows(conn: Connection, tables: list[Table]) -> tuple[tuple[Table, tuple[dict[str, Any], ...]], ...]:
    """The rows each table holds right after migrating (roles, permissions, workflows, pause reasons,
    dictionaries, wrap-up codes ...), read from the database itself so a new seeding migration needs no list."""
    found = []
    for table in tables:
        if table.name in KEPT_TABLES:
            continue
        rows = tuple(dict(row) for row in conn.execute(select(table)).mappings())
        if rows:
            found.append((table, rows))
    return tuple(found)


@pytest.fixture(scope="session")
def crm_pg_database() -> Iterator[PgDatabase]:
    """One migrated PostgreSQL database for the test run (dropped at the end)."""
    with postgres_database("crm") as url:
        engine = make_engine(url)
        reflected = MetaData()
        reflected.reflect(engine)
        with engine.connect() as conn:
            seeded = seeded_rows(conn, reflected.sorted_tables)
        engine.dispose()
        order = tuple(t.name for t in reversed(reflected.sorted_tables) if t.name not in KEPT_TABLES)
        yield PgDatabase(url, order, seeded)


@pytest.fixture
def crm_pg_session(crm_pg_database: PgDatabase) -> Iterator[Session]:
    """A session on the run's PostgreSQL database; afterwards every table is back to what the migrations left
    (a test's rows deleted, the seeded rows it changed or removed put back)."""
    engine = make_engine(crm_pg_database.url)
    with make_sessionmaker(engine)() as session:
        yield session
        session.rollback()
    with engine.begin() as conn:  # DELETE, not TRUNCATE CASCADE: one statement per table, children first
        for name in crm_pg_database.emptied:
            conn.execute(text(f'DELETE FROM "{name}"'))
        for table, rows in crm_pg_database.seeded:
            conn.execute(table.insert(), list(rows))
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_db(request: pytest.FixtureRequest) -> Session:
    """The test's session on SQLite, then again on PostgreSQL."""
    name = "crm_sqlite_session" if request.param == "sqlite" else "crm_pg_session"
    session: Session = request.getfixturevalue(name)
    return session


@dataclass
class Org:
    """Two departments under a head office, with an agent in each, a supervisor of A, an admin."""

    head: Department
    dept_a: Department
    dept_b: Department
    admin: User
    supervisor_a: User
    agent_a: User
    agent_a2: User
    agent_b: User


def add_department(session: Session, name: str, parent: Department | None = None) -> Department:
    dept = Department(name=name, parent_id=parent.id if parent else None, path=parent.path if parent else "/")
    session.add(dept)
    session.flush()
    dept.path = f"{dept.path}{dept.id}/"
    session.flush()
    return dept


@lru_cache(maxsize=1)
def _test_hash() -> str:
    return hash_password(TEST_PASSWORD)  # argon2 is slow on purpose: hash once per test run


def make_org(session: Session) -> Org:
    head = add_department(session, "总部")
    dept_a = add_department(session, "客服一组", head)
    dept_b = add_department(session, "客服二组", head)

    roles = {r.name: r for r in session.scalars(select(Role))}

    def user(name: str, role: str, dept: Department, ext: str | None = None) -> User:
        row = User(
            username=name,
            password_hash=_test_hash(),
            display_name=name,
            roles=[roles[role]],
            department_id=dept.id,
            extension=ext,
        )
        session.add(row)
        session.flush()
        return row

    org = Org(
        head,
        dept_a,
        dept_b,
        admin=user("admin", "admin", head),
        supervisor_a=user("sup_a", "supervisor", dept_a),
        agent_a=user("agent_a", "agent", dept_a, "1001"),
        agent_a2=user("agent_a2", "agent", dept_a, "1002"),
        agent_b=user("agent_b", "agent", dept_b, "2001"),
    )
    session.commit()
    return org


@pytest.fixture
def org(db: Session) -> Org:
    return make_org(db)


def reload_user(session: Session, username: str) -> User:
    found = session.scalar(select(User).where(User.username == username))
    assert found is not None
    return found

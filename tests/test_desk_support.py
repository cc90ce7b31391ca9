"""Fixtures for the desk API and websocket tests: a migrated CRM database, users, and the app with a
runtime whose call commands are recorded instead of sent to a PBX."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from agent_desk.app import create_app
from config import Settings
from crm_core.auth import open_session
from crm_core.db import make_engine, make_sessionmaker
from crm_core.testing import Org, make_org
from cti.bus.memory import InProcessBus
from cti.replay import load_messages
from cti.tracker import CallTracker

AMI = Path(__file__).parent / "fixtures" / "ami"


class RecordedCommands:
    """Stands in for ``cti.commands.CallCommands``: records each call, answers like a PBX would."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, tuple[Any, ...]]] = []
        self.fail: Exception | None = None

    def __getattr__(self, name: str) -> Any:
        if name not in {"originate_click_to_dial", "hangup", "blind_transfer", "attended_transfer",
                        "queue_login", "queue_logout", "pause", "spy", "hold", "unhold", "three_way"}:
            raise AttributeError(name)

        async def command(*args: Any) -> dict[str, Any]:
            self.sent.append((name, args))
            if self.fail is not None:
                raise self.fail
            return {"Response": "Success", "ActionID": str(len(self.sent))}

        return command

    def names(self) -> list[str]:
        return [name for name, _ in self.sent]


@dataclass
class FakeRuntime:
    bus: InProcessBus = field(default_factory=InProcessBus)
    commands: RecordedCommands = field(default_factory=RecordedCommands)
    snapshot: dict[str, Any] = field(default_factory=dict)

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        await self.bus.close()

    def tracker_snapshot(self) -> dict[str, Any]:
        return self.snapshot


def snapshot_during(transcript: str, until_event: str, occurrence: int = 1) -> dict[str, Any]:
    """The call tracker's snapshot of a recorded call, taken right after the given AMI event."""
    tracker = CallTracker()
    seen = 0
    for message, now in load_messages(AMI / transcript):
        tracker.feed(message, now)
        if message.get("Event") == until_event:
            seen += 1
            if seen == occurrence:
                break
    return tracker.snapshot()


@dataclass
class Desk:
    client: TestClient
    runtime: FakeRuntime
    org: Org
    sessionmaker: sessionmaker[Session]
    tokens: dict[str, tuple[str, str]]

    def login(self, username: str) -> TestClient:
        """Act as ``username`` from now on (session cookie + CSRF header)."""
        token, csrf = self.tokens[username]
        self.client.cookies.set("cc_session", token)
        self.client.headers["X-CSRF-Token"] = csrf
        return self.client

    def logout(self) -> TestClient:
        self.client.cookies.clear()
        self.client.headers.pop("X-CSRF-Token", None)
        return self.client


@dataclass
class DeskDatabase:
    path: Path
    org: Org
    tokens: dict[str, tuple[str, str]]


@pytest.fixture(scope="module")
def desk_database(crm_template: Path, tmp_path_factory: pytest.TempPathFactory) -> DeskDatabase:
    """A migrated database with the test organisation and a login per user, made once per module
    (password hashing is slow) and copied for each test."""
    path = tmp_path_factory.mktemp("desk") / "desk.db"
    shutil.copyfile(crm_template, path)
    engine = make_engine(f"sqlite:///{path}")
    with make_sessionmaker(engine)() as session:
        org = make_org(session)
        tokens = {}
        for user in (org.admin, org.supervisor_a, org.agent_a, org.agent_a2, org.agent_b):
            issued = open_session(session, user, "cookie", timedelta(days=1))
            tokens[user.username] = (issued.token, issued.csrf_token)
        session.commit()
        session.expunge_all()
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return DeskDatabase(path, org, tokens)


@pytest.fixture
def desk_url(desk_database: DeskDatabase, tmp_path: Path) -> str:
    path = tmp_path / "desk.db"
    shutil.copyfile(desk_database.path, path)
    return f"sqlite:///{path}"


@pytest.fixture
def desk(desk_database: DeskDatabase, desk_url: str, tmp_path: Path) -> Iterator[Desk]:
    engine = make_engine(desk_url)
    factory = make_sessionmaker(engine)
    settings = Settings(database_url=desk_url, data_dir=tmp_path, wrapup_s=5, sip_wss_url="")
    runtime = FakeRuntime()
    app = create_app(settings, runtime)
    app.state.sessionmaker = factory
    with TestClient(app) as client:
        yield Desk(client, runtime, desk_database.org, factory, desk_database.tokens)
    engine.dispose()

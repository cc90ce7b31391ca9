"""Shared makers for the recording tests: generated audio, a migrated database, users with roles.

Imported by the other ``test_recordings_*`` modules; it holds no tests itself.
"""

from __future__ import annotations

import math
import wave
from array import array
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from config import Settings
from crm_core.db import make_engine, make_sessionmaker
from crm_core.testing import add_department, postgres_database

pytest_plugins = ["crm_core.testing"]

FIXTURES = Path(__file__).parent / "fixtures" / "recordings"
SCENARIO_04 = FIXTURES / "04_inbound_recorded_mixmonitor.jsonl"


def write_tone(
    path: Path, seconds: float, rate: int = 8000, freq: float = 440.0, amplitude: float = 0.5
) -> Path:
    """A 16-bit mono PCM WAV sine tone, the format MixMonitor writes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    second = _one_second(rate, freq, amplitude)
    whole, rest = divmod(int(seconds * rate), rate)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(second * whole + second[: rest * 2])
    return path


@lru_cache(maxsize=16)
def _one_second(rate: int, freq: float, amplitude: float) -> bytes:
    peak = int(32767 * amplitude)
    return array("h", (int(peak * math.sin(2 * math.pi * freq * i / rate)) for i in range(rate))).tobytes()


@pytest.fixture
def db_factory(crm_sessionmaker: sessionmaker[Session]) -> sessionmaker[Session]:
    """A migrated SQLite database of this test's own (crm_core.testing's template copy)."""
    return crm_sessionmaker


@pytest.fixture
def rec_settings(tmp_path: Path) -> Settings:
    (tmp_path / "monitor").mkdir()
    (tmp_path / "voicemail").mkdir()
    return Settings(
        data_dir=tmp_path / "data",
        recordings_dir=tmp_path / "monitor",
        voicemail_dir=tmp_path / "voicemail",
        recordings_missing_grace_s=60.0,
    )


def make_department(session: Session, name: str) -> int:
    return add_department(session, name).id


def make_user(
    session: Session,
    username: str,
    role: str,
    department_id: int | None = None,
    agent_number: str | None = None,
) -> Any:
    from crm_core.models import Role, User

    user = User(username=username, department_id=department_id, agent_number=agent_number)
    user.roles = list(session.scalars(select(Role).where(Role.name == role)))
    assert user.roles, f"role {role} is seeded by the CRM migrations"
    session.add(user)
    session.flush()
    return user


@pytest.fixture
def pg_factory() -> Iterator[sessionmaker[Session]]:
    """A migrated PostgreSQL database of its own, dropped afterwards."""
    with postgres_database("recordings") as url:
        engine = make_engine(url)
        yield make_sessionmaker(engine)
        engine.dispose()

"""``callcenter recordings scan`` and ``callcenter recordings prune [--dry-run]``."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import typer
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from test_recordings_support import write_tone
from typer.testing import CliRunner

from config import Settings
from recordings import cli as cli_recordings
from recordings.models import Recording, RetentionRule

pytest_plugins = ["test_recordings_support"]


def _app(settings: Settings, database_url: str, monkeypatch: pytest.MonkeyPatch) -> typer.Typer:
    configured = settings.model_copy(update={"database_url": database_url})
    monkeypatch.setattr(cli_recordings, "get_settings", lambda: configured)
    app = typer.Typer()
    app.command()(lambda: None)  # a second command so that "recordings" stays a sub-command
    cli_recordings.register(app)
    return app


@pytest.fixture
def cli(
    db_factory: sessionmaker[Session], rec_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> typer.Typer:
    return _app(rec_settings, str(db_factory.kw["bind"].url), monkeypatch)


def test_scan_then_prune_with_and_without_dry_run(
    cli: typer.Typer, db_factory: sessionmaker[Session], rec_settings: Settings
) -> None:
    old = write_tone(rec_settings.recordings_dir / "q-support-20260101-100000-1767261600.1.wav", 0.3)
    new = write_tone(rec_settings.recordings_dir / "q-support-20261120-100000-1795000000.1.wav", 0.3)
    runner = CliRunner()
    scanned = runner.invoke(cli, ["recordings", "scan"])
    assert scanned.exit_code == 0, scanned.output
    assert json.loads(scanned.stdout.strip().splitlines()[-1])["added"] == 2

    with db_factory() as session:
        session.add(RetentionRule(queue="support", keep_days=30))
        for row in session.scalars(select(Recording)):
            age = 200 if row.file_name == old.name else 1
            row.started_at = datetime.now(UTC).replace(tzinfo=None) - timedelta(days=age)
        session.commit()

    dry = runner.invoke(cli, ["recordings", "prune", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    listed = [json.loads(line) for line in dry.stdout.strip().splitlines() if line.startswith("{")]
    assert [item["file_name"] for item in listed] == [old.name]
    assert old.exists() and new.exists()

    real = runner.invoke(cli, ["recordings", "prune"])
    assert real.exit_code == 0, real.output
    assert not old.exists() and new.exists()
    with db_factory() as session:
        statuses = {r.file_name: r.status for r in session.scalars(select(Recording))}
    assert statuses == {old.name: "deleted", new.name: "unlinked"}


def test_prune_on_a_database_that_was_never_migrated(
    rec_settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    app = _app(rec_settings, f"sqlite:///{tmp_path / 'empty.db'}", monkeypatch)
    result = CliRunner().invoke(app, ["recordings", "prune", "--dry-run"])
    assert result.exit_code == 2
    assert "callcenter migrate" in result.output

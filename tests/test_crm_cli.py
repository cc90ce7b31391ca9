"""The CRM commands: migrate, user add/passwd, import and export."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from config import get_settings


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("CC_DATABASE_URL", f"sqlite:///{tmp_path / 'cc.db'}")
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def test_migrate_add_user_import_and_export(cli_env: Path) -> None:
    from agent_desk.cli import app

    runner = CliRunner()
    assert runner.invoke(app, ["migrate"]).exit_code == 0
    added = runner.invoke(app, ["user", "add", "boss", "--role", "admin", "--password", "long-enough-1"])
    assert added.exit_code == 0, added.output
    again = runner.invoke(app, ["user", "add", "boss", "--password", "long-enough-1"])
    assert again.exit_code != 0
    assert runner.invoke(app, ["user", "passwd", "boss", "--password", "short"]).exit_code != 0
    (cli_env / "c.csv").write_text("客户名称,电话\n甲,13800000001\n乙,abc\n", encoding="utf-8")
    refused = runner.invoke(app, ["import", "c.csv"])
    assert refused.exit_code == 1 and (cli_env / "c.csv.errors.csv").exists()
    partial = runner.invoke(app, ["import", "c.csv", "--valid-only"])
    assert partial.exit_code == 0 and "imported 1 of 2" in partial.output
    exported = runner.invoke(app, ["export", "-o", "out.csv"])
    assert exported.exit_code == 0
    assert "甲" in (cli_env / "out.csv").read_text(encoding="utf-8-sig")

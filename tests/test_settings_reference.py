"""docs/settings.md is the reference of every setting, made from config/settings.py; it must be current."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent_desk.cli import app
from config import Settings
from config.reference import default_text, markdown

DOC = Path(__file__).resolve().parent.parent / "docs" / "settings.md"


def test_the_settings_page_is_made_from_the_code_and_lists_every_setting() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert text == markdown(), "docs/settings.md is out of date: callcenter settings --markdown > docs/settings.md"
    for name in Settings.model_fields:
        assert f"`CC_{name.upper()}`" in text


def test_defaults_read_as_a_reader_writes_them_and_secrets_are_not_printed(monkeypatch: pytest.MonkeyPatch) -> None:
    fields = Settings.model_fields
    assert default_text("secret_key", fields["secret_key"]) == "generated per process"
    assert default_text("ivr_flows_dir", fields["ivr_flows_dir"]) == "config/flows"  # not this machine's path
    assert default_text("journal_enabled", fields["journal_enabled"]) == "true"
    assert default_text("desk_queues", fields["desk_queues"]) == '["support", "sales"]'
    monkeypatch.setenv("CC_AMI_SECRET", "s3cr3t-value")
    monkeypatch.setenv("CC_WRAPUP_S", "30")
    from config import get_settings

    get_settings.cache_clear()
    try:
        out = CliRunner().invoke(app, ["settings"]).output
    finally:
        get_settings.cache_clear()
    assert "CC_AMI_SECRET=****" in out and "s3cr3t-value" not in out
    assert "CC_WRAPUP_S=30" in out

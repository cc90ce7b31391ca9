"""``callcenter ivr check`` and the pyst2 process-AGI entry point."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path
from typing import Any

import typer
from asterisk.agi import AGI
from test_ivr_support import CALENDAR, FLOWS
from typer.testing import CliRunner

from ivr.cli import register
from ivr.directory import InMemoryDirectory
from ivr.flow import FlowLibrary
from ivr.process_agi import run_process_agi

FIXTURES = Path(__file__).parent / "fixtures" / "ivr"


def cli() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


def test_ivr_check_passes_on_sample_flows() -> None:
    result = CliRunner().invoke(cli(), ["ivr", "check", "--folder", str(FLOWS)])
    assert result.exit_code == 0, result.output
    assert "OK  ivr.yaml" in result.output and "OK  calendar.yaml" in result.output


def test_ivr_check_prints_line_numbered_errors(tmp_path: Path) -> None:
    (tmp_path / "broken_flow.yaml").write_text((FIXTURES / "broken_flow.yaml").read_text())
    result = CliRunner().invoke(cli(), ["ivr", "check", "--folder", str(tmp_path), "--language", "en"])
    assert result.exit_code == 1
    assert "broken_flow.yaml:13: nodes.menu.options.1: points to unknown node 'sales'" in result.output
    assert "broken_flow.yaml:26: nodes.mystery.type: unknown node type 'teleport'" in result.output


def test_process_agi_runs_the_survey_over_pyst2() -> None:
    env = "agi_request: callcenter\nagi_channel: Local/5551234@from-pstn-00000000;2\nagi_uniqueid: 1795.1\n"
    env += "agi_callerid: 5551234\nagi_arg_1: 1001\n\n"
    replies = ["200 result=1 (1795.0)", "200 result=5", "200 result=0 endpos=8000",
               "200 result=1", "200 result=1", "200 result=1"]
    stdin = io.StringIO(env + "\n".join(replies) + "\n")
    stdout = io.StringIO()
    agi = AGI(stdin=stdin, stdout=stdout, stderr=io.StringIO())
    events: list[dict[str, Any]] = []

    async def publish(event: dict[str, Any]) -> None:
        events.append(event)

    outcome = asyncio.run(run_process_agi(
        agi, "survey", FlowLibrary(FLOWS), CALENDAR, publish, InMemoryDirectory(),
        "pbx1", "support", "ivr-transfer", 5.0))
    sent = stdout.getvalue().splitlines()
    assert sent[0] == 'GET VARIABLE "CHANNEL(linkedid)"' and sent[-1] == "HANGUP"
    scored = [e for e in events if e["type"] == "survey.scored"]
    assert [(e["call_id"], e["agent"], e["score"]) for e in scored] == [("1795.0", "1001", 5)]
    assert not outcome.fallback

"""``callcenter replay FILE``: AMI events in, the tracker's domain events out as JSONL."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer


def replay(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="JSON array, JSONL or raw AMI capture."),
    pbx: str = typer.Option("pbx1", help="PBX name put on every event."),
) -> None:
    """Read AMI events from FILE and print the domain events as JSONL, in order."""
    from cti.replay import replay_file

    out = sys.stdout
    for event in replay_file(file, pbx=pbx):
        out.write(json.dumps(event, ensure_ascii=False, separators=(",", ":")) + "\n")


def register(app: typer.Typer) -> None:
    app.command()(replay)

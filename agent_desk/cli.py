"""The ``callcenter`` command line.

Commands owned by one area live beside this file as ``cli_<area>.py`` modules, each with a
``register(app)`` function; they are found and attached here so that this file stays small.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import sys
from pathlib import Path

import typer

import agent_desk

app = typer.Typer(
    help="Call-center CTI + CRM platform beside an Asterisk PBX. Settings come from CC_* variables or .env.",
    no_args_is_help=True,
    add_completion=False,
)


@app.command()
def replay(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="JSON array, JSONL or raw AMI capture."),
    pbx: str = typer.Option("pbx1", help="PBX name put on every event."),
) -> None:
    """Read AMI events from FILE and print the domain events as JSONL, in order."""
    from cti.replay import replay_file

    out = sys.stdout
    for event in replay_file(file, pbx=pbx):
        out.write(json.dumps(event, ensure_ascii=False, separators=(",", ":")) + "\n")


def _register_area_commands() -> None:
    for info in pkgutil.iter_modules(agent_desk.__path__):
        if info.name.startswith("cli_"):
            module = importlib.import_module(f"agent_desk.{info.name}")
            module.register(app)


_register_area_commands()


def main() -> None:
    app()


if __name__ == "__main__":
    main()

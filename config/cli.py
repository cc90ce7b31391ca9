"""``callcenter settings``: every setting with its value in effect, or the reference page."""

from __future__ import annotations

from typing import Annotated

import typer

from config import get_settings
from config.reference import current, markdown


def register(app: typer.Typer) -> None:
    @app.command("settings")
    def settings_command(
        as_markdown: Annotated[
            bool, typer.Option("--markdown", help="Print the reference of every setting (docs/settings.md).")
        ] = False,
    ) -> None:
        """Every CC_ setting and the value in effect (secrets masked)."""
        if as_markdown:
            typer.echo(markdown(), nl=False)
            return
        for name, value in current(get_settings()):
            typer.echo(f"{name}={value}")

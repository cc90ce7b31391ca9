"""The ``callcenter`` command line.

Each area keeps its own commands in ``<area>/cli.py`` (``crm_core/cli.py`` holds ``import``, ``export``,
``migrate`` and ``user``; ``cti/cli.py`` holds ``replay`` ...), each with a ``register(app)`` function.
The composition root's own commands (``serve``, ``demo``, ``bench``) live beside this file as
``cli_<name>.py``. Both kinds are found and attached here, so that this file stays small; what an area's
commands need from another area (the IVR's process AGI publishes on the event bus) is handed to its
``register`` here, so that no area imports another.
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
from collections.abc import Callable
from typing import Any

import typer

import agent_desk
from config import Settings

# The areas below the web tier, in the order of the layering (docs/architecture.md, section 1); `config` is
# the lowest, read by all.
AREAS = ("config", "crm_core", "cti", "ivr", "recordings", "stats")

app = typer.Typer(
    help="Call-center CTI + CRM platform beside an Asterisk PBX. Settings come from CC_* variables or .env.",
    no_args_is_help=True,
    add_completion=False,
)


def bus_publisher(settings: Settings) -> Callable[[dict[str, Any]], Any] | None:
    """The event bus's publish when ``CC_REDIS_URL`` names one (a separate process reaches no other bus)."""
    if not settings.redis_url:
        return None
    from cti.bus import make_bus

    return make_bus(settings).publish


# Keyword arguments an area's ``register`` takes besides the app.
WIRING: dict[str, dict[str, Any]] = {"ivr": {"make_publisher": bus_publisher}}


def area_command_modules() -> list[str]:
    """The modules that register commands: every area's ``cli`` module, then ``agent_desk.cli_*``."""
    names = [f"{area}.cli" for area in AREAS if importlib.util.find_spec(f"{area}.cli") is not None]
    names += [f"agent_desk.{info.name}" for info in pkgutil.iter_modules(agent_desk.__path__)
              if info.name.startswith("cli_")]
    return names


def _register_area_commands() -> None:
    for name in area_command_modules():
        module = importlib.import_module(name)
        module.register(app, **WIRING.get(name.split(".")[0], {}))


_register_area_commands()


def main() -> None:
    app()


if __name__ == "__main__":
    main()

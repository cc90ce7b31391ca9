"""The ``callcenter`` entry point finds each area's commands in that area, and no area's CLI reaches up."""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

from typer.testing import CliRunner

from agent_desk.cli import AREAS, WIRING, app, area_command_modules, bus_publisher
from config import Settings

ROOT = Path(__file__).resolve().parent.parent
# command -> the module that must define it
HOMES = {
    "import": "crm_core/cli.py",
    "export": "crm_core/cli.py",
    "migrate": "crm_core/cli.py",
    "user": "crm_core/cli.py",
    "replay": "cti/cli.py",
    "ivr": "ivr/cli.py",
    "agi": "ivr/cli.py",
    "recordings": "recordings/cli.py",
    "serve": "agent_desk/cli_serve.py",
    "demo": "agent_desk/cli_serve.py",
    "bench": "agent_desk/cli_serve.py",
    "settings": "config/cli.py",
}


def imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def test_every_command_is_listed_by_the_entry_point() -> None:
    result = CliRunner().invoke(app, ["--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    listed = {line.split()[1] for line in result.output.splitlines() if line.startswith("│ ") and len(line.split()) > 2}
    assert set(HOMES) <= listed, sorted(set(HOMES) - listed)


def test_each_command_lives_in_its_area() -> None:
    for command, home in HOMES.items():
        source = (ROOT / home).read_text(encoding="utf-8")
        assert f'"{command}"' in source or f"def {command}(" in source, (command, home)
    modules = area_command_modules()
    assert {"crm_core.cli", "cti.cli", "ivr.cli", "recordings.cli", "agent_desk.cli_serve"} <= set(modules)
    assert not any(name.startswith("agent_desk.cli_") and name != "agent_desk.cli_serve" for name in modules)


def test_an_area_cli_imports_only_lower_layers() -> None:
    for area in AREAS:
        spec = importlib.util.find_spec(f"{area}.cli")
        if spec is None or spec.origin is None:
            continue
        others = set(AREAS) - {area, "crm_core", "config"}  # config is read by every area
        reached = imported_packages(Path(spec.origin)) & ({"agent_desk"} | others)
        assert not reached, f"{area}/cli.py imports {sorted(reached)}"


def test_the_process_agi_publishes_on_the_bus_only_when_one_is_configured() -> None:
    assert WIRING["ivr"]["make_publisher"] is bus_publisher
    assert bus_publisher(Settings(redis_url="")) is None
    publish = bus_publisher(Settings(redis_url="redis://127.0.0.1:1/0"))
    assert callable(publish) and publish.__name__ == "publish"

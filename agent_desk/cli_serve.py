"""``callcenter serve``, ``callcenter demo`` and ``callcenter bench``."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path
from typing import Any

import typer

from config import Settings, get_settings

BENCH_DIR = Path(__file__).resolve().parent.parent / "bench"


def _serve(settings: Settings, demo: bool, demo_pbx_info: Any = None) -> None:
    import uvicorn

    from agent_desk.app import create_app
    from agent_desk.runtime import build_runtime

    runtime = build_runtime(settings, demo=demo)
    runtime.demo_pbx_info = demo_pbx_info
    app = create_app(settings, runtime)
    # per-message compression halves fan-out capacity; desk frames are small JSON
    config = uvicorn.Config(
        app, host=settings.http_host, port=settings.http_port, log_level="info", ws_per_message_deflate=False
    )
    # Server.run picks uvloop (installed with uvicorn[standard]) like `uvicorn` itself does
    uvicorn.Server(config).run()


def serve() -> None:
    """Run the web server, AMI bridge, FastAGI server and statistics writer in one process."""
    _serve(get_settings(), demo=False)


def demo(
    customers: int = typer.Option(0, help="Customers seeded into an empty demo database (0: CC_DEMO_CUSTOMERS)."),
    pbx: str = typer.Option(
        "",
        help="simulator (the built-in PBX simulator) or asterisk (the real Asterisk of asterisk-dev, "
        "started with asterisk-dev/rootfs.sh up: needs root). Default: CC_DEMO_PBX (simulator).",
    ),
) -> None:
    """Run `serve` with seeded demo data (SQLite, in-process bus) and demo traffic on a PBX.

    With --pbx asterisk the simulated agents 1001..1006 and callers run on a real Asterisk, and
    extensions 1007..1010 are left for you to take real calls in the browser softphone.
    """
    settings = get_settings()
    if customers:
        settings = settings.model_copy(update={"demo_customers": customers})
    choice = pbx or settings.demo_pbx
    if choice == "simulator":
        _serve(settings.model_copy(update={"demo_pbx": "simulator"}), demo=True)
    elif choice == "asterisk":
        _demo_on_asterisk(settings)
    else:
        raise typer.BadParameter(f"--pbx must be simulator or asterisk, not {choice!r}")


def _demo_on_asterisk(settings: Settings) -> None:
    from agent_desk.demo_pbx import DemoAsterisk, DemoPBXError, demo_settings, open_calendar_file

    asterisk = DemoAsterisk.from_settings(settings)
    try:
        env = asterisk.up()
        demo = open_calendar_file(demo_settings(settings, env))
    except DemoPBXError as exc:
        asterisk.down()
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    try:
        _serve(demo, demo=True, demo_pbx_info=asterisk.info())
    finally:
        if asterisk.started:
            typer.echo(f"正在停止 Asterisk / stopping Asterisk (asterisk-dev instance {asterisk.instance})")
        asterisk.down()


def bench(
    name: str = typer.Argument(..., help="Benchmark name: a script in bench/ (ingest, lookup, report, ...)."),
    args: list[str] = typer.Argument(None, help="Arguments passed to the benchmark script."),
) -> None:
    """Run a benchmark script from bench/ and print its figures."""
    script = BENCH_DIR / f"{name}.py"
    if not script.is_file():
        known = ", ".join(sorted(p.stem for p in BENCH_DIR.glob("*.py") if not p.stem.startswith("_")))
        raise typer.BadParameter(f"unknown benchmark {name!r}; known: {known}")
    sys.argv = [str(script), *(args or [])]
    runpy.run_path(str(script), run_name="__main__")


def register(app: typer.Typer) -> None:
    app.command()(serve)
    app.command()(demo)
    app.command()(bench)

"""``callcenter serve``, ``callcenter demo`` and ``callcenter bench``."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

import typer

from config import Settings, get_settings

BENCH_DIR = Path(__file__).resolve().parent.parent / "bench"


def _serve(settings: Settings, demo: bool) -> None:
    import uvicorn

    from agent_desk.app import create_app
    from agent_desk.runtime import build_runtime

    runtime = build_runtime(settings, demo=demo)
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
) -> None:
    """Run `serve` against the built-in PBX simulator with seeded demo data (SQLite, in-process bus)."""
    settings = get_settings()
    if customers:
        settings = settings.model_copy(update={"demo_customers": customers})
    _serve(settings, demo=True)


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

"""``callcenter serve``, ``callcenter demo`` and ``callcenter bench``."""

from __future__ import annotations

import logging
import runpy
import shutil
import sys
from pathlib import Path
from typing import Any

import typer

from config import Settings, get_settings

BENCH_DIR = Path(__file__).resolve().parent.parent / "bench"


def build_demo_runtime(settings: Settings) -> Any:
    """The runtime of ``callcenter demo``: with the PBX simulator, voicemail left by its callers gets
    stand-in messages in the spool (the simulator writes none), so the voicemail pages list them."""
    from agent_desk.runtime import build_runtime
    from recordings.demo_audio import DemoVoicemailIndex

    runtime = build_runtime(settings, demo=True)
    if runtime.simulator is not None:
        runtime.voicemail = DemoVoicemailIndex(runtime.settings.voicemail_dir, runtime.settings.pbx)
    return runtime


def demo_banner(settings: Settings) -> str:
    """Who is who in the demo, in both languages (the console is read before any language is chosen)."""
    agents = max(0, min(10, settings.demo_agents))
    simulated = f"1001-{1000 + agents}" if agents else "-"
    free = f"{1001 + agents}-1010" if agents < 10 else "-"
    url = f"http://{settings.http_host}:{settings.http_port}"
    pbx = "Asterisk (asterisk-dev)" if settings.demo_pbx == "asterisk" else "内置模拟交换机 / built-in PBX simulator"
    return "\n".join(
        [
            f"演示 / demo: {url}  ({pbx})",
            f"模拟坐席 / simulated agents: {simulated} — 由模拟器接听来电 / answered by the simulator, "
            "不要用这些账号登录 / do not log in as them",
            f"空闲坐席 / free for you: {free} — 以该工号登录，在坐席台绑定分机并签入队列 / log in as one, "
            "bind the extension on the desk and log in to the queues",
            "管理员 / administrator: admin, 班长 / supervisor: supervisor",
            "密码在数据库创建时显示一次；重新生成数据和密码: callcenter demo --reset / the password is shown "
            "once, when the database is created; new data and passwords: callcenter demo --reset",
        ]
    )


def reset_demo_data(settings: Settings) -> list[Path]:
    """Remove the demo's database and what was made with it (journal, caches, and the recording and
    voicemail spools when they lie inside the data folder), so the next start seeds everything anew."""
    url = settings.effective_database_url
    if not url.startswith("sqlite:///"):
        raise typer.BadParameter(
            "--reset 只能用于演示用的 SQLite 数据库 / --reset works on the demo's SQLite database only"
        )
    data = settings.data_dir.resolve()
    database = Path(url.removeprefix("sqlite:///"))
    targets = [database, *(database.with_name(database.name + s) for s in ("-wal", "-shm", "-journal"))]
    targets += [settings.journal_dir if str(settings.journal_dir) not in ("", ".") else data / "journal"]
    targets += [data / "recordings-cache"]
    targets += [p for p in (settings.recordings_dir, settings.voicemail_dir) if p.resolve().is_relative_to(data)]
    removed = []
    for path in targets:
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
        else:
            continue
        removed.append(path)
    return removed


def _serve(settings: Settings, demo: bool, demo_pbx_info: Any = None) -> None:
    import uvicorn

    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True
    )

    from agent_desk.app import create_app
    from agent_desk.runtime import build_runtime

    runtime = build_demo_runtime(settings) if demo else build_runtime(settings)
    runtime.demo_pbx_info = demo_pbx_info
    app = create_app(settings, runtime)
    # per-message compression halves fan-out capacity; desk frames are small JSON
    config = uvicorn.Config(
        app,
        host=settings.http_host,
        port=settings.http_port,
        log_level=settings.log_level,
        ws_per_message_deflate=False,
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
    reset: bool = typer.Option(
        False, "--reset", help="Delete the demo data first: it is seeded anew and new passwords are printed."
    ),
) -> None:
    """Run `serve` with seeded demo data (SQLite, in-process bus) and demo traffic on a PBX.

    Agents 1001..1006 are simulated (their calls are answered by the PBX side), 1007..1010 are free
    for you: log in as one, bind the extension on the desk, log in to the queues. With --pbx asterisk
    the callers and simulated agents run on a real Asterisk and you take calls in the browser softphone.
    The password of the demo users is printed once, when the database is created; --reset makes new ones.
    """
    settings = get_settings()
    if customers:
        settings = settings.model_copy(update={"demo_customers": customers})
    if reset:
        for path in reset_demo_data(settings):
            typer.echo(f"已删除 / removed: {path}")
    choice = pbx or settings.demo_pbx
    if choice in ("simulator", "asterisk"):
        typer.echo(demo_banner(settings.model_copy(update={"demo_pbx": choice})))
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

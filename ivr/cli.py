"""``callcenter agi FLOW`` (process AGI) and ``callcenter ivr check`` (validate the flow files).

The IVR does not know the event bus: the entry point hands ``register`` a ``make_publisher`` that turns the
settings into a publish function (the bus of ``CC_REDIS_URL``); without one, events go to stderr.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import typer

from config import Settings, get_settings

CHECK_HELP = "Validate every IVR flow file and print line-numbered errors / 校验 IVR 流程文件"

Publish = Callable[[dict[str, Any]], Awaitable[Any]]
PublisherFactory = Callable[[Settings], Publish | None]


def register(app: typer.Typer, make_publisher: PublisherFactory | None = None) -> None:
    ivr_app = typer.Typer(help="IVR flows / IVR 流程", no_args_is_help=True)
    ivr_app.command("check", help=CHECK_HELP)(check)
    app.add_typer(ivr_app, name="ivr")

    def agi(flow: str = typer.Argument(..., help="Flow name, e.g. ivr / survey.")) -> None:
        """Asterisk runs this with the AGI environment on stdin; commands go to stdout."""
        settings = get_settings()
        publish = make_publisher(settings) if make_publisher is not None else None
        run_agi(flow, settings, publish or to_stderr)

    app.command("agi", help="Run an IVR flow as a process AGI script (pyst2) / 以进程 AGI 方式运行流程")(agi)


def check(
    folder: Path | None = typer.Option(None, help="Flows folder (default: CC_IVR_FLOWS_DIR)."),
    calendar: Path | None = typer.Option(None, help="Calendar file (default: CC_IVR_CALENDAR_FILE)."),
    language: str = typer.Option("", help="zh-CN or en (default: CC_LANGUAGE)."),
) -> None:
    """Print every problem as FILE:LINE: FIELD: MESSAGE; exit 1 if any flow is invalid."""
    from ivr.calendar import CalendarError, load_calendar
    from ivr.flow import FlowLibrary

    settings = get_settings()
    library = FlowLibrary(folder or settings.ivr_flows_dir)
    lang = language or settings.language
    failed = False
    report = library.check_all()
    if not report:
        typer.echo(f"{library.folder}: 没有流程文件 / no flow files")
    for name, problem in report.items():
        if problem is None:
            typer.echo(f"OK  {name}.yaml")
            continue
        failed = True
        for line in problem.lines(lang):
            typer.echo(line, err=True)
    calendar_path = calendar or settings.ivr_calendar_file
    try:
        load_calendar(calendar_path)
        typer.echo(f"OK  {calendar_path.name}")
    except (CalendarError, OSError) as exc:
        failed = True
        typer.echo(f"{calendar_path.name}: {exc}", err=True)
    raise typer.Exit(1 if failed else 0)


def run_agi(flow: str, settings: Settings, publish: Publish) -> None:
    from asterisk.agi import AGI

    from ivr.calendar import CalendarFile
    from ivr.directory import InMemoryDirectory
    from ivr.flow import FlowLibrary
    from ivr.process_agi import run_process_agi

    channel = AGI()
    try:
        calendar = CalendarFile(settings.ivr_calendar_file).current()
    except Exception:
        calendar = None
    asyncio.run(
        run_process_agi(
            channel,
            flow,
            FlowLibrary(settings.ivr_flows_dir),
            calendar,
            publish,
            InMemoryDirectory(),
            settings.pbx,
            settings.ivr_fallback_queue,
            settings.ivr_transfer_context,
            settings.agi_session_timeout_s,
        )
    )


async def to_stderr(event: dict[str, Any]) -> None:
    """Without a bus, events go to stderr: Asterisk's verbose log."""
    sys.stderr.write(json.dumps(event, ensure_ascii=False) + "\n")

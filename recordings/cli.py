"""``callcenter recordings prune [--dry-run]`` and ``callcenter recordings scan``."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import typer
from sqlalchemy.orm import Session, sessionmaker

from config import get_settings

recordings_app = typer.Typer(help="Recordings: index the recording folder, apply retention rules.")


def _factory() -> sessionmaker[Session]:
    from sqlalchemy import inspect

    from crm_core.db import make_engine, make_sessionmaker

    engine = make_engine(get_settings().effective_database_url)
    if not inspect(engine).has_table("recordings"):
        typer.echo("数据库尚未初始化，请先运行 callcenter migrate / run `callcenter migrate` first", err=True)
        raise typer.Exit(2)
    return make_sessionmaker(engine)


@recordings_app.command()
def prune(
    dry_run: bool = typer.Option(False, "--dry-run", help="Only list the recordings whose audio would go."),
) -> None:
    """Delete audio older than its queue's retention rule; the call records stay."""
    from recordings.retention import prune as run_prune

    settings = get_settings()
    with _factory()() as session:
        report = run_prune(session, settings, datetime.now(UTC).replace(tzinfo=None), dry_run=dry_run)
        if dry_run:
            session.rollback()
        else:
            session.commit()
    for item in report.items:
        typer.echo(json.dumps(item, ensure_ascii=False))
    verb = "would delete" if dry_run else "deleted"
    count = len(report.items) if dry_run else report.deleted
    typer.echo(f"{verb} {count} recordings ({report.freed_bytes} bytes freed)", err=True)
    for error in report.errors:
        typer.echo(f"error: {error}", err=True)
    if report.errors:
        raise typer.Exit(1)


@recordings_app.command()
def scan() -> None:
    """Index the recording folder: add new files, note changed and vanished ones, reconcile."""
    from recordings.indexer import RecordingIndexService

    settings = get_settings()
    service = RecordingIndexService(_factory(), settings)
    report = asyncio.run(service.scan())
    typer.echo(
        json.dumps(
            {
                "found": report.found,
                "added": report.added,
                "updated": report.updated,
                "vanished": report.vanished,
                "invalid": report.invalid,
                "ready": len(report.ready_events),
            }
        )
    )


def register(app: typer.Typer) -> None:
    app.add_typer(recordings_app, name="recordings")

"""Retention: per-queue rules delete old audio, keep every row; a dry run only lists."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from test_recordings_support import write_tone

from config import Settings
from recordings.models import Recording, RetentionRule
from recordings.retention import RetentionCandidate, plan_prune, prune, run_retention_forever
from recordings.transcode import recordings_cache_dir

pytest_plugins = ["test_recordings_support"]
NOW = datetime(2026, 11, 23, 12, 0, 0)


def _candidate(rec_id: int, queue: str | None, age_days: float) -> RetentionCandidate:
    return RetentionCandidate(rec_id, f"r{rec_id}.wav", queue, NOW - timedelta(days=age_days))


def test_plan_follows_the_queue_rule_then_the_default() -> None:
    candidates = [
        _candidate(1, "support", 31),  # support keeps 30 days: due
        _candidate(2, "support", 29),
        _candidate(3, "sales", 4000),  # sales: 0 = forever
        _candidate(4, "vip", 91),  # no rule of its own: default "*" 90 days
        _candidate(5, None, 89),
    ]
    rules = {"support": 30, "sales": 0, "*": 90}
    assert [c.id for c in plan_prune(candidates, rules, default_days=0, now=NOW)] == [1, 4]
    assert [c.id for c in plan_prune(candidates, {"support": 30}, default_days=0, now=NOW)] == [1]
    assert [c.id for c in plan_prune(candidates, {}, default_days=10, now=NOW)] == [1, 2, 3, 4, 5]


def _seed(factory: sessionmaker[Session], settings: Settings) -> dict[str, int]:
    ids: dict[str, int] = {}
    with factory() as session:
        session.add_all(
            [RetentionRule(queue="support", keep_days=30), RetentionRule(queue="sales", keep_days=0)]
        )
        for name, queue, age in [
            ("old-support", "support", 40),
            ("new-support", "support", 5),
            ("old-sales", "sales", 400),
        ]:
            path = write_tone(settings.recordings_dir / f"{name}.wav", 0.2)
            row = Recording(
                file_name=path.name,
                status="ready",
                call_id=f"c-{name}",
                queue=queue,
                started_at=NOW - timedelta(days=age),
                size_bytes=path.stat().st_size,
            )
            session.add(row)
            session.flush()
            ids[name] = row.id
        session.commit()
    return ids


def test_dry_run_lists_and_deletes_nothing(db_factory: sessionmaker[Session], rec_settings: Settings) -> None:
    ids = _seed(db_factory, rec_settings)
    with db_factory() as session:
        report = prune(session, rec_settings, NOW, dry_run=True)
        session.commit()
    assert [item["id"] for item in report.items] == [ids["old-support"]]
    assert report.deleted == 0
    assert (rec_settings.recordings_dir / "old-support.wav").exists()
    with db_factory() as session:
        assert {r.status for r in session.scalars(select(Recording))} == {"ready"}


def test_prune_deletes_audio_and_cache_but_keeps_the_call_record(
    db_factory: sessionmaker[Session], rec_settings: Settings
) -> None:
    ids = _seed(db_factory, rec_settings)
    cache = recordings_cache_dir(rec_settings)
    cache.mkdir(parents=True)
    (cache / f"rec-{ids['old-support']}-1-2.mp3").write_bytes(b"x")
    (cache / f"rec-{ids['new-support']}-1-2.mp3").write_bytes(b"x")
    with db_factory() as session:
        report = prune(session, rec_settings, NOW, dry_run=False)
        session.commit()
    assert (report.deleted, report.errors) == (1, [])
    assert report.freed_bytes == (rec_settings.recordings_dir / "new-support.wav").stat().st_size
    assert not (rec_settings.recordings_dir / "old-support.wav").exists()
    assert (rec_settings.recordings_dir / "new-support.wav").exists()
    assert (rec_settings.recordings_dir / "old-sales.wav").exists()
    assert sorted(p.name for p in cache.iterdir()) == [f"rec-{ids['new-support']}-1-2.mp3"]
    with db_factory() as session:
        rows = {r.file_name: r for r in session.scalars(select(Recording))}
    assert len(rows) == 3
    gone = rows["old-support.wav"]
    assert (gone.status, gone.call_id, gone.deleted_at) == ("deleted", "c-old-support", NOW)
    # a second run finds nothing more to do
    with db_factory() as session:
        assert prune(session, rec_settings, NOW, dry_run=False).deleted == 0


def test_a_name_that_leaves_the_folder_is_never_deleted(
    db_factory: sessionmaker[Session], rec_settings: Settings, tmp_path: Path
) -> None:
    victim = write_tone(tmp_path / "victim.wav", 0.1)
    with db_factory() as session:
        session.add(
            Recording(file_name="../victim.wav", status="ready", queue="q", started_at=NOW - timedelta(999))
        )
        session.commit()
        report = prune(
            session, rec_settings.model_copy(update={"recordings_keep_days": 1}), NOW, dry_run=False
        )
    assert report.deleted == 0 and "../victim.wav" in report.errors[0]
    assert victim.exists()


async def test_serve_schedule_prunes_and_keeps_running(
    db_factory: sessionmaker[Session], rec_settings: Settings
) -> None:
    old = write_tone(rec_settings.recordings_dir / "old.wav", 0.1)
    with db_factory() as session:
        session.add(RetentionRule(queue="*", keep_days=7))
        session.add(
            Recording(file_name="old.wav", status="ready", queue="support", started_at=datetime(2020, 1, 1))
        )
        session.commit()
    task = asyncio.create_task(run_retention_forever(db_factory, rec_settings, interval_s=0.01))

    def status() -> str:
        with db_factory() as session:
            return session.scalars(select(Recording.status)).one()

    for _ in range(500):
        if status() == "deleted":
            break
        await asyncio.sleep(0.01)
    assert not task.done()  # a schedule, not a one-off
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert status() == "deleted"
    assert not old.exists()

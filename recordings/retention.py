"""Retention: per queue, keep a recording's audio N days, then delete the audio and keep the row.

The rule of a queue is its row in ``recording_retention_rules``; queue ``*`` is the default, and
without it ``settings.recordings_keep_days`` (0 keeps audio forever). A department's own rules (set by
its supervisors, keyed ``(department_id, queue)``) come first for its recordings, then the center-wide
ones (keyed by the queue). ``plan_prune`` is pure; ``prune`` applies it (or, on a dry run, only lists
what would go), for every recording or for some departments' only.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from config import Settings
from recordings.index import UnsafeFileName, safe_relative_name
from recordings.models import Recording, RecordingStatus, RetentionRule
from recordings.transcode import drop_cached, recordings_cache_dir

log = logging.getLogger(__name__)
DEFAULT_RULE = "*"


@dataclass(frozen=True, slots=True)
class RetentionCandidate:
    id: int
    file_name: str
    queue: str | None
    started_at: datetime
    size_bytes: int | None = None
    department_id: int | None = None


@dataclass
class PruneReport:
    dry_run: bool
    items: list[dict[str, Any]] = field(default_factory=list)
    deleted: int = 0
    freed_bytes: int = 0
    errors: list[str] = field(default_factory=list)


RuleKey = str | tuple[int, str]  # a queue (center-wide) or (department id, queue)


def keep_days_for(
    queue: str | None, rules: Mapping[RuleKey, int], default_days: int, department_id: int | None = None
) -> int:
    keys: list[RuleKey] = []
    if department_id is not None:
        keys += [(department_id, queue)] if queue else []
        keys.append((department_id, DEFAULT_RULE))
    keys += [queue] if queue else []
    for key in keys:
        if key in rules:
            return rules[key]
    return rules.get(DEFAULT_RULE, default_days)


def plan_prune(
    candidates: Iterable[RetentionCandidate], rules: Mapping[RuleKey, int], default_days: int, now: datetime
) -> list[RetentionCandidate]:
    """The recordings whose audio is older than their queue's rule allows (keep_days <= 0: forever)."""
    due: list[RetentionCandidate] = []
    for candidate in candidates:
        keep = keep_days_for(candidate.queue, rules, default_days, candidate.department_id)
        if keep > 0 and candidate.started_at < now - timedelta(days=keep):
            due.append(candidate)
    return due


def load_rules(session: Session) -> dict[RuleKey, int]:
    rules: dict[RuleKey, int] = {}
    for rule in session.scalars(select(RetentionRule)):
        rules[rule.queue if rule.department_id is None else (rule.department_id, rule.queue)] = rule.keep_days
    return rules


def _candidates(session: Session, departments: Collection[int] | None) -> Iterable[RetentionCandidate]:
    query = select(
        Recording.id,
        Recording.file_name,
        Recording.queue,
        Recording.started_at,
        Recording.created_at,
        Recording.size_bytes,
        Recording.department_id,
    ).where(Recording.status != RecordingStatus.DELETED.value)
    if departments is not None:
        query = query.where(Recording.department_id.in_(sorted(departments)))
    for rec_id, name, queue, started, created, size, dept in session.execute(
        query.execution_options(yield_per=5000)
    ):
        yield RetentionCandidate(rec_id, name, queue, started or created, size, dept)


def prune(
    session: Session,
    settings: Settings,
    now: datetime,
    dry_run: bool,
    departments: Collection[int] | None = None,
) -> PruneReport:
    """Delete (or, on a dry run, list) the audio that retention rules say is due. Rows are kept.

    ``departments``: only those departments' recordings (a supervisor's preview); ``None``: all."""
    report = PruneReport(dry_run=dry_run)
    rules = load_rules(session)
    due = plan_prune(list(_candidates(session, departments)), rules, settings.recordings_keep_days, now)
    cache_dir = recordings_cache_dir(settings)
    for candidate in due:
        report.items.append(
            {
                "id": candidate.id,
                "file_name": candidate.file_name,
                "queue": candidate.queue,
                "started_at": candidate.started_at.isoformat(),
                "size_bytes": candidate.size_bytes,
            }
        )
        if dry_run:
            continue
        try:
            path = settings.recordings_dir / safe_relative_name(candidate.file_name)
            path.unlink(missing_ok=True)
        except (UnsafeFileName, OSError) as exc:
            report.errors.append(f"{candidate.file_name}: {exc}")
            continue
        drop_cached(cache_dir, "rec", str(candidate.id))
        row = session.get(Recording, candidate.id)
        if row is not None:
            row.status, row.deleted_at = RecordingStatus.DELETED.value, now
            kept = keep_days_for(candidate.queue, rules, settings.recordings_keep_days, candidate.department_id)
            row.problem = f"retention: kept {kept} days"
        report.deleted += 1
        report.freed_bytes += candidate.size_bytes or 0
    session.flush()
    return report


async def run_retention_forever(
    factory: sessionmaker[Session], settings: Settings, interval_s: float
) -> None:
    """Apply the retention rules every ``interval_s`` seconds (a task of ``serve``)."""
    while True:
        try:
            report = await asyncio.to_thread(_prune_once, factory, settings)
            if report.deleted or report.errors:
                log.info("retention deleted %d recordings, %d errors", report.deleted, len(report.errors))
        except Exception:  # the schedule must survive one failed round
            log.exception("recording retention failed")
        await asyncio.sleep(interval_s)


def _prune_once(factory: sessionmaker[Session], settings: Settings) -> PruneReport:
    with factory() as session:
        report = prune(session, settings, datetime.now(UTC).replace(tzinfo=None), dry_run=False)
        session.commit()
    return report

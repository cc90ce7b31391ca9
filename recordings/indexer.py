"""The recording index shell: applies the pure indexer's facts and the folder scan to the database.

Both feeds are idempotent: a fact or a file seen twice changes nothing the second time. The row of a
file is keyed by its name relative to the recording folder, whichever feed sees it first.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import insert, or_, select
from sqlalchemy.orm import Session, sessionmaker

from config import Settings
from recordings.audio import AudioProblem, probe_file
from recordings.demo_audio import write_demo_recording
from recordings.index import (
    FileStat,
    RecordingIndexer,
    RowFacts,
    UnsafeFileName,
    derive_status,
    is_audio_name,
    parse_recording_name,
    plan_scan,
    safe_relative_name,
)
from recordings.models import Recording, RecordingStatus

__all__ = ["RecordingIndexService", "RecordingIndexer", "ScanReport", "iter_folder"]

log = logging.getLogger(__name__)
Publish = Callable[[dict[str, Any]], Awaitable[Any]]
_DETAILS = ("direction", "agent", "queue", "caller_number", "callee_number", "customer_id", "satisfaction")
# Rows whose status can change with time alone (to ``missing``); others change only with a fact or a scan.
_WAITING = (RecordingStatus.RECORDING.value, RecordingStatus.PENDING.value)
_BATCH = 2000
_TABLE = Recording.metadata.tables[Recording.__tablename__]  # Core inserts: 100,000 files at a time


@dataclass
class ScanReport:
    found: int = 0
    added: int = 0
    updated: int = 0
    vanished: int = 0
    invalid: int = 0
    ready_events: list[dict[str, Any]] = field(default_factory=list)


def to_datetime(value: Any) -> datetime | None:
    """Naive UTC from epoch seconds or an ISO-8601 string (the bus envelope's ``ts``)."""
    if value is None or value == "":
        return None
    if isinstance(value, int | float):
        return datetime.fromtimestamp(float(value), UTC).replace(tzinfo=None)
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.astimezone(UTC).replace(tzinfo=None) if parsed.tzinfo else parsed


def _epoch(value: datetime | None) -> float | None:
    return None if value is None else value.replace(tzinfo=UTC).timestamp()


def iter_folder(root: Path) -> Iterator[FileStat]:
    """Audio files under ``root`` (hidden and temporary files skipped), names relative to ``root``."""
    stack = [(root, "")]
    while stack:
        folder, prefix = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            if entry.name.startswith("."):
                continue
            name = prefix + entry.name
            if entry.is_dir(follow_symlinks=False):
                stack.append((Path(entry.path), name + "/"))
            elif entry.is_file(follow_symlinks=False) and is_audio_name(entry.name):
                try:
                    safe_relative_name(name)
                except UnsafeFileName:
                    continue
                stat = entry.stat(follow_symlinks=False)
                yield FileStat(name, stat.st_size, stat.st_mtime_ns)


def resolve_agent(session: Session, agent: str) -> tuple[int | None, int | None]:
    """The user (and his department) an agent name on a call belongs to: agent number, extension or login."""
    from crm_core.models import User

    user = session.scalars(
        select(User).where(or_(User.agent_number == agent, User.extension == agent, User.username == agent))
    ).first()
    return (user.id, user.department_id) if user else (None, None)


class RecordingIndexService:
    """Feeds the recording index from the runtime: ``handle`` for AMI dicts and bus events, ``scan``."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        settings: Settings,
        publish: Publish | None = None,
        clock: Callable[[], float] = time.time,
        demo_audio: bool = False,
    ) -> None:
        """``demo_audio``: write a stand-in WAV for recordings whose file the PBX did not write
        (the demo's simulator writes none); never on a real PBX."""
        self.factory = factory
        self.settings = settings
        self.publish = publish
        self.clock = clock
        self.demo_audio = demo_audio
        self.core = RecordingIndexer(settings.recordings_pbx_dir)
        self._lock = asyncio.Lock()

    # -- feeds ----------------------------------------------------------------------------------
    async def handle(self, message: Mapping[str, Any]) -> None:
        """Take one raw AMI message (has ``Event``) or one domain event (has ``type``)."""
        work = self.on_ami(message) if "Event" in message else self._store(self.core.on_event(message))
        if work is not None:
            await work

    def on_ami(self, message: Mapping[str, Any]) -> Coroutine[Any, Any, None] | None:
        """Read one raw AMI message now, in the PBX's order (the pure index core), and return the database
        work it calls for, if any: most messages (a VarSet of another variable) call for none, so an AMI
        flood costs no task and no thread."""
        stamp = message.get("Timestamp")
        now = float(stamp) if isinstance(stamp, str | int | float) and _is_number(stamp) else self.clock()
        return self._store(self.core.on_ami(message, now))

    def _store(self, facts: list[dict[str, Any]]) -> Coroutine[Any, Any, None] | None:
        if not facts:
            return None

        async def store() -> None:
            await self._run(lambda session: self.apply(session, facts))

        return store()

    async def scan(self, folder: Path | None = None) -> ScanReport:
        root = folder or self.settings.recordings_dir
        return await self._run(lambda session: self.scan_sync(session, root))

    async def reconcile(self) -> list[dict[str, Any]]:
        return await self._run(lambda session: self.reconcile_sync(session, self.clock()))

    async def run_forever(self, interval_s: float) -> None:
        """Scan and reconcile every ``interval_s`` seconds (serve runs this as a task)."""
        while True:
            try:
                await self.scan()
            except Exception:  # a bad scan must not end the loop; it is retried next round
                log.exception("recording scan failed")
            await asyncio.sleep(interval_s)

    async def _run(self, work: Callable[[Session], Any]) -> Any:
        async with self._lock:
            result, ready = await asyncio.to_thread(self._in_session, work)
        if self.publish is not None:
            for event in ready:
                await self.publish(event)
        return result

    def _in_session(self, work: Callable[[Session], Any]) -> tuple[Any, list[dict[str, Any]]]:
        with self.factory() as session:
            result = work(session)
            ready = result.ready_events if isinstance(result, ScanReport) else result
            session.commit()
        return result, list(ready or [])

    # -- applying facts -------------------------------------------------------------------------
    def apply(self, session: Session, facts: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Apply facts from RecordingIndexer; returns the ``recording.ready`` events to publish."""
        ready: list[dict[str, Any]] = []
        now = self.clock()
        for fact in facts:
            kind = fact.get("fact")
            if kind in ("started", "stopped"):
                rows = [self._row_for(session, fact)]
            else:
                rows = list(session.scalars(select(Recording).where(Recording.call_id == fact["call_id"])))
            for row in rows:
                if kind == "started":
                    row.started_at = row.started_at or to_datetime(fact["ts"])
                    if row.ended_at is None and row.status not in (
                        RecordingStatus.INVALID,
                        RecordingStatus.DELETED,
                    ):
                        row.status = RecordingStatus.RECORDING.value
                elif kind == "stopped":
                    row.ended_at = to_datetime(fact["ts"])
                    if self.demo_audio:
                        self._write_demo_file(row)
                    self._refresh_file(row)
                elif kind == "call_ended":
                    row.call_ended_at = to_datetime(fact.get("ts")) or to_datetime(now)
                    self._refresh_file(row)
                self._copy_details(session, row, fact)
                event = self._update_status(row, now)
                if event:
                    ready.append(event)
            session.flush()
        return ready

    def _row_for(self, session: Session, fact: Mapping[str, Any]) -> Recording:
        row = session.scalars(select(Recording).where(Recording.file_name == fact["file_name"])).first()
        if row is None:
            row = Recording(file_name=fact["file_name"], status=RecordingStatus.RECORDING.value)
            session.add(row)
        for key in ("call_id", "uniqueid", "channel"):
            if fact.get(key):
                setattr(row, key, fact[key])
        session.flush()  # an id for the recording.ready event
        return row

    def _copy_details(self, session: Session, row: Recording, fact: Mapping[str, Any]) -> None:
        for key in _DETAILS:
            value = fact.get(key)
            if value is not None:
                setattr(row, key, value)
        if fact.get("agent") and row.agent_user_id is None:
            row.agent_user_id, row.department_id = resolve_agent(session, str(fact["agent"]))
        if row.pbx is None:
            row.pbx = self.settings.pbx

    def _write_demo_file(self, row: Recording) -> None:
        path = self.settings.recordings_dir / safe_relative_name(row.file_name)
        if not path.exists() and row.started_at and row.ended_at:
            write_demo_recording(path, (row.ended_at - row.started_at).total_seconds())

    def _refresh_file(self, row: Recording) -> None:
        """Look at the row's file on disk: size, mtime and, once it is whole, format and duration."""
        path = self.settings.recordings_dir / row.file_name
        try:
            stat = path.stat()
        except OSError:
            row.size_bytes = row.mtime_ns = None
            return
        if (row.size_bytes, row.mtime_ns) == (stat.st_size, stat.st_mtime_ns) and row.format:
            return
        row.size_bytes, row.mtime_ns = stat.st_size, stat.st_mtime_ns
        try:
            info = probe_file(path)
        except AudioProblem as problem:
            if row.status != RecordingStatus.RECORDING or row.ended_at is not None:
                row.status, row.problem = RecordingStatus.INVALID.value, f"{problem.code}: {problem}"[:200]
            return
        except OSError:
            return
        row.format, row.duration_s = info.format, info.duration_s
        row.sample_rate, row.channels, row.problem = info.sample_rate, info.channels, None
        if row.status == RecordingStatus.INVALID:
            row.status = RecordingStatus.PENDING.value  # the file was replaced by a good one

    def _update_status(self, row: Recording, now: float) -> dict[str, Any] | None:
        before = row.status
        facts = RowFacts(
            status=row.status or RecordingStatus.PENDING.value,
            has_file=row.size_bytes is not None,
            call_id=row.call_id,
            stopped_at=_epoch(row.ended_at or row.call_ended_at),
            started_at=_epoch(row.started_at),
        )
        row.status = derive_status(
            facts, now, self.settings.recordings_missing_grace_s, self.settings.recordings_max_s
        ).value
        if row.status == RecordingStatus.READY and before != RecordingStatus.READY:
            if row.id is None:
                return None  # published once the row has an id, on the next change
            stamp = row.ended_at or row.call_ended_at or to_datetime(now)
            return {
                "type": "recording.ready",
                "ts": stamp.replace(tzinfo=UTC).isoformat().replace("+00:00", "Z") if stamp else None,
                "pbx": row.pbx or self.settings.pbx,
                "call_id": row.call_id,
                "recording_id": row.id,
                "duration_s": row.duration_s,
            }
        return None

    # -- scanning -------------------------------------------------------------------------------
    def scan_sync(self, session: Session, root: Path) -> ScanReport:
        report = ScanReport()
        known: dict[str, tuple[int | None, int | None]] = {}
        deleted: set[str] = set()
        call_of_channel: dict[str, str] = {}
        for name, size, mtime, status, uniqueid, call_id in session.execute(
            select(
                Recording.file_name,
                Recording.size_bytes,
                Recording.mtime_ns,
                Recording.status,
                Recording.uniqueid,
                Recording.call_id,
            )
        ):
            known[name] = (size, mtime)
            if status == RecordingStatus.DELETED:
                deleted.add(name)
            if uniqueid and call_id:
                call_of_channel[uniqueid] = call_id
        found = list(iter_folder(root))
        report.found = len(found)
        plan = plan_scan(known, found)
        report.added = self._insert_new(session, root, plan.new, call_of_channel)
        report.invalid = session.info.pop("invalid_added", 0)
        touched = [s.file_name for s in plan.changed if s.file_name not in deleted] + [
            n for n in plan.vanished if n not in deleted
        ]
        for start in range(0, len(touched), _BATCH):
            names = touched[start : start + _BATCH]
            for row in session.scalars(select(Recording).where(Recording.file_name.in_(names))):
                self._refresh_file(row)
                if row.size_bytes is None and row.status != RecordingStatus.INVALID:
                    row.status, row.problem = RecordingStatus.MISSING.value, "file vanished from the folder"
                    continue
                event = self._update_status(row, self.clock())
                if event:
                    report.ready_events.append(event)
        report.updated = len(plan.changed)
        report.vanished = len(plan.vanished)
        session.flush()
        report.ready_events.extend(self.reconcile_sync(session, self.clock()))
        return report

    def _insert_new(
        self, session: Session, root: Path, new: list[FileStat], call_of_channel: dict[str, str]
    ) -> int:
        stamp = datetime.now(UTC).replace(tzinfo=None)
        folder = str(root)
        invalid = 0
        batch: list[dict[str, Any]] = []
        for stat in new:
            facts = parse_recording_name(stat.file_name)
            row: dict[str, Any] = {
                "file_name": stat.file_name,
                "size_bytes": stat.size,
                "mtime_ns": stat.mtime_ns,
                "uniqueid": facts.uniqueid,
                "queue": facts.queue,
                "pbx": self.settings.pbx,
                "call_id": call_of_channel.get(facts.uniqueid or ""),
                "started_at": to_datetime(stat.mtime_ns / 1e9),
                "created_at": stamp,
                "updated_at": stamp,
                "status": RecordingStatus.PENDING.value,
                "problem": None,
                "format": None,
                "duration_s": None,
                "sample_rate": None,
                "channels": None,
            }
            try:
                info = probe_file(os.path.join(folder, stat.file_name), stat.size)
                row.update(
                    format=info.format,
                    duration_s=info.duration_s,
                    sample_rate=info.sample_rate,
                    channels=info.channels,
                )
                row["status"] = (RecordingStatus.READY if row["call_id"] else RecordingStatus.UNLINKED).value
            except AudioProblem as problem:
                row["status"], row["problem"] = (
                    RecordingStatus.INVALID.value,
                    f"{problem.code}: {problem}"[:200],
                )
                invalid += 1
            except OSError:
                continue
            batch.append(row)
            if len(batch) >= _BATCH:
                session.execute(insert(_TABLE), batch)
                batch = []
        if batch:
            session.execute(insert(_TABLE), batch)
        session.info["invalid_added"] = invalid
        return len(new)

    def reconcile_sync(self, session: Session, now: float) -> list[dict[str, Any]]:
        """Re-derive the status of every open row: files that never came become ``missing``."""
        ready: list[dict[str, Any]] = []
        for row in session.scalars(select(Recording).where(Recording.status.in_(_WAITING))):
            event = self._update_status(row, now)
            if event:
                ready.append(event)
        session.flush()
        return ready


def _is_number(value: Any) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True

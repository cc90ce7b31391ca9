"""The event journal: a local append-only spool of domain events, read by named consumers.

Every domain event the process produces is appended here before anything else sees it, so a
database or Redis outage of any length the disk can hold loses nothing: each consumer (the bus
publisher, the history writer) reads the journal after its own cursor and moves the cursor only
once its sink took the batch. A restart replays what is after each cursor.

Layout of the folder::

    journal.id          the journal's identity (random, made once): part of every event id
    000000000001.jsonl  segments: one record per line, {"n": N, "t": append time, "e": event}
    cursor.<consumer>   JSON {"n": last record taken, "segment": S, "offset": byte after it}

Records are numbered 1, 2, 3... across segments; an event's ``event_id`` is ``"<journal id>-<n>"``, so a
replayed event is recognised downstream. A segment is closed at ``segment_bytes`` and deleted
once every consumer's cursor is past it. ``fsync``: ``always`` (before an append returns),
``interval`` (at most every ``fsync_interval_s``, by ``sync()``), ``off`` (the OS decides). At
open, a torn last line (a crash in the middle of a write) is cut off.

Cursors: with ``always`` and ``off`` a commit writes the consumer's cursor file at once; with ``interval``
it moves the cursor in memory and the file follows at the same interval as the fsync (``unsaved_cursors``,
written off the event loop, then ``cursors_saved``), after the records it points past are on disk. A crash
then replays at most that interval's batches, which every consumer takes twice safely (the Redis bus skips
record numbers it has published, the history writer applies an event once). A segment is deleted only
once every consumer's saved cursor is past it.

Reading: the last ``tail_len`` records stay in memory (a bounded queue), so consumers that keep
up never touch the disk; a consumer that fell behind (an outage) reads the segments.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal

log = logging.getLogger(__name__)

FsyncPolicy = Literal["always", "interval", "off"]
Event = dict[str, Any]

_SEGMENT_SUFFIX = ".jsonl"


class JournalError(Exception):
    """The journal cannot be opened or written (bad folder, unknown consumer)."""


@dataclass(frozen=True, slots=True)
class Position:
    """Where a consumer stands: the last record number taken and the byte after it."""

    n: int
    segment: int
    offset: int


@dataclass(frozen=True, slots=True)
class Batch:
    """Records after a consumer's cursor: their events (copies) and the position after the last."""

    events: list[Event]
    end: Position
    first_t: float | None


@dataclass(frozen=True, slots=True)
class ConsumerBacklog:
    name: str
    pending: int
    oldest_unsent_age_s: float | None
    cursor: int


def segment_name(index: int) -> str:
    return f"{index:012d}{_SEGMENT_SUFFIX}"


class Journal:
    """See the module docstring. Not thread-safe: one event loop appends and reads."""

    def __init__(
        self,
        directory: Path,
        consumers: Iterable[str],
        *,
        segment_bytes: int = 16 * 1024 * 1024,
        fsync: FsyncPolicy = "interval",
        tail_len: int = 20_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.directory = Path(directory)
        self.consumers = tuple(dict.fromkeys(consumers))
        if not self.consumers:
            raise JournalError("a journal needs at least one consumer")
        self.segment_bytes = segment_bytes
        self.fsync = fsync
        self.clock = clock
        self.journal_id = ""
        self.last_n = 0
        self.appended = 0
        self.torn_bytes = 0
        self.bad_records = 0
        self.deleted_segments = 0
        self._tail: deque[tuple[int, float, Event, Position]] = deque(maxlen=max(1, tail_len))
        self._cursors: dict[str, Position] = {}
        self._saved: dict[str, Position] = {}  # the cursors as their files hold them
        self._segments: list[int] = []  # indexes on disk, oldest first; the last one is written to
        self._file: IO[bytes] | None = None
        self._size = 0
        self._dirty = False
        self._readers: dict[str, tuple[int, IO[bytes]]] = {}

    # --- open / close ----------------------------------------------------------------------------
    def open(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        id_file = self.directory / "journal.id"
        if not id_file.exists():
            _write_atomic(id_file, secrets.token_hex(6).encode())
        self.journal_id = id_file.read_text().strip()
        self._segments = sorted(
            int(p.name[: -len(_SEGMENT_SUFFIX)])
            for p in self.directory.glob(f"*{_SEGMENT_SUFFIX}")
            if p.name[: -len(_SEGMENT_SUFFIX)].isdigit()
        )
        if not self._segments:
            self._segments = [1]
            (self.directory / segment_name(1)).touch()
        self.last_n = self._recover_last_segment()
        first = self._segments[0]
        for name in self.consumers:
            self._cursors[name] = self._saved[name] = self._load_cursor(name, first)
        self._file = open(self._path(self._segments[-1]), "ab")
        self._size = self._file.tell()

    def close(self) -> None:
        self.sync()
        self.save_cursors()
        for _, reader in self._readers.values():
            reader.close()
        self._readers.clear()
        if self._file is not None:
            self._file.close()
            self._file = None

    # --- writing ---------------------------------------------------------------------------------
    def append(self, events: Iterable[Event]) -> list[Event]:
        """Give each event its ``event_id`` and write it; returns the events (the same dicts)."""
        if self._file is None:
            raise JournalError("the journal is not open")
        out: list[Event] = []
        now = self.clock()
        chunks: list[bytes] = []
        for event in events:
            self.last_n += 1
            event.pop("seq", None)
            event["event_id"] = f"{self.journal_id}-{self.last_n}"
            line = json.dumps({"n": self.last_n, "t": now, "e": event}, ensure_ascii=False, separators=(",", ":"))
            data = line.encode() + b"\n"
            segment = self._segments[-1]
            chunks.append(data)
            self._size += len(data)
            self._tail.append((self.last_n, now, event, Position(self.last_n, segment, self._size)))
            out.append(event)
            if self._size >= self.segment_bytes:
                self._write(chunks)
                chunks = []
                self._rotate()
        self._write(chunks)
        self.appended += len(out)
        if self.fsync == "always":
            self.sync()
        return out

    def _write(self, chunks: list[bytes]) -> None:
        if not chunks or self._file is None:
            return
        self._file.write(b"".join(chunks))
        self._file.flush()  # readers of this process see whole lines at once
        self._dirty = True

    def sync(self) -> None:
        """fsync what was written since the last sync (``interval``: call it every interval)."""
        if self._file is not None and self._dirty and self.fsync != "off":
            os.fsync(self._file.fileno())
        self._dirty = False

    def take_sync_fd(self) -> int | None:
        """A duplicate of the segment's descriptor to fsync in a worker thread (the caller closes it),
        or None when nothing was written since the last sync."""
        if self._file is None or not self._dirty or self.fsync == "off":
            return None
        self._dirty = False
        return os.dup(self._file.fileno())

    def _rotate(self) -> None:
        assert self._file is not None
        if self.fsync != "off":
            os.fsync(self._file.fileno())
        self._file.close()
        index = self._segments[-1] + 1
        self._segments.append(index)
        self._file = open(self._path(index), "ab")
        self._size = 0
        _fsync_dir(self.directory)

    # --- reading ---------------------------------------------------------------------------------
    def cursor(self, consumer: str) -> Position:
        return self._cursors[self._known(consumer)]

    def pending(self, consumer: str) -> int:
        return self.last_n - self._cursors[self._known(consumer)].n

    def read(self, consumer: str, limit: int = 500) -> Batch:
        """Up to ``limit`` records after the consumer's cursor (none: an empty batch at the cursor)."""
        pos = self._cursors[self._known(consumer)]
        if pos.n >= self.last_n or limit <= 0:
            return Batch([], pos, None)
        if self._tail and self._tail[0][0] <= pos.n + 1:
            start = pos.n + 1 - self._tail[0][0]
            rows = [self._tail[i] for i in range(start, min(len(self._tail), start + limit))]
            return Batch([dict(e) for _, _, e, _ in rows], rows[-1][3], rows[0][1])
        return self._read_disk(consumer, pos, limit)

    def commit(self, consumer: str, position: Position) -> None:
        """The consumer took everything up to ``position``: store its cursor, drop consumed segments."""
        name = self._known(consumer)
        if position.n <= self._cursors[name].n:
            return
        self._cursors[name] = position
        if self.fsync != "interval":
            self.save_cursors()

    def unsaved_cursors(self) -> dict[str, Position]:
        """The cursors moved since their files were written (to write with ``write_cursors``)."""
        return {name: pos for name, pos in self._cursors.items() if self._saved.get(name) != pos}

    def cursors_saved(self, saved: dict[str, Position]) -> None:
        """``saved`` is on disk now: segments every consumer is past are deleted."""
        self._saved.update(saved)
        self._delete_consumed()

    def save_cursors(self) -> None:
        """Write every moved cursor now (a commit without ``interval``, and at close)."""
        unsaved = self.unsaved_cursors()
        if unsaved:
            write_cursors(self.directory, unsaved)
            self.cursors_saved(unsaved)

    def backlog(self) -> list[ConsumerBacklog]:
        now = self.clock()
        out = []
        for name in self.consumers:
            pos = self._cursors[name]
            pending = self.last_n - pos.n
            oldest = self._oldest_t(name, pos) if pending else None
            age = None if oldest is None else max(0.0, now - oldest)
            out.append(ConsumerBacklog(name, pending, age, pos.n))
        return out

    def disk_bytes(self) -> int:
        total = 0
        for index in self._segments:
            try:
                total += self._path(index).stat().st_size
            except FileNotFoundError:
                pass
        return total

    @property
    def segments(self) -> list[int]:
        return list(self._segments)

    # --- internals -------------------------------------------------------------------------------
    def _known(self, consumer: str) -> str:
        if consumer not in self._cursors:
            raise JournalError(f"unknown journal consumer {consumer!r}")
        return consumer

    def _path(self, index: int) -> Path:
        return self.directory / segment_name(index)

    def _oldest_t(self, consumer: str, pos: Position) -> float | None:
        if self._tail and self._tail[0][0] <= pos.n + 1:
            return self._tail[pos.n + 1 - self._tail[0][0]][1]
        batch = self._read_disk(consumer, pos, 1)
        return batch.first_t

    def _read_disk(self, consumer: str, pos: Position, limit: int) -> Batch:
        segment, offset = pos.segment, pos.offset
        if segment not in self._segments:  # deleted (consumed) or before the first: start at the oldest
            later = [s for s in self._segments if s > segment]
            segment, offset = (later[0] if later else self._segments[-1]), 0
        events: list[Event] = []
        first_t: float | None = None
        last = pos
        while len(events) < limit:
            reader = self._reader(consumer, segment, offset)
            line = reader.readline()
            if line.endswith(b"\n"):
                offset += len(line)
                record = self._decode(line)
                if record is None or record["n"] <= last.n:
                    continue
                if first_t is None:
                    first_t = float(record.get("t") or 0.0)
                events.append(record["e"])
                last = Position(int(record["n"]), segment, offset)
                continue
            later = [s for s in self._segments if s > segment]
            if not later:
                break  # the end of what is written
            segment, offset = later[0], 0
        return Batch(events, last, first_t)

    def _reader(self, consumer: str, segment: int, offset: int) -> IO[bytes]:
        held = self._readers.get(consumer)
        if held is not None and held[0] == segment:
            reader = held[1]
        else:
            if held is not None:
                held[1].close()
            reader = open(self._path(segment), "rb")
            self._readers[consumer] = (segment, reader)
        if reader.tell() != offset:
            reader.seek(offset)
        return reader

    def _decode(self, line: bytes) -> dict[str, Any] | None:
        try:
            record = json.loads(line)
        except ValueError:
            record = None
        if not (isinstance(record, dict) and isinstance(record.get("n"), int) and isinstance(record.get("e"), dict)):
            self.bad_records += 1
            log.warning("journal: skipped an unreadable record")
            return None
        return record

    def _recover_last_segment(self) -> int:
        """Cut a torn last line off the last segment; the highest record number on disk."""
        for index in reversed(self._segments):
            path = self._path(index)
            data = path.read_bytes()
            end = data.rfind(b"\n") + 1
            if end < len(data):
                self.torn_bytes += len(data) - end
                log.warning("journal: cut a torn record of %d bytes off %s", len(data) - end, path.name)
                with open(path, "r+b") as handle:
                    handle.truncate(end)
                    os.fsync(handle.fileno())
                data = data[:end]
            for line in reversed(data.splitlines()):
                record = self._decode(line)
                if record is not None:
                    return int(record["n"])
        return 0

    def _load_cursor(self, name: str, first_segment: int) -> Position:
        path = self.directory / f"cursor.{name}"
        try:
            raw = json.loads(path.read_text())
            return Position(int(raw["n"]), int(raw["segment"]), int(raw["offset"]))
        except FileNotFoundError:
            pass
        except (ValueError, KeyError, TypeError):
            log.warning("journal: cursor of %s unreadable; reading from the oldest segment", name)
        # a new consumer takes everything still on disk (it was never consumed by it)
        return Position(self._first_n_on_disk() - 1, first_segment, 0)

    def _first_n_on_disk(self) -> int:
        for index in self._segments:
            with open(self._path(index), "rb") as handle:
                for line in handle:
                    record = self._decode(line) if line.endswith(b"\n") else None
                    if record is not None:
                        return int(record["n"])
        return self.last_n + 1

    def _delete_consumed(self) -> None:
        slowest = min(self._saved.values(), key=lambda p: p.n)
        while len(self._segments) > 1 and self._segments[0] < slowest.segment:
            index = self._segments.pop(0)
            for consumer, (segment, reader) in list(self._readers.items()):
                if segment == index:
                    reader.close()
                    del self._readers[consumer]
            self._path(index).unlink(missing_ok=True)
            self.deleted_segments += 1


def write_cursors(directory: Path, cursors: dict[str, Position]) -> None:
    """Each consumer's cursor file, replaced whole (blocking: run it off the event loop)."""
    for name, pos in cursors.items():
        body = json.dumps({"n": pos.n, "segment": pos.segment, "offset": pos.offset})
        _write_atomic(directory / f"cursor.{name}", body.encode())


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f"{path.name}.{threading.get_ident()}.tmp")  # a writer thread and close() never share one
    with open(tmp, "wb") as handle:
        handle.write(data)
    os.replace(tmp, path)


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)

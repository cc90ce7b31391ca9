"""AMI ingest benchmark: panoramisk 1.4's parser, our parser, and our parser plus the call tracker.

All three read the same bytes in 64 KiB reads: about a million AMI events of distinct calls,
made from recorded traffic by renumbering every Uniqueid/Linkedid, Local channel sequence and
bridge id per copy. ``--input transcripts`` (the default) uses our Asterisk 22 transcripts
(tests/fixtures/ami); ``--input cacofonisk`` the 26 recordings of a foreign PBX's dialplan
(tests/fixtures/cacofonisk: SIP phones, Local chains, transfers), written out as AMI frames.

    .venv/bin/python bench/ingest.py               # ~1,000,000 events
    .venv/bin/python bench/ingest.py --events 100000 --input cacofonisk

Budget (ARCHITECTURE section 9): parse + track >= 2x panoramisk's parse-only rate.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from cti.ami.parser import AMIParser  # noqa: E402
from cti.tracker import CallTracker  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "ami"
FOREIGN = ROOT / "tests" / "fixtures" / "cacofonisk"
SCENARIOS = ("02", "03", "04", "05", "06", "07", "08")
SEP = b"\r\n\r\n"
CHUNK = 64 * 1024

# identifiers that make a call distinct: Uniqueid/Linkedid, Local channel sequence, bridge id
_IDS = re.compile(
    rb"(?P<uid>\b\d{10}\.\d+\b)"
    rb"|(?P<local>@[a-z][a-z_-]*-[0-9a-f]{8}(?=;))"
    rb"|(?P<bridge>\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b)"
)


def _event_frames() -> bytes:
    """Every event frame of the call scenarios, in recorded order (no banner, no responses)."""
    frames: list[bytes] = []
    for prefix in SCENARIOS:
        (raw,) = FIXTURES.glob(f"{prefix}_*.raw")
        frames.extend(f + SEP for f in raw.read_bytes().split(SEP) if f.startswith(b"Event: "))
    return b"".join(frames)


def _foreign_frames() -> bytes:
    """The cacofonisk recordings (JSON arrays of event dicts) as AMI event frames, in order."""
    frames: list[bytes] = []
    for path in sorted(FOREIGN.glob("*/*.json")):
        for event in json.loads(path.read_text(encoding="utf-8")):
            head = f"Event: {event['Event']}\r\n"
            rest = "".join(f"{k}: {v}\r\n" for k, v in event.items() if k not in ("Event", "content"))
            frames.append((head + rest).encode("utf-8") + b"\r\n")
    return b"".join(frames)


def _renumber(original: bytes, kind: str, copy: int) -> bytes:
    if kind == "uid":
        return b"%d.%s" % (2_000_000_000 + copy, original.partition(b".")[2])
    if kind == "local":
        head, seq = original[:-8], int(original[-8:], 16)
        return head + b"%08x" % ((copy * 64 + seq) & 0xFFFFFFFF)
    return original[:-12] + b"%012x" % copy


def build_stream(events: int, source: str = "transcripts") -> tuple[bytes, int]:
    """About ``events`` AMI event frames of distinct calls; returns the bytes and the frame count."""
    template = _foreign_frames() if source == "cacofonisk" else _event_frames()
    per_copy = template.count(SEP)
    pieces: list[bytes] = []
    originals: dict[bytes, str] = {}
    pos = 0
    for match in _IDS.finditer(template):
        pieces.append(template[pos : match.start()])
        kind = match.lastgroup or "uid"
        originals[match.group()] = kind
        pieces.append(match.group())
        pos = match.end()
    pieces.append(template[pos:])
    copies = max(1, round(events / per_copy))
    out: list[bytes] = []
    for copy in range(copies):
        mapping = {orig: _renumber(orig, kind, copy) for orig, kind in originals.items()}
        get = mapping.get
        out.append(b"".join([get(p, p) for p in pieces]))
    return b"".join(out), copies * per_copy


def _chunks(data: bytes) -> list[bytes]:
    return [data[i : i + CHUNK] for i in range(0, len(data), CHUNK)]


def run_panoramisk(chunks: list[bytes]) -> int:
    """panoramisk 1.4's AMIProtocol.data_received with a stub transport and a silent manager."""
    from panoramisk.ami_protocol import AMIProtocol

    class SilentManager:
        events = 0
        save_stream = None

        def dispatch(self, message: Any) -> None:
            self.events += 1

    class StubTransport(asyncio.Transport):
        def write(self, data: Any) -> None:
            pass

        def close(self) -> None:
            pass

    protocol = AMIProtocol()
    protocol.connection_made(StubTransport())
    manager = SilentManager()
    protocol.factory = manager
    protocol.version = "11.0.0"
    feed = protocol.data_received
    for chunk in chunks:
        feed(chunk)
    return manager.events


def run_parser(chunks: list[bytes]) -> int:
    parser = AMIParser(expect_banner=False)
    feed = parser.feed
    count = 0
    for chunk in chunks:
        count += len(feed(chunk))
    return count


def run_parser_and_tracker(chunks: list[bytes]) -> int:
    parser = AMIParser(expect_banner=False)
    tracker = CallTracker()
    feed = parser.feed
    track = tracker.feed
    count = 0
    for chunk in chunks:
        for msg in feed(chunk):
            track(msg)
            count += 1
    return count


def _timed(run: Callable[[list[bytes]], int], chunks: list[bytes], repeat: int) -> tuple[int, float, float]:
    """Events, best CPU seconds and best wall seconds of ``repeat`` runs.

    The rates use CPU seconds of this single-threaded process, so that other load on the machine
    does not skew the comparison; wall seconds are printed beside them.
    """
    best_cpu = best_wall = float("inf")
    count = 0
    for _ in range(repeat):
        gc.collect()
        wall, cpu = time.perf_counter(), time.process_time()
        count = run(chunks)
        best_cpu = min(best_cpu, time.process_time() - cpu)
        best_wall = min(best_wall, time.perf_counter() - wall)
    return count, best_cpu, best_wall


def main(argv: list[str] | None = None) -> int:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--events", type=int, default=1_000_000, help="about how many AMI events to build")
    args.add_argument("--repeat", type=int, default=1, help="runs per contender; the best one counts")
    args.add_argument("--input", choices=("transcripts", "cacofonisk"), default="transcripts", help="recorded traffic")
    options = args.parse_args(argv)

    started = time.perf_counter()
    data, frames = build_stream(options.events, options.input)
    chunks = _chunks(data)
    print(
        f"stream: {frames:,} events, {len(data) / 1e6:,.1f} MB, {len(data) / frames:.0f} bytes/event, "
        f"{len(chunks):,} reads of {CHUNK // 1024} KiB (built in {time.perf_counter() - started:.1f} s)"
    )

    results: dict[str, float] = {}
    for label, run in (
        ("panoramisk 1.4 parse", run_panoramisk),
        ("our parse", run_parser),
        ("our parse + track", run_parser_and_tracker),
    ):
        count, cpu, wall = _timed(run, chunks, options.repeat)
        rate = count / cpu if cpu else float("inf")
        results[label] = rate
        print(f"{label:<22} {count:>10,} events  {cpu:7.2f} s CPU ({wall:6.2f} s wall)  {rate:>10,.0f} events/s")

    base = results["panoramisk 1.4 parse"]
    print(f"ratio parse / panoramisk:         {results['our parse'] / base:5.2f}x")
    print(f"ratio parse + track / panoramisk: {results['our parse + track'] / base:5.2f}x  (budget: >= 2.00x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

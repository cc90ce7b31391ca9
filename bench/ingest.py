"""AMI ingest benchmark: panoramisk 1.4's parser, our parser, and our parser plus the call tracker.

All three read the same bytes in 64 KiB reads: about a million AMI events of distinct calls,
made from recorded traffic by renumbering every Uniqueid/Linkedid, Local channel sequence and
bridge id per copy. ``--input transcripts`` (the default) uses our Asterisk 22 transcripts
(tests/fixtures/ami); ``--input cacofonisk`` the 26 recordings of a foreign PBX's dialplan
(tests/fixtures/cacofonisk: SIP phones, Local chains, transfers), written out as AMI frames.

    .venv/bin/python bench/ingest.py                          # 5 fresh runs of each input, 300,000 events
    .venv/bin/python bench/ingest.py --runs 3 --input cacofonisk
    .venv/bin/python bench/ingest.py --single --events 100000  # one run in this process
    .venv/bin/python bench/ingest.py --memory-events 0         # without the memory run

Each run is a fresh process that builds the stream and times the three contenders in turns
(``--rounds`` turns each, the median CPU time kept, so that all three meet the same load); the figure
is the median of the runs' same-run ratios, printed with their range and the load average, never
the best run. Then one more fresh process per input feeds ``--memory-events`` (a million) through the
parser and the tracker and prints the process's resident memory as the events go by (it must stay flat:
every cache and table is bounded). Budget (ARCHITECTURE section 9): parse + track >= 2x panoramisk's
parse-only rate, on both inputs.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime, timedelta
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

# what makes a call distinct: Uniqueid/Linkedid, Local channel sequence, bridge id, and the wall-clock times
# (CEL EventTime, Cdr StartTime, EventTV: in live traffic each is new, so no copy may repeat another's lines)
_IDS = re.compile(
    rb"(?P<uid>\b\d{10}\.\d+\b)"
    rb"|(?P<local>@[a-z][a-z_-]*-[0-9a-f]{8}(?=;))"
    rb"|(?P<bridge>\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b)"
    rb"|(?P<time>\b\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d)"
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
    if kind == "time":  # one day later per copy
        moved = datetime.fromisoformat(original.decode()) + timedelta(days=copy)
        return moved.isoformat(sep=chr(original[10])).encode()
    if kind == "uid":
        return b"%d.%s" % (2_000_000_000 + copy, original.partition(b".")[2])
    if kind == "local":
        head, seq = original[:-8], int(original[-8:], 16)
        return head + b"%08x" % ((copy * 64 + seq) & 0xFFFFFFFF)
    return original[:-12] + b"%012x" % copy


class Template:
    """The recorded frames cut around the identifiers that each copy renumbers."""

    def __init__(self, source: str) -> None:
        template = _foreign_frames() if source == "cacofonisk" else _event_frames()
        self.per_copy = template.count(SEP)
        self.pieces: list[bytes] = []
        self.originals: dict[bytes, str] = {}
        pos = 0
        for match in _IDS.finditer(template):
            self.pieces.append(template[pos : match.start()])
            self.originals[match.group()] = match.lastgroup or "uid"
            self.pieces.append(match.group())
            pos = match.end()
        self.pieces.append(template[pos:])

    def copy(self, number: int) -> bytes:
        """The frames of copy ``number``: the same calls with their own identifiers."""
        mapping = {orig: _renumber(orig, kind, number) for orig, kind in self.originals.items()}
        get = mapping.get
        return b"".join([get(p, p) for p in self.pieces])


def build_stream(events: int, source: str = "transcripts") -> tuple[bytes, int]:
    """About ``events`` AMI event frames of distinct calls; returns the bytes and the frame count."""
    template = Template(source)
    copies = max(1, round(events / template.per_copy))
    return b"".join(template.copy(copy) for copy in range(copies)), copies * template.per_copy


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


def _timed_once(run: Callable[[list[bytes]], int], chunks: list[bytes]) -> tuple[int, float, float]:
    """Events, CPU seconds and wall seconds of one pass.

    The rates use CPU seconds of this single-threaded process, so that other load on the machine
    skews the comparison less; wall seconds are printed beside them.
    """
    gc.collect()
    wall, cpu = time.perf_counter(), time.process_time()
    count = run(chunks)
    return count, time.process_time() - cpu, time.perf_counter() - wall


CONTENDERS: tuple[tuple[str, Callable[[list[bytes]], int]], ...] = (
    ("panoramisk 1.4 parse", run_panoramisk),
    ("our parse", run_parser),
    ("our parse + track", run_parser_and_tracker),
)
INPUTS = ("transcripts", "cacofonisk")


def single_run(events: int, source: str, rounds: int, quiet: bool = False) -> dict[str, float]:
    """One run in this process: the events/s of each contender on the same bytes (median CPU time of
    ``rounds`` turns each)."""
    started = time.perf_counter()
    data, frames = build_stream(events, source)
    chunks = _chunks(data)
    if not quiet:
        print(
            f"stream ({source}): {frames:,} events, {len(data) / 1e6:,.1f} MB, {len(data) / frames:.0f} bytes/event, "
            f"{len(chunks):,} reads of {CHUNK // 1024} KiB (built in {time.perf_counter() - started:.1f} s)"
        )
    # the contenders take turns (round robin), so that each sees the machine's load of the same moments
    cpus: dict[str, list[float]] = {label: [] for label, _ in CONTENDERS}
    walls: dict[str, list[float]] = {label: [] for label, _ in CONTENDERS}
    counts: dict[str, int] = {}
    for _ in range(rounds):
        for label, run in CONTENDERS:
            counts[label], cpu, wall = _timed_once(run, chunks)
            cpus[label].append(cpu)
            walls[label].append(wall)
    rates: dict[str, float] = {}
    for label, _ in CONTENDERS:
        cpu = statistics.median(cpus[label])
        rates[label] = counts[label] / cpu if cpu else float("inf")
        if not quiet:
            wall = statistics.median(walls[label])
            print(
                f"{label:<22} {counts[label]:>10,} events  {cpu:7.2f} s CPU ({wall:6.2f} s wall)"
                f"  {rates[label]:>10,.0f} events/s  (median of {rounds})"
            )
    return rates


def _rss_bytes() -> int:
    """This process's resident memory now (Linux), else its peak."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def memory_run(events: int, source: str, checkpoints: int = 4) -> dict[str, Any]:
    """Parse + track ``events`` events of distinct calls, copy after copy, and read the process's resident
    memory after each ``events / checkpoints`` events, with the live calls, channels and agents then and the
    entries of the parser's line cache. Only the template and one copy are held besides the parser and the
    tracker, so a flat series says their memory is bounded (tracing every allocation would cost 9x)."""
    template = Template(source)
    parser = AMIParser(expect_banner=False)
    tracker = CallTracker()
    feed, track = parser.feed, tracker.feed
    gc.collect()
    start = _rss_bytes()
    step = max(1, events // checkpoints)
    mark, count, copy = step, 0, 0
    points: list[dict[str, int]] = []
    while count < events:
        data = template.copy(copy)
        copy += 1
        for offset in range(0, len(data), CHUNK):
            for msg in feed(data[offset : offset + CHUNK]):
                track(msg)
                count += 1
        del data
        if count >= mark:
            snapshot = tracker.snapshot()
            points.append(
                {
                    "events": count,
                    "rss": _rss_bytes(),
                    "calls": len(snapshot["calls"]),
                    "channels": len(snapshot["channels"]),
                    "agents": len(snapshot["agents"]),
                    "cached_lines": len(parser._lines),
                }
            )
            mark += step
    return {"source": source, "start_rss": start, "points": points}


def _fresh_memory_run(events: int, source: str) -> dict[str, Any]:
    command = [sys.executable, str(Path(__file__).resolve()), "--memory-run", "--events", str(events)]
    done = subprocess.run([*command, "--input", source], check=True, capture_output=True, text=True)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _print_memory(result: dict[str, Any]) -> None:
    points = result["points"]
    mib = 2**20
    series = ", ".join(f"{p['events'] / 1e3:,.0f}k {p['rss'] / mib:.1f}" for p in points)
    last = points[-1]
    print(
        f"{result['source']}: resident memory (MiB) before {result['start_rss'] / mib:.1f}, after {series}; "
        f"growth from the first mark to the last {(last['rss'] - points[0]['rss']) / mib:+.1f} MiB; live at the end: "
        f"{last['calls']} calls, {last['channels']} channels, {last['agents']} agents, "
        f"{last['cached_lines']} cached lines"
    )


def _ratios(rates: dict[str, float]) -> tuple[float, float]:
    base = rates["panoramisk 1.4 parse"]
    return rates["our parse"] / base, rates["our parse + track"] / base


def _fresh_run(events: int, source: str, rounds: int) -> dict[str, float]:
    """One run in a new Python process (nothing warmed or cached by an earlier run)."""
    command = [sys.executable, str(Path(__file__).resolve()), "--single", "--json"]
    command += ["--events", str(events), "--input", source, "--rounds", str(rounds)]
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    rates: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return rates


def _load() -> str:
    try:
        return "/".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--events", type=int, default=300_000, help="about how many AMI events to build")
    args.add_argument("--runs", type=int, default=5, help="fresh processes per input; the median counts")
    args.add_argument("--input", choices=(*INPUTS, "both"), default="both", help="recorded traffic")
    args.add_argument("--single", action="store_true", help="one run in this process, nothing spawned")
    args.add_argument("--rounds", type=int, default=3, help="turns of the three contenders in each run; median kept")
    args.add_argument("--json", action="store_true", help="with --single: print the rates as one JSON line")
    args.add_argument(
        "--memory-events",
        type=int,
        default=1_000_000,
        help="events of the memory run per input (one more fresh process); 0: none",
    )
    args.add_argument("--memory-run", action="store_true", help=argparse.SUPPRESS)
    options = args.parse_args(argv)
    sources = INPUTS if options.input == "both" else (options.input,)

    if options.memory_run:
        for source in sources:
            print(json.dumps(memory_run(options.events, source)))
        return 0

    if options.single:
        for source in sources:
            rates = single_run(options.events, source, options.rounds, quiet=options.json)
            if options.json:
                print(json.dumps(rates))
            else:
                parse, track = _ratios(rates)
                print(f"ratio parse / panoramisk:         {parse:5.2f}x")
                print(f"ratio parse + track / panoramisk: {track:5.2f}x  (budget: >= 2.00x)")
        return 0

    print(f"{options.runs} fresh runs per input, about {options.events:,} events each; load average before: {_load()}")
    for source in sources:
        parse_ratios: list[float] = []
        track_ratios: list[float] = []
        for index in range(options.runs):
            rates = _fresh_run(options.events, source, options.rounds)
            parse, track = _ratios(rates)
            parse_ratios.append(parse)
            track_ratios.append(track)
            print(
                f"  {source:<11} run {index + 1}: panoramisk {rates['panoramisk 1.4 parse']:>8,.0f}/s  "
                f"parse {rates['our parse']:>8,.0f}/s ({parse:4.2f}x)  "
                f"parse + track {rates['our parse + track']:>8,.0f}/s ({track:4.2f}x)  load {_load()}"
            )
        median = statistics.median(track_ratios)
        print(
            f"{source}: parse + track / panoramisk parse median {median:.2f}x "
            f"(range {min(track_ratios):.2f}-{max(track_ratios):.2f}); parse alone median "
            f"{statistics.median(parse_ratios):.2f}x; budget >= 2.00x: {'met' if median >= 2.0 else 'NOT met'}"
        )
        if options.memory_events > 0:
            _print_memory(_fresh_memory_run(options.memory_events, source))
            print(f"  load {_load()}")
    print(f"load average after: {_load()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

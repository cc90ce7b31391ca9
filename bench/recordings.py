"""Recordings benchmark: time to first byte of a cold (transcoding) and a warm (cached) play of a
10-minute recording over HTTP, and the folder indexing rate.

    .venv/bin/python bench/recordings.py                 # 100,000 files, 10-minute recording
    .venv/bin/python bench/recordings.py --files 5000    # a quick run
    callcenter bench recordings -- --files 5000

Everything lives in a temporary folder with a SQLite database (``--database-url`` for another one).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import socket
import struct
import sys
import tempfile
import threading
import time
import wave
from array import array
from datetime import timedelta
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

import httpx  # noqa: E402
import uvicorn  # noqa: E402
from fastapi import FastAPI  # noqa: E402
from sqlalchemy import select  # noqa: E402

from agent_desk.api import recordings as recordings_api  # noqa: E402
from config import Settings  # noqa: E402
from crm_core.auth import open_session  # noqa: E402
from crm_core.db import make_engine, make_sessionmaker, migrate  # noqa: E402
from crm_core.models import Role, User  # noqa: E402
from recordings.indexer import RecordingIndexService  # noqa: E402
from recordings.models import Recording  # noqa: E402

RATE = 8000


def write_call(path: Path, seconds: int) -> None:
    """A MixMonitor-like 8 kHz mono WAV: a tone that rises and falls like speech."""
    second = array("h", (int(12000 * math.sin(2 * math.pi * 300 * i / RATE)) for i in range(RATE))).tobytes()
    silence = bytes(len(second))
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        for n in range(seconds):
            out.writeframes(second if n % 7 else silence)


def write_files(folder: Path, count: int) -> None:
    """``count`` tiny WAV files named the way the dialplan names them, in day folders."""
    data = bytes(800)  # 50 ms of silence
    header = (
        b"RIFF"
        + struct.pack("<I", 36 + len(data))
        + b"WAVEfmt "
        + struct.pack("<IHHIIHH", 16, 1, 1, RATE, RATE * 2, 2, 16)
        + b"data"
        + struct.pack("<I", len(data))
    )
    body = header + data
    for n in range(count):
        day = folder / f"2026/11/{n % 28 + 1:02d}"
        if n < 28:
            day.mkdir(parents=True, exist_ok=True)
        (day / f"q-support-202611{n % 28 + 1:02d}-120000-1795{n:06d}.{n % 97}.wav").write_bytes(body)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def first_byte(client: httpx.Client, url: str, token: str, byte_range: str = "") -> tuple[float, int]:
    headers = {"Authorization": f"Bearer {token}", **({"Range": byte_range} if byte_range else {})}
    start = time.perf_counter()
    with client.stream("GET", url, headers=headers) as response:
        response.raise_for_status()
        stream = response.iter_bytes()
        next(stream)
        ttfb = time.perf_counter() - start
        size = int(response.headers["content-length"])
        for _ in stream:
            pass
    return ttfb, size


def bench_play(settings: Settings, url: str, minutes: int) -> None:
    factory = make_sessionmaker(make_engine(url))
    write_call(settings.recordings_dir / "q-support-20261123-120000-1795000000.1.wav", minutes * 60)
    with factory() as session:
        admin = User(username="bench-admin")
        admin.roles = list(session.scalars(select(Role).where(Role.name == "admin")))
        session.add(admin)
        row = Recording(
            file_name="q-support-20261123-120000-1795000000.1.wav", status="ready", call_id="1795.0"
        )
        session.add(row)
        session.flush()
        token = open_session(session, admin, "bearer", timedelta(hours=1)).token
        session.commit()
        recording_id = row.id
    app = FastAPI()
    app.state.settings = settings
    app.state.sessionmaker = factory
    app.include_router(recordings_api.router)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    audio = f"http://127.0.0.1:{port}/api/recordings/{recording_id}/audio"
    with httpx.Client(timeout=120) as client:
        cold, size = first_byte(client, audio, token)
        warm = sorted(first_byte(client, audio, token)[0] for _ in range(9))[4]
        seek = sorted(first_byte(client, audio, token, "bytes=1000000-")[0] for _ in range(9))[4]
        peaks_start = time.perf_counter()
        client.get(audio.replace("/audio", "/peaks"), headers={"Authorization": f"Bearer {token}"})
        peaks = time.perf_counter() - peaks_start
    server.should_exit = True
    thread.join(timeout=10)
    print(f"play {minutes}-minute recording ({settings.recordings_browser_format}, {size / 1e6:.2f} MB):")
    print(f"  cold (transcode) time to first byte: {cold * 1000:8.1f} ms")
    print(f"  warm (cached)    time to first byte: {warm * 1000:8.1f} ms (median of 9)")
    print(f"  warm seek (Range bytes=1000000-):    {seek * 1000:8.1f} ms (median of 9)")
    print(f"  waveform peaks (first request):      {peaks * 1000:8.1f} ms")


def bench_index(settings: Settings, url: str, count: int) -> None:
    folder = settings.recordings_dir / "bulk"
    start = time.perf_counter()
    write_files(folder, count)
    written = time.perf_counter() - start
    service = RecordingIndexService(make_sessionmaker(make_engine(url)), settings)
    start = time.perf_counter()
    report = asyncio.run(service.scan(folder))
    first = time.perf_counter() - start
    start = time.perf_counter()
    again = asyncio.run(service.scan(folder))
    second = time.perf_counter() - start
    print(f"index {count:,} files (written in {written:.1f} s):")
    print(f"  first scan: {first:7.2f} s  {report.added / first:10,.0f} files/s  (added {report.added:,})")
    print(f"  rescan:     {second:7.2f} s  {again.found / second:10,.0f} files/s  (added {again.added:,})")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--files", type=int, default=100_000, help="files to index (default 100,000)")
    parser.add_argument("--minutes", type=int, default=10, help="length of the played recording")
    parser.add_argument("--format", choices=["mp3", "opus"], default="mp3", help="browser format")
    parser.add_argument("--database-url", default="", help="SQLAlchemy URL of an empty database")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cc-bench-rec-") as tmp:
        root = Path(tmp)
        (root / "monitor").mkdir()
        url = args.database_url or f"sqlite:///{root / 'bench.db'}"
        migrate(url)
        settings = Settings(
            data_dir=root / "data", recordings_dir=root / "monitor", recordings_browser_format=args.format
        )
        bench_play(settings, url, args.minutes)
        bench_index(settings, url, args.files)


if __name__ == "__main__":
    main()

"""Browser copies of recordings: transcoded once with pydub + ffmpeg, cached on disk by id + mtime.

A cache entry's name carries the source's id, mtime and size, so a changed source is transcoded anew
and an old entry is never served for it. Writes go to a temporary file renamed into place, so a reader
never sees half a file and two processes transcoding the same source do no harm.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from config import Settings
from recordings.audio import NotAudio, decode, peaks_of

BROWSER_FORMATS: dict[str, tuple[str, str, list[str]]] = {
    # name: (file extension, media type, ffmpeg export arguments)
    "mp3": ("mp3", "audio/mpeg", ["-codec:a", "libmp3lame", "-b:a", "32k", "-compression_level", "9"]),
    "opus": ("ogg", "audio/ogg", ["-codec:a", "libopus", "-b:a", "24k"]),
}
PEAK_BUCKETS = 800


@dataclass(frozen=True, slots=True)
class BrowserCopy:
    path: Path
    media_type: str


def cache_key(kind: str, ident: str, source: Path) -> str:
    stat = source.stat()
    return f"{kind}-{ident}-{stat.st_mtime_ns}-{stat.st_size}"


def write_atomically(target: Path, write: Callable[[str], object]) -> None:
    """Let ``write`` fill a temporary file beside ``target``, then rename it into place."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=target.suffix)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def browser_copy(source: Path, cache_dir: Path, key: str, fmt: str = "mp3") -> BrowserCopy:
    """The cached browser copy of ``source``, transcoding it first when the cache has none."""
    ext, media_type, args = BROWSER_FORMATS[fmt]
    target = cache_dir / f"{key}.{ext}"
    if not target.exists():
        segment = decode(source)
        if len(segment) == 0:
            raise NotAudio("the recording holds no audio")
        codec = args[1]
        write_atomically(
            target,
            lambda tmp: segment.set_channels(1).export(
                tmp, format="ogg" if ext == "ogg" else ext, codec=codec, parameters=args[2:]
            ),
        )
    return BrowserCopy(target, media_type)


def cached_peaks(source: Path, cache_dir: Path, key: str, buckets: int = PEAK_BUCKETS) -> dict[str, object]:
    """``{"duration_s", "peaks"}`` of ``source``, computed once and kept beside the browser copies."""
    target = cache_dir / f"{key}.peaks.json"
    if target.exists():
        loaded: dict[str, object] = json.loads(target.read_text())
        return loaded
    segment = decode(source)
    result: dict[str, object] = {
        "duration_s": round(len(segment) / 1000, 3),
        "peaks": peaks_of(segment, buckets),
    }
    write_atomically(target, lambda tmp: Path(tmp).write_text(json.dumps(result)))
    return result


def drop_cached(cache_dir: Path, kind: str, ident: str) -> int:
    """Remove every cache entry of one source (after retention deleted its audio)."""
    removed = 0
    if cache_dir.is_dir():
        for entry in cache_dir.glob(f"{kind}-{ident}-*"):
            entry.unlink(missing_ok=True)
            removed += 1
    return removed


def recordings_cache_dir(settings: Settings) -> Path:
    """Where browser copies and waveforms are cached."""
    if str(settings.recordings_cache_dir) not in ("", "."):
        return settings.recordings_cache_dir
    return settings.data_dir / "recordings-cache"

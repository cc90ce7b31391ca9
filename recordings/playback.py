"""Serving audio to the browser: the cached browser copy (or the original) streamed with HTTP Range.

Shared by recordings and voicemail. A source is probed before anything is decoded, so a file that is
not audio or is cut short is refused (``AudioProblem``) instead of failing inside ffmpeg. Cold copies
are made in a worker thread, one at a time per source in this process.
"""

from __future__ import annotations

import asyncio
import mimetypes
from collections import defaultdict
from pathlib import Path
from typing import Any

from starlette.exceptions import HTTPException
from starlette.responses import Response

from recordings.access import AccessDenied
from recordings.audio import AudioProblem, probe_file
from recordings.index import UnsafeFileName
from recordings.streaming import RangeError, RangeNotSatisfiable, range_response
from recordings.transcode import browser_copy, cache_key, cached_peaks
from recordings.voicemail_audio import VoicemailError

_locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)


class AudioUnavailable(LookupError):
    """The row exists but its audio is not (yet) there."""

    status = 404


class AudioGone(AudioUnavailable):
    """The audio was deleted by retention; the call record stays."""

    status = 410


def error_status(exc: Exception) -> tuple[int, dict[str, str]]:
    """The HTTP status (and extra headers) for an error of this package; 500 means not ours."""
    if isinstance(exc, RangeNotSatisfiable):
        return 416, {"Content-Range": f"bytes */{exc.size}"}
    if isinstance(exc, RangeError | VoicemailError | AudioUnavailable):
        return exc.status, {}
    if isinstance(exc, AccessDenied):
        return 403, {}
    if isinstance(exc, UnsafeFileName):
        return 400, {}
    if isinstance(exc, AudioProblem):
        return 422, {}
    return 500, {}


_LABELS = {
    400: "请求无效",
    403: "无权访问",
    404: "音频不存在",
    410: "音频已删除",
    416: "请求的字节范围超出文件",
    422: "文件不可播放",
}


def describe(exc: Exception, status: int) -> str:
    """The error for the user: a Chinese label, then the English detail."""
    text = str(exc)
    label = _LABELS.get(status, "")
    return text if not label or _has_chinese(text) else f"{label} {text}"


def _has_chinese(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def http_error(exc: Exception) -> HTTPException:
    """The one mapping of this package's errors to HTTP, for the web tier."""
    status, headers = error_status(exc)
    return HTTPException(status_code=status, detail=describe(exc, status), headers=headers or None)


PLAYBACK_ERRORS = (RangeError, VoicemailError, AudioUnavailable, AccessDenied, UnsafeFileName, AudioProblem)


def _existing(source: Path) -> Path:
    if not source.is_file():
        raise AudioUnavailable("录音文件不存在 the audio file is not there")
    return source


async def browser_response(
    source: Path, cache_dir: Path, kind: str, ident: str, fmt: str, range_header: str | None
) -> Response:
    """The browser copy of ``source`` (transcoded and cached on first use), one Range at a time."""
    _existing(source)
    await asyncio.to_thread(probe_file, source)
    key = cache_key(kind, ident, source)
    async with _locks[key]:
        copy = await asyncio.to_thread(browser_copy, source, cache_dir, key, fmt)
    _locks.pop(key, None)
    return range_response(copy.path, range_header, copy.media_type, etag=key)


def original_response(source: Path, range_header: str | None, download_name: str) -> Response:
    _existing(source)
    probe_file(source)
    media_type = mimetypes.guess_type(download_name)[0] or "application/octet-stream"
    return range_response(source, range_header, media_type, download_name=download_name)


async def peaks(source: Path, cache_dir: Path, kind: str, ident: str) -> dict[str, Any]:
    _existing(source)
    await asyncio.to_thread(probe_file, source)
    key = cache_key(kind, ident, source)
    async with _locks[key + ".peaks"]:
        result = await asyncio.to_thread(cached_peaks, source, cache_dir, key)
    _locks.pop(key + ".peaks", None)
    return result


def is_first_request(range_header: str | None) -> bool:
    """A play starts with no Range or one from byte 0; later seeks are not new plays (not audited again)."""
    if not range_header:
        return True
    text = range_header.replace(" ", "")
    return text.startswith("bytes=0-")

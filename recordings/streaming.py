"""HTTP Range for audio: a pure parser of the ``Range`` header and a response that streams one range.

One range per request is what browsers send for media. A header that cannot be read, or asks for
several ranges, is refused with 400; a range that starts past the end of the file with 416.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import anyio
from starlette.responses import Response, StreamingResponse

CHUNK = 64 * 1024
_RANGE_RE = re.compile(r"^bytes=(\d{0,18})-(\d{0,18})$")


class RangeError(ValueError):
    """A Range header we will not serve; ``status`` is the HTTP status to answer with."""

    status = 400


class MalformedRange(RangeError):
    status = 400


class RangeNotSatisfiable(RangeError):
    status = 416

    def __init__(self, message: str, size: int) -> None:
        super().__init__(message)
        self.size = size


@dataclass(frozen=True, slots=True)
class ByteRange:
    start: int
    end: int  # inclusive

    @property
    def length(self) -> int:
        return self.end - self.start + 1


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """The byte range asked for by ``header`` in a file of ``size`` bytes; None means the whole file."""
    if header is None or not header.strip():
        return None
    text = header.strip().replace(" ", "")
    if "," in text:
        raise MalformedRange("only one byte range per request is supported")
    match = _RANGE_RE.match(text)
    if not match or match.group(1) == match.group(2) == "":
        raise MalformedRange(f"cannot read Range header {header[:80]!r}; expected bytes=START-END")
    first, last = match.group(1), match.group(2)
    if first == "":
        suffix = int(last)
        if suffix == 0 or size == 0:
            raise RangeNotSatisfiable(f"empty suffix range for a file of {size} bytes", size)
        return ByteRange(max(size - suffix, 0), size - 1)
    start = int(first)
    end = int(last) if last else size - 1
    if last and end < start:
        raise MalformedRange(f"range end {end} is before its start {start}")
    if start >= size:
        raise RangeNotSatisfiable(f"range starts at {start}, the file has {size} bytes", size)
    return ByteRange(start, min(end, size - 1))


async def _read(path: Path, start: int, length: int) -> AsyncIterator[bytes]:
    async with await anyio.open_file(path, "rb") as handle:
        await handle.seek(start)
        remaining = length
        while remaining > 0:
            chunk = await handle.read(min(CHUNK, remaining))
            if not chunk:
                break
            remaining -= len(chunk)
            yield chunk


def range_response(
    path: Path,
    range_header: str | None,
    media_type: str,
    etag: str | None = None,
    download_name: str | None = None,
) -> Response:
    """Stream ``path`` (whole: 200, or one range: 206). Raises RangeError for a bad header."""
    size = path.stat().st_size
    byte_range = parse_range(range_header, size)
    headers = {"Accept-Ranges": "bytes", "Cache-Control": "private, max-age=3600"}
    if etag:
        headers["ETag"] = f'"{etag}"'
    if download_name:
        headers["Content-Disposition"] = f'attachment; filename="{download_name}"'
    if byte_range is None:
        headers["Content-Length"] = str(size)
        return StreamingResponse(
            _read(path, 0, size), status_code=200, media_type=media_type, headers=headers
        )
    headers["Content-Length"] = str(byte_range.length)
    headers["Content-Range"] = f"bytes {byte_range.start}-{byte_range.end}/{size}"
    return StreamingResponse(
        _read(path, byte_range.start, byte_range.length),
        status_code=206,
        media_type=media_type,
        headers=headers,
    )

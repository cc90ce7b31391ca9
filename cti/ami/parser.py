"""Sans-I/O parser for the Asterisk Manager Interface byte stream.

Feed it bytes as they come off the socket; it hands back complete messages as dicts.
A message is a block of ``Key: Value`` lines ended by an empty line (``\\r\\n\\r\\n``).
Frames are cut on bytes before they are decoded, so a multi-byte UTF-8 character split
across two TCP reads is never lost (panoramisk 1.4 decodes each read on its own).

Frames are decoded and split into lines in few C calls; each line's ``(key, value)`` split is
kept in a small per-parser cache (most lines recur from frame to frame), so the dict of a frame
is built in one ``dict()`` call.

A header that repeats becomes a list, as in the recorded transcripts. A header with an
empty value (``Key: ``) is kept with the value ``""``.

Bounds: a frame longer than ``max_frame_bytes`` is discarded up to its end and counted in
``stats.oversized``; a frame with no ``Event`` or ``Response`` header is counted in
``stats.malformed`` and not returned; a line with no colon is counted in
``stats.bad_lines`` and skipped. The buffer never holds more than ``max_frame_bytes``.
"""

from __future__ import annotations

from dataclasses import dataclass

Message = dict[str, "str | list[str]"]

_SEP = b"\r\n\r\n"
_TEXT_SEP = "\r\n\r\n"
_BANNER_PREFIX = b"Asterisk Call Manager"
DEFAULT_MAX_FRAME_BYTES = 1 << 20
# Lines kept split per parser: most lines recur (``Privilege: call,all``, ``ChannelState: 6``, and a channel's
# ``Channel:``, ``Uniqueid:``, ``CallerIDNum:`` in each of its events). Emptied when full, and long lines are
# never kept, so the cache holds at most LINE_CACHE_SIZE lines of LINE_CACHE_MAX_CHARS.
LINE_CACHE_SIZE = 4096
LINE_CACHE_MAX_CHARS = 128


class _SplitLines(dict[str, tuple[str, ...]]):
    """A line -> its ``(key, value)`` split at the first ``": "`` (a 1-tuple when there is none)."""

    __slots__ = ()

    def __missing__(self, line: str) -> tuple[str, ...]:
        split = tuple(line.split(": ", 1))
        if len(line) <= LINE_CACHE_MAX_CHARS:
            if len(self) >= LINE_CACHE_SIZE:
                self.clear()
            self[line] = split
        return split


@dataclass(slots=True)
class ParserStats:
    messages: int = 0
    malformed: int = 0
    oversized: int = 0
    bad_lines: int = 0
    bytes_in: int = 0

    @property
    def dropped(self) -> int:
        return self.malformed + self.oversized


class AMIParser:
    """Incremental AMI frame parser. One instance per connection."""

    __slots__ = ("_buf", "_discarding", "_lines", "_max", "_want_banner", "banner", "stats")

    def __init__(self, max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES, expect_banner: bool = True) -> None:
        self._buf = b""
        self._max = max_frame_bytes
        self._discarding = False
        self._want_banner = expect_banner
        self._lines = _SplitLines()
        self.banner: str | None = None
        self.stats = ParserStats()

    def feed(self, data: bytes) -> list[Message]:
        """Add bytes; return every message they complete, in order."""
        self.stats.bytes_in += len(data)
        buf = self._buf + data if self._buf else data
        if self._want_banner:
            buf = self._take_banner(buf)
            if self._want_banner:
                self._buf = buf
                return []
        if self._discarding:
            buf = self._skip_oversized(buf)
            if self._discarding:
                return []
        end = buf.rfind(_SEP)
        if end < 0:
            self._buf = self._bounded(buf)
            return []
        self._buf = self._bounded(buf[end + 4 :])
        if end > self._max:  # a frame may be oversized: the bytes of each one are measured
            frames = self._frames_within_bounds(buf[:end].split(_SEP))
        else:
            # Decoded in one call: the separator is ASCII, so no UTF-8 sequence spans two frames and
            # this gives exactly the text of each frame decoded on its own.
            frames = buf[:end].decode("utf-8", "replace").split(_TEXT_SEP)
        split = self._lines.__getitem__
        out: list[Message] = []
        for frame in frames:
            lines = frame.split("\r\n")
            try:
                # the common frame, every line ``Key: Value`` with distinct keys, built in one C call
                # from the lines already split
                msg: Message = dict(map(split, lines))  # type: ignore[arg-type]
            except ValueError:  # a line with no ``": "``: the general rules
                msg = {}
            if len(msg) != len(lines):  # that, or a repeated header: the general rules keep every value
                msg = self._parse_lines(lines)
            if "Event" in msg or "Response" in msg:
                out.append(msg)
            elif msg:
                self.stats.malformed += 1
        self.stats.messages += len(out)
        return out

    def _frames_within_bounds(self, frames: list[bytes]) -> list[str]:
        kept: list[str] = []
        for frame in frames:
            if len(frame) > self._max:
                self.stats.oversized += 1
            else:
                kept.append(frame.decode("utf-8", "replace"))
        return kept

    def _take_banner(self, buf: bytes) -> bytes:
        stripped = buf.lstrip(b"\r\n")
        if len(stripped) < len(_BANNER_PREFIX) and _BANNER_PREFIX.startswith(stripped):
            return buf  # not enough bytes yet to tell
        if not stripped.startswith(_BANNER_PREFIX):
            self._want_banner = False
            return buf
        end = stripped.find(b"\r\n")
        if end < 0:
            if len(stripped) > self._max:
                self._want_banner = False
                self.stats.oversized += 1
                return b""
            return buf
        self.banner = stripped[:end].decode("utf-8", "replace")
        self._want_banner = False
        return stripped[end + 2 :]

    def _bounded(self, tail: bytes) -> bytes:
        # a frame of max bytes may be followed by the first 3 bytes of its separator
        if len(tail) <= self._max + 3:
            return tail
        self.stats.oversized += 1
        self._discarding = True
        return tail[-3:]

    def _skip_oversized(self, buf: bytes) -> bytes:
        end = buf.find(_SEP)
        if end < 0:
            # keep the last 3 bytes: they may be the start of a separator
            self._buf = buf[-3:]
            return b""
        self._discarding = False
        return buf[end + 4 :]

    def _parse_lines(self, lines: list[str]) -> Message:
        msg: Message = {}
        for line in lines:
            key, sep, value = line.partition(": ")
            if not sep:
                key, sep, value = line.partition(":")
                if not sep:
                    if line:
                        self.stats.bad_lines += 1
                    continue
            if key in msg:
                prev = msg[key]
                if isinstance(prev, list):
                    prev.append(value)
                else:
                    msg[key] = [prev, value]
            else:
                msg[key] = value
        return msg


def parse_capture(data: bytes, max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES) -> list[Message]:
    """Parse a whole raw AMI capture (banner optional), including a last frame with no end."""
    parser = AMIParser(max_frame_bytes=max_frame_bytes)
    messages = parser.feed(data)
    messages.extend(parser.feed(_SEP))
    return messages

"""Sans-I/O parser for the Asterisk Manager Interface byte stream.

Feed it bytes as they come off the socket; it hands back complete messages as dicts.
A message is a block of ``Key: Value`` lines ended by an empty line (``\\r\\n\\r\\n``).
Frames are cut on bytes before they are decoded, so a multi-byte UTF-8 character split
across two TCP reads is never lost (panoramisk 1.4 decodes each read on its own).

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
_BANNER_PREFIX = b"Asterisk Call Manager"
DEFAULT_MAX_FRAME_BYTES = 1 << 20


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

    __slots__ = ("_buf", "_discarding", "_max", "_want_banner", "banner", "stats")

    def __init__(self, max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES, expect_banner: bool = True) -> None:
        self._buf = b""
        self._max = max_frame_bytes
        self._discarding = False
        self._want_banner = expect_banner
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
        if _SEP not in buf:
            self._buf = self._bounded(buf)
            return []
        frames = buf.split(_SEP)
        self._buf = self._bounded(frames.pop())
        out: list[Message] = []
        for frame in frames:
            if len(frame) > self._max:
                self.stats.oversized += 1
                continue
            msg = self._parse_frame(frame)
            if msg is not None:
                out.append(msg)
        self.stats.messages += len(out)
        return out

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

    def _parse_frame(self, frame: bytes) -> Message | None:
        msg: Message = {}
        for line in frame.decode("utf-8", "replace").split("\r\n"):
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
        if "Event" not in msg and "Response" not in msg:
            if msg:
                self.stats.malformed += 1
            return None
        return msg


def parse_capture(data: bytes, max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES) -> list[Message]:
    """Parse a whole raw AMI capture (banner optional), including a last frame with no end."""
    parser = AMIParser(max_frame_bytes=max_frame_bytes)
    messages = parser.feed(data)
    messages.extend(parser.feed(_SEP))
    return messages

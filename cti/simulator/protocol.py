"""Server side of AMI framing: actions in, messages out. Sans-I/O.

Clients send ``Key: Value`` lines ended by an empty line; Asterisk accepts ``\\r\\n`` and bare
``\\n`` line ends, so does this. A repeated header (``Variable``) becomes a list. Frames that are
not valid UTF-8 are decoded with replacement characters; a frame longer than ``max_frame_bytes``
is dropped (counted in ``oversized``) so a client sending garbage cannot grow the buffer.
"""

from __future__ import annotations

import re

Action = dict[str, "str | list[str]"]
Message = list[tuple[str, str]]

BANNER = b"Asterisk Call Manager/11.0.0\r\n"
_FRAME_END = re.compile(rb"\r?\n\r?\n")


class ActionReader:
    """Incremental action parser for one client connection."""

    def __init__(self, max_frame_bytes: int = 1 << 16) -> None:
        self._buf = b""
        self._max = max_frame_bytes
        self.oversized = 0

    def feed(self, data: bytes) -> list[Action]:
        self._buf += data
        out: list[Action] = []
        while True:
            match = _FRAME_END.search(self._buf)
            if match is None:
                break
            frame, self._buf = self._buf[: match.start()], self._buf[match.end() :]
            action = parse_action(frame)
            if action:
                out.append(action)
        if len(self._buf) > self._max:
            self.oversized += 1
            self._buf = b""
        return out


def parse_action(frame: bytes) -> Action:
    action: Action = {}
    for line in frame.decode("utf-8", "replace").splitlines():
        key, sep, value = line.partition(":")
        if not sep or not key.strip():
            continue
        key, value = key.strip(), value.strip()
        prev = action.get(key)
        if prev is None:
            action[key] = value
        elif isinstance(prev, list):
            prev.append(value)
        else:
            action[key] = [prev, value]
    return action


def header(action: Action, name: str, default: str = "") -> str:
    """A header's value, case-insensitively as Asterisk reads them; the first if repeated."""
    for key, value in action.items():
        if key.lower() == name.lower():
            return value[0] if isinstance(value, list) else value
    return default


def headers(action: Action, name: str) -> list[str]:
    for key, value in action.items():
        if key.lower() == name.lower():
            return list(value) if isinstance(value, list) else [value]
    return []


def encode(message: Message) -> bytes:
    return "".join(f"{key}: {value}\r\n" for key, value in message).encode("utf-8") + b"\r\n"


def response(action: Action, status: str = "Success", message: str | None = None, *extra: tuple[str, str]) -> Message:
    """``Response`` / ``ActionID`` / ``Message`` then extra headers, in Asterisk's order."""
    out: Message = [("Response", status)]
    action_id = header(action, "ActionID")
    if action_id:
        out.append(("ActionID", action_id))
    if message is not None:
        out.append(("Message", message))
    out.extend(extra)
    return out


def error(action: Action, message: str) -> Message:
    return response(action, "Error", message)

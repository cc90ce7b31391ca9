"""The AGI wire format, sans I/O: the environment block, reply lines and command lines.

Asterisk opens a FastAGI session with ``agi_*: value`` lines ended by an empty line, then answers
each command with one line such as ``200 result=1 (support)``, ``200 result= (timeout)`` or
``200 result=0 endpos=8000``. A ``HANGUP`` line may arrive at any time once the caller is gone,
after which commands are answered ``511``. A usage error spans several ``520-`` lines ending with
a ``520 `` line.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

ENV_PREFIX = "agi_"
MAX_ENV_LINES = 200

_REPLY = re.compile(r"^(?P<code>\d{3})(?P<sep>[ -])(?P<rest>.*)$")
_RESULT = re.compile(r"^result=(?P<value>\S*)(?P<tail>.*)$")
_KEY_VALUE = re.compile(r"(\w+)=(\S*)")


class AgiProtocolError(ValueError):
    """The peer sent something that is not AGI (bad environment line, unreadable reply)."""


@dataclass(frozen=True, slots=True)
class AgiReply:
    """One parsed reply. ``result`` is the text after ``result=``; ``data`` is the text in brackets."""

    code: int
    result: str = ""
    data: str | None = None
    extras: Mapping[str, str] = field(default_factory=dict)
    text: str = ""

    @property
    def ok(self) -> bool:
        return self.code == 200

    @property
    def dead_channel(self) -> bool:
        """511: the channel is gone (the caller hung up)."""
        return self.code == 511

    @property
    def failed(self) -> bool:
        """``result=-1``: the application failed or the caller hung up while it ran."""
        return self.code == 200 and self.result == "-1"

    @property
    def timed_out(self) -> bool:
        return self.data == "timeout"


def parse_env_line(line: str) -> tuple[str, str]:
    """``agi_callerid: 5551234`` -> ``("agi_callerid", "5551234")``; anything else is a protocol error."""
    key, sep, value = line.partition(":")
    key = key.strip()
    if not sep or not key.startswith(ENV_PREFIX) or not key.replace("_", "").isalnum():
        raise AgiProtocolError(f"not an AGI environment line: {line[:80]!r}")
    return key, value.strip()


def parse_env(lines: Iterable[str]) -> dict[str, str]:
    """The environment block (without its empty terminating line) as a dict."""
    env: dict[str, str] = {}
    for count, line in enumerate(lines, start=1):
        if count > MAX_ENV_LINES:
            raise AgiProtocolError(f"AGI environment longer than {MAX_ENV_LINES} lines")
        key, value = parse_env_line(line)
        env[key] = value
    if "agi_network_script" not in env and "agi_request" not in env:
        raise AgiProtocolError("AGI environment has neither agi_network_script nor agi_request")
    return env


def script_name(env: Mapping[str, str]) -> str:
    """The flow asked for: ``agi://host:4573/ivr?x=1`` -> ``ivr``."""
    script = env.get("agi_network_script") or env.get("agi_request", "").split("/")[-1]
    return script.split("?", 1)[0].strip("/")


def script_args(env: Mapping[str, str]) -> tuple[str, ...]:
    """``agi_arg_1``, ``agi_arg_2``... in order, stopping at the first gap."""
    args: list[str] = []
    while f"agi_arg_{len(args) + 1}" in env:
        args.append(env[f"agi_arg_{len(args) + 1}"])
    return tuple(args)


def parse_reply(line: str) -> AgiReply:
    """Parse one reply line (without its newline). ``HANGUP`` is not a reply: see :func:`is_hangup`."""
    line = line.rstrip("\r\n")
    match = _REPLY.match(line)
    if match is None:
        raise AgiProtocolError(f"unreadable AGI reply: {line[:80]!r}")
    code = int(match["code"])
    rest = match["rest"]
    if code != 200:
        return AgiReply(code=code, text=rest)
    result = _RESULT.match(rest.strip())
    if result is None:
        raise AgiProtocolError(f"AGI 200 reply without result=: {line[:80]!r}")
    data, extras = _parse_tail(result["tail"].strip())
    return AgiReply(code=200, result=result["value"], data=data, extras=extras, text=rest)


def _parse_tail(tail: str) -> tuple[str | None, dict[str, str]]:
    data: str | None = None
    if tail.startswith("("):
        end = tail.rfind(")")
        if end == -1:
            raise AgiProtocolError(f"unclosed bracket in AGI reply: {tail[:80]!r}")
        data, tail = tail[1:end], tail[end + 1 :]
    return data, dict(_KEY_VALUE.findall(tail))


def is_hangup(line: str) -> bool:
    """Asterisk's out-of-band notice that the caller hung up."""
    return line.strip() == "HANGUP"


def is_interim(line: str) -> bool:
    """``100 result=0 Trying...`` and the ``520-`` usage lines precede the real reply."""
    return line.startswith("100 ") or line.startswith("520-")


def quote(argument: str) -> str:
    """Quote one command argument the way res_agi splits them."""
    escaped = argument.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")
    return f'"{escaped}"'


def command(name: str, *arguments: str | int) -> str:
    """One command line, e.g. ``command("GET DATA", "ivr/menu", 5000, 1)``."""
    parts = [name] + [quote(str(a)) for a in arguments]
    return " ".join(parts)


class ReplyAssembler:
    """Fed the lines read after a command, yields the reply once complete.

    Skips ``100 Trying`` and ``520-`` usage lines, and remembers a ``HANGUP`` notice seen on the way.
    """

    def __init__(self) -> None:
        self.hangup_seen = False

    def feed(self, line: str) -> AgiReply | None:
        line = line.rstrip("\r\n")
        if is_hangup(line):
            self.hangup_seen = True
            return None
        if is_interim(line) or (not line.strip() and self.hangup_seen):
            return None
        return parse_reply(line)

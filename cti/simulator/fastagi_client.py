"""A FastAGI client that plays Asterisk's side of ``agi://host:port/<flow>``.

It sends the ``agi_*`` environment the way Asterisk 22 does (see the recorded
``02_inbound_answered_agent_hangup.fastagi.txt``), then answers each command from a script:
keys for ``GET DATA``, channel variables for ``GET VARIABLE``, prompts that do not exist, a caller
who hangs up after N commands. Used by the tests and by the demo's simulated callers.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

DEAD_CHANNEL = "511 Command Not Permitted on a dead channel or intercept routine"
_ARGUMENT = re.compile(r'"((?:[^"\\]|\\.)*)"|(\S+)')
_ESCAPE = re.compile(r"\\(.)")


def split_command(line: str) -> list[str]:
    """Split a command line into words the way res_agi does (double quotes, backslash escapes)."""
    return [_ESCAPE.sub(r"\1", quoted) if bare == "" else bare for quoted, bare in _ARGUMENT.findall(line)]


@dataclass
class AgiScript:
    flow: str
    caller: str = "5551234"
    caller_name: str = ""
    uniqueid: str = "1795451209.1"
    linkedid: str | None = None
    channel: str = "Local/5551234@from-pstn-00000000;2"
    args: Sequence[str] = ()
    dtmf: Sequence[str | None] = ()
    variables: dict[str, str] = field(default_factory=dict)
    missing_files: frozenset[str] = frozenset()
    hangup_after: int | None = None

    def env_lines(self, host: str, port: int) -> list[str]:
        name = self.caller_name or f"PSTN {self.caller}"
        lines = [
            "agi_network: yes",
            f"agi_network_script: {self.flow}",
            f"agi_request: agi://{host}:{port}/{self.flow}",
            f"agi_channel: {self.channel}",
            "agi_language: en",
            "agi_type: Local",
            f"agi_uniqueid: {self.uniqueid}",
            "agi_version: 22.10.1",
            f"agi_callerid: {self.caller}",
            f"agi_calleridname: {name}",
            "agi_callingpres: 0",
            "agi_callingani2: 0",
            "agi_callington: 0",
            "agi_callingtns: 0",
            "agi_dnid: unknown",
            "agi_rdnis: unknown",
            "agi_context: from-pstn",
            f"agi_extension: {self.caller}",
            "agi_priority: 6",
            "agi_enhanced: 0.0",
            "agi_accountcode: ",
            "agi_threadid: 139708744648384",
        ]
        lines += [f"agi_arg_{i}: {value}" for i, value in enumerate(self.args, start=1)]
        return lines


@dataclass
class AgiTranscript:
    commands: list[str] = field(default_factory=list)
    replies: list[str] = field(default_factory=list)
    variables: dict[str, str] = field(default_factory=dict)
    executed: list[str] = field(default_factory=list)
    hung_up: bool = False

    def played(self) -> list[str]:
        """Files played or used as prompts, in order."""
        out = []
        for line in self.commands:
            words = split_command(line)
            if line.startswith(("STREAM FILE", "GET DATA")) and len(words) > 2:
                out.append(words[2])
        return out


class AsteriskResponder:
    """Answers AGI commands like Asterisk would, from an :class:`AgiScript`."""

    def __init__(self, script: AgiScript) -> None:
        self.script = script
        self.keys = list(script.dtmf)
        self.transcript = AgiTranscript(variables=dict(script.variables))

    def answer(self, line: str) -> str:
        transcript = self.transcript
        transcript.commands.append(line)
        limit = self.script.hangup_after
        if transcript.hung_up or (limit is not None and len(transcript.commands) > limit):
            transcript.hung_up = True
            return DEAD_CHANNEL
        words = split_command(line)
        if not words:
            return "510 Invalid or unknown command"
        reply = self._reply(words)
        transcript.replies.append(reply)
        return reply

    def _reply(self, words: list[str]) -> str:
        verb = " ".join(words[:2]).upper()
        if verb == "GET VARIABLE" and len(words) == 3:
            return self._get_variable(words[2])
        if verb == "SET VARIABLE" and len(words) == 4:
            self.transcript.variables[words[2].lstrip("_")] = words[3]
            return "200 result=1"
        if verb == "STREAM FILE" and len(words) >= 4:
            missing = words[2] in self.script.missing_files
            return "200 result=-1 endpos=0" if missing else "200 result=0 endpos=16000"
        if verb == "GET DATA" and len(words) >= 3:
            keys = self.keys.pop(0) if self.keys else None
            return f"200 result={keys}" if keys else "200 result= (timeout)"
        if verb == "CHANNEL STATUS":
            return "200 result=6"
        if verb == "SAY DIGITS" or verb.startswith("SET ") or words[0].upper() in ("VERBOSE", "ANSWER"):
            return "200 result=0" if words[0].upper() != "VERBOSE" else "200 result=1"
        if words and words[0].upper() == "EXEC":
            self.transcript.executed.append(" ".join(words[1:]))
            return "200 result=0"
        if words and words[0].upper() == "HANGUP":
            self.transcript.hung_up = True
            return "200 result=1"
        return "510 Invalid or unknown command"

    def _get_variable(self, name: str) -> str:
        if name == "CHANNEL(linkedid)":
            return f"200 result=1 ({self.script.linkedid or self.script.uniqueid})"
        value = self.transcript.variables.get(name)
        return f"200 result=1 ({value})" if value is not None else "200 result=0"


async def run_fastagi_call(host: str, port: int, script: AgiScript, timeout_s: float = 10.0) -> AgiTranscript:
    """Connect, send the environment, answer every command until the server closes the session."""
    responder = AsteriskResponder(script)
    reader, writer = await asyncio.open_connection(host, port)
    try:
        async with asyncio.timeout(timeout_s):
            env = "".join(line + "\n" for line in script.env_lines(host, port)) + "\n"
            writer.write(env.encode("utf-8"))
            await writer.drain()
            while True:
                raw = await reader.readline()
                if not raw:
                    break
                reply = responder.answer(raw.decode("utf-8").rstrip("\n"))
                writer.write((reply + "\n").encode("utf-8"))
                await writer.drain()
    finally:
        writer.close()
        try:
            await writer.wait_closed()
        except ConnectionError:
            pass
    return responder.transcript

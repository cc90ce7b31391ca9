"""Process AGI (``AGI(callcenter,agi,<flow>)`` run by Asterisk on the PBX host) over pyst2.

pyst2 reads the environment and writes the commands; the replies are read with our own parser
(pyst2 drops ``result=`` values that are empty and raises on ``-1``). The same session code as the
FastAGI server runs the flow.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from ivr.agi_protocol import AgiReply, ReplyAssembler
from ivr.calendar import BusinessCalendar
from ivr.directory import CustomerDirectory
from ivr.flow import FlowLibrary
from ivr.session import CallerHungUp, Publish, SessionDeps, SessionOutcome, run_call


class PystChannel:
    """An AGI channel over a ``asterisk.agi.AGI`` object (stdin/stdout of this process)."""

    def __init__(self, agi: Any) -> None:
        self.agi = agi

    async def command(self, line: str) -> AgiReply:
        self.agi.send_command(line)
        assembler = ReplyAssembler()
        while True:
            raw = self.agi.stdin.readline()
            if isinstance(raw, bytes):
                raw = raw.decode("utf-8", errors="replace")
            if not raw:
                raise CallerHungUp(line) if assembler.hangup_seen else ConnectionError("AGI stdin closed")
            reply = assembler.feed(raw)
            if reply is not None:
                return reply


async def run_process_agi(
    agi: Any,
    flow: str,
    flows: FlowLibrary,
    calendar: BusinessCalendar | None,
    publish: Publish,
    directory: CustomerDirectory,
    pbx: str,
    fallback_queue: str,
    transfer_context: str,
    timeout_s: float,
) -> SessionOutcome:
    """Run ``flow`` for the call whose environment pyst2 has read into ``agi.env``."""
    env: Mapping[str, str] = {**agi.env, "agi_network_script": flow}
    deps = SessionDeps(publish, directory, pbx, lambda: datetime.now(UTC), fallback_queue, transfer_context)
    async with asyncio.timeout(timeout_s):
        return await run_call(PystChannel(agi), env, flows, calendar, deps)

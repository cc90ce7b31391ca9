"""What the server does for agents between calls, whether or not a desk tab is open.

- Wrap-up timed here (``cti.wrapup.WrapupPlanner``): after an answered call the agent is paused with the
  reason ``after_call_work`` until the deadline, then available again (or paused, ``wrapup_then``).
- A pause chosen before queue login (置忙 while in no queue) is kept and applied at the next queue login.

Reads ``agent.state`` and ``call.ended`` from the bus; sends QueuePause through the runtime's commands.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from cti.commands import CommandError
from cti.wrapup import PauseCommand, WrapupPlanner

log = logging.getLogger(__name__)

DESK_AGENT_EVENTS = ("agent.state", "call.ended")
TICK_S = 0.5


class DeskAgents:
    def __init__(
        self,
        settings: Any,
        commands: Callable[[], Any],
        clock: Callable[[], float] = time.time,
        active: Callable[[], bool] | None = None,
    ) -> None:
        self.planner = WrapupPlanner(
            wrapup_s=float(settings.wrapup_s),
            queue_wrapup_s={k: float(v) for k, v in dict(settings.wrapup_queue_s).items()},
            then=settings.wrapup_then,
        )
        self._commands = commands
        self._clock = clock
        # several nodes: every node keeps the same deadlines (the same events), only the active one sends
        self._active = active
        self._pending_pause: dict[str, str] = {}  # extension -> reason chosen before queue login
        self.failed = 0

    # --- what routes ask ---------------------------------------------------------------------------
    def wrapup_deadline(self, extension: str) -> float | None:
        return self.planner.deadline(extension)

    async def end_wrapup(self, extension: str) -> list[PauseCommand]:
        """End the agent's wrap-up now; the commands sent (empty when the agent's own choice stands)."""
        commands = self.planner.end(extension)
        await self._send(commands, raise_errors=True)
        return commands

    def choose_pause(self, extension: str, reason: str) -> None:
        """置忙 before queue login: the next queue login goes in paused with this reason."""
        self._pending_pause[extension] = reason

    def pending_pause(self, extension: str) -> str | None:
        return self._pending_pause.get(extension)

    def clear_pending(self, extension: str) -> None:
        self._pending_pause.pop(extension, None)

    # --- bus and clock -----------------------------------------------------------------------------
    async def handle(self, event: dict[str, Any]) -> None:
        now = self._clock()
        kind = event.get("type")
        if kind == "agent.state":
            if event.get("state") not in (None, "logged_out"):
                self._pending_pause.pop(str(event.get("extension") or event.get("agent") or ""), None)
            commands = self.planner.agent_state(event, now)
        elif kind == "call.ended":
            commands = self.planner.call_ended(event, now)
        else:
            return
        if self._active is None or self._active():
            await self._send(commands)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                due = self.planner.tick(self._clock())
                if self._active is None or self._active():
                    await self._send(due)
            except Exception:
                log.exception("wrap-up tick failed")
            try:
                await asyncio.wait_for(stop.wait(), timeout=TICK_S)
            except TimeoutError:
                pass

    async def _send(self, commands: list[PauseCommand], raise_errors: bool = False) -> None:
        link = self._commands()
        for command in commands:
            try:
                await link.pause(command.extension, command.paused, command.reason)
            except CommandError as exc:
                self.failed += 1
                log.warning("wrap-up: QueuePause for %s failed: %s", command.extension, exc)
                if raise_errors:
                    raise

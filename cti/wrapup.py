"""Wrap-up (after-call work) timed on the server: pure, events and times in, pause commands out.

When an agent's answered call ends and the agent was available before it, the agent is paused in every
queue with the reason ``after_call_work`` until a deadline (``wrapup_s``, or the call's queue's own
seconds). At the deadline the agent is made available again, or stays paused (``then="paused"``), whether
or not a desk tab is open. An after-call-work pause whose deadline is not known (the server restarted, or
the agent chose that reason by hand) gets one from the moment it is seen, so no agent stays in wrap-up
for good. The agent, a supervisor or a new state chosen meanwhile ends it early.

The shell (``agent_desk.desk_agents``) feeds ``agent.state`` and ``call.ended`` events, calls ``tick``
about once a second and sends the returned ``PauseCommand`` s as QueuePause actions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

WRAPUP_REASON = "after_call_work"
AfterWrapup = Literal["available", "paused"]
_BUSY = frozenset({"on_call", "ringing"})


@dataclass(frozen=True, slots=True)
class PauseCommand:
    """Pause (``paused``) or unpause one agent's extension in every queue it is in."""

    extension: str
    paused: bool
    reason: str = ""


@dataclass(slots=True)
class _Wrapup:
    deadline: float
    seen: bool = False  # the PBX has reported the after-call-work pause


@dataclass(slots=True)
class WrapupPlanner:
    wrapup_s: float
    queue_wrapup_s: Mapping[str, float] = field(default_factory=dict)
    then: AfterWrapup = "available"
    _wrapups: dict[str, _Wrapup] = field(default_factory=dict)
    _idle: dict[str, tuple[str, str]] = field(default_factory=dict)  # state and reason outside calls

    def seconds_for(self, queue: str | None) -> float:
        if queue and queue in self.queue_wrapup_s:
            return float(self.queue_wrapup_s[queue])
        return float(self.wrapup_s)

    def deadline(self, extension: str) -> float | None:
        wrapup = self._wrapups.get(extension)
        return wrapup.deadline if wrapup is not None else None

    def agent_state(self, event: Mapping[str, Any], now: float) -> list[PauseCommand]:
        """An ``agent.state``: note where the agent stands; adopt or drop its wrap-up."""
        extension = str(event.get("extension") or event.get("agent") or "")
        state = str(event.get("state") or "")
        reason = str(event.get("reason") or "")
        if not extension or state in _BUSY:
            return []
        self._idle[extension] = (state, reason)
        wrapup = self._wrapups.get(extension)
        in_wrapup = state in ("wrap_up", "paused") and reason == WRAPUP_REASON
        if in_wrapup:
            if wrapup is None:  # not started here: a restart, or the reason chosen by hand
                seconds = self.seconds_for(None)
                self._wrapups[extension] = _Wrapup(now + max(seconds, 0.0), seen=True)
            else:
                wrapup.seen = True
        elif wrapup is not None and (wrapup.seen or state in ("paused", "logged_out")):
            # the agent (or a supervisor) chose another state, or left the queues: the wrap-up is over
            del self._wrapups[extension]
        return []

    def call_ended(self, event: Mapping[str, Any], now: float) -> list[PauseCommand]:
        """A ``call.ended``: each agent who talked on it and was available before starts wrap-up."""
        if not event.get("answered"):
            return []
        seconds = self.seconds_for(event.get("queue") if isinstance(event.get("queue"), str) else None)
        if seconds <= 0:
            return []
        out = []
        for extension in _talking_agents(event):
            state, _ = self._idle.get(extension, ("", ""))
            if state not in ("available", "wrap_up"):
                continue  # paused for a break, logged out or unknown: nothing to hold back
            wrapup = self._wrapups.get(extension)
            deadline = now + seconds
            if wrapup is None or wrapup.deadline < deadline:
                self._wrapups[extension] = _Wrapup(deadline)
            out.append(PauseCommand(extension, True, WRAPUP_REASON))
        return out

    def tick(self, now: float) -> list[PauseCommand]:
        """The wrap-ups whose deadline has come: available again, or paused by the rule."""
        due = [ext for ext, wrapup in self._wrapups.items() if wrapup.deadline <= now]
        return [command for ext in sorted(due) for command in self._finish(ext)]

    def end(self, extension: str) -> list[PauseCommand]:
        """End the agent's wrap-up now (the agent or a supervisor asked), by the same rule."""
        self._wrapups.pop(extension, None)
        return self._after(extension)

    def _finish(self, extension: str) -> list[PauseCommand]:
        del self._wrapups[extension]
        return self._after(extension)

    def _after(self, extension: str) -> list[PauseCommand]:
        state, reason = self._idle.get(extension, ("", ""))
        if state == "logged_out" or (state == "paused" and reason != WRAPUP_REASON):
            return []  # not in wrap-up any more: the agent's own choice stands
        if self.then == "paused":
            return [PauseCommand(extension, True, "")]
        return [PauseCommand(extension, False, "")]


def _talking_agents(event: Mapping[str, Any]) -> list[str]:
    """The extensions that talked on a call: its agent and every answered agent leg."""
    found: list[str] = []
    agent = event.get("agent")
    if isinstance(agent, str) and agent:
        found.append(agent)
    legs = event.get("legs")
    for leg in legs if isinstance(legs, Iterable) and not isinstance(legs, (str, bytes)) else ():
        if not isinstance(leg, Mapping):
            continue
        extension = leg.get("extension") or leg.get("agent")
        talked = leg.get("talk_s")
        if isinstance(extension, str) and extension and extension not in found and (talked is None or talked):
            found.append(extension)
    return found

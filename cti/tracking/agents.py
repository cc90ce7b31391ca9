"""Agent state: queue membership from QueueMember* events, activity from the agent's own parties.

An agent is keyed by extension (``Local/1001@agents/n`` and ``Custom:1001`` are both 1001).
Ringing and on-call come from the channels and bridges the tracker follows, never from
QueueMemberStatus ``InCall`` (unreliable). An ``agent.state`` event goes out when the state,
the pause reason or the set of queues changes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from cti.events import AGENT_STATE, Event, make_event
from cti.tracking.config import TrackerConfig
from cti.tracking.model import Agent, Membership, Party

AgentKey = tuple[str, str | None, tuple[str, ...]]


@dataclass(slots=True)
class AgentStats:
    dropped_agents: int = 0


# Pause reasons that mean after-call work (the desk pauses with this one during its wrap-up countdown).
WRAPUP_PAUSE_REASONS = frozenset({"after_call_work"})


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _number(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return 0.0
    return number if number == number and number >= 0 else 0.0


class AgentBook:
    """Every known agent, and which of them changed since the last flush."""

    __slots__ = ("_config", "_pbx", "_queues_seen", "agents", "dirty", "stats", "wrapping")

    def __init__(self, pbx: str, config: TrackerConfig) -> None:
        self._pbx = pbx
        self._config = config
        self.agents: dict[str, Agent] = {}
        self.dirty: set[str] = set()
        self.wrapping: set[str] = set()
        self.stats = AgentStats()
        self._queues_seen: set[str] | None = None

    # --- lookup --------------------------------------------------------------------------------------
    def get(self, extension: str) -> Agent:
        agent = self.agents.get(extension)
        if agent is None:
            if len(self.agents) >= self._config.max_agents:
                self._evict_one()
            agent = self.agents[extension] = Agent(extension=extension)
        return agent

    def _evict_one(self) -> None:
        idle = (extension for extension, agent in self.agents.items() if not agent.parties)
        extension = next(idle, None) or next(iter(self.agents))
        del self.agents[extension]
        self.dirty.discard(extension)
        self.wrapping.discard(extension)
        self.stats.dropped_agents += 1

    def member_extension(self, msg: dict[str, Any]) -> str | None:
        """The extension of a queue member named in a QueueMember* event, or None."""
        extension_of = self._config.extension_of
        for key in ("StateInterface", "Interface", "Location"):
            value = msg.get(key)
            if isinstance(value, str):
                extension = extension_of(value)
                if extension:
                    return extension
        return None

    # --- queue membership ----------------------------------------------------------------------------
    def member_seen(self, msg: dict[str, Any]) -> None:
        """QueueMemberAdded, QueueMemberPause and the QueueMember reply of QueueStatus."""
        extension = self.member_extension(msg)
        queue = _text(msg.get("Queue"))
        if extension is None or not queue:
            return
        agent = self.get(extension)
        name = msg.get("MemberName", msg.get("Name"))
        if isinstance(name, str) and name:
            agent.name = name
        interface = msg.get("Interface", msg.get("Location"))
        if isinstance(interface, str) and interface:
            agent.interface = interface
        membership = agent.queues.get(queue)
        if membership is None:
            membership = agent.queues[queue] = Membership()
        membership.paused = _text(msg.get("Paused")) == "1"
        membership.reason = _text(msg.get("PausedReason")) if membership.paused else ""
        membership.wrapup_s = _number(msg.get("Wrapuptime"))
        membership.confirmed = True
        self.dirty.add(extension)

    def member_removed(self, msg: dict[str, Any]) -> None:
        extension = self.member_extension(msg)
        agent = self.agents.get(extension) if extension else None
        if agent is None:
            return
        if agent.queues.pop(_text(msg.get("Queue")), None) is not None:
            self.dirty.add(agent.extension)

    def queue_seen(self, queue: str) -> None:
        """A QueueParams reply during a resync: this queue's member list is being re-read."""
        if self._queues_seen is not None and queue:
            self._queues_seen.add(queue)

    def resync_begin(self) -> None:
        self._queues_seen = set()
        for agent in self.agents.values():
            for membership in agent.queues.values():
                membership.confirmed = False

    def resync_end(self) -> None:
        """Drop the memberships of the re-read queues that the PBX no longer reports."""
        seen = self._queues_seen or set()
        self._queues_seen = None
        for agent in self.agents.values():
            gone = [q for q, m in agent.queues.items() if not m.confirmed and q in seen]
            for queue in gone:
                del agent.queues[queue]
                self.dirty.add(agent.extension)
            for membership in agent.queues.values():
                membership.confirmed = True

    # --- activity ------------------------------------------------------------------------------------
    def attach(self, party: Party) -> None:
        if party.extension is None:
            return
        agent = self.get(party.extension)
        if party not in agent.parties:
            agent.parties.append(party)
        if agent.name and not party.name:
            party.name = agent.name
        self.dirty.add(agent.extension)

    def detach(self, party: Party, now: float) -> None:
        """The party is gone; an answered one starts the agent's wrap-up."""
        agent = self.agents.get(party.extension) if party.extension else None
        if agent is None:
            return
        if party in agent.parties:
            agent.parties.remove(party)
        if party.answered:
            wrapup = max((m.wrapup_s for m in agent.queues.values()), default=0.0) or self._config.wrapup_s
            if wrapup > 0:
                agent.wrap_until = max(agent.wrap_until, now + wrapup)
                self.wrapping.add(agent.extension)
        self.dirty.add(agent.extension)

    def touch(self, party: Party) -> None:
        if party.extension is not None:
            self.dirty.add(party.extension)

    # --- state ---------------------------------------------------------------------------------------
    @staticmethod
    def state_of(agent: Agent, now: float) -> AgentKey:
        queues = tuple(sorted(agent.queues))
        if any(p.up and not p.ended for p in agent.parties):
            return ("on_call", None, queues)
        if any(p.ringing and not p.ended for p in agent.parties):
            return ("ringing", None, queues)
        if agent.wrap_until > now:
            return ("wrap_up", None, queues)
        if not queues:
            return ("logged_out", None, queues)
        paused = [agent.queues[q].reason for q in queues if agent.queues[q].paused]
        if paused:
            reason = next((r for r in paused if r), None)
            # the desk's after-call work is a pause with this reason: it is wrap-up, not a break
            return ("wrap_up" if reason in WRAPUP_PAUSE_REASONS else "paused", reason, queues)
        return ("available", None, queues)

    def flush(self, now: float) -> list[Event]:
        """``agent.state`` for every agent whose state changed, in extension order."""
        if self.wrapping:
            for extension in [e for e in self.wrapping if (a := self.agents.get(e)) is None or a.wrap_until <= now]:
                self.wrapping.discard(extension)
                self.dirty.add(extension)
        if not self.dirty:
            return []
        out: list[Event] = []
        for extension in sorted(self.dirty):
            agent = self.agents.get(extension)
            if agent is None:
                continue
            key = self.state_of(agent, now)
            if agent.last_sent is None and key[0] == "logged_out":
                agent.last_sent = key  # an extension seen for the first time: nothing changed
            elif key != agent.last_sent:
                agent.last_sent = key
                out.append(self.event(agent, key, now))
        self.dirty.clear()
        return out

    def event(self, agent: Agent, key: AgentKey, now: float) -> Event:
        state, reason, queues = key
        return make_event(
            AGENT_STATE,
            now,
            self._pbx,
            agent=agent.extension,
            extension=agent.extension,
            name=agent.name,
            state=state,
            reason=reason,
            queues=list(queues),
        )

    def snapshot(self, now: float) -> list[dict[str, Any]]:
        rows = []
        for extension in sorted(self.agents):
            agent = self.agents[extension]
            state, reason, queues = self.state_of(agent, now)
            rows.append(
                {
                    "agent": extension,
                    "extension": extension,
                    "name": agent.name,
                    "state": state,
                    "reason": reason,
                    "queues": list(queues),
                    "paused_queues": sorted(q for q, m in agent.queues.items() if m.paused),
                }
            )
        return rows

    def members_of(self) -> dict[str, list[str]]:
        members: dict[str, list[str]] = {}
        for extension in sorted(self.agents):
            for queue in self.agents[extension].queues:
                members.setdefault(queue, []).append(extension)
        return members

    def mark(self, extensions: Iterable[str]) -> None:
        self.dirty.update(extensions)

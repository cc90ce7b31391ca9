"""The pure call tracker: AMI event dicts in, domain events out (ARCHITECTURE sections 3, 4, 10).

``CallTracker.feed(msg)`` takes one parsed AMI message and returns the domain events it causes.
Most AMI traffic (CEL, Newexten, DeviceStateChange, most VarSets) is rejected with one dict
lookup on the event name. Time comes from the AMI ``Timestamp`` header, else from the caller.
No sockets, no clock reads, no database: the AMI bridge feeds it and publishes what it returns.

Resync after an AMI (re)connect: ``resync_begin()``, feed the CoreShowChannels / QueueStatus /
BridgeList replies as usual, then ``resync_end(now)`` ends the calls the PBX no longer reports.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cti.events import Event, iso_ts
from cti.tracking.calls import TrackerStats, known, secs, text, to_int
from cti.tracking.channels import ChannelEvents
from cti.tracking.config import TrackerConfig
from cti.tracking.model import CALLEE, CALLER, Channel
from cti.tracking.queues import QueueEvents
from cti.tracking.transfers import TransferEvents

__all__ = ["CallTracker", "TrackerConfig", "TrackerStats"]

Handler = Callable[[dict[str, Any], float], None]

# The VarSet variables the tracker reads (queue overflow verdict, voicemail left, a campaign's attempt).
TRACKED_VARIABLES = frozenset({"QUEUESTATUS", "VMSTATUS", "CC_ATTEMPT"})
# A QUEUESTATUS VarSet follows QueueCallerLeave within milliseconds when there is one.
QUEUE_VERDICT_S = 1.0


def _duration_s(value: str) -> float:
    """CoreShowChannel ``Duration: 00:01:05`` in seconds (0 when unreadable)."""
    total = 0.0
    for part in value.split(":"):
        number = to_int(part)
        if number is None:
            return 0.0
        total = total * 60 + number
    return total


class CallTracker(ChannelEvents, QueueEvents, TransferEvents):
    """Follows every call, channel, bridge, queue caller and agent of one PBX."""

    def __init__(self, pbx: str = "pbx1", config: TrackerConfig | None = None) -> None:
        super().__init__(pbx, config)
        self._handlers: dict[str, Handler] = {
            "Newchannel": self._on_newchannel,
            "NewCallerid": self._on_newcallerid,
            "NewConnectedLine": self._on_connected_line,
            "Newstate": self._on_newstate,
            "DialBegin": self._on_dial_begin,
            "DialEnd": self._on_dial_end,
            "BridgeCreate": self._on_bridge_create,
            "BridgeEnter": self._on_bridge_enter,
            "BridgeLeave": self._on_bridge_leave,
            "BridgeDestroy": self._on_bridge_destroy,
            "ConfbridgeJoin": self._on_conference_join,
            "LocalOptimizationBegin": self._on_local_optimization,
            "SoftHangupRequest": self._on_hangup_request,
            "HangupRequest": self._on_hangup_request,
            "Hangup": self._on_hangup,
            "Hold": self._on_hold,
            "MusicOnHoldStart": self._on_music_start,
            "Unhold": self._on_unhold,
            "MusicOnHoldStop": self._on_unhold,
            "QueueCallerJoin": self._on_queue_join,
            "QueueCallerAbandon": self._on_queue_abandon,
            "QueueCallerLeave": self._on_queue_leave,
            "AgentCalled": self._on_agent_called,
            "AgentConnect": self._on_agent_connect,
            "AgentRingNoAnswer": self._on_agent_ring_over,
            "AgentDump": self._on_agent_ring_over,
            "QueueMemberAdded": self._on_member,
            "QueueMemberPause": self._on_member,
            "QueueMember": self._on_member,
            "QueueMemberRemoved": self._on_member_removed,
            "QueueParams": self._on_queue_params,
            "QueueEntry": self._on_queue_entry,
            "CoreShowChannel": self._on_core_show_channel,
            "Pickup": self._on_pickup,
            "BlindTransfer": self._on_blind_transfer,
            "AttendedTransfer": self._on_attended_transfer,
            "MessageWaiting": self._on_message_waiting,
            "AGIExecStart": self._on_agi_exec,
            "ChanSpyStart": self._on_spy_start,
            "ChanSpyStop": self._on_spy_stop,
        }
        self._handler_of = self._handlers.get

    # --- public API ----------------------------------------------------------------------------------
    def feed(self, msg: dict[str, Any], now: float | None = None) -> list[Event]:
        """Apply one AMI message; return the domain events it causes, in order. Never raises."""
        try:
            name = msg["Event"]
            handler = self._handler_of(name)
        except (KeyError, TypeError, AttributeError):
            self.stats.ignored += 1
            return []
        if handler is None:
            # VarSet is a third of all traffic: only the tracked variables matter, look at nothing else
            variable = msg.get("Variable") if name == "VarSet" else None
            if not isinstance(variable, str) or variable not in TRACKED_VARIABLES:
                self.stats.ignored += 1
                return []
            handler = self._on_varset
        self.stats.handled += 1
        stamp = msg.get("Timestamp")
        if stamp is None:
            t = 0.0 if now is None else now
            if t > self._last_t:
                self._last_t = t
        else:
            t = self._time(msg, now)
        out: list[Event] = []
        self._out = out
        try:
            handler(msg, t)
        except Exception:  # garbage fields must never take the bridge down: count and go on
            self.stats.malformed += 1
        agents = self.agents
        if agents.dirty or agents.wrapping:
            try:
                out.extend(agents.flush(t))
            except Exception:
                self.stats.malformed += 1
        return out

    def tick(self, now: float) -> list[Event]:
        """Time-driven transitions: end of wrap-up, expiry of calls never seen to hang up, and the
        verdict of a queue stay left a while ago with no further event from its caller."""
        out: list[Event] = []
        self._out = out
        self._last_t = max(self._last_t, now)
        try:
            for chan in [c for c in self._channels.values() if c.queue is not None]:
                left_at = chan.queue.left_at if chan.queue is not None else None
                if left_at is not None and now - left_at >= QUEUE_VERDICT_S:
                    self._settle_queue(chan)
            limit = self.config.phantom_call_expiry_s
            for call in [c for c in self._calls.values() if now - c.last_seen > limit]:
                self.stats.expired_calls += 1
                for chan in list(call.channels.values()):
                    self._drop_channel(chan, now)
                if not call.ended:
                    self._end_call(call, now)
        except Exception:
            self.stats.malformed += 1
        out.extend(self.agents.flush(now))
        return out

    def resync_begin(self) -> None:
        """Start of a state rebuild: every known channel must be reported again to survive."""
        self._queue_entries.clear()
        self._queued_bridges.clear()
        for chan in self._channels.values():
            chan.confirmed = False
        self.agents.resync_begin()

    def resync_end(self, now: float) -> list[Event]:
        """End of the rebuild: end the calls whose channels the PBX no longer reports."""
        out: list[Event] = []
        self._out = out
        self._last_t = max(self._last_t, now)
        try:
            for chan in [c for c in self._channels.values() if not c.confirmed]:
                if chan.uid in self._channels:
                    self._drop_channel(chan, now)
            self.agents.resync_end()
            self._queue_entries.clear()
            self._queued_bridges.clear()
        except Exception:
            self.stats.malformed += 1
        out.extend(self.agents.flush(now))
        return out

    def snapshot(self) -> dict[str, Any]:
        """Live calls, channels, agents, queue members and waiting callers (JSON-serialisable)."""
        now = self._last_t
        calls = []
        waiting: dict[str, list[dict[str, Any]]] = {}
        for call in self._calls.values():
            calls.append(
                {
                    "call_id": call.uid,
                    "start": iso_ts(call.start),
                    "direction": call.direction,
                    "caller": self._caller(call),
                    "dialed": call.dialed,
                    "answered": call.answered_at is not None,
                    "queue": call.queue,
                    "agent": call.agent,
                    "on_hold": bool(call.held),
                    "parties": [
                        {
                            "role": p.role,
                            "channel": p.face,
                            "number": p.number,
                            "name": p.name,
                            "extension": p.extension,
                            "state": "up" if p.up else "ringing" if p.ringing else "down",
                        }
                        for p in call.parties
                        if not p.ended
                    ],
                }
            )
            for chan in call.channels.values():
                stay = chan.queue
                if stay is not None and stay.left_at is None:
                    waiting.setdefault(stay.queue, []).append(
                        {
                            "call_id": call.uid,
                            "channel": chan.name,
                            "position": stay.position,
                            "wait_s": secs(now - stay.joined_at),
                        }
                    )
        channels = [
            {
                "uniqueid": c.uid,
                "channel": c.name,
                "call_id": c.call.uid,
                "state": c.state,
                "bridge": c.bridge.uid if c.bridge is not None else None,
                "role": c.party.role,
                "extension": c.party.extension,
            }
            for c in self._channels.values()
        ]
        members = self.agents.members_of()
        queues = {
            q: {"members": members.get(q, []), "waiting": sorted(waiting.get(q, []), key=_position)}
            for q in sorted(set(members) | set(waiting))
        }
        return {
            "pbx": self.pbx,
            "calls": calls,
            "channels": channels,
            "agents": self.agents.snapshot(now),
            "queues": queues,
            "stats": {**self.stats.as_dict(), "dropped_agents": self.agents.stats.dropped_agents},
        }

    # --- helpers -------------------------------------------------------------------------------------
    def _time(self, msg: dict[str, Any], now: float | None) -> float:
        stamp = msg.get("Timestamp")
        if stamp is not None:
            try:
                t = float(stamp)
            except (TypeError, ValueError):
                t = -1.0
            if 0.0 <= t < 1e11:
                self._last_t = t
                return t
        t = now if now is not None else 0.0
        if t > self._last_t:
            self._last_t = t
        return t

    # --- resync replies ------------------------------------------------------------------------------
    def _on_core_show_channel(self, msg: dict[str, Any], t: float) -> None:
        chan = self._chan(msg)
        if chan is None:
            start = t - _duration_s(text(msg.get("Duration")))
            chan = self._add_channel(msg, start)
            if chan is None:
                return
            self._adopt(chan, msg, t)
            self._adopt_queue_entry(chan, t)
            adopted = True
        else:
            adopted = False
        chan.confirmed = True
        bridge_uid = text(msg.get("BridgeId"))
        if adopted and bridge_uid:
            if chan.queue is None and text(msg.get("Application")) == "Queue":
                # Queue() runs on while its caller talks and QueueStatus lists only waiting callers: a
                # caller answered from its queue before the tracker started
                self._answered_in_queue(chan, text(msg.get("ApplicationData")).split(",", 1)[0], bridge_uid, t)
            else:
                self._answering_from_queue(chan, bridge_uid)
        if bridge_uid and (chan.bridge is None or chan.bridge.uid != bridge_uid):
            self._enter(chan, bridge_uid, t)

    def _adopt(self, chan: Channel, msg: dict[str, Any], t: float) -> None:
        """A channel first seen in a CoreShowChannels reply (the tracker started mid-call)."""
        call = chan.call
        party = chan.party
        inbound = chan.context in self.config.inbound_contexts
        if inbound and not call.announced and call.parties[0] is not party:
            # replies come in any order: the inbound leg is the caller, whoever was listed first
            call.parties.remove(party)
            call.parties.insert(0, party)
            call.first_context = chan.context
            call.dialed = known(chan.exten)
            for other in call.parties:
                other.role = CALLER if other is party else CALLEE
            self._caller_id(chan, msg)
        if chan.state == 6:
            party.up = True
        elif chan.state == 5:
            party.ringing = True
        self.agents.touch(party)
        self._touch(call, t)


def _position(row: dict[str, Any]) -> int:
    position = row.get("position")
    return position if isinstance(position, int) else 1 << 30

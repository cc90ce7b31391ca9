"""Live state of the simulated PBX, derived only from the events it has emitted.

``PBXState.apply(event, now)`` is a pure reducer: channels (with their snapshot headers),
bridges, queue members and waiting callers change only because an event said so. The list
actions (CoreShowChannels, Status, BridgeList, QueueStatus, QueueSummary) are then answered from
this state, so a client that resyncs after a reconnect sees exactly what the event stream told
everyone else. The shapes and header orders of the list items are those of transcript 08; the
queue member events follow transcript 01.
"""

from __future__ import annotations

from dataclasses import dataclass, field

Event = dict[str, str]
Headers = list[tuple[str, str]]

SNAPSHOT_KEYS = (
    "Channel",
    "ChannelState",
    "ChannelStateDesc",
    "CallerIDNum",
    "CallerIDName",
    "ConnectedLineNum",
    "ConnectedLineName",
    "Language",
    "AccountCode",
    "Context",
    "Exten",
    "Priority",
    "Uniqueid",
    "Linkedid",
)
_DEVICE_STATUS = {
    "UNKNOWN": 0,
    "NOT_INUSE": 1,
    "INUSE": 2,
    "BUSY": 3,
    "INVALID": 4,
    "UNAVAILABLE": 5,
    "RINGING": 6,
    "RINGINUSE": 7,
    "ONHOLD": 8,
}


@dataclass(slots=True)
class ChannelRecord:
    snapshot: dict[str, str]
    created: float
    application: str = ""
    data: str = ""
    bridge: str = ""
    variables: dict[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.snapshot["Channel"]

    @property
    def uniqueid(self) -> str:
        return self.snapshot["Uniqueid"]

    @property
    def linkedid(self) -> str:
        return self.snapshot["Linkedid"]


@dataclass(slots=True)
class BridgeRecord:
    uniqueid: str
    fields: dict[str, str]
    channels: list[str] = field(default_factory=list)


@dataclass(slots=True)
class MemberRecord:
    queue: str
    name: str
    interface: str
    state_interface: str
    login_time: int
    penalty: int = 0
    calls_taken: int = 0
    last_call: int = 0
    last_pause: int = 0
    in_call: int = 0
    paused: bool = False
    paused_reason: str = ""

    @property
    def extension(self) -> str:
        return self.interface.removeprefix("Local/").split("@", 1)[0]


@dataclass(slots=True)
class QueueEntry:
    uniqueid: str
    joined: float


@dataclass(slots=True)
class QueueRecord:
    name: str
    strategy: str
    members: dict[str, MemberRecord] = field(default_factory=dict)
    entries: list[QueueEntry] = field(default_factory=list)
    completed: int = 0
    abandoned: int = 0
    hold_total: float = 0.0
    talk_total: float = 0.0
    service_level: int = 20
    answered_within_sl: int = 0
    rr_next: int = 0


class QueueError(Exception):
    """A queue action the PBX refuses; the message is Asterisk's own reply text."""


@dataclass(slots=True)
class PBXState:
    queues: dict[str, QueueRecord]
    channels: dict[str, ChannelRecord] = field(default_factory=dict)
    bridges: dict[str, BridgeRecord] = field(default_factory=dict)
    devices: dict[str, str] = field(default_factory=dict)
    mailboxes: dict[str, int] = field(default_factory=dict)

    @classmethod
    def with_queues(cls, strategies: dict[str, str]) -> PBXState:
        return cls(queues={name: QueueRecord(name, strategy) for name, strategy in strategies.items()})

    # --- the reducer ----------------------------------------------------------------------------
    def apply(self, event: Event, now: float) -> None:
        name = event.get("Event", "")
        handler = _HANDLERS.get(name)
        if name != "Newchannel":
            self._refresh_snapshot(event)
        if handler is not None:
            handler(self, event, now)

    def _refresh_snapshot(self, event: Event) -> None:
        uid = event.get("Uniqueid")
        chan = self.channels.get(uid) if uid else None
        if chan is not None and event.get("Channel") == chan.name:
            for key in SNAPSHOT_KEYS:
                if key in event:
                    chan.snapshot[key] = event[key]

    def _newchannel(self, event: Event, now: float) -> None:
        snapshot = {key: event.get(key, "") for key in SNAPSHOT_KEYS}
        self.channels[event["Uniqueid"]] = ChannelRecord(snapshot=snapshot, created=now)

    def _newexten(self, event: Event, now: float) -> None:
        chan = self.channels.get(event.get("Uniqueid", ""))
        if chan is not None:
            chan.application, chan.data = event.get("Application", ""), event.get("AppData", "")

    def _originate_response(self, event: Event, now: float) -> None:
        # the originated ;1 leg runs the Originate's application, with no Newexten for it
        chan = self.channels.get(event.get("Uniqueid", ""))
        if chan is not None and event.get("Application"):
            chan.application, chan.data = event["Application"], event.get("Data", "")

    def _cel(self, event: Event, now: float) -> None:
        chan = self.channels.get(event.get("UniqueID", ""))
        if chan is not None and event.get("EventName") == "APP_START":
            chan.application, chan.data = event.get("Application", ""), event.get("AppData", "")

    def _varset(self, event: Event, now: float) -> None:
        chan = self.channels.get(event.get("Uniqueid", ""))
        if chan is not None:
            chan.variables[event.get("Variable", "")] = event.get("Value", "")

    def _hangup(self, event: Event, now: float) -> None:
        chan = self.channels.pop(event.get("Uniqueid", ""), None)
        if chan is not None and chan.bridge in self.bridges:
            members = self.bridges[chan.bridge].channels
            if chan.uniqueid in members:
                members.remove(chan.uniqueid)

    def _bridge_create(self, event: Event, now: float) -> None:
        fields = {k: v for k, v in event.items() if k.startswith("Bridge")}
        self.bridges[event["BridgeUniqueid"]] = BridgeRecord(event["BridgeUniqueid"], fields)

    def _bridge_enter(self, event: Event, now: float) -> None:
        bridge = self.bridges.get(event.get("BridgeUniqueid", ""))
        chan = self.channels.get(event.get("Uniqueid", ""))
        if bridge is not None and chan is not None:
            bridge.channels.append(chan.uniqueid)
            chan.bridge = bridge.uniqueid

    def _bridge_leave(self, event: Event, now: float) -> None:
        bridge = self.bridges.get(event.get("BridgeUniqueid", ""))
        chan = self.channels.get(event.get("Uniqueid", ""))
        if chan is not None:
            chan.bridge = ""
        if bridge is not None and event.get("Uniqueid") in bridge.channels:
            bridge.channels.remove(event["Uniqueid"])

    def _bridge_destroy(self, event: Event, now: float) -> None:
        self.bridges.pop(event.get("BridgeUniqueid", ""), None)

    def _caller_join(self, event: Event, now: float) -> None:
        queue = self.queues.get(event.get("Queue", ""))
        if queue is not None:
            queue.entries.append(QueueEntry(event["Uniqueid"], now))

    def _caller_leave(self, event: Event, now: float) -> None:
        queue = self.queues.get(event.get("Queue", ""))
        if queue is not None:
            queue.entries = [e for e in queue.entries if e.uniqueid != event.get("Uniqueid")]

    def _caller_abandon(self, event: Event, now: float) -> None:
        queue = self.queues.get(event.get("Queue", ""))
        if queue is not None:
            queue.abandoned += 1

    def _agent_connect(self, event: Event, now: float) -> None:
        queue = self.queues.get(event.get("Queue", ""))
        member = queue.members.get(event.get("Interface", "")) if queue else None
        if queue is not None and member is not None:
            member.in_call = 1
            hold = float(event.get("HoldTime", "0") or 0)
            queue.hold_total += hold
            queue.answered_within_sl += hold <= queue.service_level

    def _agent_complete(self, event: Event, now: float) -> None:
        queue = self.queues.get(event.get("Queue", ""))
        member = queue.members.get(event.get("Interface", "")) if queue else None
        if queue is not None:
            queue.completed += 1
            queue.talk_total += float(event.get("TalkTime", "0") or 0)
        if member is not None:
            member.in_call, member.calls_taken, member.last_call = 0, member.calls_taken + 1, int(now)

    def _device(self, event: Event, now: float) -> None:
        self.devices[event.get("Device", "")] = event.get("State", "")

    def _message_waiting(self, event: Event, now: float) -> None:
        self.mailboxes[event.get("Mailbox", "")] = int(event.get("New", "0") or 0)

    # --- queries --------------------------------------------------------------------------------
    def channel_by_name(self, name: str) -> ChannelRecord | None:
        for chan in self.channels.values():
            if chan.name == name:
                return chan
        return None

    def member_status(self, member: MemberRecord) -> int:
        return _DEVICE_STATUS.get(self.devices.get(member.state_interface, "NOT_INUSE"), 0)

    def is_available(self, member: MemberRecord) -> bool:
        return not member.paused and not member.in_call and self.member_status(member) == 1

    def next_agent(self, queue_name: str) -> MemberRecord | None:
        """The member a call to the queue rings: round robin over the available members."""
        queue = self.queues[queue_name]
        members = list(queue.members.values())
        for i in range(len(members)):
            member = members[(queue.rr_next + i) % len(members)]
            if self.is_available(member) and not self.agent_busy(member.extension):
                queue.rr_next = (queue.rr_next + i + 1) % len(members)
                return member
        return None

    def agent_busy(self, extension: str) -> bool:
        prefix = f"Local/{extension}@agents-"
        return any(chan.name.startswith(prefix) for chan in self.channels.values())

    def queue(self, name: str) -> QueueRecord:
        queue = self.queues.get(name)
        if queue is None:
            raise QueueError("No such queue")
        return queue


_HANDLERS = {
    "Newchannel": PBXState._newchannel,
    "Newexten": PBXState._newexten,
    "CEL": PBXState._cel,
    "OriginateResponse": PBXState._originate_response,
    "VarSet": PBXState._varset,
    "Hangup": PBXState._hangup,
    "BridgeCreate": PBXState._bridge_create,
    "BridgeEnter": PBXState._bridge_enter,
    "BridgeLeave": PBXState._bridge_leave,
    "BridgeDestroy": PBXState._bridge_destroy,
    "QueueCallerJoin": PBXState._caller_join,
    "QueueCallerLeave": PBXState._caller_leave,
    "QueueCallerAbandon": PBXState._caller_abandon,
    "AgentConnect": PBXState._agent_connect,
    "AgentComplete": PBXState._agent_complete,
    "DeviceStateChange": PBXState._device,
    "MessageWaiting": PBXState._message_waiting,
}


def snapshot_headers(chan: ChannelRecord, prefix: str = "") -> Headers:
    """A channel snapshot as Asterisk prints it, optionally prefixed (``Dest``, ``Transferee``)."""
    return [(f"{prefix}{key}", chan.snapshot.get(key, "")) for key in SNAPSHOT_KEYS]

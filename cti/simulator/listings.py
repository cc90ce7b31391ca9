"""Replies to the list actions, built from ``PBXState`` (shapes and header order of transcript 08).

Each function returns the list items; ``list_reply`` wraps them as Asterisk does: a
``Response: Success`` with ``EventList: start``, the items, then the ``*Complete`` event with
``EventList: Complete`` and ``ListItems``.
"""

from __future__ import annotations

from collections.abc import Sequence

from cti.simulator.queues import member_stats
from cti.simulator.state import ChannelRecord, Headers, PBXState, QueueError, snapshot_headers

Message = list[tuple[str, str]]


def _aid(action_id: str) -> Headers:
    return [("ActionID", action_id)] if action_id else []


def list_reply(
    action_id: str,
    message: str,
    items: list[Message],
    complete: str,
    extra: Sequence[tuple[str, str]] = (),
) -> list[Message]:
    start: Message = [("Response", "Success"), *_aid(action_id), ("EventList", "start"), ("Message", message)]
    done: Message = [
        ("Event", complete),
        *_aid(action_id),
        ("EventList", "Complete"),
        ("ListItems", str(len(items))),
        *extra,
    ]
    return [start, *items, done]


def _hms(seconds: float) -> str:
    s = max(0, int(seconds))
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


def core_show_channels(state: PBXState, action_id: str, now: float) -> list[Message]:
    items = [
        [
            ("Event", "CoreShowChannel"),
            *_aid(action_id),
            *snapshot_headers(chan),
            ("Application", chan.application),
            ("ApplicationData", chan.data),
            ("Duration", _hms(now - chan.created)),
            ("BridgeId", chan.bridge),
        ]
        for chan in state.channels.values()
    ]
    return list_reply(action_id, "Channels will follow", items, "CoreShowChannelsComplete")


def _status_item(chan: ChannelRecord, action_id: str, now: float) -> Message:
    snap = chan.snapshot
    return [
        ("Event", "Status"),
        ("Privilege", "Call"),
        *snapshot_headers(chan),
        ("Type", chan.name.split("/", 1)[0]),
        ("DNID", ""),
        ("EffectiveConnectedLineNum", snap.get("ConnectedLineNum", "")),
        ("EffectiveConnectedLineName", snap.get("ConnectedLineName", "")),
        ("TimeToHangup", "0"),
        ("BridgeID", chan.bridge),
        ("Application", chan.application),
        ("Data", chan.data),
        ("Nativeformats", "(slin)"),
        ("Readformat", "slin"),
        ("Readtrans", ""),
        ("Writeformat", "slin"),
        ("Writetrans", ""),
        ("Callgroup", "0"),
        ("Pickupgroup", "0"),
        ("Seconds", str(int(now - chan.created))),
        *_aid(action_id),
    ]


def status(state: PBXState, action_id: str, now: float, channel: str = "") -> list[Message]:
    """``Status`` for every channel, or for one (``QueueError("No such channel")`` if unknown)."""
    chans = list(state.channels.values())
    if channel:
        found = state.channel_by_name(channel)
        if found is None:
            raise QueueError("No such channel")
        chans = [found]
    items = [_status_item(chan, action_id, now) for chan in chans]
    return list_reply(action_id, "Channel status will follow", items, "StatusComplete", [("Items", str(len(items)))])


def bridge_list(state: PBXState, action_id: str) -> list[Message]:
    items = [
        [
            ("Event", "BridgeListItem"),
            *_aid(action_id),
            ("BridgeUniqueid", bridge.uniqueid),
            ("BridgeType", bridge.fields.get("BridgeType", "basic")),
            ("BridgeTechnology", bridge.fields.get("BridgeTechnology", "simple_bridge")),
            ("BridgeCreator", bridge.fields.get("BridgeCreator", "<unknown>")),
            ("BridgeName", bridge.fields.get("BridgeName", "<unknown>")),
            ("BridgeNumChannels", str(len(bridge.channels))),
            ("BridgeVideoSourceMode", bridge.fields.get("BridgeVideoSourceMode", "none")),
        ]
        for bridge in state.bridges.values()
    ]
    return list_reply(action_id, "Bridge listing will follow", items, "BridgeListComplete")


def queue_status(state: PBXState, action_id: str, now: float, queue: str = "", member: str = "") -> list[Message]:
    items: list[Message] = []
    for q in state.queues.values():
        if queue and q.name != queue:
            continue
        stats = member_stats(q)
        items.append(
            [
                ("Event", "QueueParams"),
                ("Queue", q.name),
                ("Max", "0"),
                ("Strategy", q.strategy),
                ("Calls", str(len(q.entries))),
                ("Holdtime", stats["hold"]),
                ("TalkTime", stats["talk"]),
                ("Completed", str(q.completed)),
                ("Abandoned", str(q.abandoned)),
                ("ServiceLevel", str(q.service_level)),
                ("ServicelevelPerf", stats["perf"]),
                ("ServicelevelPerf2", stats["perf2"]),
                ("Weight", "0"),
                *_aid(action_id),
            ]
        )
        for m in q.members.values():
            if member and m.interface != member:
                continue
            items.append(
                [
                    ("Event", "QueueMember"),
                    ("Queue", q.name),
                    ("Name", m.name),
                    ("Location", m.interface),
                    ("StateInterface", m.state_interface),
                    ("Membership", "dynamic"),
                    ("Penalty", str(m.penalty)),
                    ("CallsTaken", str(m.calls_taken)),
                    ("LastCall", str(m.last_call)),
                    ("LastPause", str(m.last_pause)),
                    ("LoginTime", str(m.login_time)),
                    ("InCall", str(m.in_call)),
                    ("Status", str(state.member_status(m))),
                    ("Paused", "1" if m.paused else "0"),
                    ("PausedReason", m.paused_reason),
                    ("Wrapuptime", "0"),
                    *_aid(action_id),
                ]
            )
        if member:
            continue
        for position, entry in enumerate(q.entries, start=1):
            chan = state.channels.get(entry.uniqueid)
            if chan is None:
                continue
            snap = chan.snapshot
            items.append(
                [
                    ("Event", "QueueEntry"),
                    ("Queue", q.name),
                    ("Position", str(position)),
                    ("Channel", chan.name),
                    ("Uniqueid", chan.uniqueid),
                    ("CallerIDNum", snap.get("CallerIDNum", "")),
                    ("CallerIDName", snap.get("CallerIDName", "")),
                    ("ConnectedLineNum", snap.get("ConnectedLineNum", "")),
                    ("ConnectedLineName", snap.get("ConnectedLineName", "")),
                    ("Wait", str(int(now - entry.joined))),
                    ("Priority", "0"),
                    *_aid(action_id),
                ]
            )
    return list_reply(action_id, "Queue status will follow", items, "QueueStatusComplete")


def queue_summary(state: PBXState, action_id: str, now: float, queue: str = "") -> list[Message]:
    items: list[Message] = []
    for q in state.queues.values():
        if queue and q.name != queue:
            continue
        stats = member_stats(q)
        longest = max((now - e.joined for e in q.entries), default=0.0)
        items.append(
            [
                ("Event", "QueueSummary"),
                ("Queue", q.name),
                ("LoggedIn", str(len(q.members))),
                ("Available", str(sum(state.is_available(m) for m in q.members.values()))),
                ("Callers", str(len(q.entries))),
                ("HoldTime", stats["hold"]),
                ("TalkTime", stats["talk"]),
                ("LongestHoldTime", str(int(longest))),
                *_aid(action_id),
            ]
        )
    return list_reply(action_id, "Queue summary will follow", items, "QueueSummaryComplete")

"""Queue membership changes (QueueAdd, QueueRemove, QueuePause) on the simulated PBX.

Pure functions over ``PBXState``: each returns the success message and the events Asterisk 22
sends, in its order (transcript 01): the ``Queue:<q>_pause_<iface>`` device state, the member
event, then ``Queue:<q>_avail``. Device states are only announced when they change, as Asterisk
does. Refusals raise ``QueueError`` with Asterisk's reply text.
"""

from __future__ import annotations

from cti.simulator.state import Event, MemberRecord, PBXState, QueueError, QueueRecord

MEMBER_EVENT_KEYS = (
    "Queue",
    "MemberName",
    "Interface",
    "StateInterface",
    "Membership",
    "Penalty",
    "CallsTaken",
    "LastCall",
    "LastPause",
    "LoginTime",
    "InCall",
    "Status",
    "Paused",
    "PausedReason",
    "Ringinuse",
    "Wrapuptime",
)


def member_event(state: PBXState, name: str, member: MemberRecord) -> Event:
    values = {
        "Queue": member.queue,
        "MemberName": member.name,
        "Interface": member.interface,
        "StateInterface": member.state_interface,
        "Membership": "dynamic",
        "Penalty": str(member.penalty),
        "CallsTaken": str(member.calls_taken),
        "LastCall": str(member.last_call),
        "LastPause": str(member.last_pause),
        "LoginTime": str(member.login_time),
        "InCall": str(member.in_call),
        "Status": str(state.member_status(member)),
        "Paused": "1" if member.paused else "0",
        "PausedReason": member.paused_reason,
        "Ringinuse": "0",
        "Wrapuptime": "0",
    }
    return {"Event": name, "Privilege": "agent,all", **{key: values[key] for key in MEMBER_EVENT_KEYS}}


def _device(state: PBXState, device: str, value: str) -> list[Event]:
    if state.devices.get(device) == value:
        return []
    state.devices[device] = value
    return [{"Event": "DeviceStateChange", "Privilege": "call,all", "Device": device, "State": value}]


def _pause_device(state: PBXState, member: MemberRecord, paused: bool) -> list[Event]:
    device = f"Queue:{member.queue}_pause_{member.interface}"
    return _device(state, device, "INUSE" if paused else "NOT_INUSE")


def _avail_device(state: PBXState, queue: QueueRecord) -> list[Event]:
    available = any(state.is_available(m) for m in queue.members.values())
    return _device(state, f"Queue:{queue.name}_avail", "NOT_INUSE" if available else "INUSE")


def add_member(
    state: PBXState,
    queue_name: str,
    interface: str,
    now: float,
    *,
    state_interface: str = "",
    member_name: str = "",
    penalty: int = 0,
    paused: bool = False,
    reason: str = "",
) -> list[Event]:
    queue = state.queues.get(queue_name)
    if queue is None:
        raise QueueError("Unable to add interface to queue: No such queue")
    if interface in queue.members:
        raise QueueError("Unable to add interface: Already there")
    member = MemberRecord(
        queue=queue_name,
        name=member_name or interface,
        interface=interface,
        state_interface=state_interface or interface,
        login_time=int(now),
        penalty=penalty,
        paused=paused,
        paused_reason=reason if paused else "",
        last_pause=int(now) if paused else 0,
    )
    queue.members[interface] = member
    events = _pause_device(state, member, paused)
    events.append(member_event(state, "QueueMemberAdded", member))
    return events + _avail_device(state, queue)


def remove_member(state: PBXState, queue_name: str, interface: str) -> list[Event]:
    queue = state.queues.get(queue_name)
    if queue is None:
        raise QueueError("Unable to remove interface from queue: No such queue")
    member = queue.members.pop(interface, None)
    if member is None:
        raise QueueError("Unable to remove interface: Not there")
    events = [member_event(state, "QueueMemberRemoved", member)]
    events += _pause_device(state, member, False)
    return events + _avail_device(state, queue)


def pause_member(
    state: PBXState, interface: str, paused: bool, now: float, *, queue_name: str = "", reason: str = ""
) -> list[Event]:
    """Pause or unpause in one queue, or in every queue the interface is in when none is named."""
    if queue_name:
        queue = state.queues.get(queue_name)
        targets = [queue.members[interface]] if queue and interface in queue.members else []
    else:
        targets = [q.members[interface] for q in state.queues.values() if interface in q.members]
    if not targets:
        raise QueueError("Interface not found")
    events: list[Event] = []
    for member in targets:
        member.paused = paused
        member.paused_reason = reason if paused else ""
        if paused:
            member.last_pause = int(now)
        events += _pause_device(state, member, paused)
        events += _avail_device(state, state.queues[member.queue])
        events.append(member_event(state, "QueueMemberPause", member))
    return events


def availability_events(state: PBXState) -> list[Event]:
    """``Queue:<q>_avail`` changes after agents' device states moved (a call began or ended)."""
    events: list[Event] = []
    for queue in state.queues.values():
        if queue.members:
            events += _avail_device(state, queue)
    return events


def member_stats(queue: QueueRecord) -> dict[str, str]:
    """Holdtime/TalkTime/ServiceLevel figures as QueueParams and QueueSummary print them."""
    completed = queue.completed
    hold = round(queue.hold_total / completed) if completed else 0
    talk = round(queue.talk_total / completed) if completed else 0
    perf = 100.0 * queue.answered_within_sl / completed if completed else 0.0
    handled = completed + queue.abandoned
    perf2 = 100.0 * (queue.answered_within_sl + queue.abandoned) / handled if handled else 0.0
    return {"hold": str(hold), "talk": str(talk), "perf": f"{perf:.1f}", "perf2": f"{perf2:.1f}"}

"""Queue and agent events: callers waiting in queues, members logging in, pausing and ringing.

A Queue() timeout also sends QueueCallerAbandon; only a QUEUESTATUS VarSet tells it apart, and it
may come after QueueCallerLeave. So an abandon's verdict stays open until the caller's next event.
"""

from __future__ import annotations

from typing import Any

from cti.events import QUEUE_JOINED
from cti.tracking.calls import CallBook, secs, text, to_int
from cti.tracking.model import CALLEE, Channel, QueueStay

# QUEUESTATUS of a Queue() that ended without an answer -> queue.left reason (queue_log names)
_OVERFLOW_REASONS = {
    "TIMEOUT": "timeout",
    "FULL": "full",
    "JOINEMPTY": "joinempty",
    "JOINUNAVAIL": "joinempty",
    "LEAVEEMPTY": "exitempty",
    "LEAVEUNAVAIL": "exitempty",
    "WITHDRAW": "withdraw",
}


class QueueEvents(CallBook):
    """Handlers of QueueCaller*, Agent*, QueueMember*, QueueParams/QueueEntry and the VarSets used."""

    # --- queues --------------------------------------------------------------------------------------
    def _on_queue_join(self, msg: dict[str, Any], t: float) -> None:
        chan = self._chan(msg)
        queue = text(msg.get("Queue"))
        if chan is None or not queue:
            return
        self._join(chan, queue, to_int(msg.get("Position")), t, t)

    def _join(self, chan: Channel, queue: str, position: int | None, joined_at: float, t: float) -> None:
        self._settle_queue(chan)
        call = chan.call
        if call.originated and not call.announced and chan.uid == call.origin_channel:
            call.originate_queued = True  # the Originate's own channel went on into Queue(): a dialer's call
        chan.queue = QueueStay(queue=queue, joined_at=joined_at, position=position)
        chan.party.face = chan.name
        call.queue = queue
        if call.wait_start is None:
            call.wait_start = joined_at
        self._touch(call, t, force=True)
        self._emit(
            QUEUE_JOINED,
            t,
            call_id=call.uid,
            channel=chan.name,
            queue=queue,
            position=position,
            wait_s=secs(t - joined_at),
        )

    def _on_queue_abandon(self, msg: dict[str, Any], t: float) -> None:
        chan = self._chan(msg)
        stay = chan.queue if chan is not None else None
        if stay is None or stay.queue != text(msg.get("Queue")):
            return
        stay.abandon_at = t
        stay.abandon_position = to_int(msg.get("Position"), stay.position)

    def _on_queue_leave(self, msg: dict[str, Any], t: float) -> None:
        chan = self._chan(msg)
        stay = chan.queue if chan is not None else None
        if chan is None or stay is None or stay.queue != text(msg.get("Queue")) or stay.left_at is not None:
            return
        position = to_int(msg.get("Position"), stay.position)
        if stay.overflow is not None:
            self._queue_left(chan, stay, t, position, stay.overflow)
        elif stay.answered:
            self._queue_left(chan, stay, t, position, "answered")
        else:
            # abandon, overflow, answer or exit with a key: the caller's next events tell
            stay.left_at = t
            stay.left_position = position

    def _on_varset(self, msg: dict[str, Any], t: float) -> None:
        variable = msg.get("Variable")
        if variable == "QUEUESTATUS":
            chan = self._chan(msg)
            stay = chan.queue if chan is not None else None
            status = text(msg.get("Value")).upper()
            reason = _OVERFLOW_REASONS.get(status)
            if chan is None or stay is None or reason is None:
                return
            stay.overflow = reason
            chan.call.overflow = True
            if stay.left_at is not None:
                self._queue_left(chan, stay, stay.left_at, stay.left_position, stay.overflow)
        elif variable == "VMSTATUS":
            chan = self._chan(msg)
            if chan is not None and text(msg.get("Value")) == "SUCCESS":
                chan.call.voicemail = True
        elif variable == "CC_ATTEMPT":
            chan = self._chan(msg)
            attempt = text(msg.get("Value"))
            if chan is None or not attempt:
                return
            call = chan.call
            # set by the Originate on the channel it created (both halves of a Local pair): the customer's leg
            if not call.announced and chan.party is call.first_party:
                call.campaign_attempt = attempt

    def _on_agi_exec(self, msg: dict[str, Any], t: float) -> None:
        """An IVR that runs VoiceMail from inside AGI (``EXEC "VoiceMail" "100@default,u"``): no
        dialplan step shows it, only this. The caller reached voicemail: the call is not abandoned,
        whether or not he stayed for the beep (``voicemail.new`` says whether a message was left)."""
        command = msg.get("Command")
        if not isinstance(command, str) or command[:4].upper() != "EXEC":
            return
        words = command.split(None, 2)
        if len(words) >= 2 and words[1].strip('"').lower() == "voicemail":
            chan = self._chan(msg)
            if chan is not None:
                chan.call.voicemail = True

    def _on_message_waiting(self, msg: dict[str, Any], t: float) -> None:
        chan = self._chan(msg)
        if chan is not None and (to_int(msg.get("New"), 0) or 0) > 0:
            chan.call.voicemail = True

    def _on_agent_called(self, msg: dict[str, Any], t: float) -> None:
        dest = self._chan(msg, "DestUniqueid")
        if dest is None:
            return
        party = dest.party
        party.queue = text(msg.get("Queue")) or party.queue
        member = text(msg.get("MemberName"))
        if party.extension is None:
            extension = self.agents.member_extension(msg)
            if extension is not None:
                party.extension = party.number = extension
                self.agents.attach(party)
        if member and party.extension is not None:
            party.name = member
            agent = self.agents.agents.get(party.extension)
            if agent is not None and agent.name is None:
                agent.name = member

    def _on_agent_connect(self, msg: dict[str, Any], t: float) -> None:
        dest = self._chan(msg, "DestUniqueid")
        if dest is not None:
            dest.party.queue = text(msg.get("Queue")) or dest.party.queue
            self._queue_answered(self._chan(msg))

    def _on_agent_ring_over(self, msg: dict[str, Any], t: float) -> None:
        dest = self._chan(msg, "DestUniqueid")
        if dest is not None and not dest.party.up:
            dest.party.ringing = False
            self.agents.touch(dest.party)

    # --- agents --------------------------------------------------------------------------------------
    def _on_member(self, msg: dict[str, Any], t: float) -> None:
        self.agents.member_seen(msg)

    def _on_member_removed(self, msg: dict[str, Any], t: float) -> None:
        self.agents.member_removed(msg)

    def _on_queue_params(self, msg: dict[str, Any], t: float) -> None:
        self.agents.queue_seen(text(msg.get("Queue")))

    def _on_queue_entry(self, msg: dict[str, Any], t: float) -> None:
        queue = text(msg.get("Queue"))
        if not queue:
            return
        chan = self._chan(msg)
        waited = to_int(msg.get("Wait"), 0) or 0
        position = to_int(msg.get("Position"))
        if chan is None:
            # QueueStatus may answer before CoreShowChannels: keep it for the channel's adoption
            uid = text(msg.get("Uniqueid"))
            if uid and len(self._queue_entries) < self.config.max_live_channels:
                self._queue_entries[uid] = (queue, position, t - waited)
            return
        if chan.queue is None:
            self._join(chan, queue, position, t - waited, t)

    def _answered_in_queue(self, chan: Channel, queue: str, bridge_uid: str, t: float) -> None:
        """A resync found ``chan`` talking from inside Queue(): its stay began no later than the channel and
        ended when the agent's leg began (the latest of the bridge's other people, if already listed)."""
        if not queue:
            return
        self._join(chan, queue, None, chan.created, t)
        stay = chan.queue
        if stay is None:
            return
        bridge = self._bridges.get(bridge_uid)
        others = [c for c in bridge.channels.values() if c.party is not chan.party] if bridge is not None else []
        for other in others:
            if other.party.role == CALLEE and other.party.queue is None:
                other.party.queue = queue
        stay.answered = True
        stay.left_at = max([chan.created, *(c.created for c in others)]) if others else t
        chan.call.known_wait = secs(stay.left_at - stay.joined_at)
        self._queue_left(chan, stay, stay.left_at, None, "answered")
        if len(self._queued_bridges) < self.config.max_live_channels:
            self._queued_bridges[bridge_uid] = queue

    def _answering_from_queue(self, chan: Channel, bridge_uid: str) -> None:
        """A resync lists the agent's leg after the queue caller it talks to: it answered from that queue."""
        queue = self._queued_bridges.get(bridge_uid)
        if queue is not None and chan.party.role == CALLEE and chan.party.queue is None:
            chan.party.queue = queue

    def _adopt_queue_entry(self, chan: Channel, t: float) -> None:
        entry = self._queue_entries.pop(chan.uid, None)
        if entry is not None and chan.queue is None:
            queue, position, joined_at = entry
            self._join(chan, queue, position, joined_at, t)

"""Call, party and channel lifecycle: creation, caller identity, answer, hangup and the end of a call.

This is the base of the call tracker; the AMI event handlers (``cti.tracking.channels``,
``.queues``, ``.transfers``) build on it. Nothing here reads a clock: times come in as arguments.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cti.events import (
    CALL_ANSWERED,
    CALL_ENDED,
    CALL_HANGUP,
    CALL_HOLD,
    CALL_NEW,
    CALL_RINGING,
    CALL_TRANSFER_FAILED,
    CALL_TRANSFERRED,
    CALL_UNHOLD,
    CALL_UPDATED,
    QUEUE_ABANDONED,
    QUEUE_LEFT,
    Event,
    make_event,
)
from cti.tracking.agents import AgentBook
from cti.tracking.config import TrackerConfig, dialable, local_exten
from cti.tracking.model import CALLEE, CALLER, SYSTEM, Bridge, Call, Channel, Party, QueueStay, Transfer

_UNKNOWN = frozenset({"", "<unknown>", "<Unknown>", "unknown"})
_BUSY_CAUSES = frozenset({17})
_FAILED_CAUSES = frozenset({1, 2, 3, 22, 27, 28, 29, 31, 34, 38, 41, 42, 44, 47, 58, 88})


@dataclass(slots=True)
class TrackerStats:
    handled: int = 0  # the messages a handler looked at
    ignored: int = 0  # the others (one count per message: the cheaper of the two paths counts once)
    malformed: int = 0  # handled ones whose fields made no sense
    dropped_calls: int = 0
    dropped_bridges: int = 0
    expired_calls: int = 0

    @property
    def events(self) -> int:
        """Every message fed."""
        return self.handled + self.ignored

    def as_dict(self) -> dict[str, int]:
        return {
            "events": self.events,
            "handled": self.handled,
            "ignored": self.ignored,
            "malformed": self.malformed,
            "dropped_calls": self.dropped_calls,
            "dropped_bridges": self.dropped_bridges,
            "expired_calls": self.expired_calls,
        }


def text(value: Any) -> str:
    """A header value as text; a repeated header (a list) gives its first value."""
    if value.__class__ is str:
        return value
    if isinstance(value, list) and value and isinstance(value[0], str):
        return value[0]
    return ""


def known(value: str) -> str | None:
    """None for Asterisk's placeholders of an unknown caller ID."""
    return None if value in _UNKNOWN else value


def to_int(value: Any, default: int | None = None) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def secs(value: float) -> float:
    return round(max(value, 0.0), 3)


def local_base(name: str) -> str | None:
    """``Local/x@ctx-0001;1`` -> ``Local/x@ctx-0001;`` (shared by both halves of the pair)."""
    if name.startswith("Local/") and len(name) > 2 and name[-2] == ";" and name[-1] in "12":
        return name[:-1]
    return None


def party_label(party: Party | None) -> str | None:
    if party is None:
        return None
    return party.extension or party.number or party.face or None


class CallBook:
    """Live calls, channels and bridges, with the lifecycle rules every handler shares."""

    def __init__(self, pbx: str = "pbx1", config: TrackerConfig | None = None) -> None:
        self.pbx = pbx
        self.config = config or TrackerConfig()
        self.stats = TrackerStats()
        self.agents = AgentBook(pbx, self.config)
        self._calls: dict[str, Call] = {}
        self._channels: dict[str, Channel] = {}
        self._names: dict[str, Channel] = {}
        self._bridges: dict[str, Bridge] = {}
        # QueueEntry replies for channels not adopted yet: uniqueid -> (queue, position, joined_at)
        self._queue_entries: dict[str, tuple[str, int | None, float]] = {}
        # bridges of callers a resync found answered from a queue: bridge uid -> queue
        self._queued_bridges: dict[str, str] = {}
        self._kinds: dict[str, tuple[str | None, bool, str | None]] = {}
        self._out: list[Event] = []
        self._last_t = 0.0

    # --- emission ------------------------------------------------------------------------------------
    def _emit(self, event_type: str, t: float, /, **fields: Any) -> None:
        self._out.append(make_event(event_type, t, self.pbx, **fields))

    def _caller(self, call: Call) -> dict[str, str | None]:
        return {"number": call.caller_number, "name": call.caller_name}

    @staticmethod
    def _callee(party: Party) -> dict[str, str | None]:
        return {"number": party.number, "name": party.name, "extension": party.extension}

    def _chan(self, msg: dict[str, Any], key: str = "Uniqueid") -> Channel | None:
        try:
            return self._channels.get(msg.get(key))  # type: ignore[arg-type]
        except TypeError:  # a repeated header (a list) names no channel
            return None

    # --- creation ------------------------------------------------------------------------------------
    def _new_call(self, uid: str, t: float) -> Call:
        while self._calls and len(self._calls) >= self.config.max_live_calls:
            self._forget(next(iter(self._calls.values())))
            self.stats.dropped_calls += 1
        call = self._calls[uid] = Call(uid=uid, start=t, last_seen=t)
        return call

    def _forget(self, call: Call) -> None:
        """Drop the oldest call silently (the memory cap); its parties leave their agents."""
        for chan in list(call.channels.values()):
            self._unindex(chan)
        for party in call.parties:
            party.ended = True
            self.agents.detach(party, call.last_seen)
        call.ended = True
        self._calls.pop(call.uid, None)
        self._release(call)

    def _unindex(self, chan: Channel) -> None:
        self._channels.pop(chan.uid, None)
        if self._names.get(chan.name) is chan:
            del self._names[chan.name]
        chan.call.channels.pop(chan.uid, None)
        chan.party.channels.pop(chan.uid, None)
        bridge = chan.bridge
        if bridge is not None:
            bridge.channels.pop(chan.uid, None)
            chan.bridge = None
            if not bridge.channels:
                self._bridges.pop(bridge.uid, None)

    def _add_channel(self, msg: dict[str, Any], t: float) -> Channel | None:
        """A channel from a Newchannel (or a CoreShowChannel of a channel never seen)."""
        get = msg.get
        uid = text(get("Uniqueid"))
        name = text(get("Channel"))
        if not uid or not name:
            self.stats.malformed += 1
            return None
        channels = self._channels
        existing = channels.get(uid)
        if existing is not None:
            return existing
        while self._calls and len(channels) >= self.config.max_live_channels:
            self._forget(next(iter(self._calls.values())))
            self.stats.dropped_calls += 1
        linkedid = text(get("Linkedid")) or uid
        call = self._calls.get(linkedid)
        if call is None or call.ended:
            call = self._new_call(linkedid, t)
        context = text(get("Context"))
        exten = text(get("Exten"))
        party = None
        if name[-2:-1] == ";" and name.startswith("Local/"):
            last = name[-1]
            if last == "1" or last == "2":
                partner = self._names.get(name[:-1] + ("2" if last == "1" else "1"))
                if partner is not None and partner.call is call:
                    party = partner.party
        if party is None:
            party = self._new_party(call, name)
        state = get("ChannelState")
        chan = Channel(
            uid,
            name,
            call,
            party,
            context,
            exten,
            (to_int(state, 0) or 0) if state.__class__ is not str or not state.isdigit() else int(state),
            t,
        )
        channels[uid] = chan
        self._names[name] = chan
        call.channels[uid] = chan
        party.channels[uid] = chan
        if not call.first_context:
            call.first_context = context
            call.dialed = known(exten)
            call.dial_expected = chan.state == 0 and name.endswith(";1") and name.startswith("Local/")
        self._caller_id(chan, msg)
        return chan

    def _kind(self, name: str) -> tuple[str | None, bool, str | None]:
        """(extension, trunk, Local extension) of a channel name, cached by the name without its
        sequence suffix (``PJSIP/1001-0000002a`` and ``Local/1001@agents-0000001c;1`` repeat it)."""
        dash = name.rfind("-")
        key = name[:dash] if dash > 0 else name
        kind = self._kinds.get(key)
        if kind is None:
            config = self.config
            kind = (config.extension_of(name), config.is_trunk(name), local_exten(name))
            if len(self._kinds) >= 4096:
                self._kinds.clear()
            self._kinds[key] = kind
        return kind

    def _new_party(self, call: Call, name: str) -> Party:
        parties = call.parties
        role = CALLEE if parties else CALLER
        extension, trunk, exten = self._kind(name)
        party = Party(call=call, role=role, face=name, trunk=trunk, extension=extension)
        if extension is not None:
            party.number = extension
            parties.append(party)
            self.agents.attach(party)
            return party
        if role == CALLEE:
            party.number = exten
        parties.append(party)
        return party

    def _caller_id(self, chan: Channel, msg: dict[str, Any]) -> None:
        """A party's number and name as the dialplan sets them (Newchannel, NewCallerid).

        The caller shown is the number after the dialplan's rewrite: a change after the call was
        announced updates the call and is sent as ``call.updated`` (the pop looks the caller up again).
        A callee's own caller ID names it when it differs from the caller's (Dial copies the caller's).
        """
        party = chan.party
        number = msg.get("CallerIDNum")
        if number.__class__ is not str:
            number = text(number)
        if number in _UNKNOWN:
            number = None
        name = msg.get("CallerIDName")
        if name.__class__ is not str:
            name = text(name)
        if name in _UNKNOWN:
            name = None
        call = chan.call
        if party.role == CALLER:
            if party.extension is not None:
                if name and party.name is None:
                    party.name = name
                return
            if not call.announced:
                if number:
                    party.number = number
                if name:
                    party.name = name
                return
            if chan.name.startswith("Local/") and not chan.name.endswith(";2"):
                return  # the dialplan rewrites a Local caller on its ;2 half
            changed = False
            if number and number != party.number:
                party.number = call.caller_number = number
                changed = True
            if name and name != party.name:
                party.name = call.caller_name = name
                changed = True
            if changed:
                self._emit(CALL_UPDATED, self._last_t, call_id=call.uid, caller=self._caller(call))
        elif party.role == CALLEE and party.extension is None and not chan.name.startswith("Local/"):
            first = call.first_party
            if first is not None and first.via:
                first = None  # an originate's plumbing is nobody's number
            if number and (first is None or number != first.number):
                party.number = number
            if name and (first is None or name != first.name):
                party.name = name

    # --- announcing a call ---------------------------------------------------------------------------
    def _touch(self, call: Call, t: float, force: bool = False) -> None:
        call.last_seen = t
        if call.announced:
            return
        first = call.first_party
        if first is None or (first.via and not force):
            return  # an originate's plumbing: the caller is the first phone it reaches
        context = call.first_context
        cfg = self.config
        target = next((p for p in call.parties if p.dialed_by is first and not p.via and p.pending_ring is None), None)
        if call.originate_queued:
            direction = "outbound"  # the Originate reached the customer, then queued for an agent
            dialed = call.dialed
        elif context in cfg.inbound_contexts:
            direction = "inbound"
            dialed = call.dialed
        elif first.trunk and not call.originated:
            if target is None and not force:
                return
            direction = "inbound"
            dialed = call.dialed
        elif (
            first.extension is not None
            or context in cfg.internal_contexts
            or context in cfg.agent_contexts
            or not first.face.startswith("Local/")
        ):
            if target is None and not force:
                return
            if target is None:
                direction = "outbound" if first.trunk else "internal"
            elif target.trunk or first.trunk:
                direction = "outbound"
            elif target.extension is not None or not target.face.startswith("Local/"):
                direction = "internal"
            else:
                direction = "outbound"  # a Local leg that is no agent: the outside world
            dialed = dialable(target.number if target is not None else None) or dialable(call.dialed)
        else:
            campaign = call.campaign_attempt is not None
            if (call.originated or campaign or call.dial_expected) and not force:
                # an originated Local pair: plumbing if it dials on, a person once it talks, queues or ends
                # (answered alone it may still be a pickup that takes another call: PickupChan answers first);
                # a campaign's customer leg may show its state before the Originate's DialBegin (busy)
                return
            # a campaign's customer leg that ended before the queue (busy, no answer) was dialled out
            direction = "outbound" if campaign else "inbound"
            dialed = call.dialed
        call.announced = True
        call.direction = direction
        call.dialed = dialed
        call.caller_number = first.number
        call.caller_name = first.name
        self._emit(
            CALL_NEW,
            call.start,
            call_id=call.uid,
            direction=direction,
            caller=self._caller(call),
            dialed=dialed,
        )

    # --- who talks to whom ---------------------------------------------------------------------------
    @staticmethod
    def _peers(party: Party) -> list[Party]:
        peers: list[Party] = []
        for chan in party.channels.values():
            bridge = chan.bridge
            if bridge is None:
                continue
            for other in bridge.channels.values():
                if other.party is not party and other.party not in peers:
                    peers.append(other.party)
        return peers

    @staticmethod
    def _bridge_parties(bridge: Bridge) -> list[Party]:
        parties: list[Party] = []
        for chan in bridge.channels.values():
            if chan.party not in parties:
                parties.append(chan.party)
        return parties

    @staticmethod
    def _reach(bridge: Bridge, seen: set[str] | None = None) -> list[Party]:
        """The people in ``bridge`` and in every bridge joined to it through plumbing Local pairs
        (``seen`` collects the uids of the bridges visited)."""
        channels = bridge.channels
        count = len(channels)
        if count <= 2:
            # the common cases: two people, or one alone, with no plumbing in between
            if count == 2:
                a, b = channels.values()
                pa, pb = a.party, b.party
                fast = None if pa.via or pb.via else [pa] if pa is pb else [pa, pb]
            elif count == 1:
                (a,) = channels.values()
                fast = None if a.party.via else [a.party]
            else:
                fast = []
            if fast is not None:
                if seen is not None:
                    seen.add(bridge.uid)
                return fast
        people: list[Party] = []
        if seen is None:
            seen = set()
        seen.add(bridge.uid)
        todo = [bridge]
        while todo:
            for chan in todo.pop().channels.values():
                party = chan.party
                if not party.via:
                    if party not in people:
                        people.append(party)
                    continue
                for half in party.channels.values():
                    other = half.bridge
                    if other is not None and other.uid not in seen:
                        seen.add(other.uid)
                        todo.append(other)
        return people

    def _talking(self, call: Call) -> set[Party] | None:
        """The call's people who share a conversation with someone else now (None: nobody, as no
        channel of the call shares a bridge; the sets are made only when one does)."""
        talking: set[Party] | None = None
        done: set[str] | None = None
        for chan in call.channels.values():
            bridge = chan.bridge
            if bridge is None:
                continue
            channels = bridge.channels
            count = len(channels)
            # a bridge of one is reached from its plumbing partner's side, if anywhere
            if count < 2:
                continue
            if done is None or talking is None:
                done, talking = set(), set()
            elif bridge.uid in done:
                continue
            if count == 2:
                # the common case inline: two people, no plumbing in between
                a, b = channels.values()
                pa, pb = a.party, b.party
                if not pa.via and not pb.via:
                    done.add(bridge.uid)
                    if pa is not pb:
                        talking.add(pa)
                        talking.add(pb)
                    continue
            people = self._reach(bridge, done)
            if len(people) > 1:
                talking.update(people)
        return talking

    def _update_talk(self, call: Call, t: float) -> None:
        talking_now = self._talking(call)
        talking = False
        for party in call.parties:
            if party.via:
                continue
            if talking_now is not None and party in talking_now:
                talking = True
                if party.talk_since is None:
                    party.talk_since = t
            elif party.talk_since is not None:
                party.talk_s += max(t - party.talk_since, 0.0)
                party.talk_since = None
        if talking:
            if call.talk_since is None:
                call.talk_since = t
        elif call.talk_since is not None:
            call.talk_s += max(t - call.talk_since, 0.0)
            call.talk_since = None

    def _connected(self, chan: Channel, t: float) -> None:
        """``chan`` now shares a bridge (maybe through plumbing) with other people: answers start here."""
        if chan.bridge is None:
            return
        people = self._reach(chan.bridge)
        if len(people) < 2:
            return
        party = chan.party
        for peer in people:
            if peer.last_peer is None or peer.last_peer not in people or peer.last_peer is peer:
                peer.last_peer = (
                    party if party is not peer and not party.via else next(p for p in people if p is not peer)
                )
        for answering in people:
            if answering.answered:
                continue
            answering.answered = True
            answering.up = True
            answering.ringing = False
            self._flush_ring(answering)
            self.agents.touch(answering)
            if answering.role == CALLEE:
                self._answered(answering, t)
            elif answering.call.originated and answering.call.answered_at is None:
                own = answering.call
                if any(p.call is not own for p in people):
                    # an originated phone brought into another call (a three-way): it took part
                    own.answered_at = t
                    own.answer_wait = secs(t - own.start)

    def _flush_ring(self, party: Party) -> None:
        """Send the ``call.ringing`` a Local callee held back, now that it shows it is a person."""
        fields = party.pending_ring
        if fields is None or party.via:
            return
        party.pending_ring = None
        call = party.call
        if call.transfer is not None and call.transfer.target is None:
            call.transfer.target = party
        t = party.ring_start if party.ring_start is not None else self._last_t
        self._touch(call, t, force=True)
        self._emit(CALL_RINGING, t, call_id=call.uid, caller=self._caller(call), **fields)

    def _answered(self, party: Party, t: float) -> None:
        call = party.call
        self._touch(call, t, force=True)
        if not call.first_answer_sent:
            call.first_answer_sent = True
            start = call.wait_start if call.wait_start is not None else call.start
        else:
            start = party.ring_start if party.ring_start is not None else t
        wait = secs(t - start)
        if call.known_wait is not None:
            wait, call.known_wait = call.known_wait, None
        if call.answered_at is None:
            call.answered_at = t
            call.answer_wait = wait
        if party not in call.legs:
            call.legs.append(party)
        first = call.first_party
        agent = party.extension or (first.extension if first is not None else None)
        if agent:
            call.agent = agent
        if party.queue:
            call.queue = party.queue
        self._emit(
            CALL_ANSWERED,
            t,
            call_id=call.uid,
            channel=party.face,
            caller=self._caller(call),
            callee=self._callee(party),
            agent=agent,
            queue=party.queue,
            wait_s=wait,
        )
        transfer = call.transfer
        if transfer is not None and (transfer.target is None or transfer.target is party):
            call.transfer = None
            self._transferred(call, t, transfer.kind, transfer.source, party_label(party), transfer.new_call_id)

    def _transferred(
        self, call: Call, t: float, kind: str, source: str | None, target: str | None, new_call_id: str | None
    ) -> None:
        self._touch(call, t, force=True)
        self._emit(
            CALL_TRANSFERRED,
            t,
            call_id=call.uid,
            kind=kind,
            **{"from": source},
            to=target,
            new_call_id=new_call_id if new_call_id != call.uid else None,
            result="success",
        )

    def _transfer_pending(self, call: Call, t: float, transfer: Transfer) -> None:
        """A transfer whose target still rings: reported when the target answers, or as failed."""
        if call.transfer is not None:
            self._transfer_failed(call, t, "superseded")
        call.transfer = transfer

    def _transfer_failed(self, call: Call, t: float, reason: str) -> None:
        transfer = call.transfer
        if transfer is None:
            return
        call.transfer = None
        self._touch(call, t, force=True)
        target = transfer.target
        self._emit(
            CALL_TRANSFER_FAILED,
            t,
            call_id=call.uid,
            kind=transfer.kind,
            **{"from": transfer.source},
            to=party_label(target) if target is not None else transfer.target_label,
            new_call_id=transfer.new_call_id if transfer.new_call_id != call.uid else None,
            result="failed",
            reason=reason,
        )

    # --- hold ----------------------------------------------------------------------------------------
    def _hold_on(self, chan: Channel, t: float) -> None:
        """Hold/Unhold from a phone, or music on hold for a party taken out of its conversation
        (a Redirect to a music-on-hold context: only MusicOnHoldStart/Stop tell)."""
        if chan.held:
            return
        party = chan.party
        bridge = chan.bridge
        if bridge is None or not any(other.party is not party for other in bridge.channels.values()):
            call = chan.call
            if party.via or not party.answered or call.answered_at is None or chan.queue is not None:
                return  # music to a caller waiting alone, before any answer: not a hold
            if any(
                c.bridge is not None and any(o.party is not party for o in c.bridge.channels.values())
                for c in party.channels.values()
            ):
                return  # the party's other half still talks: an application's music, not a hold
        call = chan.call
        chan.held = True
        call.held[chan.uid] = chan
        if len(call.held) == 1:
            call.hold_since = t
            call.hold_channel = chan.name
            self._touch(call, t, force=True)
            self._emit(CALL_HOLD, t, call_id=call.uid, channel=chan.name)

    def _hold_off(self, chan: Channel, t: float) -> None:
        if not chan.held:
            return
        call = chan.call
        chan.held = False
        call.held.pop(chan.uid, None)
        if not call.held:
            if call.hold_since is not None:
                call.hold_s += max(t - call.hold_since, 0.0)
                call.hold_since = None
            self._emit(CALL_UNHOLD, t, call_id=call.uid, channel=call.hold_channel or chan.name)

    # --- queue stays ---------------------------------------------------------------------------------
    def _queue_left(self, chan: Channel, stay: QueueStay, t: float, position: int | None, reason: str) -> None:
        chan.queue = None
        call = chan.call
        if reason != "answered":
            call.overflow = True  # timeouts, empty queues and exits with a key are overflow
        if not stay.answered and call.wait_end is None:
            call.wait_end = t
        self._emit(
            QUEUE_LEFT,
            t,
            call_id=call.uid,
            channel=chan.name,
            queue=stay.queue,
            position=position,
            wait_s=secs(t - stay.joined_at),
            reason=reason,
        )

    def _settle_queue(self, chan: Channel) -> None:
        """Close a stay left with its verdict open, at the caller's next event.

        Answered if an answer was seen meanwhile, else an abandon if QueueCallerAbandon came
        (no QUEUESTATUS said overflow), else the caller left with a key.
        """
        stay = chan.queue
        if stay is None or stay.left_at is None:
            return
        if stay.answered or stay.abandon_at is None:
            reason = "answered" if stay.answered else "exitwithkey"
            self._queue_left(chan, stay, stay.left_at, stay.left_position, reason)
            return
        chan.queue = None
        call = chan.call
        call.abandoned = True
        if call.wait_end is None:
            call.wait_end = stay.abandon_at
        self._emit(
            QUEUE_ABANDONED,
            stay.abandon_at,
            call_id=call.uid,
            channel=chan.name,
            queue=stay.queue,
            position=stay.abandon_position,
            wait_s=secs(stay.abandon_at - stay.joined_at),
        )

    def _queue_answered(self, chan: Channel | None) -> None:
        """The queued caller ``chan`` was answered by a member (DialEnd ANSWER, AgentConnect)."""
        stay = chan.queue if chan is not None else None
        if chan is not None and stay is not None:
            stay.answered = True
            self._settle_queue(chan)

    # --- hangup --------------------------------------------------------------------------------------
    def _ending(self, party: Party) -> None:
        """First sign that a party goes away: decide who hung up while the bridges still tell."""
        if party.ending:
            return
        party.ending = True
        call = party.call
        if self._peers(party):
            party.hangup_by = party.role
        elif party.last_peer is not None:
            peer = party.last_peer
            if peer.ending or peer.ended:
                party.hangup_by = peer.hangup_by or peer.role
            else:
                party.hangup_by = SYSTEM  # the peer left us alive: a transfer or a redirect
        elif party.role == CALLER:
            party.hangup_by = CALLER
        else:
            dialer = party.dialed_by or call.first_party
            if dialer is not None and dialer is not party and (dialer.ending or dialer.ended):
                party.hangup_by = dialer.hangup_by or dialer.role
            elif party.dial_status in ("BUSY", "CONGESTION"):
                party.hangup_by = CALLEE
            else:
                party.hangup_by = SYSTEM

    def _channel_gone(self, chan: Channel, t: float, cause: int, cause_text: str) -> None:
        party = chan.party
        call = chan.call
        if not chan.optimizing:
            self._ending(party)
            if cause and not party.cause:
                party.cause = cause
                party.cause_text = cause_text
            elif not party.cause_text:
                party.cause_text = cause_text
        if chan.queue is not None:
            self._settle_queue(chan)
        if chan.held:
            self._hold_off(chan, t)
        bridge = chan.bridge
        self._unindex(chan)
        if bridge is not None:
            self._bridge_changed(bridge, call, t)
        if not party.channels and not party.ended:
            self._party_gone(party, t, silent=chan.optimizing)
        if not call.channels and not call.ended:
            self._end_call(call, t)

    def _bridge_changed(self, bridge: Bridge, call: Call, t: float) -> None:
        self._update_talk(call, t)
        others: list[Call] | None = None
        for chan in bridge.channels.values():
            other = chan.call
            if other is not call:
                if others is None:
                    others = [other]
                elif other not in others:
                    others.append(other)
        if others is not None:
            for other in others:
                self._update_talk(other, t)

    def _party_gone(self, party: Party, t: float, silent: bool = False) -> None:
        party.ended = True
        party.ringing = False
        self.agents.detach(party, t)
        if party.talk_since is not None:
            party.talk_s += max(t - party.talk_since, 0.0)
            party.talk_since = None
        transfer = party.call.transfer
        if transfer is not None and transfer.target is party and not party.answered:
            self._transfer_failed(party.call, t, party.dial_status.lower() or "hangup")
        if silent or party.via or party.pending_ring is not None or party.role == SYSTEM:
            return  # plumbing, or a Local leg that never rang: nobody a person saw
        call = party.call
        self._touch(call, t, force=True)
        self._emit(
            CALL_HANGUP,
            t,
            call_id=call.uid,
            channel=party.face,
            cause=party.cause,
            cause_text=party.cause_text or ("Normal Clearing" if party.cause == 16 else "Unknown"),
            hangup_by=party.hangup_by or SYSTEM,
        )

    def _end_call(self, call: Call, t: float) -> None:
        call.ended = True
        if call.absorbed_by is not None and not call.announced:
            self._calls.pop(call.uid, None)  # a pickup's own channel: it became a leg of the call it took
            self._release(call)
            return
        self._touch(call, t, force=True)
        self._update_talk(call, t)
        if call.transfer is not None:
            self._transfer_failed(call, t, "ended")
        if call.talk_since is not None:
            call.talk_s += max(t - call.talk_since, 0.0)
            call.talk_since = None
        if call.hold_since is not None:
            call.hold_s += max(t - call.hold_since, 0.0)
            call.hold_since = None
        self._spy_over(call, t)
        answered = call.answered_at is not None
        if answered:
            wait = call.answer_wait
        else:
            end = call.wait_end if call.wait_end is not None else t
            wait = secs(end - (call.wait_start if call.wait_start is not None else call.start))
        self._calls.pop(call.uid, None)
        extra: dict[str, Any] = {}
        if call.spy is not None:
            extra["spy"] = call.spy
        self._emit(
            CALL_ENDED,
            t,
            call_id=call.uid,
            answered=answered,
            duration_s=secs(t - call.start),
            talk_s=secs(call.talk_s + call.spy_s),
            wait_s=wait,
            hold_s=secs(call.hold_s),
            disposition=self._disposition(call),
            direction=call.direction,
            caller=self._caller(call),
            dialed=call.dialed,
            queue=call.queue,
            agent=self._last_agent(call),
            legs=[
                {"channel": p.face, "number": p.number, "agent": p.extension, "talk_s": secs(p.talk_s)}
                for p in call.legs
            ],
            linked_call_id=call.linked_call_id,
            **extra,
        )
        self._release(call)

    @staticmethod
    def _last_agent(call: Call) -> str | None:
        """The agent the caller talked with last: after a cancelled consultation that shares the caller's
        Linkedid (an AMI Atxfer), the consulted agent answered a leg of the call but never the caller."""
        caller = next((p for p in call.parties if p.role == CALLER), None)
        peer = caller.last_peer if caller is not None else None
        if peer is not None and peer.extension and peer in call.legs:
            return peer.extension
        return call.agent

    @staticmethod
    def _spy_over(call: Call, t: float) -> None:
        if call.spy_since is not None:
            call.spy_s += max(t - call.spy_since, 0.0)
            call.spy_since = None

    @staticmethod
    def _release(call: Call) -> None:
        """Break the call's reference cycles so that it is freed at once, not by a GC pass."""
        for party in call.parties:
            party.last_peer = None
            party.dialed_by = None
        call.parties.clear()
        call.held.clear()
        call.legs.clear()
        call.transfer = None

    def _disposition(self, call: Call) -> str:
        if call.answered_at is not None:
            return "answered"
        if call.voicemail:
            return "voicemail"
        if call.overflow:
            return "no_answer"
        if call.abandoned:
            return "abandoned"
        status = call.last_dial_status
        causes = [p.cause for p in call.parties]
        if status == "BUSY" or any(c in _BUSY_CAUSES for c in causes):
            return "busy"
        if status in ("CONGESTION", "CHANUNAVAIL") or (not status and any(c in _FAILED_CAUSES for c in causes)):
            return "failed"
        if call.direction == "inbound":
            return "abandoned"
        return "no_answer"

    def _drop_channel(self, chan: Channel, t: float) -> None:
        """End a channel the PBX no longer reports (resync) or never hung up (phantom expiry)."""
        party = chan.party
        if not party.ending:
            party.ending = True
            party.hangup_by = SYSTEM
        self._channel_gone(chan, t, 0, "Unknown")

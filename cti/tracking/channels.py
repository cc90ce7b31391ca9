"""Channel, dialing, bridge and hold events: who exists, who rings, who talks to whom.

Local channel pairs are one party; a Local agent pair that dials the agent's real phone
absorbs that phone's channel; a caller leg that leaves a bridge alive and dials someone new
is a transfer (an AMI Redirect shows only as that); a Pickup makes the picking phone a callee of
the call it took (its own call, nothing but the pickup, is absorbed).
"""

from __future__ import annotations

from typing import Any

from cti.events import CALL_CONFERENCE, CALL_RINGING
from cti.tracking.calls import CallBook, known, party_label, secs, text, to_int
from cti.tracking.config import dial_string_number, dialable, local_exten
from cti.tracking.model import CALLEE, CALLER, SYSTEM, Bridge, Call, Channel, Party, Transfer

_RING_OVER = frozenset({"NOANSWER", "CANCEL", "BUSY", "CONGESTION", "CHANUNAVAIL", "DONTCALL", "TORTURE"})


class ChannelEvents(CallBook):
    """Handlers of Newchannel … Hangup, DialBegin/End, Pickup, Bridge*, Hold/Unhold, MusicOnHold*."""

    # --- channels ------------------------------------------------------------------------------------
    def _on_newchannel(self, msg: dict[str, Any], t: float) -> None:
        self._add_channel(msg, t)

    def _on_newcallerid(self, msg: dict[str, Any], t: float) -> None:
        chan = self._chan(msg)
        if chan is not None:
            self._caller_id(chan, msg)

    def _on_connected_line(self, msg: dict[str, Any], t: float) -> None:
        """The caller's connected line names the party it talks to when nothing else did."""
        chan = self._chan(msg)
        if chan is None or chan.party.role != CALLER:
            return
        peer = chan.party.last_peer
        number = dialable(known(text(msg.get("ConnectedLineNum"))))
        if peer is not None and number and peer.number is None and peer.extension is None:
            peer.number = number
            name = known(text(msg.get("ConnectedLineName")))
            if name and peer.name is None:
                peer.name = name

    def _on_newstate(self, msg: dict[str, Any], t: float) -> None:
        chan = self._chan(msg)
        if chan is None:
            return
        state = to_int(msg.get("ChannelState"), chan.state)
        chan.state = state if state is not None else chan.state
        party = chan.party
        if chan.state in (5, 6) and party.pending_ring is not None:
            self._flush_ring(party)  # a Local callee that rings or answers itself is a person
        if chan.state == 6 and not party.up and not party.via:
            party.up = True
            party.ringing = False
            self.agents.touch(party)
        if chan.queue is not None:
            self._settle_queue(chan)
        chan.call.last_seen = t
        if not chan.call.announced:
            self._touch(chan.call, t)

    def _on_local_optimization(self, msg: dict[str, Any], t: float) -> None:
        # The Local pair steps aside; its channels' hangups that follow are not a party leaving.
        for key in ("LocalOneUniqueid", "LocalTwoUniqueid"):
            chan = self._chan(msg, key)
            if chan is not None:
                chan.optimizing = True

    def _on_hangup_request(self, msg: dict[str, Any], t: float) -> None:
        chan = self._chan(msg)
        if chan is None or chan.optimizing:
            return
        self._ending(chan.party)
        chan.call.last_seen = t
        if not chan.call.announced:
            self._touch(chan.call, t)

    def _on_hangup(self, msg: dict[str, Any], t: float) -> None:
        chan = self._chan(msg)
        if chan is None:
            return
        self._channel_gone(chan, t, to_int(msg.get("Cause"), 0) or 0, text(msg.get("Cause-txt")))

    # --- dialing -------------------------------------------------------------------------------------
    def _on_dial_begin(self, msg: dict[str, Any], t: float) -> None:
        dest = self._chan(msg, "DestUniqueid")
        if dest is None:
            return
        src = self._chan(msg)
        target = dest.party
        dest.call.dial_expected = False
        if src is not None:
            src.call.dial_expected = False
        if src is None:  # an Originate: the originated party rings, nobody calls it
            call = dest.call
            if target is call.first_party and not call.announced:
                call.originated = True
                call.origin_channel = dest.uid
            target.ringing = not target.up
            target.ring_start = t
            self.agents.touch(target)
            dest.call.last_seen = t
            if not dest.call.announced:
                self._touch(dest.call, t)
            return
        source = src.party
        if source is target:
            return
        if (
            src.name.startswith("Local/")
            and src.name.endswith(";2")
            and source.extension is not None
            and target.extension in (None, source.extension)
            and target is not source.call.first_party
        ):
            self._merge(target, source, dest)
            return
        call = src.call
        if dest.call is not call:
            if dest.call.announced:
                return
            self._absorb(target, call)  # a pickup: the picking phone's own channel joins this call
        if self._is_plumbing(source):
            source.via = True
            source.pending_ring = None
            source.ringing = False
            self.agents.touch(source)
        origin = self._origin(source)
        if origin.via and origin is call.first_party and not dest.name.startswith("Local/"):
            self._promote(target)  # an originate reached its first phone: that phone calls
            return
        target.dialed_by = origin
        target.face = dest.name
        target.ringing = True
        target.dial_status = ""
        target.ring_start = t
        if target.extension is None:
            target.number = self._callee_number(msg, dest, target, src) or target.number
        if src.queue is not None:
            self._settle_queue(src)
        if src.queue is not None:
            target.queue = src.queue.queue
        if dest.name.startswith("Local/") and target.extension is None:
            target.pending_ring = {}  # plumbing or a person? its next events tell
        call.last_seen = t
        if not call.announced:
            self._touch(call, t)
        if src.left_peer is not None and not src.transfer_noted:
            # a caller leg that left a bridge alive and dials someone new: a Redirect, a blind transfer
            self._transfer_pending(
                call, t, Transfer("blind", party_label(src.left_peer), target, party_label(target), None, t)
            )
        elif call.transfer is not None and call.transfer.target is None and target.pending_ring is None:
            call.transfer.target = target
        src.left_peer = None
        src.transfer_noted = False
        self.agents.touch(target)
        fields = {
            "channel": dest.name,
            "callee": self._callee(target),
            "agent": target.extension,
            "queue": target.queue,
        }
        if target.pending_ring is not None:
            target.pending_ring = fields
            return
        self._emit(CALL_RINGING, t, call_id=call.uid, caller=self._caller(call), **fields)

    def _on_pickup(self, msg: dict[str, Any], t: float) -> None:
        """Pickup (the Pickup/PickupChan applications, a phone's pickup code): ``Channel`` takes the ringing
        ``TargetChannel``. The picking phone becomes a callee of the target's call, rung by the same caller,
        and answers it when it joins the caller's bridge; its own call (nothing but the pickup) is absorbed."""
        picker = self._chan(msg)
        target = self._chan(msg, "TargetUniqueid")
        if picker is None or target is None:
            return
        party = picker.party
        call = target.call
        rung = target.party
        if party is rung:
            return
        if party.call is not call:
            if party.call.announced:
                return  # a call of its own already: it keeps it
            self._absorb(party, call)
        if party.extension is None:
            # the picker's own caller ID, as the Pickup names it (a Local half may carry the caller's by now)
            number = known(text(msg.get("CallerIDNum")))
            name = known(text(msg.get("CallerIDName")))
            party.number = number or party.number
            party.name = name or party.name
        party.dialed_by = rung.dialed_by or call.first_party
        party.queue = rung.queue or party.queue
        party.ring_start = t
        party.dial_status = ""
        self.agents.touch(party)
        call.last_seen = t
        if not call.announced:
            self._touch(call, t)

    def _is_plumbing(self, party: Party) -> bool:
        """A Local pair that dials on passes the call through; an agent's or a configured caller's does not."""
        if party.via or party.extension is not None or not party.face.startswith("Local/"):
            return False
        call = party.call
        if party is call.first_party:
            if call.originate_queued:
                return False  # the queue dials agents for the customer this pair reached: not plumbing
            return call.originated and call.first_context not in self.config.inbound_contexts
        return party.role == CALLEE

    @staticmethod
    def _origin(party: Party) -> Party:
        """The person behind a chain of plumbing Local pairs (for an originate: the phone it reached)."""
        for _ in range(32):
            if not party.via or party.dialed_by is None:
                break
            party = party.dialed_by
        if party.via and party.role == SYSTEM:
            first = party.call.first_party
            if first is not None and not first.via:
                return first
        return party

    def _promote(self, party: Party) -> None:
        """The first phone an originate reaches is the calling party (click-to-dial, call-me-now)."""
        call = party.call
        root = call.first_party
        if root is not None:
            root.role = SYSTEM
        if party in call.parties:
            call.parties.remove(party)
        call.parties.insert(0, party)
        party.role = CALLER
        party.dialed_by = None
        party.ringing = False
        self.agents.touch(party)

    def _absorb(self, party: Party, into: Call) -> None:
        """Move ``party`` (with its channels) out of its own unannounced call into ``into``."""
        old = party.call
        for chan in list(party.channels.values()):
            old.channels.pop(chan.uid, None)
            chan.call = into
            into.channels[chan.uid] = chan
        if party in old.parties:
            old.parties.remove(party)
        party.call = into
        party.role = CALLEE
        into.parties.append(party)
        old.absorbed_by = into.uid
        if not old.channels:
            old.ended = True
            self._calls.pop(old.uid, None)
            self._release(old)

    def _callee_number(self, msg: dict[str, Any], dest: Channel, target: Party, src: Channel) -> str | None:
        """The number of the party rung: its own caller ID when the dialplan set one (not the
        caller's, which Dial copies), else the Local extension or the number in the dial string."""
        number = dialable(known(text(msg.get("DestCallerIDNum"))))
        caller = src.call.first_party
        if caller is not None and caller.via:
            caller = None
        own = src.party.via or number != text(msg.get("CallerIDNum"))
        if number and own and (caller is None or number != caller.number):
            if not dest.name.startswith("Local/") or target.number is None:
                return number
        return (
            local_exten(dest.name)
            or dial_string_number(text(msg.get("DialString")))
            or dialable(known(text(msg.get("DestExten"))))
            or number
        )

    def _merge(self, party: Party, into: Party, dest: Channel) -> None:
        """A Local agent pair dials the agent's real phone: one party, not two."""
        for chan in list(party.channels.values()):
            chan.party = into
            into.channels[chan.uid] = chan
        party.channels.clear()
        party.ended = True
        if party in dest.call.parties:
            dest.call.parties.remove(party)
        self.agents.detach(party, dest.created)
        self.agents.touch(into)

    def _on_dial_end(self, msg: dict[str, Any], t: float) -> None:
        dest = self._chan(msg, "DestUniqueid")
        if dest is None:
            return
        status = text(msg.get("DialStatus"))
        target = dest.party
        if status == "ANSWER":
            if target.pending_ring is not None:
                self._flush_ring(target)
            target.ringing = False
            if not target.via:
                target.up = True
            target.dial_status = status
            self._queue_answered(self._chan(msg))
        elif status in _RING_OVER:
            target.ringing = False
            if not (status == "CANCEL" and target.dial_status):
                target.dial_status = status  # NOANSWER then CANCEL for one leg: keep NOANSWER
            transfer = dest.call.transfer
            if transfer is not None and transfer.target is target and status != "CANCEL":
                self._transfer_failed(dest.call, t, status.lower())
        else:
            return
        if self._chan(msg) is not None:
            dest.call.last_dial_status = target.dial_status
        self.agents.touch(target)
        dest.call.last_seen = t
        if not dest.call.announced:
            self._touch(dest.call, t)

    # --- bridges -------------------------------------------------------------------------------------
    def _bridge(self, uid: str, t: float) -> Bridge:
        bridge = self._bridges.get(uid)
        if bridge is None:
            if len(self._bridges) >= self.config.max_bridges:
                old = next(iter(self._bridges.values()))
                for chan in list(old.channels.values()):
                    chan.bridge = None
                del self._bridges[old.uid]
                self.stats.dropped_bridges += 1
            bridge = self._bridges[uid] = Bridge(uid=uid, created=t)
        return bridge

    def _on_bridge_create(self, msg: dict[str, Any], t: float) -> None:
        uid = text(msg.get("BridgeUniqueid"))
        if uid:
            self._bridge(uid, t)

    def _on_bridge_enter(self, msg: dict[str, Any], t: float) -> None:
        chan = self._chan(msg)
        uid = text(msg.get("BridgeUniqueid")) or text(msg.get("Conference"))
        if chan is None or not uid:
            return
        self._enter(chan, uid, t)

    def _enter(self, chan: Channel, uid: str, t: float) -> None:
        bridge = self._bridge(uid, t)
        if chan.bridge is bridge:
            return
        if chan.bridge is not None:
            self._leave(chan, t)
        bridge.channels[chan.uid] = chan
        chan.bridge = bridge
        chan.party.face = chan.name
        chan.left_peer = None
        stay = chan.queue
        if stay is not None and stay.left_at is not None and stay.abandon_at is None:
            stay.answered = True  # left the queue without an abandon, now in a bridge: answered
        if chan.queue is not None:
            self._settle_queue(chan)
        chan.call.last_seen = t
        if not chan.call.announced:
            self._touch(chan.call, t)
        self._connected(chan, t)
        self._bridge_changed(bridge, chan.call, t)
        if len(bridge.channels) < 3:
            return  # fewer than three channels are never three parties
        parties = self._bridge_parties(bridge)
        if len(parties) >= 3 and len(parties) > bridge.announced_parties:
            bridge.announced_parties = len(parties)
            # the conference belongs to the call that was there first (the customer's), not the newcomer's
            host = min((p.call for p in parties), key=lambda c: c.start)
            self._touch(host, t, force=True)
            self._emit(
                CALL_CONFERENCE,
                t,
                call_id=host.uid,
                parties=[party_label(p) for p in parties],
            )

    def _on_conference_join(self, msg: dict[str, Any], t: float) -> None:
        """ConfbridgeJoin: the bridge is a conference (BridgeEnter, before or after, does the entering)."""
        uid = text(msg.get("BridgeUniqueid"))
        if uid:
            self._bridge(uid, t).conference = True

    def _on_bridge_leave(self, msg: dict[str, Any], t: float) -> None:
        chan = self._chan(msg)
        if chan is None or chan.bridge is None:
            return
        uid = text(msg.get("BridgeUniqueid")) or text(msg.get("Conference"))
        if uid and chan.bridge.uid != uid:
            return
        self._leave(chan, t)

    def _leave(self, chan: Channel, t: float) -> None:
        bridge = chan.bridge
        if bridge is None:
            return
        if chan.held:
            self._hold_off(chan, t)
        del bridge.channels[chan.uid]
        chan.bridge = None
        party = chan.party
        if not party.ending:
            for other in bridge.channels.values():
                peer = other.party
                if peer is not party and not peer.ending:
                    chan.left_peer = peer  # left alive with someone still there: maybe a redirect
                    break
        if not bridge.channels:
            self._bridges.pop(bridge.uid, None)
        self._bridge_changed(bridge, chan.call, t)
        self.agents.touch(party)

    def _on_bridge_destroy(self, msg: dict[str, Any], t: float) -> None:
        bridge = self._bridges.pop(text(msg.get("BridgeUniqueid")), None)
        if bridge is None:
            return
        for chan in list(bridge.channels.values()):
            chan.bridge = None
            self._update_talk(chan.call, t)

    # --- hold ----------------------------------------------------------------------------------------
    def _on_hold(self, msg: dict[str, Any], t: float) -> None:
        chan = self._chan(msg)
        if chan is not None:
            self._hold_on(chan, t)

    def _on_music_start(self, msg: dict[str, Any], t: float) -> None:
        chan = self._chan(msg)
        if chan is None:
            return
        bridge = chan.bridge
        if bridge is not None and bridge.conference:
            return  # ConfBridge's music for a participant left alone (or waiting for the leader)
        self._hold_on(chan, t)

    # --- supervisor spying ---------------------------------------------------------------------------
    def _on_spy_start(self, msg: dict[str, Any], t: float) -> None:
        """ChanSpy (listen, whisper, barge): the supervisor's leg is up and joined an agent's call.

        Not a missed call and not a customer's call: the spy call is internal, answered when the
        spying starts, and names the agent and call it joined (``spy`` on ``call.ended``)."""
        spyer = self._chan(msg, "SpyerUniqueid")
        if spyer is None:
            return
        spyee = self._chan(msg, "SpyeeUniqueid")
        call = spyer.call
        if call.spy is None:
            agent = spyee.party.extension if spyee is not None else None
            call.spy = {
                "agent": agent or (party_label(spyee.party) if spyee is not None else None),
                "call_id": spyee.call.uid if spyee is not None else known(text(msg.get("SpyeeLinkedid"))),
            }
        if call.spy_since is None:
            call.spy_since = t
        if call.answered_at is None:
            call.answered_at = t
            call.answer_wait = secs(t - call.start)
        self._touch(call, t, force=True)

    def _on_spy_stop(self, msg: dict[str, Any], t: float) -> None:
        spyer = self._chan(msg, "SpyerUniqueid")
        if spyer is not None:
            self._spy_over(spyer.call, t)

    def _on_unhold(self, msg: dict[str, Any], t: float) -> None:
        chan = self._chan(msg)
        if chan is not None:
            self._hold_off(chan, t)

"""Transfer events: BlindTransfer and AttendedTransfer as Asterisk reports them.

A transfer is reported when its outcome is known: ``call.transferred`` once the target talks,
``call.transfer_failed`` when the request failed or the target was down, busy or did not answer.
After an attended transfer the target is a leg of the caller's call; the consultation call ends
with ``linked_call_id`` naming the call it was transferred into.
"""

from __future__ import annotations

from typing import Any

from cti.tracking.calls import CallBook, known, party_label, text
from cti.tracking.model import CALLEE, CALLER, Call, Channel, Party, Transfer


class TransferEvents(CallBook):
    """Handlers of BlindTransfer and AttendedTransfer."""

    def _on_blind_transfer(self, msg: dict[str, Any], t: float) -> None:
        transferer = self._chan(msg, "TransfererUniqueid")
        transferee = self._chan(msg, "TransfereeUniqueid")
        anchor = transferee or transferer
        if anchor is None:
            return
        source = party_label(transferer.party) if transferer else None
        label = known(text(msg.get("Extension")))
        call = anchor.call
        if transferee is not None:
            transferee.transfer_noted = True
        self._touch(call, t, force=True)
        self._transfer_pending(call, t, Transfer("blind", source, None, label, None, t))
        if text(msg.get("Result")) not in ("", "Success"):
            self._transfer_failed(call, t, text(msg.get("Result")).lower() or "failed")

    def _on_attended_transfer(self, msg: dict[str, Any], t: float) -> None:
        first = self._chan(msg, "OrigTransfererUniqueid")
        second = self._chan(msg, "SecondTransfererUniqueid")
        anchor = first or second
        if anchor is None:
            return
        call = anchor.call
        for chan in (first, second):
            if chan is not None:
                chan.transfer_noted = True
        # the transferer as it named itself when it placed the consultation (its own number)
        who = second.party if second is not None and second.party.role == CALLER else anchor.party
        source = party_label(who)
        consultation = second.call if second is not None and second.call is not call else None
        new_call = text(msg.get("SecondTransfererLinkedid")) or (consultation.uid if consultation else None)
        if text(msg.get("Result")) not in ("", "Success"):
            self._transfer_pending(call, t, Transfer("attended", source, None, None, new_call, t))
            self._transfer_failed(call, t, text(msg.get("Result")).lower() or "failed")
            return
        target = self._transfer_target(msg, call, first, second)
        if target is not None and target.call is not call:
            self._take_over(target, call)
        if consultation is not None:
            consultation.linked_call_id = call.uid
        self._touch(call, t, force=True)
        if target is not None and not target.answered and target.ringing:
            # blonde: completed while the target still rings; it succeeds when the target answers
            self._transfer_pending(call, t, Transfer("blonde", source, target, party_label(target), new_call, t))
            return
        self._transferred(call, t, "attended", source, party_label(target), new_call)
        if target is not None and target.answered and target not in call.legs:
            call.legs.append(target)
            if target.extension:
                call.agent = target.extension

    def _transfer_target(
        self, msg: dict[str, Any], call: Call, first: Channel | None, second: Channel | None
    ) -> Party | None:
        """Who the caller is handed to: the named target, else the person the second transferer
        consulted (in its bridge, or still ringing for a blonde transfer)."""
        target = self._chan(msg, "TransferTargetUniqueid")
        if target is not None:
            return target.party
        transferers = {c.party for c in (first, second) if c is not None}
        if second is None:
            return None
        bridge = second.bridge
        if bridge is None:
            bridge = self._bridges.get(text(msg.get("SecondBridgeUniqueid")))
        # an AMI Atxfer's consultation shares the caller's Linkedid: there the caller (on hold) is the one
        # party of the call who is never the target
        def may_be_target(person: Party) -> bool:
            return person not in transferers and (person.call is not call or person.role != CALLER)

        if bridge is not None:
            for person in self._reach(bridge):
                if may_be_target(person):
                    return person
        consultation = second.call
        for party in consultation.parties:
            if not may_be_target(party) or party.via or party.ended:
                continue
            if party.ringing or party.answered:
                return party
        return None

    def _take_over(self, party: Party, into: Call) -> None:
        """Move the transfer target (with its channels) into the caller's call."""
        old = party.call
        for chan in list(party.channels.values()):
            old.channels.pop(chan.uid, None)
            chan.call = into
            into.channels[chan.uid] = chan
        if party in old.parties:
            old.parties.remove(party)
        if party in old.legs:
            old.legs.remove(party)
        party.call = into
        party.role = CALLEE
        into.parties.append(party)
        if not old.channels and not old.ended:
            self._end_call(old, self._last_t)

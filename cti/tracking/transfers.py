"""Transfer events: BlindTransfer and AttendedTransfer as Asterisk reports them."""

from __future__ import annotations

from typing import Any

from cti.tracking.calls import CallBook, known, party_label, text


class TransferEvents(CallBook):
    """Handlers of BlindTransfer and AttendedTransfer."""

    # --- transfers -----------------------------------------------------------------------------------
    def _on_blind_transfer(self, msg: dict[str, Any], t: float) -> None:
        if text(msg.get("Result")) not in ("", "Success"):
            return
        transferer = self._chan(msg, "TransfererUniqueid")
        transferee = self._chan(msg, "TransfereeUniqueid")
        anchor = transferee or transferer
        if anchor is None:
            return
        if transferee is not None:
            transferee.transfer_noted = True
        source = party_label(transferer.party) if transferer else None
        self._transferred(anchor.call, t, "blind", source, known(text(msg.get("Extension"))), None)

    def _on_attended_transfer(self, msg: dict[str, Any], t: float) -> None:
        if text(msg.get("Result")) not in ("", "Success"):
            return
        first = self._chan(msg, "OrigTransfererUniqueid")
        second = self._chan(msg, "SecondTransfererUniqueid")
        target = self._chan(msg, "TransferTargetUniqueid")
        anchor = first or second
        if anchor is None:
            return
        to_party = target.party if target is not None else None
        if to_party is None and second is not None:
            peers = self._peers(second.party)
            to_party = peers[0] if peers else None
        second_call = text(msg.get("SecondTransfererLinkedid")) or (second.call.uid if second else "")
        for chan in (first, second):
            if chan is not None:
                chan.transfer_noted = True
        new_call = second_call or None
        self._transferred(anchor.call, t, "attended", party_label(anchor.party), party_label(to_party), new_call)

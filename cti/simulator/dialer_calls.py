"""The campaign dialer's customers on the simulator, as the asterisk-dev dialplan's ``dialer-callee`` plays them.

The dialer originates ``Local/<number>@dialer-callee/n`` into ``dialer-connect``/<queue> (``cti.dialer``).
1991XXXX is always busy, 1990XXXX busy the first time and answering the next (the dialplan keeps that in
AstDB, the simulator in ``BusyOnce``); any other number answers and waits in the Originate's queue, played as
the recorded inbound queue call (the caller's leg is the customer).

A busy customer is transcript 30, recorded from Asterisk 22.10.1 with the dialer's own Originate
(``tests/fixtures/ami/record_dialer_calls.py``): the ``;1`` leg gets the variables, ``;2`` runs ``Busy(5)``,
both hang up (``;1`` with cause 0), Asterisk's ``OutgoingSpoolFailed`` channel runs the context's
``failed`` extension, and ``OriginateResponse`` says Failure with Reason 5 and Uniqueid ``<unknown>``.
Asterisk does not send these in the order they happened: its own CEL, Cdr and OriginateResponse events
may all come before the channels' Newchannel (the recording is played as it came).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from cti.simulator.scenarios import SCENARIOS, Piece, ScenarioDef
from cti.simulator.templates import TemplateSpec, compile_template

CALLEE_CONTEXT = "dialer-callee"
ALWAYS_BUSY = re.compile(r"^1991\d{4}$")
BUSY_ONCE = re.compile(r"^1990\d{4}$")

# the recording's literals (distinct values chosen for it) -> roles
T30 = TemplateSpec(
    "30_dialer_busy",
    (
        ("19915551", "number"),
        ("02188880000", "caller_id"),
        ("7001", "campaign"),
        ("7002", "lead"),
        ("7003", "attempt"),
        ("sales", "queue"),
    ),
)


def _busy_piece() -> Piece:
    """Every event of the call, in the order Asterisk sent them (the recording's login events left out)."""
    events = [e for e in compile_template(T30) if e.name not in ("FullyBooted", "SuccessfulAuth")]
    return Piece(T30, events[0].seq, events[-1].seq)


DIALER_BUSY = ScenarioDef(
    "dialer_busy",
    "dialer",
    (_busy_piece(),),
    {"number": "19915551", "caller_id": "", "campaign": "", "lead": "", "attempt": "", "queue": "sales"},
    "A campaign's customer-first Originate of a busy number: OriginateResponse Failure, Reason 5 (transcript 30).",
)
SCENARIOS.setdefault(DIALER_BUSY.name, DIALER_BUSY)


@dataclass(slots=True)
class BusyOnce:
    """Which 1990XXXX numbers were dialled already (the dialplan's AstDB ``busyonce/<number>``)."""

    seen: set[str] = field(default_factory=set)

    def is_busy(self, number: str) -> bool:
        if ALWAYS_BUSY.match(number):
            return True
        if BUSY_ONCE.match(number) and number not in self.seen:
            self.seen.add(number)
            return True
        return False


def busy_params(number: str, caller_id: str, queue: str, variables: dict[str, str]) -> dict[str, str]:
    """The roles of transcript 30 for one Originate."""
    return {
        "number": number,
        "caller_id": caller_id,
        "queue": queue,
        "campaign": variables.get("CC_CAMPAIGN", ""),
        "lead": variables.get("CC_LEAD", ""),
        "attempt": variables.get("CC_ATTEMPT", ""),
    }

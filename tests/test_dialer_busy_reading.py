"""A campaign call whose customer is busy reads as an outbound attempt that was not answered.

``dialer/30_dialer_busy`` was recorded on Asterisk 22.10.1 with the dialer's own Originate
(``Local/19915551@dialer-callee/n`` into ``dialer-connect``/sales, variables ``CC_CAMPAIGN``, ``CC_LEAD``,
``CC_ATTEMPT``...). Asterisk sets the Originate's variables on both halves of the Local pair (VarSet
``CC_ATTEMPT=7003``), ``;2`` runs ``Busy(5)`` and goes to state Busy *before* the Originate's DialBegin of
``;1``, then both halves hang up (``;2`` with cause 17, User busy). The customer never reached the queue:
no QueueCallerJoin, so only the ``CC_ATTEMPT`` of the originated pair says it was dialled out. It must not
be counted as an inbound call (offered, abandoned) nor sit in the CDR as one.

``dialer/31_dialer_answered`` (the customer answers and waits in the queue for agent 1001) stays as it was.
The simulator plays its busy customers (1991XXXX always, 1990XXXX the first time) from that recording: the
tracker reads them the same way.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from cti.events import Event
from cti.replay import replay_file
from cti.simulator.recorder import AMIRecorder
from cti.tracker import CallTracker

pytest_plugins = ["cti.simulator.testing"]  # the sim and client fixtures

DIALER = Path(__file__).parent / "fixtures" / "ami" / "dialer"
CUSTOMER_LEG = "1796316787.3540"  # the Linkedid of the originated Local pair
CALLER = {"number": "02188880000", "name": None}  # the campaign's caller ID, as the Originate set it


def _calls(events: list[Event]) -> list[tuple[str, str, str | None]]:
    return [(e["type"], e["call_id"], e.get("direction")) for e in events if e["type"] in ("call.new", "call.ended")]


def test_busy_customer_is_an_outbound_attempt_not_answered() -> None:
    events = [e for e in replay_file(DIALER / "30_dialer_busy.jsonl") if e.get("call_id") == CUSTOMER_LEG]
    common = {"pbx": "pbx1", "call_id": CUSTOMER_LEG}
    assert events == [
        {
            "type": "call.new",
            "ts": "2026-12-03T16:53:07.837Z",
            **common,
            "direction": "outbound",
            "caller": CALLER,
            "dialed": "19915551",
            "seq": 1,
        },
        {
            "type": "call.hangup",
            "ts": "2026-12-03T16:53:07.838Z",
            **common,
            "channel": "Local/19915551@dialer-callee-000005e3;1",
            "cause": 17,
            "cause_text": "User busy",
            "hangup_by": "caller",
            "seq": 2,
        },
        {
            "type": "call.ended",
            "ts": "2026-12-03T16:53:07.838Z",
            **common,
            "answered": False,
            "duration_s": 0.002,
            "talk_s": 0.0,
            "wait_s": 0.002,
            "hold_s": 0.0,
            "disposition": "busy",
            "direction": "outbound",
            "caller": CALLER,
            "dialed": "19915551",
            "queue": None,
            "agent": None,
            "legs": [],
            "linked_call_id": None,
            "seq": 3,
        },
    ]


def test_busy_customer_raw_capture_reads_the_same() -> None:
    from_jsonl = _calls(list(replay_file(DIALER / "30_dialer_busy.jsonl")))
    from_raw = _calls(list(replay_file(DIALER / "30_dialer_busy.raw")))
    assert from_raw == from_jsonl
    assert ("call.ended", CUSTOMER_LEG, "outbound") in from_raw
    assert not [c for c in from_raw if c[2] == "inbound"]


def test_answered_campaign_call_is_unchanged() -> None:
    expected = [json.loads(line) for line in (DIALER / "31_dialer_answered.expected.jsonl").open(encoding="utf-8")]
    assert list(replay_file(DIALER / "31_dialer_answered.jsonl")) == expected


def test_a_local_pair_without_a_campaign_attempt_still_calls_in() -> None:
    """The same busy recording with the dialer's variables taken out: an originated Local pair that is no
    campaign call keeps the reading it had (a Local caller, inbound)."""
    tracker = CallTracker()
    events: list[Event] = []
    for line in (DIALER / "30_dialer_busy.jsonl").open(encoding="utf-8"):
        msg = json.loads(line)
        if "Event" in msg and not (msg["Event"] == "VarSet" and msg.get("Variable") == "CC_ATTEMPT"):
            events.extend(tracker.feed(msg))
    ended = next(e for e in events if e["type"] == "call.ended" and e["call_id"] == CUSTOMER_LEG)
    assert (ended["direction"], ended["disposition"]) == ("inbound", "busy")


def _recorded_originate(number: str, attempt: str) -> dict[str, Any]:
    """The dialer's Originate of transcript 30 for another number and attempt."""
    lines = (DIALER / "30_dialer_busy.actions.jsonl").open(encoding="utf-8")
    action = next(a for a in map(json.loads, lines) if a["Action"] == "Originate")
    fields = {k: v for k, v in action.items() if not k.startswith("_") and k not in ("Action", "ActionID")}
    fields["Channel"] = f"Local/{number}@dialer-callee/n"
    fields["Variable"] = [f"CC_ATTEMPT={attempt}" if v.startswith("CC_ATTEMPT=") else v for v in fields["Variable"]]
    return fields


async def _simulated_reading(client: AMIRecorder, number: str, attempt: str) -> list[Event]:
    start = len(client.messages)
    action_id = client.send("Originate", **_recorded_originate(number, attempt))
    await client.wait_for(lambda m: m.get("Event") == "OriginateResponse" and m.get("ActionID") == action_id, start)
    await asyncio.sleep(0.05)
    tracker = CallTracker()
    events: list[Event] = []
    for msg in client.messages[start:]:
        if "Event" in msg:
            events.extend(tracker.feed(dict(msg)))
    return [e for e in events if e["type"] == "call.ended"]


async def test_simulated_busy_customers_read_as_the_recording(client: AMIRecorder) -> None:
    recorded = [e for e in replay_file(DIALER / "30_dialer_busy.jsonl") if e["type"] == "call.ended"]
    shape = [(e["direction"], e["disposition"], e["answered"], e["queue"]) for e in recorded]
    for number, attempt in (("19915551", "7003"), ("19910001", "8001"), ("19900001", "8002")):
        ended = await _simulated_reading(client, number, attempt)
        assert [(e["direction"], e["disposition"], e["answered"], e["queue"]) for e in ended] == shape
        customer = next(e for e in ended if e["direction"] == "outbound")
        assert (customer["dialed"], customer["caller"]) == (number, CALLER)

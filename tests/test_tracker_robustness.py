"""Garbage in never takes the tracker down: arbitrary dicts, shuffled real events, missing fields."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cti.replay import load_messages
from cti.tracker import CallTracker

FIXTURES = Path(__file__).parent / "fixtures" / "ami"
RECORDED = [msg for path in sorted(FIXTURES.glob("0*.raw")) for msg, _ in load_messages(path)]

EVENT_NAMES = [
    *sorted({str(msg["Event"]) for msg in RECORDED}),
    "AgentRingNoAnswer",
    "AgentDump",
    "Hold",
    "Unhold",
    "BlindTransfer",
    "AttendedTransfer",
    "ConfBridgeJoin",
    "ConfBridgeLeave",
    "LocalOptimizationBegin",
    "LocalOptimizationEnd",
    "NoSuchEvent",
]
FIELD_NAMES = [
    *sorted({key for msg in RECORDED for key in msg}),
    "Timestamp",
    "TransfererUniqueid",
    "TransfereeUniqueid",
    "OrigTransfererUniqueid",
    "SecondTransfererUniqueid",
    "TransferTargetUniqueid",
    "Conference",
]
# a small pool of identifiers so that random events hit the same channels, calls and bridges
IDS = ["1.1", "1.2", "1.3", "2.1", "b-1", "support", "Local/1001@agents-00000001;1", "Local/1001@agents/n"]

values = st.one_of(
    st.sampled_from(IDS),
    st.text(max_size=12),
    st.sampled_from(["0", "1", "4", "5", "6", "16", "ANSWER", "CANCEL", "NOANSWER", "TIMEOUT", "QUEUESTATUS"]),
    st.lists(st.sampled_from(IDS), max_size=3),
)
ami_event = st.builds(
    lambda name, fields: {"Event": name, **fields},
    st.sampled_from(EVENT_NAMES),
    st.dictionaries(st.sampled_from(FIELD_NAMES), values, max_size=12),
)


def _exercise(tracker: CallTracker) -> None:
    """Everything a caller may do after feeding: none of it may raise or give unserialisable data."""
    tracker.tick(1e9)
    json.dumps(tracker.snapshot())
    tracker.resync_begin()
    tracker.resync_end(2e9)
    json.dumps(tracker.snapshot())


def _assert_call_lifecycle(events: list[dict[str, Any]]) -> None:
    open_calls: set[str] = set()
    for event in events:
        json.dumps(event)
        assert isinstance(event["ts"], str) and event["ts"].endswith("Z")
        call_id = event.get("call_id")
        if event["type"] == "call.new":
            assert call_id not in open_calls
            open_calls.add(call_id)
        elif event["type"] == "call.ended":
            assert call_id in open_calls  # a call.new always comes first, and only one call.ended
            open_calls.discard(call_id)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.dictionaries(st.text(max_size=10), st.text(max_size=10), max_size=8), max_size=20))
def test_arbitrary_dicts_of_text_never_raise(messages: list[dict[str, str]]) -> None:
    tracker = CallTracker()
    for msg in messages:
        assert isinstance(tracker.feed(msg), list)
    _exercise(tracker)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(ami_event, max_size=60), st.floats(min_value=0, max_value=1e6, allow_nan=False))
def test_random_sequences_of_real_event_names_never_raise(messages: list[dict[str, Any]], start: float) -> None:
    tracker = CallTracker()
    events = []
    for n, msg in enumerate(messages):
        events.extend(tracker.feed(msg, now=start + n))
    events.extend(tracker.tick(start + 1e6))
    _assert_call_lifecycle(events)
    _exercise(tracker)
    assert tracker.stats.events == len(messages)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(min_value=0, max_value=2**32 - 1))
def test_recorded_events_shuffled_and_damaged_never_raise(seed: int) -> None:
    rng = random.Random(seed)
    messages = [dict(msg) for msg in rng.sample(RECORDED, k=min(400, len(RECORDED)))]
    for msg in messages:
        for key in [k for k in msg if k != "Event" and rng.random() < 0.2]:
            choice = rng.random()
            if choice < 0.4:
                del msg[key]
            elif choice < 0.7:
                msg[key] = rng.choice(["", "<unknown>", "x" * 50, "-1", "nan", "1e309"])
            else:
                msg[key] = [str(msg[key]), "dup"]
    tracker = CallTracker()
    events = []
    for n, msg in enumerate(messages):
        events.extend(tracker.feed(msg, now=float(n)))
    _assert_call_lifecycle(events)
    _exercise(tracker)


def test_non_dict_and_nameless_messages_are_ignored() -> None:
    tracker = CallTracker()
    for msg in ({}, {"Response": "Success"}, {"Event": None}, {"Event": ["Hangup", "Hangup"]}):
        assert tracker.feed(msg) == []
    assert tracker.feed("not a dict") == []  # type: ignore[arg-type]
    assert tracker.stats.events == 5 and tracker.stats.ignored == 5


def test_unknown_events_are_ignored_and_counted() -> None:
    tracker = CallTracker()
    for name in ("CEL", "VarSet", "Newexten", "DeviceStateChange", "Cdr", "RTCPSent"):
        assert tracker.feed({"Event": name, "Uniqueid": "1.1", "Variable": "FOO"}) == []
    assert tracker.feed({"Event": "VarSet", "Uniqueid": "1.1", "Variable": "QUEUESTATUS"}) == []
    assert tracker.stats.events == 7
    assert tracker.stats.ignored == 6  # a VarSet of a variable the tracker does not read is ignored too
    assert tracker.stats.handled == 1


def test_event_without_required_fields_is_counted_as_malformed() -> None:
    tracker = CallTracker()
    assert tracker.feed({"Event": "Newchannel", "Channel": "PJSIP/1001-00000001"}) == []
    assert tracker.stats.malformed == 1
    assert tracker.snapshot()["channels"] == []


def test_garbage_timestamp_falls_back_to_now() -> None:
    tracker = CallTracker()
    event = {"Event": "QueueMemberAdded", "Queue": "q", "Interface": "PJSIP/2001", "Timestamp": "soon"}
    assert tracker.feed(event, now=1.5)[0]["ts"] == "1970-01-01T00:00:01.500Z"

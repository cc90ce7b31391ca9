"""Resync after an AMI reconnect, on the real CoreShowChannels / QueueStatus / BridgeList replies of 08."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cti.events import Event
from cti.tracker import CallTracker

FIXTURES = Path(__file__).parent / "fixtures" / "ami"
TRANSCRIPT = FIXTURES / "08_status_queries_during_call.jsonl"
ANSWERED_CALL = "1795451319.22"
WAITING_CALL = "1795451321.26"


def _lines() -> list[dict[str, Any]]:
    return [json.loads(line) for line in TRANSCRIPT.read_text(encoding="utf-8").splitlines()]


def _split() -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """Events before the status replies, the replies (QueueStatus … BridgeList), and the rest."""
    lines = _lines()
    start = next(i for i, d in enumerate(lines) if d.get("Event") == "QueueParams")
    end = next(i for i, d in enumerate(lines) if d.get("Event") == "BridgeListComplete") + 1
    return lines[:start], lines[start:end], lines[end:]


def _feed(tracker: CallTracker, lines: list[dict[str, Any]]) -> list[Event]:
    out: list[Event] = []
    for line in lines:
        if line.get("_kind") == "event":
            msg = {k: v for k, v in line.items() if not k.startswith("_")}
            out.extend(tracker.feed(msg, now=line["_t_rel"]))
    return out


def _types(events: list[Event], call_id: str) -> list[str]:
    return [e["type"] for e in events if e.get("call_id") == call_id]


def test_resync_keeps_known_calls_without_duplicates() -> None:
    before, replies, after = _split()
    straight = CallTracker()
    _feed(straight, before)
    _feed(straight, replies)
    expected_after = _feed(straight, after)

    tracker = CallTracker()
    _feed(tracker, before)
    tracker.resync_begin()
    during = _feed(tracker, replies)
    assert during == []
    assert tracker.resync_end(3.566) == []
    assert _feed(tracker, after) == expected_after


def test_resync_ends_a_call_the_pbx_no_longer_reports() -> None:
    before, replies, after = _split()
    gone = {"Local/5551241@from-pstn-0000000d;1", "Local/5551241@from-pstn-0000000d;2"}
    tracker = CallTracker()
    _feed(tracker, before)
    tracker.resync_begin()
    _feed(tracker, [r for r in replies if r.get("Channel") not in gone])
    events = tracker.resync_end(3.566)
    assert _types(events, WAITING_CALL) == ["call.hangup", "call.ended"]
    assert events[0]["hangup_by"] == "system"
    assert not _types(events, ANSWERED_CALL)
    rest = _feed(tracker, after)
    assert not _types(rest, WAITING_CALL)  # its late Hangups are for channels already gone
    assert _types(rest, ANSWERED_CALL)[-1] == "call.ended"
    assert _types(rest, ANSWERED_CALL).count("call.ended") == 1


def test_resync_adopts_calls_never_seen() -> None:
    """A tracker started mid-call learns both calls and the agents from the replies alone."""
    _, replies, after = _split()
    tracker = CallTracker()
    tracker.resync_begin()
    during = _feed(tracker, replies)
    during += tracker.resync_end(3.566)

    news = {e["call_id"]: e for e in during if e["type"] == "call.new"}
    assert set(news) == {ANSWERED_CALL, WAITING_CALL}
    assert news[ANSWERED_CALL]["direction"] == "inbound"
    assert news[ANSWERED_CALL]["caller"] == {"number": "5551240", "name": "PSTN 5551240"}
    assert news[WAITING_CALL]["caller"]["number"] == "5551241"
    joined = {e["call_id"]: e for e in during if e["type"] == "queue.joined"}
    assert {call: e["queue"] for call, e in joined.items()} == {ANSWERED_CALL: "support", WAITING_CALL: "support"}
    assert joined[WAITING_CALL]["wait_s"] == pytest.approx(1.0, abs=0.01)  # QueueEntry Wait: 1
    # the talking caller's channel runs Queue(support): answered from that queue, its wait from the channels'
    # ages (caller 3 s, agent leg 3 s: to the second, no wait seen)
    left = [e for e in during if e["type"] == "queue.left"]
    assert [(e["call_id"], e["queue"], e["reason"]) for e in left] == [(ANSWERED_CALL, "support", "answered")]
    answered = [e for e in during if e["type"] == "call.answered"]
    assert [(e["call_id"], e["agent"], e["queue"]) for e in answered] == [(ANSWERED_CALL, "1001", "support")]
    assert answered[0]["wait_s"] == pytest.approx(left[0]["wait_s"]) and answered[0]["wait_s"] < 1.0
    states = {e["agent"]: e["state"] for e in during if e["type"] == "agent.state"}
    assert states == {"1001": "on_call", "1002": "paused"}

    rest = _feed(tracker, after)
    ended = {e["call_id"]: e for e in rest if e["type"] == "call.ended"}
    assert set(ended) == {ANSWERED_CALL, WAITING_CALL}
    assert (ended[ANSWERED_CALL]["disposition"], ended[ANSWERED_CALL]["queue"]) == ("answered", "support")
    assert ended[ANSWERED_CALL]["duration_s"] == pytest.approx(18.98 - 0.56, abs=0.6)
    assert ended[WAITING_CALL]["disposition"] == "abandoned"
    assert not [e for e in rest if e["type"] == "call.new"]


def test_resync_drops_queue_memberships_no_longer_reported() -> None:
    tracker = CallTracker()
    member = {"Interface": "Local/1001@agents/n", "StateInterface": "Custom:1001", "Paused": "0"}
    tracker.feed({"Event": "QueueMemberAdded", "Queue": "support", **member}, now=1.0)
    tracker.feed({"Event": "QueueMemberAdded", "Queue": "sales", **member}, now=1.0)
    tracker.resync_begin()
    tracker.feed({"Event": "QueueParams", "Queue": "support"}, now=2.0)
    tracker.feed({"Event": "QueueParams", "Queue": "sales"}, now=2.0)
    tracker.feed(
        {
            "Event": "QueueMember",
            "Queue": "sales",
            "Name": "Agent 1001",
            "Location": "Local/1001@agents/n",
            "StateInterface": "Custom:1001",
            "Paused": "1",
            "PausedReason": "Training",
        },
        now=2.0,
    )
    events = tracker.feed({"Event": "QueueStatusComplete"}, now=2.0)
    events += tracker.resync_end(2.0)
    assert tracker.snapshot()["agents"][0]["queues"] == ["sales"]
    assert [(e["state"], e["reason"], e["queues"]) for e in events if e["type"] == "agent.state"][-1] == (
        "paused",
        "Training",
        ["sales"],
    )


def test_resync_with_nothing_reported_ends_everything_once() -> None:
    before, _, _ = _split()
    tracker = CallTracker()
    _feed(tracker, before)
    tracker.resync_begin()
    events = tracker.resync_end(4.0)
    ended = [e["call_id"] for e in events if e["type"] == "call.ended"]
    assert sorted(ended) == [ANSWERED_CALL, WAITING_CALL]
    assert tracker.snapshot()["calls"] == [] and tracker.snapshot()["channels"] == []
    assert tracker.resync_end(5.0) == []

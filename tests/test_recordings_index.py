"""The pure recording indexer on the recorded Asterisk 22 traffic of scenario 04, and its helpers."""

from __future__ import annotations

import json

import pytest
from test_recordings_support import SCENARIO_04

from recordings.index import (
    FileStat,
    RecordingIndexer,
    RowFacts,
    UnsafeFileName,
    derive_status,
    parse_recording_name,
    plan_scan,
    relative_file_name,
    safe_relative_name,
)
from recordings.models import RecordingStatus

Q_FILE = "q-support-20261123-162714-1795451234.7.wav"
CTI_FILE = "cti-1795451234.8.wav"


def _scenario() -> list[dict]:
    return [json.loads(line) for line in SCENARIO_04.read_text().splitlines() if line.strip()]


def _run(messages: list[dict]) -> list[dict]:
    indexer = RecordingIndexer()
    facts: list[dict] = []
    for msg in messages:
        if msg.get("_kind") == "event":
            facts.extend(indexer.on_ami(msg, now=1000.0 + msg["_t_rel"]))
    return facts


def test_scenario_04_names_both_files_and_their_ends() -> None:
    facts = _run(_scenario())
    started = [f for f in facts if f["fact"] == "started"]
    stopped = [f for f in facts if f["fact"] == "stopped"]
    assert [(f["file_name"], f["call_id"], f["uniqueid"]) for f in started] == [
        (Q_FILE, "1795451234.6", "1795451234.7"),
        (CTI_FILE, "1795451234.6", "1795451234.8"),
    ]
    assert started[0]["queue"] == "support"
    assert started[1]["channel"] == "Local/1001@agents-00000004;1"
    # the CTI recording ends at MixMonitorStop (8.55 s), the dialplan one with its channel's Hangup (14.0 s)
    ends = {f["file_name"]: round(f["ts"] - 1000.0, 2) for f in stopped}
    assert ends == {CTI_FILE: 8.55, Q_FILE: 14.0}


def test_varset_after_mixmonitorstart_gives_the_same_facts() -> None:
    messages = _scenario()
    swapped = list(messages)
    i = next(n for n, m in enumerate(swapped) if m.get("Variable") == "MIXMONITOR_FILENAME")
    assert swapped[i + 1]["Event"] == "MixMonitorStart"
    swapped[i], swapped[i + 1] = swapped[i + 1], swapped[i]
    assert _run(swapped) == _run(messages)


def test_repeated_varset_does_not_duplicate_a_recording() -> None:
    messages = _scenario()
    i = next(n for n, m in enumerate(messages) if m.get("Variable") == "MIXMONITOR_FILENAME")
    facts = _run([*messages[: i + 1], messages[i], *messages[i + 1 :]])
    assert [f["file_name"] for f in facts if f["fact"] == "started"] == [Q_FILE, CTI_FILE]


def test_call_details_from_the_bus_reach_later_recordings() -> None:
    indexer = RecordingIndexer()
    answered = {
        "type": "call.answered",
        "call_id": "1795451234.6",
        "caller": {"number": "5551236", "name": "PSTN"},
        "callee": {"number": "1001"},
        "agent": "1001",
        "queue": "support",
        "wait_s": 3,
    }
    [call] = indexer.on_event(answered)
    assert call == {
        "fact": "call",
        "call_id": "1795451234.6",
        "agent": "1001",
        "queue": "support",
        "caller_number": "5551236",
        "callee_number": "1001",
    }
    messages = [m for m in _scenario() if m.get("Uniqueid") == "1795451234.8" and m.get("_kind") == "event"]
    started = [f for m in messages for f in indexer.on_ami(m, 0.0) if f["fact"] == "started"]
    assert started[0]["agent"] == "1001" and started[0]["caller_number"] == "5551236"
    assert indexer.on_event(
        {"type": "call.ended", "call_id": "1795451234.6", "ts": "2026-11-23T16:27:28Z"}
    ) == [{"fact": "call_ended", "call_id": "1795451234.6", "ts": "2026-11-23T16:27:28Z"}]


def test_agent_given_as_interface_or_dict_is_reduced_to_its_number() -> None:
    indexer = RecordingIndexer()
    [a] = indexer.on_event({"type": "call.answered", "call_id": "1.1", "agent": "Local/1002@agents/n"})
    [b] = indexer.on_event(
        {"type": "screen.pop", "call_id": "1.2", "agent": {"extension": "1003"}, "customer": {"id": 42}}
    )
    assert a["agent"] == "1002"
    assert (b["agent"], b["customer_id"]) == ("1003", 42)
    assert indexer.on_event({"type": "survey.scored", "call_id": "1.2", "score": 4})[0]["satisfaction"] == 4
    assert indexer.on_event({"type": "queue.stats", "queue": "support"}) == []


def test_file_names_say_uniqueid_and_queue() -> None:
    q = parse_recording_name(Q_FILE)
    assert (q.uniqueid, q.queue, q.extension) == ("1795451234.7", "support", "wav")
    dashed = parse_recording_name("2026/11/q-after-sales-20261123-162714-17.3.WAV")
    assert (dashed.uniqueid, dashed.queue, dashed.extension) == ("17.3", "after-sales", "wav")
    cti = parse_recording_name(CTI_FILE)
    assert (cti.uniqueid, cti.queue) == ("1795451234.8", None)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("/var/spool/asterisk/monitor/q-x-1.2.wav", "q-x-1.2.wav"),
        ("/var/spool/asterisk/monitor/2026/11/a.wav", "2026/11/a.wav"),
        ("relative.wav", "relative.wav"),
        ("/elsewhere/b.wav", "b.wav"),
        ("/var/spool/asterisk/monitor/../../../etc/passwd", "passwd"),
        ("../../etc/shadow", "shadow"),
    ],
)
def test_asterisk_paths_map_into_the_recording_folder(value: str, expected: str) -> None:
    assert relative_file_name(value) == expected


@pytest.mark.parametrize(
    "name", ["../x.wav", "/etc/passwd", "a/../../b.wav", "a\\b.wav", ".hidden.wav", "", "a//b"]
)
def test_unsafe_names_are_refused(name: str) -> None:
    with pytest.raises(UnsafeFileName):
        safe_relative_name(name)


def test_scan_plan_is_idempotent_and_sees_changes() -> None:
    found = [FileStat("a.wav", 100, 1), FileStat("b.wav", 200, 2)]
    first = plan_scan({}, found)
    assert [s.file_name for s in first.new] == ["a.wav", "b.wav"]
    known = {s.file_name: (s.size, s.mtime_ns) for s in found}
    assert plan_scan(known, found) == plan_scan(known, found)
    assert plan_scan(known, found).new == [] and plan_scan(known, found).changed == []
    later = plan_scan({**known, "gone.wav": (5, 5), "never.wav": (None, None)}, [FileStat("a.wav", 150, 3)])
    assert [s.file_name for s in later.changed] == ["a.wav"]
    assert later.vanished == ["b.wav", "gone.wav"]


@pytest.mark.parametrize(
    ("facts", "now", "expected"),
    [
        (RowFacts("pending", True, None, None, None), 0, RecordingStatus.UNLINKED),
        (RowFacts("recording", True, "c1", None, 0.0), 10, RecordingStatus.RECORDING),
        (RowFacts("recording", True, "c1", 5.0, 0.0), 10, RecordingStatus.READY),
        (RowFacts("pending", False, "c1", 100.0, 0.0), 130, RecordingStatus.PENDING),
        (RowFacts("pending", False, "c1", 100.0, 0.0), 161, RecordingStatus.MISSING),
        (RowFacts("recording", False, "c1", None, 0.0), 50, RecordingStatus.RECORDING),
        (RowFacts("recording", False, "c1", None, 0.0), 500, RecordingStatus.MISSING),
        (RowFacts("deleted", False, "c1", 1.0, 0.0), 10_000, RecordingStatus.DELETED),
        (RowFacts("invalid", True, "c1", 1.0, 0.0), 10_000, RecordingStatus.INVALID),
    ],
)
def test_status_is_derived_from_file_call_and_time(
    facts: RowFacts, now: float, expected: RecordingStatus
) -> None:
    assert derive_status(facts, now, grace_s=60, max_recording_s=400) is expected


def test_call_ended_stops_recordings_whose_hangup_was_not_fed() -> None:
    indexer = RecordingIndexer()
    fed = [m for m in _scenario() if m.get("Event") in ("VarSet", "MixMonitorStart", "MixMonitorStop")]
    facts = [f for m in fed for f in indexer.on_ami(m, 5.0)]
    assert [(f["fact"], f["file_name"]) for f in facts] == [
        ("started", Q_FILE),
        ("started", CTI_FILE),
        ("stopped", CTI_FILE),
    ]
    ended = indexer.on_event({"type": "call.ended", "call_id": "1795451234.6", "ts": "2026-11-23T16:27:28Z"})
    assert [(f["fact"], f.get("file_name"), f["ts"]) for f in ended] == [
        ("stopped", Q_FILE, "2026-11-23T16:27:28Z"),
        ("call_ended", None, "2026-11-23T16:27:28Z"),
    ]
    assert indexer.on_event({"type": "call.ended", "call_id": "1795451234.6", "ts": "x"})[:-1] == []

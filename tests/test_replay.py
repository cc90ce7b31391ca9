"""`callcenter replay` on the recorded Asterisk 22 transcripts gives the checked expected events."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent_desk.cli import app
from cti.replay import ReplayFormatError, load_messages, replay_file
from cti.tracker import CallTracker

FIXTURES = Path(__file__).parent / "fixtures" / "ami"
SCENARIOS = sorted(p.name[: -len(".raw")] for p in FIXTURES.glob("[0-9][0-9]_*.raw"))


def _expected(name: str) -> list[dict]:
    return [json.loads(line) for line in (FIXTURES / name).read_text(encoding="utf-8").splitlines() if line]


def test_every_transcript_has_expected_outputs() -> None:
    assert len(SCENARIOS) >= 13
    for scenario in SCENARIOS:
        assert (FIXTURES / f"{scenario}.expected.jsonl").exists()
        assert (FIXTURES / f"{scenario}.raw.expected.jsonl").exists()


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_replay_of_jsonl_matches_expected(scenario: str) -> None:
    events = list(replay_file(FIXTURES / f"{scenario}.jsonl"))
    assert events == _expected(f"{scenario}.expected.jsonl")


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_replay_of_raw_capture_matches_expected(scenario: str) -> None:
    events = list(replay_file(FIXTURES / f"{scenario}.raw"))
    assert events == _expected(f"{scenario}.raw.expected.jsonl")


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_raw_and_jsonl_give_the_same_events_apart_from_time(scenario: str) -> None:
    """The raw capture carries no time; everything else must agree."""
    timeless = ("ts", "wait_s", "talk_s", "duration_s", "hold_s")

    def strip(events: list[dict]) -> list[dict]:
        out = []
        for event in events:
            event = {k: v for k, v in event.items() if k not in timeless}
            if "legs" in event:
                event["legs"] = [{k: v for k, v in leg.items() if k != "talk_s"} for leg in event["legs"]]
            out.append(event)
        return out

    raw = strip(list(replay_file(FIXTURES / f"{scenario}.raw")))
    timed = strip(list(replay_file(FIXTURES / f"{scenario}.jsonl")))
    assert raw == timed


def test_seq_numbers_from_one_in_order() -> None:
    events = list(replay_file(FIXTURES / "06_blind_transfer_redirect.jsonl"))
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))


def test_replay_is_deterministic() -> None:
    path = FIXTURES / "08_status_queries_during_call.jsonl"
    assert list(replay_file(path)) == list(replay_file(path))


def test_pbx_name_is_carried_on_every_event() -> None:
    events = list(replay_file(FIXTURES / "02_inbound_answered_agent_hangup.jsonl", pbx="east"))
    assert events and {e["pbx"] for e in events} == {"east"}


def test_cli_replay_prints_the_expected_jsonl() -> None:
    result = CliRunner().invoke(app, ["replay", str(FIXTURES / "02_inbound_answered_agent_hangup.jsonl")])
    assert result.exit_code == 0, result.output
    printed = [json.loads(line) for line in result.output.splitlines() if line.strip()]
    assert printed == _expected("02_inbound_answered_agent_hangup.expected.jsonl")


def test_cli_replay_of_raw_capture() -> None:
    result = CliRunner().invoke(app, ["replay", str(FIXTURES / "03_inbound_abandon.raw"), "--pbx", "pbx9"])
    assert result.exit_code == 0, result.output
    printed = [json.loads(line) for line in result.output.splitlines() if line.strip()]
    assert [e["type"] for e in printed] == [e["type"] for e in _expected("03_inbound_abandon.raw.expected.jsonl")]
    assert {e["pbx"] for e in printed} == {"pbx9"}


def test_load_messages_jsonl_keeps_events_only_with_times() -> None:
    messages = load_messages(FIXTURES / "02_inbound_answered_agent_hangup.jsonl")
    assert messages
    assert all("Event" in msg for msg, _ in messages)
    assert all(not k.startswith("_") for msg, _ in messages for k in msg)
    assert all(isinstance(when, float) for _, when in messages)
    first = messages[0][0]
    assert first["Event"] == "FullyBooted"


def test_load_messages_raw_has_no_times() -> None:
    messages = load_messages(FIXTURES / "02_inbound_answered_agent_hangup.raw")
    assert messages and all(when is None for _, when in messages)
    jsonl = load_messages(FIXTURES / "02_inbound_answered_agent_hangup.jsonl")
    assert [m for m, _ in messages] == [m for m, _ in jsonl]


def test_load_messages_json_array(tmp_path: Path) -> None:
    path = tmp_path / "events.json"
    items = [
        {"Event": "QueueMemberAdded", "Queue": "support", "Interface": "Local/1001@agents/n", "_x": 1},
        {"Response": "Success"},
        "not a dict",
    ]
    path.write_text(json.dumps(items), encoding="utf-8")
    assert load_messages(path) == [
        ({"Event": "QueueMemberAdded", "Queue": "support", "Interface": "Local/1001@agents/n"}, None)
    ]
    events = list(replay_file(path))
    assert [(e["type"], e["state"], e["seq"]) for e in events] == [("agent.state", "available", 1)]


def test_load_messages_jsonl_skips_underscore_lines_and_non_events(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text(
        '{"_kind": "response", "Response": "Success"}\n'
        "_comment line\n"
        "\n"
        '{"Event": "FullyBooted", "_t_rel": 1.5}\n'
        '{"_kind": "event", "Event": "Newexten"}\n',
        encoding="utf-8",
    )
    assert load_messages(path) == [({"Event": "FullyBooted"}, 1.5), ({"Event": "Newexten"}, None)]


def test_broken_json_is_a_readable_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"Event": "Hangup"}\n{"Event": \n', encoding="utf-8")
    with pytest.raises(ReplayFormatError, match=r"bad\.jsonl:2"):
        load_messages(path)


def test_three_way_conference_is_no_hold_and_the_third_party_took_part() -> None:
    """Transcript 11: the customer and agent 1001 move into a ConfBridge, 1002 is brought in."""
    events = _expected("11_three_way_confbridge.expected.jsonl")
    assert events == list(replay_file(FIXTURES / "11_three_way_confbridge.jsonl"))
    assert not [e for e in events if e["type"] in ("call.hold", "call.unhold")]
    (conference,) = [e for e in events if e["type"] == "call.conference"]
    ended = {e["call_id"]: e for e in events if e["type"] == "call.ended"}
    customer = next(e for e in ended.values() if e["direction"] == "inbound")
    third = next(e for e in ended.values() if e["direction"] == "internal")
    assert conference["call_id"] == customer["call_id"]
    assert customer["hold_s"] == 0.0 and customer["disposition"] == "answered"
    assert third["caller"]["number"] == "1002" and third["answered"] and third["disposition"] == "answered"


def test_supervisor_spy_calls_are_answered_internal_calls_marked_as_spying() -> None:
    """Transcript 12: supervisor 1003 listens, whispers and barges on agent 1001's call."""
    events = _expected("12_supervisor_chanspy.expected.jsonl")
    assert events == list(replay_file(FIXTURES / "12_supervisor_chanspy.jsonl"))
    ended = [e for e in events if e["type"] == "call.ended"]
    customer = next(e for e in ended if e["direction"] == "inbound")
    spies = [e for e in ended if e is not customer]
    assert len(spies) == 3
    for spy in spies:
        assert spy["direction"] == "internal" and spy["queue"] is None
        assert spy["answered"] and spy["disposition"] == "answered"
        assert spy["spy"] == {"agent": "1001", "call_id": customer["call_id"]}
        assert spy["caller"]["number"] == "1003"
    assert "spy" not in customer


def test_voicemail_left_through_the_ivr_is_voicemail_not_abandoned() -> None:
    """A real Asterisk 22 recording: the FastAGI flow runs ``EXEC "VoiceMail"`` inside AGI (no
    dialplan VoiceMail step); the caller is in the mailbox when he hangs up."""
    path = FIXTURES / "demo_caller_voicemail.jsonl"
    assert any(
        m.get("Event") == "AGIExecStart" and str(m.get("Command", "")).startswith('EXEC "VoiceMail"')
        for m, _ in load_messages(path)
    )
    events = list(replay_file(path))
    (ended,) = [e for e in events if e["type"] == "call.ended"]
    assert ended["disposition"] == "voicemail" and not ended["answered"]
    assert not [e for e in events if e["type"] == "queue.abandoned"]


def test_other_agi_commands_leave_an_unanswered_ivr_call_abandoned() -> None:
    """The same recording without its VoiceMail EXEC: the caller hung up in the IVR."""
    messages = [
        (m, t)
        for m, t in load_messages(FIXTURES / "demo_caller_voicemail.jsonl")
        if "VoiceMail" not in str(m.get("Command", ""))
    ]
    tracker = CallTracker()
    events = [e for m, t in messages for e in tracker.feed(m, t)]
    (ended,) = [e for e in events if e["type"] == "call.ended"]
    assert ended["disposition"] == "abandoned"


def test_caller_number_set_by_the_dialplan_after_the_dial_began() -> None:
    """Transcript 20: an inbound caller originated with no caller ID; from-pstn sets 5558001 after
    the Local pair's DialBegin, so it arrives as NewCallerid: ringing, answer and end carry it."""
    events = _expected("20_caller_id_rewrite.expected.jsonl")
    updates = [e["caller"] for e in events if e["type"] == "call.updated"]
    assert updates and updates[-1] == {"number": "5558001", "name": "PSTN 5558001"}
    for kind in ("call.ringing", "call.answered", "call.ended"):
        assert {e["caller"]["number"] for e in events if e["type"] == kind} == {"5558001"}, kind
    (ended,) = [e for e in events if e["type"] == "call.ended"]
    assert ended["answered"] and ended["agent"] == "1001"


def test_blind_transfer_to_a_target_that_does_not_answer_is_failed() -> None:
    """Transcript 22: agent 1001 answers, the caller is redirected to 1099, which rings 6 s."""
    events = _expected("22_blind_transfer_no_answer.expected.jsonl")
    assert not [e for e in events if e["type"] == "call.transferred"]
    (failed,) = [e for e in events if e["type"] == "call.transfer_failed"]
    assert (failed["kind"], failed["from"], failed["to"], failed["reason"]) == ("blind", "1001", "1099", "noanswer")
    (ended,) = [e for e in events if e["type"] == "call.ended"]
    assert ended["answered"] and [leg["agent"] for leg in ended["legs"]] == ["1001"]


def test_directed_pickup_answers_the_call_for_the_picking_phone() -> None:
    """Transcript 21: agent 1001 rings; a Local phone with caller ID 1002 dials ``*81001`` (PickupChan)
    and takes the call. One call, answered by the picking phone; its own originated call is no call."""
    events = _expected("21_directed_pickup.expected.jsonl")
    assert {e["call_id"] for e in events if "call_id" in e} == {"1796315755.0"}
    (answered,) = [e for e in events if e["type"] == "call.answered"]
    assert answered["channel"] == "Local/*81001@phone-pickup-00000002;2"
    assert answered["callee"]["number"] == "1002" and answered["caller"]["number"] == "5558002"
    rung = [e for e in events if e["type"] == "call.hangup" and e["channel"].startswith("Local/1001@")]
    assert [e["cause_text"] for e in rung] == ["Answered elsewhere"]
    (ended,) = [e for e in events if e["type"] == "call.ended"]
    assert ended["answered"] and ended["disposition"] == "answered"
    assert [leg["number"] for leg in ended["legs"]] == ["1002"]
    assert not [e for e in events if e["type"].startswith("queue.") and e.get("reason") not in (None, "answered")]


def test_pickup_whose_originate_dial_begin_comes_after_the_answer_is_still_one_call() -> None:
    """Asterisk publishes an Originate's DialBegin once the call is placed, and under load the Local
    pair's ;2 half may answer (PickupChan) first: transcript 21 with the picking phone's DialBegin moved
    after both halves are up still gives one call answered by the picking phone and no phantom abandon."""
    messages = load_messages(FIXTURES / "21_directed_pickup.jsonl")
    picker = "Local/*81001@phone-pickup-00000002"
    begin = next(
        i
        for i, (m, _) in enumerate(messages)
        if m.get("Event") == "DialBegin" and m.get("DestChannel") == f"{picker};1"
    )
    up = next(
        i
        for i, (m, _) in enumerate(messages)
        if m.get("Event") == "Newstate" and m.get("Channel") == f"{picker};2" and m.get("ChannelState") == "6"
    )
    assert begin < up
    reordered = messages[:begin] + messages[begin + 1 : up + 1] + [messages[begin]] + messages[up + 1 :]
    tracker = CallTracker(pbx="pbx1")
    events = [e for msg, when in reordered for e in tracker.feed(msg, now=when)]
    assert {e["call_id"] for e in events if e["type"] == "call.new"} == {"1796315755.0"}
    (answered,) = [e for e in events if e["type"] == "call.answered"]
    assert answered["channel"] == f"{picker};2"
    (ended,) = [e for e in events if e["type"] == "call.ended"]
    assert ended["disposition"] == "answered"

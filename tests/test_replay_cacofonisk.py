"""The tracker with its default settings reads a foreign PBX's dialplan right.

tests/fixtures/cacofonisk/ holds 26 recordings of real traffic from a hosted Asterisk whose dialplan
is not ours (recorded by the cacofonisk project, MIT licence; its README says what happens in each).
Each has a golden output (``*.expected.jsonl``); ``READINGS`` below is the hand-checked reading of
each call that the golden must keep: who called (after the dialplan's caller-ID rewrite), whether a
person answered and who took it, and which transfers happened with their outcome.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent_desk.cli import app
from cti.replay import replay_file

ROOT = Path(__file__).parent / "fixtures" / "cacofonisk"
RECORDINGS = sorted(str(p.relative_to(ROOT).with_suffix("")) for p in ROOT.glob("*/*.json"))

Call = tuple[str | None, bool, list[str | None], bool]  # caller, answered, legs that talked, a linked consultation
Transfer = tuple[str, str, str | None, str | None]  # transferred / transfer_failed, kind, from, to

# (calls in the order they end, transfers) as a person watching the phones reads each recording.
READINGS: dict[str, tuple[list[Call], list[Transfer]]] = {
    "mobile/acceptance_group_pickup": (
        [('+31150010003', True, ['+31150010001'], False)],
        [],
    ),
    "mobile/acceptance_reject": (
        [('+31150010003', False, [], False)],
        [],
    ),
    "mobile/acceptance_timeout": (
        [('+31150010003', False, [], False)],
        [],
    ),
    "originate/cmn-world-world-unaccepted": (
        [('+31260010001', False, [], False)],
        [],
    ),
    "originate/ctd-account-account-xfer-attn-abbcac": (
        [('202', True, [], True), ('201', True, ['202', '203'], False)],
        [('transferred', 'attended', '202', '203')],
    ),
    "originate/ctd-account-world-deny-a": (
        [('201', False, [], False)],
        [],
    ),
    "originate/ctd-account-world-no-ringing": (
        [('2401', True, ['+31260010001'], False)],
        [],
    ),
    "originate/ctd-account-world": (
        [('201', True, ['+31260010001'], False)],
        [],
    ),
    "queue/queue_attn_xfer": (
        [('201', True, [], True), ('+31260010001', True, ['+31150010001', '202'], False)],
        [('transferred', 'attended', '201', '202')],
    ),
    "queue/queue_group": (
        [('+31150010001', True, ['+31150010004'], False)],
        [],
    ),
    "simple/a_created_no_answer": (
        [('+31150010001', False, [], False)],
        [],
    ),
    "simple/ab_callgroup": (
        [('201', True, ['401'], False)],
        [],
    ),
    "simple/ab_dnd": (
        [('201', False, [], False)],
        [],
    ),
    "simple/ab_success_a_hangup": (
        [('201', True, ['202'], False)],
        [],
    ),
    "simple/ab_success_o3": (
        [('201', True, ['202'], False)],
        [],
    ),
    "var_set/user_events": (
        [('+31260010001', True, ['+31150010001'], False), ('+31260010001', True, ['+31150010001'], False)],
        [],
    ),
    "xfer_attended/xfer_abbcac": (
        [('202', True, [], True), ('201', True, ['202', '203'], False)],
        [('transferred', 'attended', '202', '203')],
    ),
    "xfer_attended/xfer_abcbac": (
        [('202', True, ['201'], True), ('203', True, ['201', '202'], False)],
        [('transferred', 'attended', '201', '202')],
    ),
    "xfer_blind/xfer_blind_abacbc": (
        [('201', True, ['202', '203'], False)],
        [('transferred', 'blind', '201', '203')],
    ),
    "xfer_blind/xfer_blind_b_no_answer": (
        [('201', True, ['202'], False)],
        [('transfer_failed', 'blind', '202', '203')],
    ),
    "xfer_blind/xfer_blind_group_no_answer": (
        [('+31260010001', True, ['+31150010001'], False)],
        [('transfer_failed', 'blind', '+31150010001', '401')],
    ),
    "xfer_blonde/xfer_blonde_abacbc": (
        [('201', False, [], True), ('201', True, ['202', '203'], False)],
        [('transferred', 'blonde', '201', '203')],
    ),
    "xfer_blonde/xfer_blonde_group_a": (
        [('201', False, [], True), ('+31150010001', True, ['+31260010001', '401'], False)],
        [('transferred', 'blonde', '201', '401')],
    ),
    "xfer_blonde/xfer_blonde_reject": (
        [('201', False, [], True), ('+31260010001', True, ['+31150010001'], False)],
        [('transfer_failed', 'blonde', '201', '202')],
    ),
    "xfer_misc/call_forwarding_to_group": (
        [('+31260010001', True, ['401'], False)],
        [],
    ),
    "xfer_misc/star_pickup": (
        [('201', True, ['150010003'], False)],
        [],
    ),
}


def _golden(name: str) -> list[dict]:
    path = ROOT / f"{name}.expected.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def test_all_26_recordings_are_held() -> None:
    assert len(RECORDINGS) == 26
    assert set(RECORDINGS) == set(READINGS)
    assert (ROOT / "LICENSE").exists() and (ROOT / "README.md").exists()


@pytest.mark.parametrize("name", RECORDINGS)
def test_replay_matches_golden(name: str) -> None:
    assert list(replay_file(ROOT / f"{name}.json")) == _golden(name)


@pytest.mark.parametrize("name", RECORDINGS)
def test_golden_reads_the_call_as_a_person_would(name: str) -> None:
    events = _golden(name)
    calls = [
        (e["caller"]["number"], e["answered"], [leg["number"] for leg in e["legs"]], e["linked_call_id"] is not None)
        for e in events
        if e["type"] == "call.ended"
    ]
    transfers = [
        (e["type"].split(".")[1], e["kind"], e["from"], e["to"])
        for e in events
        if e["type"] in ("call.transferred", "call.transfer_failed")
    ]
    assert (calls, transfers) == READINGS[name]


@pytest.mark.parametrize("name", RECORDINGS)
def test_every_call_is_announced_once_and_ends_once(name: str) -> None:
    events = _golden(name)
    new = [e["call_id"] for e in events if e["type"] == "call.new"]
    ended = [e["call_id"] for e in events if e["type"] == "call.ended"]
    assert sorted(new) == sorted(ended) and len(set(new)) == len(new)
    for event in events:
        if event["type"] in ("call.ringing", "call.answered"):
            assert "!!" not in str(event["callee"]["number"]), "a dial string leaked into the callee"
            assert not event["channel"].startswith("Local/"), "a Local pair that only passes the call on rang"


def test_rewritten_caller_id_is_the_one_shown() -> None:
    """The SIP account 150010001 calls; the dialplan rewrites its caller ID to 201 before the Dial."""
    events = _golden("simple/ab_success_a_hangup")
    new = next(e for e in events if e["type"] == "call.new")
    assert new["caller"] == {"number": "201", "name": "Andrew Garza"}
    assert new["direction"] == "internal" and new["dialed"] == "202"
    answered = next(e for e in events if e["type"] == "call.answered")
    assert answered["callee"]["number"] == "202" and answered["channel"].startswith("SIP/150010002-")


def test_pickup_answers_for_the_picking_phone_without_a_phantom_call() -> None:
    events = _golden("xfer_misc/star_pickup")
    assert len({e["call_id"] for e in events if "call_id" in e}) == 1
    answered = [e for e in events if e["type"] == "call.answered"]
    assert [e["channel"] for e in answered] == ["SIP/150010003-00000024"]
    assert not any(e["type"] == "call.ended" and e["disposition"] == "abandoned" for e in events)


def test_call_acceptance_leg_that_answers_is_not_an_answer() -> None:
    for name in ("mobile/acceptance_reject", "mobile/acceptance_timeout", "originate/cmn-world-world-unaccepted"):
        events = _golden(name)
        assert not any(e["type"] == "call.answered" for e in events), name
        assert all(not e["answered"] for e in events if e["type"] == "call.ended"), name


def test_cli_replay_of_a_foreign_recording() -> None:
    path = ROOT / "xfer_blind" / "xfer_blind_b_no_answer.json"
    result = CliRunner().invoke(app, ["replay", str(path)])
    assert result.exit_code == 0, result.output
    printed = [json.loads(line) for line in result.output.splitlines() if line.strip()]
    assert printed == _golden("xfer_blind/xfer_blind_b_no_answer")
    assert [e["type"] for e in printed].count("call.transfer_failed") == 1
    assert "call.transferred" not in [e["type"] for e in printed]

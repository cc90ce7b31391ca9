"""The recorded Asterisk 22 scenarios, stated as plain facts about the domain events."""

from __future__ import annotations

from pathlib import Path

import pytest

from cti.events import Event
from cti.replay import replay_file

FIXTURES = Path(__file__).parent / "fixtures" / "ami"


def _events(name: str) -> list[Event]:
    return list(replay_file(FIXTURES / f"{name}.jsonl"))


def _of(events: list[Event], kind: str) -> list[Event]:
    return [e for e in events if e["type"] == kind]


def _one(events: list[Event], kind: str) -> Event:
    found = _of(events, kind)
    assert len(found) == 1, f"expected one {kind}, got {len(found)}"
    return found[0]


def _agent_states(events: list[Event], agent: str) -> list[tuple[str, str | None]]:
    return [(e["state"], e["reason"]) for e in _of(events, "agent.state") if e["agent"] == agent]


def test_01_login_pause_and_remove() -> None:
    events = _events("01_agent_login_pause_remove")
    assert {e["type"] for e in events} == {"agent.state"}
    assert _agent_states(events, "1001") == [
        ("available", None),  # added to support
        ("available", None),  # and to sales
        ("paused", "Lunch"),  # support paused for lunch
        ("available", None),
        ("paused", "Break"),  # all queues paused
        ("available", None),
        ("available", None),  # removed from support, still in sales
        ("logged_out", None),
    ]
    queues = [e["queues"] for e in events]
    assert queues[0] == ["support"] and queues[1] == ["sales", "support"] and queues[-1] == []


def test_02_inbound_answered_by_agent_who_hangs_up() -> None:
    events = _events("02_inbound_answered_agent_hangup")
    new = _one(events, "call.new")
    assert new["direction"] == "inbound"
    assert new["caller"] == {"number": "5551234", "name": "PSTN 5551234"}
    assert new["dialed"] == "5551234"
    call_id = new["call_id"]
    assert call_id == "1795451209.0"  # the Linkedid

    joined = _one(events, "queue.joined")
    assert (joined["queue"], joined["position"]) == ("support", 1)

    ringing = _one(events, "call.ringing")
    assert ringing["agent"] == "1001" and ringing["queue"] == "support"
    assert ringing["callee"] == {"number": "1001", "name": "Agent 1001", "extension": "1001"}

    answered = _one(events, "call.answered")
    assert answered["agent"] == "1001" and answered["queue"] == "support"
    assert answered["wait_s"] == pytest.approx(2.0, abs=0.05)  # the agent's phone rang 2 s

    left = _one(events, "queue.left")
    assert left["reason"] == "answered" and left["wait_s"] == pytest.approx(2.0, abs=0.05)
    assert not _of(events, "queue.abandoned")

    hangups = _of(events, "call.hangup")
    assert [h["channel"] for h in hangups] == [
        "Local/1001@agents-00000001;1",  # the agent hangs up first
        "Local/5551234@from-pstn-00000000;2",
    ]
    assert {h["hangup_by"] for h in hangups} == {"callee"}
    assert {(h["cause"], h["cause_text"]) for h in hangups} == {(16, "Normal Clearing")}

    ended = _one(events, "call.ended")
    assert ended["call_id"] == call_id
    assert ended["answered"] is True and ended["disposition"] == "answered"
    # hello-world (about 1.4 s) plus Wait(6): AgentComplete says TalkTime=7
    assert ended["talk_s"] == pytest.approx(7.45, abs=0.05)
    assert ended["duration_s"] == pytest.approx(9.49, abs=0.05)
    assert ended["agent"] == "1001"
    after_end = events[events.index(ended) + 1 :]
    assert [e["type"] for e in after_end] == ["agent.state"]  # QueueRemove after the call

    assert _agent_states(events, "1001") == [
        ("available", None),
        ("ringing", None),
        ("on_call", None),
        ("available", None),
        ("logged_out", None),
    ]


def test_03_abandoned_after_eight_seconds_with_no_agent_rung() -> None:
    events = _events("03_inbound_abandon")
    assert not _of(events, "call.ringing") and not _of(events, "call.answered")
    abandoned = _one(events, "queue.abandoned")
    assert abandoned["queue"] == "support" and abandoned["position"] == 1
    assert abandoned["wait_s"] == pytest.approx(8.0, abs=0.05)
    assert not _of(events, "queue.left")
    hangup = _one(events, "call.hangup")
    assert hangup["hangup_by"] == "caller" and hangup["cause"] == 0
    ended = _one(events, "call.ended")
    assert ended["answered"] is False and ended["disposition"] == "abandoned"
    assert ended["talk_s"] == 0.0 and ended["wait_s"] == pytest.approx(8.0, abs=0.05)
    assert _agent_states(events, "1001") == [("paused", None), ("logged_out", None)]


def test_04_recorded_call_is_an_ordinary_answered_call() -> None:
    events = _events("04_inbound_recorded_mixmonitor")
    assert _one(events, "call.new")["caller"]["number"] == "5551236"
    ended = _one(events, "call.ended")
    assert ended["disposition"] == "answered"
    assert ended["talk_s"] == pytest.approx(11.46, abs=0.05)  # hello-world plus Wait(10)
    assert not _of(events, "call.hold")


def test_05_click_to_dial_is_outbound_from_the_agent() -> None:
    events = _events("05_click_to_dial")
    new = _one(events, "call.new")
    assert new["direction"] == "outbound"
    assert new["caller"] == {"number": "1001", "name": "Agent 1001"}
    assert new["dialed"] == "5559999"
    ringing = _one(events, "call.ringing")  # the customer; the agent's own originate ring is no callee
    assert ringing["callee"]["number"] == "5559999" and ringing["agent"] is None
    answered = _one(events, "call.answered")
    assert answered["agent"] == "1001" and answered["wait_s"] == pytest.approx(4.0, abs=0.05)
    # the simulated customer plays music to itself: that is talk, not a hold
    assert not _of(events, "call.hold")
    hangups = _of(events, "call.hangup")
    assert len(hangups) == 2 and {h["hangup_by"] for h in hangups} == {"caller"}
    ended = _one(events, "call.ended")
    assert ended["disposition"] == "answered" and ended["talk_s"] == pytest.approx(7.45, abs=0.05)
    assert _agent_states(events, "1001") == [("ringing", None), ("on_call", None), ("logged_out", None)]


def test_06_blind_transfer_from_1001_to_1002() -> None:
    events = _events("06_blind_transfer_redirect")
    transfer = _one(events, "call.transferred")
    assert (transfer["kind"], transfer["from"], transfer["to"]) == ("blind", "1001", "1002")
    assert transfer["call_id"] == "1795451267.14"
    rings = [e["agent"] for e in _of(events, "call.ringing")]
    assert rings == ["1001", "1002"]
    answers = [(e["agent"], e["queue"]) for e in _of(events, "call.answered")]
    assert answers == [("1001", "support"), ("1002", None)]
    hangups = {h["channel"]: h["hangup_by"] for h in _of(events, "call.hangup")}
    assert hangups == {
        "Local/1001@agents-00000008;1": "system",  # cut off by the redirect
        "Local/1002@agents-00000009;1": "callee",
        "Local/5551237@from-pstn-00000007;2": "callee",
    }
    ended = _one(events, "call.ended")
    # talk per leg from bridges: 2.0 s with 1001 and 13.4 s with 1002 (AgentComplete comes late)
    assert ended["talk_s"] == pytest.approx(2.008 + 13.445, abs=0.05)
    assert ended["agent"] == "1002" and ended["disposition"] == "answered"
    order = [e["type"] for e in events if e["type"] != "agent.state"]
    assert order.index("call.transferred") < order.index("call.ended")


def test_07_voicemail() -> None:
    events = _events("07_voicemail_leave")
    assert [e["type"] for e in events] == ["call.new", "call.hangup", "call.ended"]
    new, hangup, ended = events
    assert new["direction"] == "inbound" and new["dialed"] == "100"
    assert new["caller"]["number"] == "5551238"
    assert hangup["hangup_by"] == "caller"
    assert ended["disposition"] == "voicemail" and ended["answered"] is False
    assert ended["duration_s"] == pytest.approx(25.0, abs=0.05)


def test_08_status_queries_do_not_disturb_the_calls() -> None:
    events = _events("08_status_queries_during_call")
    assert len(_of(events, "call.new")) == 2
    ended = {e["call_id"]: e for e in _of(events, "call.ended")}
    assert set(ended) == {"1795451319.22", "1795451321.26"}
    assert ended["1795451319.22"]["disposition"] == "answered"
    assert ended["1795451319.22"]["talk_s"] == pytest.approx(16.45, abs=0.05)
    assert ended["1795451321.26"]["disposition"] == "abandoned"
    abandoned = _one(events, "queue.abandoned")
    assert abandoned["call_id"] == "1795451321.26"
    assert abandoned["wait_s"] == pytest.approx(1.0, abs=0.05)
    assert _agent_states(events, "1002") == [("paused", None), ("logged_out", None)]


@pytest.mark.parametrize(
    "name",
    [
        "02_inbound_answered_agent_hangup",
        "03_inbound_abandon",
        "04_inbound_recorded_mixmonitor",
        "05_click_to_dial",
        "06_blind_transfer_redirect",
        "07_voicemail_leave",
        "08_status_queries_during_call",
    ],
)
def test_exactly_one_new_and_one_ended_per_call(name: str) -> None:
    events = _events(name)
    news = [e["call_id"] for e in _of(events, "call.new")]
    ends = [e["call_id"] for e in _of(events, "call.ended")]
    assert sorted(news) == sorted(ends) and len(set(news)) == len(news)
    for call_id in news:
        first = next(i for i, e in enumerate(events) if e.get("call_id") == call_id)
        assert events[first]["type"] == "call.new"
        last = max(i for i, e in enumerate(events) if e.get("call_id") == call_id)
        assert events[last]["type"] == "call.ended"


def test_dialer_call_originated_into_a_queue_is_an_outbound_call_answered_by_the_agent() -> None:
    """The campaign dialer's Originate (``dialer/31_dialer_answered``, recorded from Asterisk 22):
    ``Local/13800138000@dialer-callee/n`` with Context=dialer-connect Exten=sales. The customer answers on
    the pair's far side, the Originate's own ``;1`` channel goes on into Queue(sales) and agent 1001 takes it.
    That is an outbound call to the customer, answered by the agent, not an inbound call abandoned."""
    events = list(replay_file(FIXTURES / "dialer" / "31_dialer_answered.jsonl"))
    new = _one(events, "call.new")
    assert (new["direction"], new["dialed"]) == ("outbound", "13800138000")
    answered = _one(events, "call.answered")
    assert answered["agent"] == "1001" and answered["queue"] == "sales"
    ended = _one(events, "call.ended")
    assert (ended["direction"], ended["disposition"], ended["answered"]) == ("outbound", "answered", True)
    assert ended["dialed"] == "13800138000" and ended["agent"] == "1001"
    assert [leg["agent"] for leg in ended["legs"]] == ["1001"]
    assert _one(events, "queue.left")["reason"] == "answered"
    assert not _of(events, "queue.abandoned")

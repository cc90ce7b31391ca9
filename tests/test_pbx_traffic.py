"""The demo's callers on a real PBX (cti.pbx_traffic): the mix and pacing, and each caller's reactions.

The callers' reactions are fed AMI events recorded from Asterisk 22.10.1 running the demo
(``tests/fixtures/ami/demo_*.jsonl``: the events of one caller's channels each).
"""

from __future__ import annotations

import asyncio
import json
import random
import statistics
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from cti.pbx_traffic import (
    CLOSE_WAIT_S,
    MIX,
    TARGET_OCCUPANCY,
    CallPlan,
    CallScript,
    PBXTraffic,
    Send,
    Timer,
    TrafficPlanner,
    agent_logins,
)

FIXTURES = Path(__file__).parent / "fixtures" / "ami"
CALLERS = [(f"1380000{i:04d}", f"客户{i}") for i in range(400)]


def _planner(seed: int = 1, calls_per_minute: float = 12.0, agents: int = 6) -> TrafficPlanner:
    return TrafficPlanner(random.Random(seed), CALLERS, calls_per_minute, agents)


def _recorded(name: str) -> list[dict[str, Any]]:
    lines = (FIXTURES / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def _plan(number: str, **overrides: Any) -> CallPlan:
    fields: dict[str, Any] = {
        "number": number,
        "name": "客户",
        "kind": "support",
        "queue": "support",
        "agent_talk_s": 20,
        "patience_s": 200.0,
        "caller_talk_s": None,
        "survey_score": 4,
        "record": True,
        "message_s": 8.0,
    }
    fields.update(overrides)
    return CallPlan(**fields)


def _play(script: CallScript, events: list[dict[str, Any]]) -> list[tuple[str, Any]]:
    """Feed the events; each step with the event that caused it."""
    out: list[tuple[str, Any]] = []
    for msg in events:
        out += [(str(msg["Event"]), step) for step in script.on_event(msg)]
    return out


# --- the mix and the pacing --------------------------------------------------------------------------
def test_the_mix_of_callers_follows_the_weights() -> None:
    planner = _planner()
    plans = [planner.next_call() for _ in range(4000)]
    kinds = Counter(p.kind for p in plans if p is not None)
    total = sum(w for _, w in MIX)
    for kind, weight in MIX:
        assert kinds[kind] / 4000 == pytest.approx(weight / total, abs=0.03), kind
    answered = [p for p in plans if p is not None and p.kind in ("support", "sales")]
    surveyed = [p for p in answered if p.survey_score is not None]
    assert 0.45 < len(surveyed) / len(answered) < 0.7  # those who stay on the line after the agent
    assert all(p.caller_talk_s is None for p in surveyed)
    assert all(1 <= p.survey_score <= 5 for p in surveyed if p.survey_score is not None)
    assert statistics.mean(p.survey_score for p in surveyed if p.survey_score is not None) > 4.0
    assert all(p.patience_s < 31 for p in plans if p is not None and p.kind == "impatient")
    assert all(p.patience_s >= 180 for p in plans if p is not None and p.kind != "impatient")


@pytest.mark.parametrize(("calls_per_minute", "agents"), [(12.0, 6), (6.0, 6), (20.0, 4)])
def test_talk_times_keep_the_simulated_agents_busy_at_the_target(calls_per_minute: float, agents: int) -> None:
    planner = _planner(calls_per_minute=calls_per_minute, agents=agents)
    talks = [p.agent_talk_s for p in (planner.next_call() for _ in range(3000)) if p is not None]
    occupancy = calls_per_minute / 60 * statistics.mean(talks) / agents
    assert occupancy == pytest.approx(TARGET_OCCUPANCY, rel=0.06)


def test_arrivals_come_at_the_call_rate() -> None:
    planner = _planner(calls_per_minute=12.0)
    gaps = [planner.next_gap_s() for _ in range(6000)]
    assert statistics.mean(gaps) == pytest.approx(5.0, rel=0.05)
    assert statistics.stdev(gaps) == pytest.approx(5.0, rel=0.1)  # Poisson: exponential gaps


def test_a_caller_already_on_the_line_is_not_called_from_again() -> None:
    planner = TrafficPlanner(random.Random(3), CALLERS[:3], 12.0, 6)
    busy = {CALLERS[0][0], CALLERS[1][0]}
    assert {p.number for p in (planner.next_call(busy) for _ in range(50)) if p is not None} == {CALLERS[2][0]}
    assert planner.next_call({n for n, _ in CALLERS[:3]}) is None


def test_the_originate_names_the_callers_number_and_his_plan() -> None:
    plan = _plan("13800001111", survey_score=None, record=False, agent_talk_s=17, patience_s=9.5, kind="impatient")
    action = plan.originate("demo-call-1")
    assert action["Channel"] == "Local/13800001111@from-pstn"
    assert action["CallerID"] == '"PSTN 13800001111" <13800001111>'
    assert action["Application"] == "MusicOnHold"
    assert action["Data"] == f"default,{int(9.5 + 17 + 8.0) + 120}"
    assert action["Variable"] == ["QUEUE=support", "__AGENT_TALK=17", "RECORD=no", "SURVEY=no"]


def test_simulated_agents_join_the_queues_as_in_the_transcripts() -> None:
    actions = agent_logins(["1001", "1002", "1003"])
    members = sorted((a["Queue"], a["Interface"], a["StateInterface"]) for a in actions)
    assert members == [
        ("sales", "Local/1001@agents/n", "Custom:1001"),
        ("sales", "Local/1003@agents/n", "Custom:1003"),
        ("support", "Local/1001@agents/n", "Custom:1001"),
        ("support", "Local/1002@agents/n", "Custom:1002"),
        ("support", "Local/1003@agents/n", "Custom:1003"),
    ]


# --- one caller on recorded traffic -------------------------------------------------------------------
def test_an_answered_caller_chooses_in_the_menu_and_scores_the_survey() -> None:
    events = _recorded("demo_caller_answered_survey")
    number = str(events[0]["Channel"]).split("/")[1].split("@")[0]
    script = CallScript(_plan(number, survey_score=4), action_id="demo-call-7")
    steps = _play(script, events)
    leg1 = str(events[0]["Channel"])
    assert leg1.endswith(";1") and script.caller_leg == leg1
    assert [(event, step) for event, step in steps if isinstance(step, Send)] == [
        ("AGIExecStart", Send({"Action": "PlayDTMF", "Channel": leg1, "Digit": "2", "Duration": "250"})),
        ("AGIExecStart", Send({"Action": "PlayDTMF", "Channel": leg1, "Digit": "4", "Duration": "250"})),
    ]
    assert [step for _, step in steps if isinstance(step, Timer)] == [Timer(200.0, "give_up")]
    assert script.on_timer("give_up") == []  # answered long before his patience ran out
    assert script.done and script.outcome == "answered" and script.scored


def test_a_caller_who_chose_sales_presses_1() -> None:
    events = _recorded("demo_caller_answered_survey")
    number = str(events[0]["Channel"]).split("/")[1].split("@")[0]
    script = CallScript(_plan(number, kind="sales", queue="sales", survey_score=None), action_id="x")
    digits = [step.action["Digit"] for _, step in _play(script, events) if isinstance(step, Send)]
    assert digits == ["1"]  # and no survey score: he does not stay for it


def test_an_impatient_caller_hangs_up_while_waiting() -> None:
    events = _recorded("demo_caller_abandon")
    join = next(i for i, m in enumerate(events) if m["Event"] == "QueueCallerJoin")
    number = str(events[0]["Channel"]).split("/")[1].split("@")[0]
    script = CallScript(_plan(number, kind="impatient", patience_s=12.0, survey_score=None), action_id="x")
    steps = _play(script, events[: join + 1])
    assert steps[-1] == ("QueueCallerJoin", Timer(12.0, "give_up"))
    assert script.phase == "waiting"
    assert script.on_timer("give_up") == [Send({"Action": "Hangup", "Channel": script.caller_leg, "Cause": "16"})]
    _play(script, events[join + 1 :])  # what the PBX did then: the caller left the queue, unanswered
    assert script.done and script.outcome == "abandoned"
    assert any(m["Event"] == "QueueCallerAbandon" for m in events)


def test_a_caller_leaves_a_voicemail_and_hangs_up_after_his_message() -> None:
    events = _recorded("demo_caller_voicemail")
    number = str(events[0]["Channel"]).split("/")[1].split("@")[0]
    script = CallScript(_plan(number, kind="voicemail", survey_score=None, message_s=7.0), action_id="x")
    steps = _play(script, events)
    sends = [step.action for _, step in steps if isinstance(step, Send)]
    assert [a["Digit"] for a in sends] == ["9"]
    assert [step for _, step in steps if isinstance(step, Timer)] == [Timer(7.0, "hang_up")]
    assert script.done and script.outcome == "voicemail"
    assert script.on_timer("hang_up") == []  # the call is over: nothing more to send


def test_the_caller_hangs_up_mid_talk_when_his_plan_says_so() -> None:
    events = _recorded("demo_caller_answered_survey")
    connect = next(i for i, m in enumerate(events) if m["Event"] == "AgentConnect")
    number = str(events[0]["Channel"]).split("/")[1].split("@")[0]
    script = CallScript(_plan(number, caller_talk_s=5, survey_score=None), action_id="x")
    steps = _play(script, events[: connect + 1])
    assert steps[-1] == ("AgentConnect", Timer(5.0, "hang_up"))
    assert script.on_timer("hang_up") == [Send({"Action": "Hangup", "Channel": script.caller_leg, "Cause": "16"})]


def test_events_of_other_callers_are_not_his() -> None:
    events = _recorded("demo_caller_answered_survey")
    script = CallScript(_plan("13999999999"), action_id="x")
    assert _play(script, events) == []
    assert script.base is None and not script.done


# --- the shell, with the PBX played by a fake ``send`` ----------------------------------------------
async def test_the_driver_keeps_to_max_calls_and_cleans_up_what_it_started() -> None:
    sent: list[dict[str, Any]] = []

    async def send(action: dict[str, Any]) -> dict[str, Any]:
        sent.append(action)
        return {"Response": "Success", "Message": "ok"}

    traffic = PBXTraffic(_planner(), ["1001", "1002"], max_calls=2, send=send)
    await traffic.login_agents()
    assert [a["Action"] for a in sent] == ["Setvar", "Setvar", "QueueAdd", "QueueAdd", "QueueAdd"]
    first = await traffic.place_call()
    second = await traffic.place_call()
    assert first is not None and second is not None
    assert await traffic.place_call() is None and traffic.skipped == 1
    leg = f"Local/{first.plan.number}@from-pstn-0000000a;1"
    traffic.on_ami({"Event": "Newchannel", "Channel": leg})
    traffic.on_ami({"Event": "Hangup", "Channel": leg})
    assert list(traffic.calls) == [second.action_id] and traffic.outcomes["other"] == 1
    sent.clear()
    await traffic.close()
    assert [a["Action"] for a in sent] == ["QueueRemove"] * 3  # the second caller never got a channel


async def test_closing_hangs_up_the_callers_on_the_line_and_waits_for_their_hangup() -> None:
    sent: list[dict[str, Any]] = []
    traffic: PBXTraffic

    async def send(action: dict[str, Any]) -> dict[str, Any]:
        sent.append(action)
        if action["Action"] == "Hangup":  # the PBX then reports the leg gone
            asyncio.get_running_loop().call_soon(traffic.on_ami, {"Event": "Hangup", "Channel": action["Channel"]})
        return {"Response": "Success"}

    traffic = PBXTraffic(_planner(), ["1001"], send=send)
    script = await traffic.place_call()
    assert script is not None
    leg = f"Local/{script.plan.number}@from-pstn-0000001f;1"
    traffic.on_ami({"Event": "Newchannel", "Channel": leg})
    await asyncio.wait_for(traffic.close(), timeout=CLOSE_WAIT_S / 2)  # done on the Hangup, not the timeout
    assert sent[-1] == {"Action": "Hangup", "Channel": leg, "Cause": "16"}
    assert traffic.calls == {} and script.done

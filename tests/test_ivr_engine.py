"""The pure flow engine: every node type walked with scripted callers, no sockets."""

from __future__ import annotations

import pytest
from test_ivr_support import CLOSED_TIME, FLOWS, Caller, context, flow_from, walk

from ivr.engine import (
    Collect,
    CreateCallback,
    EngineFinished,
    FlowEngine,
    GetVar,
    Hangup,
    LookupCustomer,
    LookupOrder,
    Play,
    Route,
    SayDigits,
    ScoreSurvey,
    SetVar,
    Transfer,
    Voicemail,
)
from ivr.flow import load_flow

MAIN = load_flow(FLOWS / "ivr.yaml")
SURVEY = load_flow(FLOWS / "survey.yaml")
AFTER_HOURS = load_flow(FLOWS / "after_hours.yaml")

VIP = {"13900000001": {"id": 7, "name": "王芳", "category": "retail", "vip": True, "blacklisted": False}}
KNOWN = {"13800138000": {"id": 42, "name": "李雷", "category": "retail", "vip": False, "blacklisted": False}}


def results(engine: FlowEngine) -> list[tuple[str, str | None, str]]:
    return [(s.node, s.input, s.result) for s in engine.take_steps()]


def test_main_menu_option_2_routes_to_support_queue() -> None:
    engine, actions, end = walk(MAIN, context(), Caller(keys=["2"]))
    assert end == Route("support", 0)
    assert actions[0] == Play("custom/welcome")
    assert Collect("custom/main-menu", 1, 5.0) in actions
    assert ("main_menu", "2", "option") in results(engine)


def test_play_node_says_digits_from_a_variable() -> None:
    flow = flow_from("""
nodes:
  a: {type: play, file: "x/{caller}", say_digits: "{caller}", next: b}
  b: {type: hangup}
""")
    _, actions, end = walk(flow, context(caller="5551234"), Caller())
    assert actions == [Play("x/5551234"), SayDigits("5551234")]
    assert end == Hangup()


def test_menu_retries_with_invalid_and_timeout_prompts_then_fails_over() -> None:
    engine, actions, end = walk(MAIN, context(), Caller(keys=["7", "", "5"]))
    assert end == Transfer("8000")  # on_failure: operator
    plays = [a.file for a in actions if isinstance(a, Play)]
    assert plays.count("custom/invalid-option") == 2 and plays.count("custom/no-input") == 1
    steps = results(engine)
    assert ("main_menu", "7", "invalid") in steps and ("main_menu", None, "timeout") in steps
    assert ("main_menu", None, "failed") in steps


def test_menu_without_on_failure_falls_back_to_default_queue() -> None:
    flow = flow_from("""
fallback_queue: general
nodes:
  m: {type: menu, prompt: p, retries: 0, options: {"1": h}}
  h: {type: hangup}
""")
    engine, _, end = walk(flow, context(), Caller(keys=["5"]))
    assert isinstance(end, Route) and end.fallback and end.queue == "general"
    assert engine.fallback_reason


def test_order_number_lookup_plays_status() -> None:
    caller = Caller(keys=["3", "20261123", "1"], orders={"20261123": {"status": "shipped"}})
    engine, actions, end = walk(MAIN, context(), caller)
    assert LookupOrder("20261123") in actions
    assert Play("custom/order-status-shipped") in actions
    assert end == Route("support", 0)
    assert ("order_number", "20261123", "ok") in results(engine)


def test_input_rejects_short_numbers_and_unknown_orders() -> None:
    caller = Caller(keys=["3", "12", "999999", "2"], orders={})
    engine, actions, end = walk(MAIN, context(), caller)
    steps = results(engine)
    assert ("order_number", "12", "invalid") in steps
    assert ("order_lookup", "999999", "not_found") in steps
    assert Play("custom/order-not-found") in actions
    assert end == Route("support", 0)


def test_closed_hours_go_to_voicemail() -> None:
    _, actions, end = walk(MAIN, context(now=CLOSED_TIME), Caller())
    assert Play("custom/closed") in actions
    assert end == Voicemail("100@default")


def test_branch_on_variable_tests() -> None:
    flow = flow_from("""
nodes:
  s: {type: set, vars: {lang: "en", tier: "gold"}, next: b}
  b:
    type: branch
    rules:
      - if: {var: lang, equals: zh}
        next: zh
      - if: {var: tier, in: [gold, platinum]}
        next: gold
    else: zh
  gold: {type: transfer, target: "8001"}
  zh: {type: transfer, target: "8002"}
""")
    engine, actions, end = walk(flow, context(), Caller())
    assert actions == [SetVar("lang", "en"), SetVar("tier", "gold")]
    assert end == Transfer("8001")
    assert ("b", None, "var:tier") in results(engine)


def test_vip_caller_is_greeted_and_queued_with_priority() -> None:
    _, actions, end = walk(MAIN, context(caller="13900000001"), Caller(customers=VIP))
    assert end == Route("support", 10)
    assert SetVar("CRM_CUSTOMER_NAME", "王芳") in actions
    assert Play("custom/welcome-back-vip") in actions
    assert [a for a in actions if isinstance(a, LookupCustomer)] == [LookupCustomer("13900000001")]


def test_vip_priority_applies_in_menu_queues_too() -> None:
    flow = flow_from("""
nodes:
  q: {type: queue, queue: sales, priority: 1, vip_priority: 9}
""")
    _, _, vip_end = walk(flow, context(caller="13900000001"), Caller(customers=VIP))
    _, _, plain_end = walk(flow, context(caller="13700000000"), Caller(customers=VIP))
    assert vip_end == Route("sales", 9) and plain_end == Route("sales", 1)


def test_blacklisted_caller_hears_goodbye_and_is_hung_up() -> None:
    blocked = {"13600000000": {"name": "x", "blacklisted": True}}
    _, actions, end = walk(MAIN, context(caller="13600000000"), Caller(customers=blocked))
    assert end == Hangup()
    assert actions[-1] == Play("custom/goodbye")


def test_known_customer_greeted_and_routed_by_category() -> None:
    wholesale = {"13800138000": {"id": 3, "name": "韩梅梅", "category": "代理商"}}
    engine, actions, end = walk(MAIN, context(), Caller(customers=wholesale))
    assert Play("custom/welcome-back") in actions
    assert SetVar("__CRM_CUSTOMER_ID", "3") in actions
    assert end == Route("sales", 0)
    assert ("greeting", "13800138000", "category:代理商") in results(engine)


def test_known_customer_gets_greeting_then_menu() -> None:
    _, actions, end = walk(MAIN, context(), Caller(keys=["1"], customers=KNOWN))
    assert actions.index(Play("custom/welcome-back")) < actions.index(Collect("custom/main-menu", 1, 5.0))
    assert end == Route("sales", 0)


def test_transfer_and_voicemail_options() -> None:
    assert walk(MAIN, context(), Caller(keys=["0"]))[2] == Transfer("8000")
    assert walk(MAIN, context(), Caller(keys=["9"]))[2] == Voicemail("100@default")


def test_callback_collects_a_number_or_uses_caller_id() -> None:
    _, actions, end = walk(AFTER_HOURS, context(now=CLOSED_TIME), Caller(keys=["2", "02155550000"]))
    assert CreateCallback("02155550000", "非工作时间回拨请求 / after-hours callback request") in actions
    assert end == Hangup()
    _, actions, _ = walk(AFTER_HOURS, context(now=CLOSED_TIME), Caller(keys=["2", ""]))
    assert [a.number for a in actions if isinstance(a, CreateCallback)] == ["13800138000"]


def test_survey_scores_against_agent_from_member_variables() -> None:
    members = {"MEMBERNAME": "Agent 1001", "MEMBERINTERFACE": "Local/1001@agents/n"}
    caller = Caller(keys=["4"], variables=members)
    engine, actions, end = walk(SURVEY, context(), caller)
    assert actions[:2] == [GetVar("MEMBERNAME"), GetVar("MEMBERINTERFACE")]
    assert ScoreSurvey("Agent 1001", 4, 5, "1001") in actions
    assert end == Hangup()
    assert ("rate", "4", "scored") in results(engine)


def test_survey_agent_from_agi_argument() -> None:
    _, actions, _ = walk(SURVEY, context(args=("1002",)), Caller(keys=["5"]))
    assert not any(isinstance(a, GetVar) for a in actions)
    assert [a for a in actions if isinstance(a, ScoreSurvey)] == [ScoreSurvey("1002", 5, 5, None)]


@pytest.mark.parametrize("keys", [[], ["", ""], ["8", "0"], ["9", ""]])
def test_survey_without_valid_answer_is_not_rated(keys: list[str]) -> None:
    engine, actions, end = walk(SURVEY, context(args=("1002",)), Caller(keys=keys))
    assert not any(isinstance(a, ScoreSurvey) for a in actions)
    assert ("rate", None, "not_rated") in results(engine)
    assert end == Hangup()


def test_survey_scale_is_configurable() -> None:
    flow = flow_from("nodes:\n  r: {type: survey, prompt: p, scale: 3, retries: 0}\n")
    _, actions, _ = walk(flow, context(args=("a",)), Caller(keys=["4"]))
    assert not any(isinstance(a, ScoreSurvey) for a in actions)
    _, actions, _ = walk(flow, context(args=("a",)), Caller(keys=["3"]))
    assert ScoreSurvey("a", 3, 3, None) in actions


def test_lookup_of_unknown_customer_takes_not_found_branch() -> None:
    engine, _, end = walk(MAIN, context(caller="13100000000"), Caller(keys=["2"]))
    assert end == Route("support", 0)
    assert ("greeting", "13100000000", "not_found") in results(engine)


def test_shell_reported_failure_routes_to_fallback_and_ends() -> None:
    engine = FlowEngine(MAIN, context())
    first = engine.start()
    assert first == Play("custom/welcome")
    end = engine.fail("missing prompt custom/welcome")
    assert end == Route("support", 0, True, "missing prompt custom/welcome")
    assert results(engine) == [("welcome", None, "fallback")]
    with pytest.raises(EngineFinished):
        engine.resume(None)


def test_endless_loop_is_cut_and_falls_back() -> None:
    flow = flow_from("nodes:\n  a: {type: play, file: x, next: b}\n  b: {type: play, file: y, next: a}\n")
    _, actions, end = walk(flow, context(), Caller())
    assert isinstance(end, Route) and end.fallback and "loop" in end.reason
    assert len(actions) == 200


def test_calendar_branch_on_holiday_and_makeup_day() -> None:
    from datetime import datetime

    from test_ivr_support import SHANGHAI

    flow = flow_from("""
nodes:
  b:
    type: branch
    rules:
      - if: {calendar: holiday}
        next: h
      - if: {calendar: workday}
        next: w
    else: o
  h: {type: transfer, target: holiday}
  w: {type: transfer, target: workday}
  o: {type: transfer, target: other}
""")
    at = lambda y, m, d: context(now=datetime(y, m, d, 10, tzinfo=SHANGHAI))  # noqa: E731
    assert walk(flow, at(2026, 10, 1), Caller())[2] == Transfer("holiday")
    assert walk(flow, at(2026, 9, 20), Caller())[2] == Transfer("workday")
    assert walk(flow, at(2026, 9, 21), Caller())[2] == Transfer("other")

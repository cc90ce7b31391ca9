"""Wrap-up timed on the server (cti.wrapup, agent_desk.desk_agents): agent states and call ends in, pauses out."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from agent_desk.desk_agents import DeskAgents
from cti.wrapup import WRAPUP_REASON, PauseCommand, WrapupPlanner


def state(extension: str, name: str, reason: str | None = None) -> dict[str, object]:
    return {"type": "agent.state", "extension": extension, "agent": extension, "state": name, "reason": reason}


def ended(agent: str, queue: str | None = "support", answered: bool = True) -> dict[str, object]:
    return {
        "type": "call.ended",
        "agent": agent,
        "queue": queue,
        "answered": answered,
        "legs": [{"agent": agent, "talk_s": 30.0}],
    }


def test_an_answered_call_pauses_the_available_agent_until_the_deadline_then_makes_him_available() -> None:
    planner = WrapupPlanner(wrapup_s=20)
    planner.agent_state(state("1001", "available"), 100.0)
    planner.agent_state(state("1001", "on_call"), 110.0)
    assert planner.call_ended(ended("1001"), 200.0) == [PauseCommand("1001", True, WRAPUP_REASON)]
    assert planner.deadline("1001") == 220.0
    planner.agent_state(state("1001", "available"), 200.0)  # before the pause lands: the wrap-up stays
    planner.agent_state(state("1001", "wrap_up", WRAPUP_REASON), 200.1)
    assert planner.tick(219.9) == []
    assert planner.tick(220.0) == [PauseCommand("1001", False, "")]
    assert planner.deadline("1001") is None
    assert planner.tick(300.0) == []


def test_the_rule_can_leave_the_agent_paused_after_wrap_up() -> None:
    planner = WrapupPlanner(wrapup_s=5, then="paused")
    planner.agent_state(state("1002", "available"), 0.0)
    planner.call_ended(ended("1002"), 10.0)
    planner.agent_state(state("1002", "wrap_up", WRAPUP_REASON), 10.1)
    assert planner.tick(15.0) == [PauseCommand("1002", True, "")]


def test_a_queue_has_its_own_seconds_and_zero_means_no_wrap_up() -> None:
    planner = WrapupPlanner(wrapup_s=10, queue_wrapup_s={"sales": 45, "vip": 0})
    planner.agent_state(state("1001", "available"), 0.0)
    planner.call_ended(ended("1001", "sales"), 100.0)
    assert planner.deadline("1001") == 145.0
    planner.agent_state(state("1003", "available"), 0.0)
    assert planner.call_ended(ended("1003", "vip"), 100.0) == []


def test_no_wrap_up_for_an_unanswered_call_or_an_agent_on_a_break_or_logged_out() -> None:
    planner = WrapupPlanner(wrapup_s=10)
    planner.agent_state(state("1001", "available"), 0.0)
    assert planner.call_ended(ended("1001", answered=False), 5.0) == []
    planner.agent_state(state("1002", "paused", "lunch"), 0.0)
    assert planner.call_ended(ended("1002"), 5.0) == []  # an outbound call during lunch stays lunch
    planner.agent_state(state("1004", "logged_out"), 0.0)
    assert planner.call_ended(ended("1004"), 5.0) == []


def test_an_after_call_work_pause_nobody_timed_gets_a_deadline_so_it_never_lasts_for_good() -> None:
    planner = WrapupPlanner(wrapup_s=15)  # e.g. after a restart the PBX still has the member paused
    planner.agent_state(state("1001", "wrap_up", WRAPUP_REASON), 1000.0)
    assert planner.deadline("1001") == 1015.0
    assert planner.tick(1015.0) == [PauseCommand("1001", False, "")]


def test_another_state_chosen_during_wrap_up_ends_it_and_nothing_is_sent_at_the_deadline() -> None:
    planner = WrapupPlanner(wrapup_s=15)
    planner.agent_state(state("1001", "available"), 0.0)
    planner.call_ended(ended("1001"), 10.0)
    planner.agent_state(state("1001", "wrap_up", WRAPUP_REASON), 10.1)
    planner.agent_state(state("1001", "paused", "lunch"), 12.0)
    assert planner.deadline("1001") is None and planner.tick(30.0) == []


def test_ending_early_follows_the_rule_unless_the_agent_chose_a_break() -> None:
    planner = WrapupPlanner(wrapup_s=60)
    planner.agent_state(state("1001", "available"), 0.0)
    planner.call_ended(ended("1001"), 10.0)
    planner.agent_state(state("1001", "wrap_up", WRAPUP_REASON), 10.1)
    assert planner.end("1001") == [PauseCommand("1001", False, "")]
    assert planner.tick(100.0) == []
    planner.agent_state(state("1002", "paused", "meeting"), 0.0)
    assert planner.end("1002") == []


def test_every_agent_leg_that_talked_wraps_up() -> None:
    planner = WrapupPlanner(wrapup_s=10)
    for extension in ("1001", "1002"):
        planner.agent_state(state(extension, "available"), 0.0)
    event = {
        "type": "call.ended",
        "agent": "1002",
        "queue": "support",
        "answered": True,
        "legs": [
            {"agent": "1001", "talk_s": 12.0},
            {"agent": "1002", "talk_s": 40.0},
            {"agent": "1003", "talk_s": 0.0},
        ],
    }
    commands = planner.call_ended(event, 50.0)
    assert [c.extension for c in commands] == ["1002", "1001"]


def test_on_several_nodes_every_node_keeps_the_deadline_and_only_the_active_one_sends() -> None:
    sent: list[tuple[str, bool, str]] = []

    class Commands:
        async def pause(self, extension: str, paused: bool, reason: str = "") -> dict[str, str]:
            sent.append((extension, paused, reason))
            return {"Response": "Success"}

    settings = SimpleNamespace(wrapup_s=10, wrapup_queue_s={}, wrapup_then="available")
    active = {"held": False}
    agents = DeskAgents(settings, Commands, clock=lambda: 100.0, active=lambda: active["held"])
    asyncio.run(agents.handle(state("1001", "available")))
    asyncio.run(agents.handle(ended("1001")))
    assert sent == [] and agents.wrapup_deadline("1001") == 110.0  # a standby knows the deadline too
    active["held"] = True
    agents.planner.agent_state(state("1002", "available"), 0.0)
    asyncio.run(agents.handle(ended("1002")))
    assert sent == [("1002", True, WRAPUP_REASON)]

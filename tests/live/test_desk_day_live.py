"""The desk's ways out of each state, on the real PBX: busy before queue login and queue login paused (QueueAdd
Paused, then QueuePause with the reason, no "Interface not found"), and the wrap-up the server times after an
answered call (QueuePause after_call_work, then the agent available again at the deadline with no desk open).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest

from tests.live.harness import Product

pytestmark = [pytest.mark.asterisk, pytest.mark.asyncio(loop_scope="module")]

AGENT = "1001"
WRAPUP_S = 3.0


def state_of(extension: str, state: str, reason: str | None = None) -> object:
    def match(event: dict[str, object]) -> bool:
        return (
            event.get("type") == "agent.state"
            and event.get("agent") == extension
            and event.get("state") == state
            and (reason is None or event.get("reason") == reason)
        )

    return match


@pytest.fixture
def timed_wrapup(product: Product) -> Iterator[None]:
    """The server's wrap-up at WRAPUP_S for the test (the harness runs with wrapup_s=0)."""
    planner = product.runtime.desk_agents.planner
    planner.wrapup_s = WRAPUP_S
    yield
    planner.wrapup_s = 0.0


async def test_busy_before_queue_login_then_a_paused_login_on_the_real_pbx(product: Product) -> None:
    agent = await product.client(f"agent{AGENT}")
    reply = await agent.post("/api/desk/state", json={"paused": True, "reason": "training"})
    assert reply.status_code == 200 and reply.json()["pending"] is True, reply.text
    since = product.mark()
    reply = await agent.post("/api/desk/queues/login", json={"queues": ["support"]})
    assert reply.status_code == 200 and reply.json()["paused"] is True, reply.text
    product.forget_member("support", AGENT)
    await product.wait_event(state_of(AGENT, "paused", "training"), since=since, what="1001 paused (training)")
    output = await product.cli("queue show support")
    assert "Local/1001@agents/n" in output and "paused:training" in output.replace(" ", "").lower(), output
    since = product.mark()
    reply = await agent.post("/api/desk/state", json={"paused": False})
    assert reply.status_code == 200, reply.text
    await product.wait_event(state_of(AGENT, "available"), since=since, what="1001 available")


async def test_queue_login_paused_by_choice_then_ready(product: Product) -> None:
    agent = await product.client(f"agent{AGENT}")
    since = product.mark()
    body = {"queues": ["support"], "paused": True, "reason": "meeting"}
    reply = await agent.post("/api/desk/queues/login", json=body)
    assert reply.status_code == 200, reply.text
    product.forget_member("support", AGENT)
    await product.wait_event(state_of(AGENT, "paused", "meeting"), since=since, what="1001 paused (meeting)")
    since = product.mark()
    assert (await agent.post("/api/desk/state", json={"paused": False})).status_code == 200
    await product.wait_event(state_of(AGENT, "available"), since=since, what="1001 available")


async def test_the_server_times_the_wrap_up_and_makes_the_agent_available_again(
    product: Product, timed_wrapup: None
) -> None:
    await product.queue_add("support", AGENT)
    call = await product.call("13800000071", agent_talk=2)
    await product.wait_call_event(call, "call.answered", agent=AGENT)
    await product.ended(call)
    wrapping = await product.wait_event(
        state_of(AGENT, "wrap_up", "after_call_work"), since=call.since, what="1001 in wrap-up"
    )
    back = await product.wait_event(
        state_of(AGENT, "available"),
        since=product.events.index(wrapping) + 1,
        what="1001 available after wrap-up",
        timeout=20,
    )
    lasted = (datetime.fromisoformat(str(back["ts"])) - datetime.fromisoformat(str(wrapping["ts"]))).total_seconds()
    assert WRAPUP_S - 1.0 <= lasted <= WRAPUP_S + 3.0, f"wrap-up lasted {lasted:.1f} s"

"""``callcenter demo --pbx asterisk`` on the real Asterisk: the demo's runtime with its simulated agents
and callers (cti.pbx_traffic), pointed at the PBX as ``rootfs.sh env`` describes it.

The test ends when the calls it waits for have ended on the bus (answered ones, a survey scored),
then checks what the statistics writer made of them and that the demo leaves the PBX as it found it.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from agent_desk.demo_pbx import demo_settings, open_calendar_file, parse_env
from agent_desk.runtime import build_runtime
from config import Settings
from crm_core.models import Customer, Phone
from stats.models import CallRow
from tests.live_pbx import RealPBX, real_pbx

pytestmark = pytest.mark.asterisk

ANSWERED_CALLS = 3
TIMEOUT_S = 300.0


def _customer_numbers(runtime: Any) -> set[str]:
    with runtime.sessionmaker() as session:
        phones = session.scalars(select(Phone.raw).join(Customer, Phone.customer_id == Customer.id))
        return {"".join(ch for ch in raw if ch.isdigit()) for raw in phones}


def _rootfs_env(pbx: RealPBX) -> str:
    """What ``rootfs.sh env`` prints for this PBX (the lines the product reads)."""
    return "\n".join(
        [
            f"export CC_AMI_HOST={pbx.host}",
            f"export CC_AMI_PORT={pbx.ami_port}",
            f"export CC_AMI_USER={pbx.ami_user}",
            f"export CC_AMI_SECRET={pbx.ami_secret}",
            "export CC_AMI_AUTH=md5",
            "export CC_AGI_HOST=127.0.0.1",
            f"export CC_AGI_PORT={pbx.agi_port}",
            f"export CC_RECORDINGS_DIR={pbx.recordings_dir}",
            f"export CC_VOICEMAIL_DIR={pbx.voicemail_dir}",
            f"export CC_RECORDINGS_PBX_DIR={pbx.recordings_pbx_dir}",
            f"export CC_SIP_WSS_URL={pbx.wss_url}",
        ]
    )


async def _wait_for_calls(
    subscription: Any, known: set[str], popped: dict[str, int]
) -> list[dict[str, Any]]:
    """Answered calls, until there are enough of them, one from a customer whose pop showed him, and a
    survey scored. ``popped`` collects call_id -> the customer id a pop showed (the agent's scope allowing)."""
    answered: list[dict[str, Any]] = []
    callers: dict[str, str] = {}  # call_id -> caller number, from call.new
    scored = 0
    try:
        async with asyncio.timeout(TIMEOUT_S):
            async for event in subscription:
                if event["type"] == "call.new":
                    callers[event["call_id"]] = event["caller"]["number"]
                elif event["type"] == "call.ended" and event.get("answered"):
                    answered.append(event)
                elif event["type"] == "survey.scored":
                    scored += 1
                elif event["type"] == "screen.pop" and event.get("customer"):
                    popped[event["call_id"]] = event["customer"]["id"]
                from_customer = any(
                    callers.get(e["call_id"]) in known and e["call_id"] in popped for e in answered
                )
                if len(answered) >= ANSWERED_CALLS and scored and from_customer:
                    return answered
    except TimeoutError:
        pass
    pytest.fail(f"within {TIMEOUT_S:g} s the demo ended {len(answered)} answered calls and scored {scored} surveys")


async def test_the_demo_places_calls_on_the_real_pbx_and_they_are_tracked(tmp_path: Path) -> None:
    pbx = real_pbx()
    base = Settings(
        _env_file=None,  # type: ignore[call-arg]
        data_dir=tmp_path,
        demo_customers=200,
        sim_calls_per_minute=24.0,  # short talks (about 12 s) keep the test short
        http_port=0,
    )
    settings = open_calendar_file(demo_settings(base, parse_env(_rootfs_env(pbx))))
    assert settings.demo_pbx == "asterisk" and settings.ami_port == pbx.ami_port
    runtime = build_runtime(settings, demo=True)
    subscription = runtime.bus.subscribe(("call.new", "call.ended", "survey.scored", "screen.pop"))
    await runtime.start()
    try:
        known = await asyncio.to_thread(_customer_numbers, runtime)
        popped: dict[str, int] = {}
        answered = await _wait_for_calls(subscription, known, popped)
        await asyncio.sleep(0)  # let the writer take the last event before draining it
        await runtime.history.drain()
        traffic = runtime.pbx_traffic
        assert traffic is not None and sum(traffic.started.values()) >= ANSWERED_CALLS
    finally:
        subscription.close()
        await runtime.stop()

    with runtime.sessionmaker() as session:
        rows = {r.call_id: r for r in session.scalars(select(CallRow))}
    for event in answered:
        row = rows[event["call_id"]]
        assert row.disposition == "answered" and row.direction == "inbound"
        assert row.queue in ("support", "sales")  # the caller chose in the IVR menu
        assert row.agent in {f"{1001 + i}" for i in range(settings.demo_agents)}
        assert row.talk_s is not None and row.talk_s > 0
        if event["call_id"] in popped:  # the pop showed a seeded customer: the call is linked to him
            assert row.customer_id == popped[event["call_id"]], row.caller_number
    queues = pbx.cli("queue show")
    assert not [line for line in queues.splitlines() if "@agents/n" in line and "Local/10" in line], queues
    channels = pbx.cli("core show channels concise")
    assert "@from-pstn-" not in channels, channels

"""Each templated scenario, captured over TCP, is the recorded Asterisk 22 transcript again.

The simulator plays a scenario with other parties (a Chinese caller name, agent 1007, queue
sales...); a client reads the bytes with ``AMIParser``. After renaming each stream's ids by
order of appearance and the parameters by role, the events, their header keys and their values
are those of the transcript, in the same order.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from cti.simulator import PBXSimulator, load_template
from cti.simulator.compare import events_only, first_difference, names, normalise
from cti.simulator.recorder import AMIRecorder

SPEED = 200.0
SECRET = "test-secret"


@pytest.fixture
async def sim() -> AsyncIterator[PBXSimulator]:
    async with PBXSimulator(
        secret=SECRET, speed=SPEED, queues={"support": "rrmemory", "sales": "rrmemory"}
    ) as s:
        yield s


@pytest.fixture
async def client(sim: PBXSimulator) -> AsyncIterator[AMIRecorder]:
    async with sim.client() as rec:
        await rec.wait_for(lambda m: m.get("Event") == "SuccessfulAuth")
        yield rec


def transcript_events(file: str, first: int, last: int, skip: tuple[int, ...] = ()) -> list[dict[str, Any]]:
    out = []
    for msg in load_template(file):
        if first <= msg["_seq"] <= last and msg["_kind"] == "event" and msg["_seq"] not in skip:
            if msg.get("Event") == "OriginateResponse":
                msg = {k: v for k, v in msg.items() if k != "ActionID"}  # no Originate action here
            out.append(msg)
    return out


CALLER = {"caller": "13912345678", "caller_name": "王小明"}
RECORDED_CALLER = {
    "02_inbound_answered_agent_hangup": "5551234",
    "03_inbound_abandon": "5551235",
    "04_inbound_recorded_mixmonitor": "5551236",
    "06_blind_transfer_redirect": "5551237",
    "07_voicemail_leave": "5551238",
}

CASES = [
    # scenario, transcript, seq range, parameters beyond the caller
    (
        "inbound_answered",
        "02_inbound_answered_agent_hangup",
        (9, 236),
        {"agent": "1007", "queue": "sales", "talk": "6"},
    ),
    ("inbound_abandon", "03_inbound_abandon", (9, 102), {"queue": "sales", "moh": "8"}),
    (
        "inbound_recorded",
        "04_inbound_recorded_mixmonitor",
        (9, 239),
        {"agent": "1007", "queue": "sales", "talk": "10"},
    ),
    (
        "blind_transfer",
        "06_blind_transfer_redirect",
        (9, 318),
        {"agent": "1007", "agent2": "1010", "queue": "sales", "talk": "12", "transfer_after": "0.571"},
    ),
    ("voicemail", "07_voicemail_leave", (7, 63), {"mailbox": "205", "moh": "25"}),
]


def _roles(file: str, params: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """The parameter literals of the recording and of the simulated run, by role."""
    recorded: dict[str, str] = {"agent": "1001", "agent2": "1002", "queue": "support", "mailbox": "100"}
    ours: dict[str, str] = {k: params[k] for k in ("agent", "agent2", "queue", "mailbox") if k in params}
    recorded = {k: v for k, v in recorded.items() if k in ours}
    number = RECORDED_CALLER[file]
    recorded.update(caller=number, caller_name=f"PSTN {number}")
    ours.update(CALLER)
    for role in ("agent", "agent2"):
        if role in ours:
            recorded[f"{role}_name"] = f"Agent {recorded[role]}"
            ours[f"{role}_name"] = f"Agent {ours[role]}"
    return recorded, ours


@pytest.mark.parametrize(("name", "file", "seqs", "params"), CASES, ids=[c[0] for c in CASES])
async def test_scenario_replays_its_transcript(
    sim: PBXSimulator,
    client: AMIRecorder,
    name: str,
    file: str,
    seqs: tuple[int, int],
    params: dict[str, str],
) -> None:
    if "agent" in params:
        sim.pbx.login_agent(params["queue"], params["agent"])
        await client.wait_for(lambda m: m.get("Event") == "QueueMemberAdded")
    if "agent2" in params:
        sim.pbx.login_agent(params["queue"], params["agent2"], paused=True)
        await client.wait_for(
            lambda m: m.get("Event") == "QueueMemberAdded" and params["agent2"] in m["Interface"]
        )
    await asyncio.sleep(0.01)
    start = len(client.messages)

    result = await sim.run_scenario(name, **CALLER, **params)
    await client.wait_for(
        lambda m: m.get("Event") == "Hangup" and m.get("Uniqueid") == result.uniqueids[0], start
    )
    await asyncio.sleep(0.05)

    recorded_roles, our_roles = _roles(file, params)
    expected = normalise(transcript_events(file, *seqs), recorded_roles)
    got = normalise(events_only(client.messages[start:]), our_roles)
    assert len(expected) > 40
    assert names(client.messages[start : start + len(expected)]) == [dict(e)["Event"] for e in expected]
    assert first_difference(expected, got) == ""


async def test_call_ids_are_renumbered_per_call(sim: PBXSimulator, client: AMIRecorder) -> None:
    sim.pbx.login_agent("support", "1003")
    first = await sim.run_scenario("inbound_answered", caller="13800000001", talk=1)
    second = await sim.run_scenario("inbound_answered", caller="13800000002", talk=1)
    assert first.linkedid != second.linkedid
    assert not set(first.channels) & set(second.channels)
    assert first.channels[0].startswith("Local/13800000001@from-pstn-") and first.channels[0].endswith(";1")
    assert first.linkedid == first.uniqueids[0]
    epoch, _, counter = second.linkedid.partition(".")
    assert epoch.isdigit() and counter.isdigit()


async def test_click_to_dial_replays_transcript_05(sim: PBXSimulator, client: AMIRecorder) -> None:
    start = len(client.messages)
    result = await sim.run_scenario("click_to_dial", agent="1008", number="02112345678", talk="8")
    await client.wait_for(
        lambda m: m.get("Event") == "Hangup" and m.get("Uniqueid") == result.uniqueids[-1], start
    )
    await asyncio.sleep(0.05)
    expected = normalise(
        transcript_events("05_click_to_dial", 6, 156),
        {"agent": "1001", "agent_name": "Agent 1001", "number": "5559999"},
    )
    got = normalise(
        events_only(client.messages[start:]),
        {"agent": "1008", "agent_name": "Agent 1008", "number": "02112345678"},
    )
    assert first_difference(expected, got) == ""


async def test_agent_login_pause_replays_transcript_01(sim: PBXSimulator, client: AMIRecorder) -> None:
    start = len(client.messages)
    await sim.run_scenario("agent_login_pause", agent="1009", queue="support", queue2="sales")
    await client.wait_for(
        lambda m: m.get("Event") == "QueueMemberRemoved" and m.get("Queue") == "sales", start
    )
    await asyncio.sleep(0.02)
    recorded = [
        m
        for m in load_template("01_agent_login_pause_remove")
        if m["_kind"] == "event" and m["_seq"] > 4 and "ActionID" not in m
    ]
    params = {"agent": "1009", "agent_name": "Agent 1009"}
    expected = normalise(recorded, {"agent": "1001", "agent_name": "Agent 1001"})
    got = normalise(events_only(client.messages[start:]), params)
    assert first_difference(expected, got) == ""

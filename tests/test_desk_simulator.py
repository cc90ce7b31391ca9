"""The desk's call commands against the PBX simulator, over a real AMI connection.

The same ``CallCommands`` as on the real PBX (``tests/live/test_desk_live.py``) wait for the events that
show each command was carried out; the simulator must send them the way Asterisk 22.10.1 does.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from cti.ami.protocol import AMIConnection
from cti.commands import CallCommands
from cti.simulator import PBXSimulator
from cti.simulator.recorder import AMIRecorder

pytest_plugins = ["cti.simulator.testing"]  # the sim and client fixtures


@pytest.fixture
async def commands(sim: PBXSimulator) -> AsyncIterator[CallCommands]:
    connection = AMIConnection("127.0.0.1", sim.port, "cti", sim.secret, action_timeout_s=10)
    await connection.open()
    await connection.login()
    await connection.action({"Action": "Events", "EventMask": "call,agent,system"})
    yield CallCommands(connection, timeout_s=10, outcome_s=10)
    connection.close()


async def answered(sim: PBXSimulator, client: AMIRecorder, caller: str, agent: str) -> tuple[str, str, object]:
    sim.pbx.login_agent("support", agent)
    run = sim.start_scenario("inbound_answered", caller=caller, agent=agent, talk=300)
    connect = await client.wait_for(lambda m: m.get("Event") == "AgentConnect")
    await client.wait_for(  # the agent talks (the dialplan's Wait), so the call may be moved
        lambda m: m.get("Event") == "Newexten" and m.get("Application") == "Wait" and m.get("AppData") == "300"
    )
    return str(connect["Channel"]), str(connect["DestChannel"]), run


async def test_hold_then_unhold(sim: PBXSimulator, client: AMIRecorder, commands: CallCommands) -> None:
    caller, agent, _ = await answered(sim, client, "13922223333", "1003")
    held = await commands.hold(caller, agent)
    assert [(e["Event"], e["Channel"]) for e in held["Outcome"]] == [("MusicOnHoldStart", caller)]
    back = await commands.unhold(caller)
    assert [(e["Event"], e["Channel"]) for e in back["Outcome"]] == [("BridgeEnter", caller), ("BridgeEnter", agent)]


async def test_attended_transfer_then_complete(sim: PBXSimulator, client: AMIRecorder, commands: CallCommands) -> None:
    sim.pbx.login_agent("support", "1002", paused=True)
    caller, agent, _ = await answered(sim, client, "13911112222", "1001")
    reply = await commands.attended_transfer(agent, "1002")
    assert reply["Message"] == "Atxfer successfully queued"
    assert reply["Consultation"].startswith("Local/1002@internal-")
    await client.wait_for(lambda m: m.get("Event") == "DialEnd" and m.get("DialStatus") == "ANSWER")
    done = await commands.complete_attended_transfer(agent)
    (transfer,) = done["Outcome"]
    assert (transfer["Result"], transfer["TransfereeChannel"]) == ("Success", caller)


async def test_three_way(sim: PBXSimulator, client: AMIRecorder, commands: CallCommands) -> None:
    caller, agent, _ = await answered(sim, client, "13911113333", "1001")
    reply = await commands.three_way(agent, caller, "1002", room="4242")
    joined = reply["Outcome"]
    assert [(e["Event"], e["Conference"]) for e in joined] == [("ConfbridgeJoin", "4242")] * 3
    assert [e["Channel"] for e in joined[:2]] == [agent, caller]
    assert joined[2]["Channel"].startswith("Local/1002@agents-")


@pytest.mark.parametrize("mode", ["listen", "whisper", "barge"])
async def test_spy(sim: PBXSimulator, client: AMIRecorder, commands: CallCommands, mode: str) -> None:
    _, agent, _ = await answered(sim, client, "13911114444", "1001")
    reply = await commands.spy("1004", agent, mode)
    (start,) = reply["Outcome"]
    assert (start["Event"], start["SpyeeChannel"], start["SpyerChannel"]) == ("ChanSpyStart", agent, reply["Channel"])

"""The desk's transfer, three-way and spy commands against the PBX simulator (as in ``callcenter demo``).

The same ``CallCommands`` as on the real PBX wait for the events that show each command was carried
out (the consultation call, AttendedTransfer, ConfbridgeJoin of all three, ChanSpyStart); the
simulator plays them from the recordings 09, 11 and 12.
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


async def answered(sim: PBXSimulator, client: AMIRecorder, caller: str, agent: str) -> tuple[str, str]:
    sim.pbx.login_agent("support", agent)
    sim.start_scenario("inbound_answered", caller=caller, agent=agent, talk=300)
    connect = await client.wait_for(lambda m: m.get("Event") == "AgentConnect" and m.get("CallerIDNum") == caller)
    return str(connect["Channel"]), str(connect["DestChannel"])


async def test_blind_transfer(sim: PBXSimulator, client: AMIRecorder, commands: CallCommands) -> None:
    caller, _ = await answered(sim, client, "13911110001", "1001")
    reply = await commands.blind_transfer(caller, "1002")
    assert reply["Message"] == "Redirect successful"
    dialled = await client.wait_for(
        lambda m: m.get("Event") == "DialBegin" and str(m.get("DestChannel", "")).startswith("Local/1002@agents-")
    )
    assert dialled["Channel"] == caller


async def test_attended_transfer_then_complete(sim: PBXSimulator, client: AMIRecorder, commands: CallCommands) -> None:
    caller, agent = await answered(sim, client, "13911110002", "1001")
    consult = await commands.attended_transfer(agent, "1002")
    assert str(consult["Consultation"]).startswith("Local/1002@internal-")
    await client.wait_for(
        lambda m: (
            m.get("Event") == "DialEnd"
            and m.get("DialStatus") == "ANSWER"
            and str(m.get("DestChannel", "")).startswith("Local/1002@agents-")
        )
    )
    done = await commands.complete_attended_transfer(agent)
    transfer = done["Outcome"][0]
    assert (transfer["Result"], transfer["TransfereeChannel"]) == ("Success", caller)


async def test_attended_transfer_then_cancel(sim: PBXSimulator, client: AMIRecorder, commands: CallCommands) -> None:
    _, agent = await answered(sim, client, "13911110005", "1001")
    consult = await commands.attended_transfer(agent, "1002")
    await client.wait_for(
        lambda m: (
            m.get("Event") == "DialEnd"
            and m.get("DialStatus") == "ANSWER"
            and str(m.get("DestChannel", "")).startswith("Local/1002@agents-")
        )
    )
    back = await commands.cancel_attended_transfer(str(consult["Consultation"]), agent)
    assert {(e["Event"], e["Channel"]) for e in back["Outcome"]} == {("BridgeEnter", agent), ("Unhold", agent)}
    assert not [m for m in client.messages if m.get("Event") == "AttendedTransfer"]


async def test_three_way(sim: PBXSimulator, client: AMIRecorder, commands: CallCommands) -> None:
    caller, agent = await answered(sim, client, "13911110003", "1001")
    reply = await commands.three_way(agent, caller, "1002")
    joined = [e["Channel"] for e in reply["Outcome"] if e["Event"] == "ConfbridgeJoin"]
    assert joined[:2] == [agent, caller] or set(joined[:2]) == {agent, caller}
    assert str(joined[2]).startswith("Local/1002@agents-")
    assert {e["Conference"] for e in reply["Outcome"]} == {reply["Conference"]}


@pytest.mark.parametrize("mode", ["listen", "whisper", "barge"])
async def test_supervisor_spy(sim: PBXSimulator, client: AMIRecorder, commands: CallCommands, mode: str) -> None:
    _, agent = await answered(sim, client, "13911110004", "1001")
    reply = await commands.spy("1003", agent, mode)  # type: ignore[arg-type]
    start = next(e for e in reply["Outcome"] if e["Event"] == "ChanSpyStart")
    assert start["SpyeeChannel"] == agent
    assert str(start["SpyerChannel"]).startswith("Local/1003@agents-")

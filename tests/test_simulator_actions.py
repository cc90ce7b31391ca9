"""Driving the simulator with the very actions of the recordings gives the recordings back.

Each test sends the actions of a transcript's ``.actions.jsonl`` (same ActionIDs) and compares
what comes back with what Asterisk 22 sent: events, header keys and normalised values.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import pytest

from cti.ami.parser import Message
from cti.simulator import PBXSimulator, load_template
from cti.simulator.compare import Normaliser, events_only, first_difference, normalise
from cti.simulator.recorder import AMIRecorder
from cti.simulator.templates import load_actions

pytest_plugins = ["cti.simulator.testing"]  # the sim and client fixtures


def send_recorded(rec: AMIRecorder, action: dict[str, Any]) -> str:
    fields = {k: v for k, v in action.items() if not k.startswith("_") and k != "Action"}
    return rec.send(action["Action"], **fields)


def recorded_actions(file: str) -> dict[str, dict[str, Any]]:
    return {a["Action"] + ":" + a["ActionID"]: a for a in load_actions(file)}


def transcript(file: str, first: int, last: int, skip: frozenset[int] = frozenset()) -> list[dict[str, Any]]:
    return [m for m in load_template(file) if first <= m["_seq"] <= last and m["_seq"] not in skip]


async def _call_after(rec: AMIRecorder, originate_id: str, until: str) -> list[Mapping[str, Any]]:
    """Events after the Originate reply, up to the Hangup of the call's first channel."""
    reply = await rec.reply(originate_id)
    start = rec.messages.index(reply) + 1
    first = await rec.wait_for(lambda m: m.get("Event") == "Newchannel", start)
    await rec.wait_for(lambda m: m.get("Event") == until and m.get("Uniqueid") == first["Uniqueid"], start)
    await asyncio.sleep(0.05)
    return events_only(rec.messages[start:])


@pytest.mark.parametrize(
    ("file", "first", "last"),
    [
        ("02_inbound_answered_agent_hangup", 9, 236),
        ("03_inbound_abandon", 9, 102),
        ("05_click_to_dial", 6, 156),
        ("07_voicemail_leave", 7, 63),
    ],
)
async def test_originate_plays_the_recorded_call(
    client: AMIRecorder, file: str, first: int, last: int
) -> None:
    originate_id = ""
    for action in load_actions(file):
        if action["Action"] in ("Login", "Logoff", "QueueRemove", "MailboxStatus", "VoicemailUserStatus"):
            continue
        if action["Action"] == "MailboxCount" and originate_id:
            continue
        action_id = send_recorded(client, action)
        if action["Action"] == "Originate":
            originate_id = action_id
            break
        await client.reply(action_id)
    events = await _call_after(client, originate_id, "Hangup")
    expected = [m for m in transcript(file, first, last) if m["_kind"] == "event"]
    assert len(expected) > 40
    assert first_difference(normalise(expected, {}), normalise(events, {})) == ""


async def test_voicemail_counts_follow_the_message(client: AMIRecorder) -> None:
    before = await client.request("MailboxCount", ActionID="07-2", Mailbox="100@default")
    originate = send_recorded(client, recorded_actions("07_voicemail_leave")["Originate:07-3"])
    await _call_after(client, originate, "Hangup")
    after = await client.request("MailboxCount", ActionID="07-4", Mailbox="100@default")
    status = await client.request("MailboxStatus", ActionID="07-5", Mailbox="100@default")
    recorded = {
        m["_seq"]: {k: v for k, v in m.items() if not k.startswith("_")}
        for m in load_template("07_voicemail_leave")
    }
    assert (before, after, status) == (recorded[5], recorded[64], recorded[65])


async def test_mixmonitor_actions_give_the_recorded_events(client: AMIRecorder) -> None:
    actions = recorded_actions("04_inbound_recorded_mixmonitor")
    await client.reply(send_recorded(client, actions["QueueAdd:04-2"]))
    originate = send_recorded(client, actions["Originate:04-3"])
    connect = await client.wait_for(lambda m: m.get("Event") == "AgentConnect")
    leg, uid = str(connect["DestChannel"]), str(connect["DestUniqueid"])
    replies = [
        await client.request("MixMonitor", ActionID="04-4", Channel=leg, File=f"cti-{uid}.wav", Options="b"),
        await client.request("MixMonitorMute", ActionID="04-5", Channel=leg, Direction="read", State="1"),
        await client.request("MixMonitorMute", ActionID="04-6", Channel=leg, Direction="read", State="0"),
        await client.request("StopMixMonitor", ActionID="04-7", Channel=leg),
    ]
    events = await _call_after(client, originate, "Hangup")
    caused: list[Mapping[str, Any]] = []
    for reply, count in zip(replies, (4, 1, 1, 3), strict=True):
        at = client.messages.index(reply) + 1
        caused += client.messages[at : at + count]
    rest = [m for m in events if not any(m is c for c in caused)]
    cti = frozenset({155, 156, 157, 158, 163, 165, 167, 168, 169})
    recorded_rest = [
        m for m in transcript("04_inbound_recorded_mixmonitor", 9, 239, cti) if m["_kind"] == "event"
    ]
    recorded_caused = [m for m in transcript("04_inbound_recorded_mixmonitor", 155, 169) if m["_seq"] in cti]
    assert first_difference(normalise(recorded_rest, {}), normalise(rest, {})) == ""
    both_recorded = normalise([*recorded_rest[:1], *recorded_caused], {})
    both_ours = normalise([*rest[:1], *caused], {})
    assert first_difference(both_recorded, both_ours) == ""
    recorded_replies = transcript("04_inbound_recorded_mixmonitor", 154, 166)
    assert [r for r in recorded_replies if r["_kind"] == "response"] == [
        {**r, "_seq": s["_seq"], "_kind": "response", "_ts": s["_ts"], "_t_rel": s["_t_rel"]}
        for r, s in zip(replies, [x for x in recorded_replies if x["_kind"] == "response"], strict=True)
    ]


async def test_redirect_is_the_recorded_blind_transfer(client: AMIRecorder) -> None:
    actions = recorded_actions("06_blind_transfer_redirect")
    await client.reply(send_recorded(client, actions["QueueAdd:06-2"]))
    originate = await client.reply(send_recorded(client, actions["Originate:06-3"]))
    join = await client.wait_for(lambda m: m.get("Event") == "QueueCallerJoin")
    await client.wait_for(
        lambda m: m.get("Event") == "Newexten" and m.get("Application") == "Wait" and m.get("AppData") == "12"
    )
    reply = await client.request(
        "Redirect",
        ActionID="06-4",
        Channel=str(join["Channel"]),
        Context="internal",
        Exten="1002",
        Priority="1",
    )
    assert (reply["Response"], reply["Message"]) == ("Success", "Redirect successful")
    start = client.messages.index(reply) + 1
    await client.wait_for(
        lambda m: m.get("Event") == "Hangup" and m.get("Uniqueid") == join["Linkedid"], start
    )
    await asyncio.sleep(0.05)
    recorded = transcript("06_blind_transfer_redirect", 9, 318)
    split = next(i for i, m in enumerate(recorded) if m["_seq"] == 155)
    norm_recorded, norm_ours = Normaliser({}), Normaliser({})
    # the ids of the head are learnt first, so the tail's ids compare by role
    head_ours = events_only(client.messages[client.messages.index(originate) : start - 1])
    for m in recorded[:split]:
        normalise_with(norm_recorded, m)
    for ours in head_ours:
        normalise_with(norm_ours, ours)
    tail_recorded = [normalise_with(norm_recorded, m) for m in recorded[split + 1 :]]
    tail_ours = [normalise_with(norm_ours, m) for m in events_only(client.messages[start:])]
    assert len(tail_recorded) > 100
    assert first_difference(tail_recorded, tail_ours) == ""


def normalise_with(norm: Normaliser, msg: Mapping[str, Any]) -> list[tuple[str, str]]:
    row = []
    for key, value in msg.items():
        if key.startswith("_") or key == "Timestamp":
            continue
        for v in value if isinstance(value, list) else [value]:
            row.append((key, norm.value(str(v))))
    return row


async def test_status_queries_during_a_call_describe_it(sim: PBXSimulator, client: AMIRecorder) -> None:
    sim.pbx.speed = 10.0  # the answered call must still be talking when the queries are done
    actions = recorded_actions("08_status_queries_during_call")
    for key in ("QueueAdd:08-2", "QueueAdd:08-3"):
        await client.reply(send_recorded(client, actions[key]))
    send_recorded(client, actions["Originate:08-4"])
    await client.wait_for(lambda m: m.get("Event") == "Newexten" and m.get("AppData") == "15")
    send_recorded(client, actions["Originate:08-5"])
    waiting = await client.wait_for(
        lambda m: m.get("Event") == "QueueCallerJoin" and m.get("CallerIDNum") == "5551241"
    )
    await client.wait_for(
        lambda m: m.get("Event") == "MusicOnHoldStart" and m.get("Channel") == waiting["Channel"]
    )
    recorded = load_template("08_status_queries_during_call")
    answered = next(m for m in client.messages if m.get("Event") == "AgentConnect")
    for key in (
        "QueueStatus:08-6",
        "QueueSummary:08-7",
        "CoreShowChannels:08-8",
        "Status:08-9",
        "BridgeList:08-10",
    ):
        action_id = send_recorded(client, actions[key])
        ours = await _list_reply(client, action_id)
        theirs = [m for m in recorded if m.get("ActionID") == action_id]
        assert [list(m) for m in ours] == [[k for k in m if not k.startswith("_")] for m in theirs], key
    channels = [m for m in client.messages if m.get("Event") == "CoreShowChannel"]
    # asked a moment later than in the recording: the agent's leg has gone from Playback to Wait
    recorded_apps = [m["Application"] for m in recorded if m.get("Event") == "CoreShowChannel"]
    assert sorted(str(m["Application"]) for m in channels) == sorted(
        "Wait" if app == "Playback" else app for app in recorded_apps
    )
    bridged = {str(m["Channel"]) for m in channels if m["BridgeId"]}
    assert bridged == {str(answered["Channel"]), str(answered["DestChannel"])}
    getvar = await client.request(
        "Getvar", ActionID="08-11", Channel=str(answered["Channel"]), Variable="QUEUE_NAME"
    )
    assert (getvar["Variable"], getvar["Value"]) == ("QUEUE_NAME", "support")
    caller_leg = str(waiting["Channel"]).replace(";2", ";1")
    hangup = await client.request("Hangup", ActionID="08-12", Channel=caller_leg, Cause="16")
    assert hangup["Message"] == "Channel Hungup"
    start = client.messages.index(hangup) + 1
    await client.wait_for(
        lambda m: m.get("Event") == "Hangup" and m.get("Uniqueid") == waiting["Uniqueid"], start
    )
    expected = [m for m in recorded if 232 <= m["_seq"] <= 279]
    got = events_only(client.messages[start : start + len(expected)])
    params = {"caller": "5551241", "caller_name": "PSTN 5551241"}
    assert first_difference(normalise(expected, params), normalise(got, params)) == ""


async def _list_reply(client: AMIRecorder, action_id: str) -> list[Message]:
    reply = await client.reply(action_id)
    start = client.messages.index(reply)
    await client.wait_for(
        lambda m: m.get("ActionID") == action_id and m.get("EventList") == "Complete", start
    )
    return [m for m in client.messages[start:] if m.get("ActionID") == action_id]


async def test_atxfer_completes_an_attended_transfer(sim: PBXSimulator, client: AMIRecorder) -> None:
    sim.pbx.login_agent("support", "1001")
    sim.pbx.login_agent("support", "1002", paused=True)
    run = sim.start_scenario("inbound_answered", caller="13911112222", agent="1001", talk=5)
    connect = await client.wait_for(lambda m: m.get("Event") == "AgentConnect")
    await client.wait_for(
        lambda m: m.get("Event") == "Newexten" and m.get("Application") == "Wait" and m.get("AppData") == "5"
    )
    agent = str(connect["DestChannel"])
    reply = await client.request("Atxfer", Channel=agent, Exten="1002", Context="internal")
    assert reply["Message"] == "Atxfer successfully queued"
    start = client.messages.index(reply)
    await client.wait_for(  # the colleague answers the consultation (transcript 09)
        lambda m: m.get("Event") == "Newexten"
        and m.get("Application") == "Answer"
        and str(m.get("Channel")).startswith("Local/1002@agents-"),
        start,
    )
    assert not [m for m in client.messages[start:] if m.get("Event") == "AttendedTransfer"]
    done = await client.request("Hangup", Channel=agent, Cause="16")  # the desk's "complete"
    assert done["Message"] == "Channel Hungup"
    transfer = await client.wait_for(lambda m: m.get("Event") == "AttendedTransfer", start)
    await run.done.wait()
    assert (transfer["Result"], transfer["DestType"]) == ("Success", "Bridge")
    assert transfer["OrigTransfererChannel"] == agent == transfer["SecondTransfererChannel"]
    assert transfer["TransfereeChannel"] == connect["Channel"]
    assert str(transfer["TransferTargetChannel"]).startswith("Local/1002@internal-")
    complete = await client.wait_for(lambda m: m.get("Event") == "AgentComplete")
    assert complete["Reason"] == "transfer"
    assert sim.pbx.state.channels == {} and sim.pbx.state.bridges == {}


async def test_hold_by_redirect_and_bridge_back(sim: PBXSimulator, client: AMIRecorder) -> None:
    """The CTI's hold: Redirect caller + agent leg to cc-hold, later Bridge them together again."""
    sim.pbx.login_agent("support", "1003")
    run = sim.start_scenario("inbound_answered", caller="13922223333", agent="1003", talk=3)
    connect = await client.wait_for(lambda m: m.get("Event") == "AgentConnect")
    caller, agent = str(connect["Channel"]), str(connect["DestChannel"])
    await client.wait_for(
        lambda m: m.get("Event") == "Newexten" and m.get("AppData") == "3" and "agents" in m["Channel"]
    )
    held = await client.request(
        "Redirect",
        Channel=caller,
        Context="cc-hold",
        Exten="hold",
        Priority="1",
        ExtraChannel=agent,
        ExtraContext="cc-hold",
        ExtraExten="wait",
        ExtraPriority="1",
    )
    assert held["Message"] == "Dual Redirect successful"
    start = client.messages.index(held)
    music = await client.wait_for(lambda m: m.get("Event") == "MusicOnHoldStart", start)
    assert music["Channel"] == caller
    assert sim.pbx.state.bridges == {}
    await asyncio.sleep(0.1)  # the talk time is over, but the agent does not hang up while the caller is held
    assert not run.done.is_set()
    back = await client.request("Bridge", Channel1=caller, Channel2=agent, Tone="no")
    assert back["Message"] == "Channels have been bridged"
    await run.done.wait()
    after = client.messages[client.messages.index(back) :]
    assert [m["Event"] for m in after if m.get("Event") in ("BridgeCreate", "MusicOnHoldStop")][:2] == [
        "BridgeCreate",
        "MusicOnHoldStop",
    ]
    assert sim.pbx.state.channels == {} and sim.pbx.state.bridges == {}
    wrong = await client.request("Bridge", Channel1=caller, Channel2=agent)
    assert (wrong["Response"], wrong["Message"]) == ("Error", f"Channel1 does not exist: {caller}")

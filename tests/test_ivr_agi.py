"""The FastAGI server over TCP, with the simulator client playing Asterisk's AGI side."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from test_ivr_support import CALENDAR, CLOSED_TIME, FLOWS, OPEN_TIME

from config.settings import Settings
from cti.simulator.fastagi_client import AgiScript, AgiTranscript, run_fastagi_call
from ivr.agi import IVRServer
from ivr.directory import InMemoryDirectory

CUSTOMERS = {
    "13800138000": {"id": 42, "name": "李雷", "category": "retail", "vip": False, "blacklisted": False}
}
ORDERS = {"20261123": {"status": "shipped"}}


class Harness:
    def __init__(self, server: IVRServer, events: list[dict[str, Any]], directory: InMemoryDirectory) -> None:
        self.server, self.events, self.directory = server, events, directory
        self.now = OPEN_TIME

    async def call(self, script: AgiScript, timeout_s: float = 5.0) -> AgiTranscript:
        return await run_fastagi_call("127.0.0.1", self.server.port, script, timeout_s)

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["type"] == kind]

    def steps(self) -> list[tuple[str, str | None, str]]:
        return [(e["node"], e["input"], e["result"]) for e in self.of_type("ivr.step")]


async def make_harness(flows_dir: Path, session_timeout_s: float = 5.0) -> Harness:
    events: list[dict[str, Any]] = []

    async def publish(event: dict[str, Any]) -> None:
        events.append(event)

    directory = InMemoryDirectory(customers=CUSTOMERS, orders=ORDERS)
    settings = Settings(agi_host="127.0.0.1", agi_port=0, agi_session_timeout_s=session_timeout_s, pbx="pbx1")
    holder: dict[str, datetime] = {"now": OPEN_TIME}
    server = IVRServer(settings, publish, directory, flows_dir, CALENDAR, clock=lambda: holder["now"])
    harness = Harness(server, events, directory)
    harness.clock = holder  # type: ignore[attr-defined]
    await server.start()
    return harness


@pytest.fixture
async def ivr() -> AsyncIterator[Harness]:
    harness = await make_harness(FLOWS)
    yield harness
    await harness.server.stop()


async def test_main_menu_option_2_goes_to_support_queue(ivr: Harness) -> None:
    script = AgiScript("ivr", caller="13700000000", linkedid="1795451209.0", dtmf=["2"])
    transcript = await ivr.call(script)
    assert transcript.variables["QUEUE_NAME"] == "support"
    assert transcript.variables["IVR_ACTION"] == "queue"
    assert transcript.played()[:2] == ["custom/welcome", "custom/main-menu"]
    assert ("main_menu", "2", "option") in ivr.steps()
    step = ivr.of_type("ivr.step")[0]
    assert step["call_id"] == "1795451209.0" and step["flow"] == "ivr" and step["pbx"] == "pbx1"
    assert step["ts"].endswith("Z")
    assert ivr.server.stats.sessions_total == 1 and ivr.server.stats.sessions_active == 0


async def test_order_number_lookup_after_greeting_known_customer(ivr: Harness) -> None:
    script = AgiScript("ivr", caller="13800138000", dtmf=["3", "20261123", "1"])
    transcript = await ivr.call(script)
    assert transcript.variables["CRM_CUSTOMER_NAME"] == "李雷"
    assert transcript.variables["CRM_CUSTOMER_ID"] == "42"
    played = transcript.played()
    assert played.index("custom/welcome-back") < played.index("custom/order-status-shipped")
    assert ("order_lookup", "20261123", "found") in ivr.steps()
    assert transcript.variables["QUEUE_NAME"] == "support"


async def test_after_hours_caller_reaches_voicemail(ivr: Harness) -> None:
    ivr.clock["now"] = CLOSED_TIME  # type: ignore[attr-defined]
    transcript = await ivr.call(AgiScript("ivr", caller="13700000000"))
    assert transcript.executed == ["VoiceMail 100@default,u"]
    assert transcript.variables["IVR_ACTION"] == "voicemail"
    assert transcript.commands[-1] == "HANGUP" and transcript.hung_up
    assert ("hours", None, "calendar:closed") in ivr.steps()


async def test_survey_score_emitted_with_call_and_agent(ivr: Harness) -> None:
    script = AgiScript(
        "survey",
        linkedid="1795451209.0",
        dtmf=["4"],
        variables={"MEMBERNAME": "Agent 1001", "MEMBERINTERFACE": "Local/1001@agents/n"},
    )
    await ivr.call(script)
    scored = ivr.of_type("survey.scored")
    assert len(scored) == 1
    assert {k: scored[0][k] for k in ("call_id", "agent", "extension", "score", "scale")} == {
        "call_id": "1795451209.0", "agent": "Agent 1001", "extension": "1001", "score": 4, "scale": 5,
    }


async def test_survey_without_answer_emits_no_score(ivr: Harness) -> None:
    await ivr.call(AgiScript("survey", args=["1001"], dtmf=[None, None]))
    assert ivr.of_type("survey.scored") == []
    assert ("rate", None, "not_rated") in ivr.steps()


async def test_unknown_flow_gets_the_fallback_queue(ivr: Harness) -> None:
    transcript = await ivr.call(AgiScript("no-such-flow"))
    assert transcript.variables["QUEUE_NAME"] == "support"
    assert transcript.variables["IVR_ACTION"] == "fallback"
    assert ivr.server.stats.fallbacks == 1


async def test_missing_prompt_gets_the_fallback_queue(ivr: Harness) -> None:
    transcript = await ivr.call(AgiScript("ivr", missing_files=frozenset({"custom/welcome"})))
    assert "CHANNEL STATUS" in transcript.commands
    assert transcript.variables["IVR_ACTION"] == "fallback"
    assert ("welcome", None, "fallback") in ivr.steps()
    assert ivr.server.stats.fallbacks == 1


async def test_caller_hangup_mid_flow_ends_the_session(ivr: Harness) -> None:
    transcript = await ivr.call(AgiScript("ivr", hangup_after=3))
    assert transcript.hung_up
    assert ivr.steps()[-1][2] == "caller_hangup"
    assert ivr.server.stats.hangups == 1 and ivr.server.stats.sessions_active == 0


async def test_broken_flow_file_falls_back_and_fixed_file_reloads(tmp_path: Path) -> None:
    shutil.copy(FLOWS / "survey.yaml", tmp_path / "survey.yaml")
    harness = await make_harness(tmp_path)
    try:
        (tmp_path / "survey.yaml").write_text("nodes: {a: {type: nonsense}}\n")
        transcript = await harness.call(AgiScript("survey", args=["1001"], dtmf=["5"]))
        assert transcript.variables["IVR_ACTION"] == "fallback"
        shutil.copy(FLOWS / "survey.yaml", tmp_path / "survey.yaml")
        (tmp_path / "survey.yaml").touch()
        await harness.call(AgiScript("survey", args=["1001"], dtmf=["5"]))
        assert [e["score"] for e in harness.of_type("survey.scored")] == [5]
    finally:
        await harness.server.stop()


async def _raw_session(port: int, payload: bytes, close: bool = True) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(payload)
    await writer.drain()
    if close:
        writer.write_eof()
    data = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    return data


async def test_garbage_and_half_sessions_are_closed_cleanly(ivr: Harness) -> None:
    assert await _raw_session(ivr.server.port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n") == b""
    assert await _raw_session(ivr.server.port, b"agi_network: yes\nagi_network_script: ivr\n") == b""
    assert await _raw_session(ivr.server.port, b"\xff\xfe\x00garbage\n\n") == b""
    half = b"agi_network_script: ivr\nagi_uniqueid: 1.1\n\n"
    assert (await _raw_session(ivr.server.port, half)).startswith(b'GET VARIABLE "CHANNEL(linkedid)"')
    await asyncio.sleep(0.05)
    assert ivr.server.stats.sessions_active == 0
    assert ivr.server.stats.errors == 3


async def test_silent_peer_is_cut_by_the_session_timeout(tmp_path: Path) -> None:
    harness = await make_harness(FLOWS, session_timeout_s=0.3)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", harness.server.port)
        writer.write(b"agi_network_script: ivr\nagi_uniqueid: 1.1\n\n")
        first = await reader.readline()  # GET VARIABLE CHANNEL(linkedid), never answered
        assert first.startswith(b"GET VARIABLE")
        assert await asyncio.wait_for(reader.read(), 5) == b""
        writer.close()
        assert harness.server.stats.sessions_active == 0 and harness.server.stats.errors == 1
    finally:
        await harness.server.stop()


async def test_many_concurrent_sessions(ivr: Harness) -> None:
    scripts = [
        AgiScript("ivr", caller=f"1370000{i:04d}", uniqueid=f"1795.{i}", dtmf=["1"]) for i in range(60)
    ]
    transcripts = await asyncio.gather(*(ivr.call(s) for s in scripts))
    assert all(t.variables["QUEUE_NAME"] == "sales" for t in transcripts)
    assert len({e["call_id"] for e in ivr.of_type("ivr.step")}) == 60
    assert ivr.server.stats.sessions_total == 60 and ivr.server.stats.sessions_active == 0

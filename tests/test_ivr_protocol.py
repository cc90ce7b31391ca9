"""AGI wire format, the recorded Asterisk 22 session, and random environments and replies."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_ivr_support import CALENDAR, FLOWS, OPEN_TIME, context

from config.settings import Settings
from cti.simulator.fastagi_client import AgiScript, AsteriskResponder
from ivr.agi import IVRServer
from ivr.agi_protocol import (
    AgiProtocolError,
    ReplyAssembler,
    command,
    parse_env,
    parse_reply,
    script_args,
    script_name,
)
from ivr.directory import InMemoryDirectory
from ivr.engine import FlowEngine, Terminal
from ivr.flow import load_flow

RECORDED = Path(__file__).parent / "fixtures" / "ivr" / "02_inbound_answered_agent_hangup.fastagi.txt"


def recorded_env_lines() -> list[str]:
    lines = []
    for raw in RECORDED.read_text().splitlines():
        _, direction, text = raw.partition(" << ")
        if not direction:
            break
        if not text.strip():
            break
        lines.append(text)
    return lines


def recorded_replies() -> list[str]:
    return [raw.split(" << ", 1)[1] for raw in RECORDED.read_text().splitlines() if " << 200" in raw]


def test_recorded_environment_and_replies_parse() -> None:
    env = parse_env(recorded_env_lines())
    assert script_name(env) == "ivr" and env["agi_uniqueid"] == "1795451209.1"
    assert env["agi_accountcode"] == "" and script_args(env) == ()
    replies = [parse_reply(line) for line in recorded_replies()]
    assert [(r.code, r.result, r.data) for r in replies] == [
        (200, "1", None), (200, "1", "support"), (200, "1", None), (200, "1", None)]


@pytest.mark.parametrize(
    ("line", "code", "result", "data", "extras"),
    [
        ("200 result= (timeout)", 200, "", "timeout", {}),
        ("200 result=12 (timeout)", 200, "12", "timeout", {}),
        ("200 result=0 endpos=16000", 200, "0", None, {"endpos": "16000"}),
        ("200 result=-1 endpos=0", 200, "-1", None, {"endpos": "0"}),
        ("200 result=1 (a (b) c)\r", 200, "1", "a (b) c", {}),
        ("511 Command Not Permitted on a dead channel or intercept routine", 511, "", None, {}),
        ("510 Invalid or unknown command", 510, "", None, {}),
    ],
)
def test_reply_forms(line: str, code: int, result: str, data: str | None, extras: dict[str, str]) -> None:
    reply = parse_reply(line)
    assert (reply.code, reply.result, reply.data, dict(reply.extras)) == (code, result, data, extras)


def test_assembler_skips_interim_lines_and_notes_hangup() -> None:
    assembler = ReplyAssembler()
    assert assembler.feed("100 result=0 Trying...") is None
    assert assembler.feed("HANGUP") is None and assembler.hangup_seen
    assert assembler.feed("520-Invalid command syntax.  Proper usage follows:") is None
    reply = assembler.feed("520 End of proper usage.")
    assert reply is not None and reply.code == 520


@pytest.mark.parametrize("line", ["", "hello", "2000 result=1", "200 ok"])
def test_garbage_replies_raise(line: str) -> None:
    with pytest.raises(AgiProtocolError):
        parse_reply(line)


def test_env_rejects_non_agi_lines_and_quotes_commands() -> None:
    with pytest.raises(AgiProtocolError):
        parse_env(["GET / HTTP/1.1"])
    with pytest.raises(AgiProtocolError):
        parse_env(["agi_callerid: 1"])  # no script named
    quoted = command("SET VARIABLE", "CRM_CUSTOMER_NAME", 'A "B"')
    assert quoted == 'SET VARIABLE "CRM_CUSTOMER_NAME" "A \\"B\\""'
    assert script_name({"agi_request": "agi://127.0.0.1:4573/survey?x=1"}) == "survey"


# --- random inputs -------------------------------------------------------------------------------

FLOW_FILES = [load_flow(FLOWS / f"{name}.yaml") for name in ("ivr", "survey", "after_hours")]
results = st.one_of(
    st.none(), st.text(max_size=12), st.text(alphabet="0123456789*#", max_size=14), st.integers(),
    st.dictionaries(st.sampled_from(["name", "vip", "blacklisted", "category", "status", "id"]),
                    st.one_of(st.booleans(), st.text(max_size=8), st.integers()), max_size=5),
)


@settings(max_examples=200, deadline=None)
@given(flow_index=st.integers(0, 2), answers=st.lists(results, max_size=60), caller=st.text(max_size=15))
def test_engine_always_ends_with_a_terminal_action(flow_index: int, answers: list[Any], caller: str) -> None:
    engine = FlowEngine(FLOW_FILES[flow_index], context(caller=caller))
    action = engine.start()
    for count in range(1000):
        if action.terminal:
            break
        action = engine.resume(answers[count % len(answers)] if answers else None)
    assert isinstance(action, Terminal)


class _Writer:
    def __init__(self) -> None:
        self.data = bytearray()

    def write(self, data: bytes) -> None:
        self.data += data

    async def drain(self) -> None:
        return None

    def close(self) -> None:
        return None

    async def wait_closed(self) -> None:
        return None

    def get_extra_info(self, _name: str) -> None:
        return None


env_values = st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs")), max_size=20)
env_lines = st.one_of(
    st.tuples(st.sampled_from(["agi_network_script", "agi_callerid", "agi_uniqueid", "agi_arg_1", "agi_x"]),
              env_values).map(lambda kv: f"{kv[0]}: {kv[1]}"),
    env_values,
)
reply_lines = st.one_of(
    st.sampled_from(["200 result=1 (x)", "200 result=0", "200 result= (timeout)", "200 result=2",
                     "200 result=-1 endpos=0", "511 dead", "HANGUP", "100 result=0 Trying...", "520-usage"]),
    st.text(max_size=30).filter(lambda t: "\n" not in t and "\r" not in t),
)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    env=st.lists(env_lines, max_size=8),
    flow=st.sampled_from(["ivr", "survey", "after_hours", "nope", ""]),
    replies=st.lists(reply_lines, max_size=40),
)
def test_random_sessions_never_get_stuck(env: list[str], flow: str, replies: list[str]) -> None:
    async def scenario() -> IVRServer:
        server = IVRServer(Settings(agi_session_timeout_s=5.0), _ignore, InMemoryDirectory(), FLOWS, CALENDAR)
        reader = asyncio.StreamReader()
        head = [f"agi_network_script: {flow}", *env]
        reader.feed_data(("\n".join(head) + "\n\n" + "\n".join(replies) + "\n").encode())
        reader.feed_eof()
        await asyncio.wait_for(server.serve_connection(reader, _Writer()), 10)  # type: ignore[arg-type]
        return server

    server = asyncio.run(scenario())
    assert server.stats.sessions_active == 0 and server.stats.sessions_total == 1


async def _ignore(_event: dict[str, Any]) -> None:
    return None


def test_recorded_environment_runs_a_flow_over_tcp() -> None:
    """The exact environment Asterisk 22 sent, answered the way Asterisk answers."""

    async def scenario() -> tuple[list[dict[str, Any]], AsteriskResponder]:
        events: list[dict[str, Any]] = []

        async def publish(event: dict[str, Any]) -> None:
            events.append(event)

        server = IVRServer(Settings(agi_port=0), publish, InMemoryDirectory(), FLOWS, CALENDAR,
                           clock=lambda: OPEN_TIME)
        await server.start()
        responder = AsteriskResponder(AgiScript("ivr", dtmf=["1"], linkedid="1795451209.0"))
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(("\n".join(recorded_env_lines()) + "\n\n").encode())
        while line := await asyncio.wait_for(reader.readline(), 5):
            writer.write((responder.answer(line.decode().rstrip("\n")) + "\n").encode())
        writer.close()
        await server.stop()
        return events, responder

    events, responder = asyncio.run(scenario())
    assert responder.transcript.variables["QUEUE_NAME"] == "sales"
    assert {e["call_id"] for e in events} == {"1795451209.0"}

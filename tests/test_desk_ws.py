"""The /ws endpoint: a session is required, an agent gets only its own pops, a reconnect resumes."""

from __future__ import annotations

import asyncio
import json
import socket
from contextlib import suppress

import pytest
import uvicorn
import websockets
from starlette.websockets import WebSocketDisconnect
from test_desk_support import FakeRuntime

from agent_desk.app import create_app
from agent_desk.ws import TransportSink, hub_for
from config import Settings

pytest_plugins = ["crm_core.testing", "test_desk_support"]


def pop(call_id: str, agent: str, name: str = "<img src=x onerror=alert(1)>") -> dict:
    return {"type": "screen.pop", "call_id": call_id, "agent": agent, "caller": {"number": "13812345678"},
            "customer": {"id": 1, "name": name}, "candidates": [], "open_tickets": [], "recent_orders": [],
            "recent_calls": [], "ivr_path": [], "queue": "support", "wait_s": 3.0}


def publish(desk, event: dict) -> dict:
    """Publish on the app's bus and let the hub route it."""
    hub = hub_for(desk.client.app)

    async def run() -> dict:
        published = await desk.runtime.bus.publish(dict(event))
        for _ in range(200):
            if hub.last_seq >= published["seq"]:
                break
            await asyncio.sleep(0.005)
        return published

    return desk.client.portal.call(run)


def receive_until(ws, kind: str) -> dict:
    for _ in range(50):
        frame = ws.receive_json()
        if frame["type"] == kind:
            return frame
    raise AssertionError(f"no {kind} frame")


def test_a_socket_without_session_is_refused(desk):
    client = desk.logout()
    with pytest.raises(WebSocketDisconnect) as refused, client.websocket_connect("/ws"):
        pass
    assert refused.value.code == 4401


def test_an_agent_receives_its_own_pop_and_not_another_agents(desk):
    client = desk.login("agent_a")
    with client.websocket_connect("/ws") as ws:
        hello = ws.receive_json()
        assert hello["type"] == "hub.hello" and hello["agent"] == "1001" and hello["supervisor"] is False
        publish(desk, pop("c-other", "1002"))
        publish(desk, pop("c-mine", "1001"))
        frame = ws.receive_json()
        assert frame["type"] == "screen.pop" and frame["call_id"] == "c-mine"
        assert frame["customer"]["name"] == "<img src=x onerror=alert(1)>"
        assert isinstance(frame["seq"], int)


def test_a_reconnect_with_since_replays_the_pop_it_missed(desk):
    client = desk.login("agent_a")
    with client.websocket_connect("/ws") as ws:
        last = ws.receive_json()["seq"]
    publish(desk, {"type": "call.ringing", "call_id": "c7", "agent": "1001",
                   "channel": "Local/1001@agents-1;1", "caller": {"number": "5551234"},
                   "callee": {"extension": "1001"}, "queue": "support"})
    publish(desk, pop("c7", "1001"))
    with client.websocket_connect(f"/ws?since={last}") as ws:
        hello = ws.receive_json()
        assert hello["resumed"] is True and hello["gap"] is False
        assert [ws.receive_json()["type"] for _ in range(2)] == ["call.ringing", "screen.pop"]


def test_a_supervisor_receives_queue_stats_and_agent_states(desk):
    client = desk.login("sup_a")
    with client.websocket_connect("/ws") as ws:
        assert ws.receive_json()["supervisor"] is True
        publish(desk, {"type": "queue.stats", "queue": "support", "waiting": 1})
        publish(desk, {"type": "agent.state", "agent": "1002", "extension": "1002", "state": "paused",
                       "reason": "lunch", "queues": ["support"]})
        assert [ws.receive_json()["type"] for _ in range(2)] == ["queue.stats", "agent.state"]


def test_ping_is_answered_with_the_newest_seq(desk):
    client = desk.login("agent_a")
    with client.websocket_connect("/ws") as ws:
        ws.receive_json()
        ws.send_text("ping")
        assert ws.receive_json()["type"] == "hub.pong"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def wait_until_started(server: uvicorn.Server) -> None:
    for _ in range(500):
        if server.started:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("uvicorn did not start")


async def test_under_uvicorn_frames_are_written_straight_to_the_transport(desk_database, desk_url, tmp_path):
    """With a real server the hub writes pre-built frames to the socket; a client reads them intact."""
    await straight_to_the_transport(desk_database, desk_url, tmp_path)


def test_under_uvloop_too_frames_are_written_straight_to_the_transport(desk_database, desk_url, tmp_path):
    """``callcenter serve`` runs on uvloop, whose TCPTransport is no asyncio.WriteTransport subclass."""
    import uvloop

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(straight_to_the_transport(desk_database, desk_url, tmp_path))


async def straight_to_the_transport(desk_database, desk_url, tmp_path) -> None:
    settings = Settings(database_url=desk_url, data_dir=tmp_path)
    runtime = FakeRuntime()
    app = create_app(settings, runtime)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    serving = asyncio.create_task(server.serve())
    try:
        await wait_until_started(server)
        token, _ = desk_database.tokens["agent_a"]
        headers = {"Cookie": f"cc_session={token}"}
        async with websockets.connect(f"ws://127.0.0.1:{port}/ws", additional_headers=headers) as ws:
            assert json.loads(await ws.recv())["type"] == "hub.hello"
            hub = hub_for(app)
            (conn,) = hub._connections()
            assert isinstance(conn.sink, TransportSink)
            big = pop("c-big", "1001", name="客户" * 40000)  # a frame with a 64-bit length
            await runtime.bus.publish(pop("c1", "1001"))
            await runtime.bus.publish(big)
            first, second = json.loads(await ws.recv()), json.loads(await ws.recv())
            assert (first["call_id"], second["call_id"]) == ("c1", "c-big")
            assert second["customer"]["name"] == big["customer"]["name"]
    finally:
        server.should_exit = True
        with suppress(asyncio.CancelledError):
            await serving

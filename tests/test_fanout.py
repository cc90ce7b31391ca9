"""Wallboard fan-out: one frame per scope group, straight to the transports, on uvloop and asyncio alike;
``queue.stats`` coalesced per queue by ``CC_WALLBOARD_UPDATES_PER_S`` on the way to the sockets; a slow or
closed socket never stops the others."""

from __future__ import annotations

import asyncio
import json
import sys
from contextlib import suppress
from pathlib import Path

import pytest
import uvicorn
import websockets
from test_desk_support import FakeRuntime
from test_desk_ws import free_port, wait_until_started

from agent_desk.api import ws as ws_routes
from agent_desk.app import create_app
from agent_desk.runtime import _make_live_board
from agent_desk.ws import Connection, TransportSink, WebSocketHub, hub_for
from config import Settings

sys.path.insert(0, str(Path(__file__).parent / "fixtures" / "stats"))
from stats_events import EventLog

pytest_plugins = ["crm_core.testing", "test_desk_support"]

A = frozenset({"1001", "agent_a"})
B = frozenset({"2001", "agent_b"})


class Transport:
    """A transport as the hub meets it on uvloop: the methods only, no asyncio class."""

    def __init__(self, unsent: int = 0, closing: bool = False, refuses: bool = False) -> None:
        self.written: list[bytes] = []
        self.unsent = unsent
        self.closing = closing
        self.refuses = refuses
        self.aborted = False

    def write(self, data: bytes) -> None:
        if self.refuses:
            raise RuntimeError("unable to perform operation on <TCPTransport closed=True>")
        self.written.append(data)

    def is_closing(self) -> bool:
        return self.closing or self.aborted

    def get_write_buffer_size(self) -> int:
        return self.unsent

    def abort(self) -> None:
        self.aborted = True

    def seen(self) -> list[tuple[str, str | None]]:
        events = [json.loads(frame[2:] if frame[1] < 126 else frame[4:]) for frame in self.written]
        return [(e["type"], e.get("agent") or e.get("queue")) for e in events if e["type"] != "hub.hello"]


def tab(hub: WebSocketHub, scope: frozenset[str] | None, transport: Transport | None = None) -> Transport:
    transport = transport or Transport()
    hub.register(Connection(1, None, True, TransportSink(transport, hub.max_socket_buffer), scope), None)
    return transport


def state(seq: int, agent: str) -> dict:
    return {"type": "agent.state", "seq": seq, "agent": agent, "extension": agent, "state": "paused", "reason": ""}


def test_each_scope_gets_exactly_its_frames_and_a_group_shares_one_frame():
    hub = WebSocketHub()
    tabs = {name: [tab(hub, scope) for _ in range(3)] for name, scope in (("a", A), ("b", B), ("all", None))}
    hub.dispatch(state(1, "1001"))
    hub.dispatch(state(2, "2001"))
    hub.dispatch({"type": "queue.stats", "seq": 3, "queue": "support", "waiting": 1})
    expected = {
        "a": [("agent.state", "1001"), ("queue.stats", "support")],
        "b": [("agent.state", "2001"), ("queue.stats", "support")],
        "all": [("agent.state", "1001"), ("agent.state", "2001"), ("queue.stats", "support")],
    }
    for name, transports in tabs.items():
        assert [t.seen() for t in transports] == [expected[name]] * 3
    stats_frames = {id(t.written[-1]) for transports in tabs.values() for t in transports}
    assert len(stats_frames) == 1  # encoded once, the same bytes written to all nine sockets


def test_a_full_a_closing_and_a_refusing_socket_do_not_stop_the_others():
    hub = WebSocketHub(max_socket_buffer=1000)
    first = tab(hub, None)
    full, closing, refusing = tab(hub, None), tab(hub, A), tab(hub, None)
    last = tab(hub, A)
    full.unsent, closing.closing, refusing.refuses = 5000, True, True
    assert hub.dispatch({"type": "queue.stats", "seq": 1, "queue": "support", "waiting": 1}) == 2
    assert first.seen() == last.seen() == [("queue.stats", "support")]
    assert full.aborted and closing.aborted and refusing.aborted
    assert hub.stats.dropped_sockets == 3 and hub.connection_count() == 2
    hub.dispatch({"type": "queue.stats", "seq": 2, "queue": "support", "waiting": 2})
    assert len(first.seen()) == len(last.seen()) == 2


def test_queue_stats_reach_the_wallboard_at_the_configured_rate_the_last_numbers_winning():
    """``CC_WALLBOARD_UPDATES_PER_S`` through the runtime's board to a wallboard socket: 100 calls/s for
    4 s make at most two updates a second per queue, and the last one carries the final numbers."""
    rate = 2.0
    board = _make_live_board(Settings(wallboard_updates_per_s=rate, desk_queues=["support", "sales"]))
    hub = WebSocketHub()
    wallboard = tab(hub, None)
    t0 = 1_795_000_000.0
    log = EventLog()
    for n in range(400):
        log.join(t0 + n / 100, f"c{n}", ("support", "sales")[n % 2])
    seq, tick = 0, t0

    def publish(events: list[dict]) -> None:
        nonlocal seq
        for event in events:
            seq += 1
            hub.dispatch({**event, "seq": seq})

    for event in log.ordered():
        now = t0 + (event["seq"] - 1) / 100
        while tick + 0.5 <= now:  # serve's flush loop
            tick += 0.5
            publish(board.flush(tick))
        publish(board.apply(event, now))
    publish(board.flush(t0 + 10))  # what was held back goes out at the next flush, never lost
    frames = [json.loads(f[4:] if f[1] == 126 else f[2:]) for f in wallboard.written[1:]]
    for queue in ("support", "sales"):
        mine = [f for f in frames if f["queue"] == queue]
        assert 1 < len(mine) <= 4 * rate + 2
        assert mine[-1]["today"]["offered"] == 200 and mine[-1]["waiting"] == 200


def test_with_no_rate_every_change_reaches_the_wallboard():
    board = _make_live_board(Settings(wallboard_updates_per_s=0, desk_queues=["support"]))
    hub = WebSocketHub()
    wallboard = tab(hub, None)
    log = EventLog()
    for n in range(5):
        log.join(1_795_000_000.0 + n, f"c{n}", "support")
    for event in log.ordered():
        for out in board.apply(event, 1_795_000_000.0 + event["seq"]):
            hub.dispatch(out)
    assert [q for _, q in wallboard.seen()] == ["support"] * 5


# --- the fast path under a real server, on both loops ---------------------------------------------------


class NoFallback:
    def __init__(self, *args: object) -> None:
        raise AssertionError("the hub fell back to the queue-and-task sink: no transport was found")


async def wallboards_straight_to_the_transport(desk_database, desk_url, tmp_path) -> None:
    runtime = FakeRuntime()
    app = create_app(Settings(database_url=desk_url, data_dir=tmp_path), runtime)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    serving = asyncio.create_task(server.serve())
    try:
        await wait_until_started(server)
        sockets = []
        for user in ("sup_a", "sup_a", "admin"):
            token, _ = desk_database.tokens[user]
            ws = await websockets.connect(
                f"ws://127.0.0.1:{port}/ws", additional_headers={"Cookie": f"cc_session={token}"}
            )
            assert json.loads(await ws.recv())["type"] == "hub.hello"
            sockets.append(ws)
        hub = hub_for(app)
        assert all(isinstance(c.sink, TransportSink) for c in hub._connections())
        await runtime.bus.publish(state(0, "2001"))  # department B's agent: the admin's only
        await runtime.bus.publish({"type": "queue.stats", "queue": "support", "waiting": 3})
        seen = [[], [], []]
        for ws, got in zip(sockets, seen, strict=True):
            while not got or got[-1][0] != "queue.stats":
                event = json.loads(await asyncio.wait_for(ws.recv(), 10))
                got.append((event["type"], event.get("agent") or event.get("queue")))
        assert seen == [[("queue.stats", "support")]] * 2 + [[("agent.state", "2001"), ("queue.stats", "support")]]
        for ws in sockets:
            await ws.close()
    finally:
        server.should_exit = True
        with suppress(asyncio.CancelledError):
            await serving


async def test_under_asyncio_wallboards_get_their_frames_straight_from_the_transport(
    desk_database, desk_url, tmp_path, monkeypatch
):
    monkeypatch.setattr(ws_routes, "QueueSink", NoFallback)
    await wallboards_straight_to_the_transport(desk_database, desk_url, tmp_path)


def test_under_uvloop_wallboards_get_their_frames_straight_from_the_transport(
    desk_database, desk_url, tmp_path, monkeypatch
):
    import uvloop

    monkeypatch.setattr(ws_routes, "QueueSink", NoFallback)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(wallboards_straight_to_the_transport(desk_database, desk_url, tmp_path))


@pytest.mark.parametrize("scope", [A, None])
def test_a_supervisor_who_is_an_agent_too_gets_each_frame_once(scope):
    hub = WebSocketHub()
    transport = Transport()
    hub.register(Connection(1, "1001", True, TransportSink(transport, hub.max_socket_buffer), scope), None)
    hub.dispatch(state(1, "1001"))
    assert transport.seen() == [("agent.state", "1001")]

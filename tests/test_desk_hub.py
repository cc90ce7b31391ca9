"""The websocket hub's routing, replay buffer and fan-out, without a server."""

from __future__ import annotations

import asyncio
import json

from agent_desk.ws import (
    BufferedFrame,
    Connection,
    EventRouter,
    ReplayBuffer,
    TransportSink,
    WebSocketHub,
    find_transport,
    text_frame,
)
from cti.bus.memory import InProcessBus


class ListSink:
    def __init__(self, accept: int = 1_000_000) -> None:
        self.texts: list[str] = []
        self.frames: list[bytes] = []
        self.accept = accept
        self.closed = False

    def write(self, text: str, frame: bytes) -> bool:
        if len(self.texts) >= self.accept:
            return False
        self.texts.append(text)
        self.frames.append(frame)
        return True

    def close(self) -> None:
        self.closed = True

    @property
    def events(self) -> list[dict]:
        return [json.loads(t) for t in self.texts]


def ringing(seq: int, call_id: str, agent: str) -> dict:
    return {
        "type": "call.ringing",
        "seq": seq,
        "call_id": call_id,
        "channel": f"Local/{agent}@agents-0001;1",
        "caller": {"number": "5551234", "name": "PSTN 5551234"},
        "callee": {"number": agent, "name": "", "extension": agent},
        "agent": agent,
        "queue": "support",
    }


def connect(hub: WebSocketHub, agent: str | None, supervisor: bool = False, since: int | None = None):
    sink = ListSink()
    conn = Connection(1, agent, supervisor, sink)
    hub.register(conn, since)
    return conn, sink


def test_an_agent_receives_only_its_own_calls_and_pops():
    hub = WebSocketHub()
    _, s1001 = connect(hub, "1001")
    _, s1002 = connect(hub, "1002")
    hub.dispatch(ringing(1, "c1", "1001"))
    hub.dispatch({"type": "screen.pop", "seq": 2, "call_id": "c1", "agent": "1001", "customer": None})
    hub.dispatch({"type": "call.hangup", "seq": 3, "call_id": "c1", "channel": "x", "cause": 16})
    hub.dispatch({"type": "call.hangup", "seq": 4, "call_id": "other", "channel": "y", "cause": 16})
    assert [e["seq"] for e in s1001.events[1:]] == [1, 2, 3]
    assert [e["type"] for e in s1002.events] == ["hub.hello"]


def test_supervisors_get_queue_stats_and_every_agent_state_agents_do_not_get_queue_stats():
    hub = WebSocketHub()
    _, agent = connect(hub, "1001")
    _, supervisor = connect(hub, None, supervisor=True)
    hub.dispatch({"type": "queue.stats", "seq": 1, "queue": "support", "waiting": 2})
    hub.dispatch({"type": "agent.state", "seq": 2, "agent": "1002", "extension": "1002", "state": "paused"})
    hub.dispatch({"type": "agent.state", "seq": 3, "agent": "1001", "extension": "1001", "state": "idle"})
    assert [e["seq"] for e in supervisor.events[1:]] == [1, 2, 3]
    assert [e["seq"] for e in agent.events[1:]] == [3]


def test_every_frame_carries_seq_and_the_frame_is_a_websocket_text_frame():
    hub = WebSocketHub()
    _, sink = connect(hub, "1001")
    hub.dispatch(ringing(7, "c1", "1001"))
    assert all("seq" in e for e in sink.events)
    payload = sink.texts[-1].encode()
    assert sink.frames[-1] == text_frame(payload)
    assert sink.frames[-1][0] == 0x81


def test_text_frame_lengths_use_the_extended_length_forms():
    assert text_frame(b"a" * 125)[1] == 125
    long = text_frame(b"a" * 300)
    assert long[1] == 126 and int.from_bytes(long[2:4], "big") == 300
    huge = text_frame(b"a" * 70000)
    assert huge[1] == 127 and int.from_bytes(huge[2:10], "big") == 70000


def test_reconnect_with_since_replays_what_the_agent_missed_in_order():
    hub = WebSocketHub()
    conn, _ = connect(hub, "1001")
    hub.dispatch(ringing(1, "c1", "1001"))
    hub.unregister(conn)  # the network blips
    hub.dispatch({"type": "screen.pop", "seq": 2, "call_id": "c1", "agent": "1001"})
    hub.dispatch(ringing(3, "c2", "1002"))
    hub.dispatch({"type": "call.answered", "seq": 4, "call_id": "c1", "agent": "1001"})
    _, again = connect(hub, "1001", since=1)
    hello, *missed = again.events
    assert hello["type"] == "hub.hello" and hello["resumed"] is True and hello["gap"] is False
    assert [(e["seq"], e["type"]) for e in missed] == [(2, "screen.pop"), (4, "call.answered")]


def test_a_resume_older_than_the_buffer_reports_a_gap():
    hub = WebSocketHub(buffer_len=3)
    for seq in range(1, 8):
        hub.dispatch({"type": "screen.pop", "seq": seq, "call_id": f"c{seq}", "agent": "1001"})
    _, sink = connect(hub, "1001", since=2)
    hello, *missed = sink.events
    assert hello["gap"] is True
    assert [e["seq"] for e in missed] == [5, 6, 7]


def test_a_resume_from_before_a_server_restart_reports_a_gap():
    hub = WebSocketHub()  # a restarted process: its bus numbers events from 1 again
    hub.dispatch({"type": "screen.pop", "seq": 1, "call_id": "c1", "agent": "1001"})
    _, sink = connect(hub, "1001", since=50_000)
    hello, *missed = sink.events
    assert hello["gap"] is True and hello["seq"] == 1
    assert missed == []


def test_a_fresh_tab_gets_the_live_calls_and_the_last_state_but_not_ended_calls():
    hub = WebSocketHub()
    hub.dispatch({"type": "agent.state", "seq": 1, "agent": "1001", "extension": "1001", "state": "paused",
                  "reason": "lunch"})
    hub.dispatch(ringing(2, "old", "1001"))
    hub.dispatch({"type": "call.ended", "seq": 3, "call_id": "old", "answered": True})
    hub.dispatch(ringing(4, "live", "1001"))
    _, sink = connect(hub, "1001")
    assert [(e["type"], e.get("call_id")) for e in sink.events[1:]] == [
        ("agent.state", None),
        ("call.ringing", "live"),
    ]
    assert sink.events[0]["seq"] == 4


def test_a_slow_socket_is_dropped_and_others_still_receive():
    hub = WebSocketHub()
    _, slow = connect(hub, "1001")
    slow.accept = len(slow.texts)  # its buffer is full from now on
    _, fast = connect(hub, "1001")
    hub.dispatch(ringing(1, "c1", "1001"))
    hub.dispatch({"type": "screen.pop", "seq": 2, "call_id": "c1", "agent": "1001"})
    assert slow.closed
    assert hub.stats.dropped_sockets == 1
    assert [e["seq"] for e in fast.events[1:]] == [1, 2]
    assert hub.connection_count() == 1


def test_router_forgets_a_call_after_call_ended():
    router = EventRouter()
    router.route(ringing(1, "c1", "1001"))
    assert router.agents_of("c1") == {"1001"}
    assert router.route({"type": "call.ended", "call_id": "c1"}).agents == {"1001"}
    assert not router.is_live("c1")
    assert router.route({"type": "call.hangup", "call_id": "c1"}).empty


def test_click_to_dial_call_new_names_the_agent_as_caller():
    router = EventRouter()
    route = router.route({"type": "call.new", "call_id": "o1", "direction": "outbound",
                          "caller": {"number": "1003", "name": "Agent 1003"}, "dialed": "5559999"})
    assert route.agents == {"1003"}
    assert router.route({"type": "call.new", "call_id": "i1", "direction": "inbound",
                         "caller": {"number": "5551234"}}).empty


def test_replay_buffer_is_bounded():
    buffer = ReplayBuffer(2)
    for seq in (1, 2, 3):
        buffer.append(BufferedFrame(seq, str(seq), None, "screen.pop"))
    assert [f.seq for f in buffer.frames] == [2, 3]
    missed, gap = buffer.since(0)
    assert [f.seq for f in missed] == [2, 3] and gap is True
    missed, gap = buffer.since(1)
    assert [f.seq for f in missed] == [2, 3] and gap is False


async def test_hub_reads_the_bus():
    bus = InProcessBus()
    hub = WebSocketHub(bus)
    await hub.start()
    try:
        _, sink = connect(hub, "1001")
        await bus.publish(ringing(0, "c9", "1001"))
        for _ in range(100):
            if len(sink.texts) > 1:
                break
            await asyncio.sleep(0.01)
        ev = sink.events[-1]
        assert ev["type"] == "call.ringing" and ev["seq"] >= 1
    finally:
        await hub.stop()


def test_disconnect_closes_the_agents_tabs_only():
    hub = WebSocketHub()
    _, mine = connect(hub, "1001")
    _, other = connect(hub, "1002")
    assert hub.disconnect("1001") == 1
    assert mine.closed and not other.closed
    hub.dispatch(ringing(1, "c1", "1001"))
    assert len(mine.texts) == 1  # only the hello it got before


class DuckTransport:
    """Like uvloop's TCPTransport: the methods of a write transport, but no asyncio.WriteTransport subclass."""

    def __init__(self) -> None:
        self.written: list[bytes] = []
        self.unsent = 0
        self.aborted = False

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def is_closing(self) -> bool:
        return self.aborted

    def get_write_buffer_size(self) -> int:
        return self.unsent

    def abort(self) -> None:
        self.aborted = True


class DuckProtocol:
    def __init__(self, transport: DuckTransport) -> None:
        self.transport = transport

    async def send(self, message: dict) -> None:
        raise AssertionError("frames must go to the transport, not through the ASGI send")


def test_a_transport_found_by_its_methods_gets_the_frames_and_a_full_one_is_dropped():
    duck = DuckTransport()
    asgi_send = DuckProtocol(duck).send

    def starlette_wrapper(message: dict) -> None:  # the closure a framework wraps around the server's send
        return asgi_send(message)

    transport = find_transport(starlette_wrapper)
    assert transport is duck
    hub = WebSocketHub(max_socket_buffer=1000)
    hub.register(Connection(1, None, True, TransportSink(duck, hub.max_socket_buffer)), None)
    hub.dispatch({"type": "queue.stats", "seq": 1, "queue": "support", "waiting": 1})
    assert [f[0] for f in duck.written] == [0x81, 0x81]  # the hello and the stats, as text frames
    duck.unsent = 5000  # the client stopped reading
    hub.dispatch({"type": "queue.stats", "seq": 2, "queue": "support", "waiting": 2})
    assert duck.aborted and hub.stats.dropped_sockets == 1 and hub.connection_count() == 0
    assert len(duck.written) == 2

"""The supervisors' batch window (CC_WALLBOARD_BATCH_MS): the latest agent.state per agent and queue.stats per
queue are held per scope group and released together, in seq order, in one write per socket; an agent's own
frames are never held; a ``?since=`` resume rebuilds the same state. The window is ended by hand here
(``release_batches``), as its timer would."""

from __future__ import annotations

import asyncio
import json

from agent_desk.ws import Connection, TransportSink, WebSocketHub
from config import Settings

A = frozenset({"1001"})


class Transport:
    def __init__(self) -> None:
        self.written: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def is_closing(self) -> bool:
        return False

    def get_write_buffer_size(self) -> int:
        return 0

    def abort(self) -> None:
        pass

    def events(self) -> list[dict]:
        """Every websocket frame of every write, parsed as a browser would (several frames per write)."""
        found = []
        for data in self.written:
            while data:
                size, start = data[1], 2
                if size == 126:
                    size, start = int.from_bytes(data[2:4], "big"), 4
                found.append(json.loads(data[start : start + size]))
                data = data[start + size :]
        return [e for e in found if e["type"] != "hub.hello"]


def tab(hub: WebSocketHub, agent: str | None, supervisor: bool, scope=None, since=None) -> Transport:
    transport = Transport()
    hub.register(Connection(1, agent, supervisor, TransportSink(transport, 1 << 20), scope), since)
    if since is None:
        transport.written.clear()  # the hello frame
    return transport


def state(seq: int, agent: str, value: str) -> dict:
    return {"type": "agent.state", "seq": seq, "agent": agent, "extension": agent, "state": value, "reason": ""}


def stats(seq: int, queue: str, waiting: int) -> dict:
    return {"type": "queue.stats", "seq": seq, "queue": queue, "waiting": waiting}


def latest(events: list[dict]) -> dict:
    """What a wallboard shows after these frames: the latest state of each agent and queue."""
    board: dict = {}
    for e in events:
        board[(e["type"], e.get("agent") or e.get("queue"))] = e.get("state", e.get("waiting"))
    return board


def test_the_setting_has_its_documented_default():
    assert Settings().wallboard_batch_ms == 250


def test_the_latest_state_wins_within_a_window_and_is_never_lost():
    hub = WebSocketHub(batch_ms=250)
    wall = tab(hub, None, True)
    hub.dispatch(state(1, "1001", "available"))
    hub.dispatch(stats(2, "support", 1))
    hub.dispatch(state(3, "1001", "ringing"))
    hub.dispatch(state(4, "1002", "paused"))
    hub.dispatch(stats(5, "support", 0))
    hub.dispatch(state(6, "1001", "on_call"))
    assert wall.written == []  # held until the window ends
    hub.release_batches()
    assert len(wall.written) == 1  # one write for the whole window
    assert [e["seq"] for e in wall.events()] == [4, 5, 6]  # the latest of each, in seq order
    assert latest(wall.events()) == {
        ("agent.state", "1001"): "on_call",
        ("agent.state", "1002"): "paused",
        ("queue.stats", "support"): 0,
    }
    hub.release_batches()  # an empty window writes nothing
    assert len(wall.written) == 1


def test_each_scope_group_gets_only_its_agents_and_every_queue():
    hub = WebSocketHub(batch_ms=250)
    mine, everyone = tab(hub, None, True, A), tab(hub, None, True, None)
    hub.dispatch(state(1, "1001", "paused"))
    hub.dispatch(state(2, "2001", "paused"))
    hub.dispatch(stats(3, "support", 2))
    hub.release_batches()
    assert [(e["type"], e.get("agent")) for e in mine.events()] == [("agent.state", "1001"), ("queue.stats", None)]
    assert [e["seq"] for e in everyone.events()] == [1, 2, 3]


def test_an_agents_pop_and_call_events_are_not_batched():
    hub = WebSocketHub(batch_ms=250)
    desk, wall = tab(hub, "1001", False), tab(hub, None, True)
    hub.dispatch(state(1, "1001", "ringing"))
    hub.dispatch({"type": "screen.pop", "seq": 2, "call_id": "c1", "agent": "1001", "caller": {"number": "5"}})
    hub.dispatch({"type": "call.answered", "seq": 3, "call_id": "c1", "agent": "1001"})
    assert [e["seq"] for e in desk.events()] == [1, 2, 3]  # at once, nothing waits for the window
    assert wall.events() == []
    hub.release_batches()
    assert [e["seq"] for e in wall.events()] == [1]


def test_a_tab_that_is_agent_and_supervisor_keeps_seq_order():
    hub = WebSocketHub(batch_ms=250)
    both = tab(hub, "1001", True)
    hub.dispatch(state(1, "2001", "paused"))
    hub.dispatch({"type": "screen.pop", "seq": 2, "call_id": "c1", "agent": "1001", "caller": {"number": "5"}})
    hub.dispatch(state(3, "1001", "on_call"))  # its own state: not held for it
    hub.dispatch(state(4, "2001", "available"))
    hub.release_batches()
    assert [e["seq"] for e in both.events()] == [1, 2, 3, 4]


def test_frames_that_hold_no_state_keep_their_order():
    hub = WebSocketHub(batch_ms=250)
    wall = tab(hub, None, True)
    hub.dispatch(state(1, "1001", "paused"))
    hub.dispatch({"type": "agent.state", "seq": 2, "state": "paused"})  # names no agent: no latest to win
    hub.dispatch(state(3, "1001", "available"))
    hub.dispatch({"type": "queue.joined", "seq": 4, "call_id": "c1", "queue": "support"})  # reaches no tab
    hub.release_batches()
    assert [e["seq"] for e in wall.events()] == [1, 2, 3]


def test_a_resume_after_a_batch_rebuilds_the_same_state():
    hub = WebSocketHub(batch_ms=250)
    live = tab(hub, None, True)
    for seq, (agent, value) in enumerate([("1001", "ringing"), ("1002", "paused"), ("1001", "on_call")], 1):
        hub.dispatch(state(seq, agent, value))
    hub.dispatch(stats(4, "support", 3))
    hub.release_batches()
    resumed = tab(hub, None, True, since=0)
    assert latest(resumed.events()) == latest(live.events())
    hub.dispatch(state(5, "1002", "available"))
    hub.release_batches()
    assert latest(resumed.events()) == latest(live.events())
    assert latest(live.events())[("agent.state", "1002")] == "available"


def test_no_window_writes_each_frame_at_once():
    hub = WebSocketHub(batch_ms=0)
    wall = tab(hub, None, True)
    hub.dispatch(state(1, "1001", "paused"))
    hub.dispatch(state(2, "1001", "available"))
    assert len(wall.written) == 2


def test_the_window_ends_by_itself_on_the_loop():
    async def scenario() -> list[int]:
        hub = WebSocketHub(batch_ms=5)
        wall = tab(hub, None, True)
        hub.dispatch(state(1, "1001", "paused"))
        hub.dispatch(state(2, "1001", "available"))
        for _ in range(500):  # waits for the timer; asserts no duration
            if wall.written:
                break
            await asyncio.sleep(0.01)
        await hub.stop()
        return [e["seq"] for e in wall.events()]

    assert asyncio.run(scenario()) == [2]

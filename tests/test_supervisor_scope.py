"""A department supervisor watches his departments' agents only: on the websocket (live and on a
``?since=`` resume) and on the wallboard's and monitor's REST answers; queue figures stay center-wide and
an administrator sees every agent. Agent 1001 is in department A (supervisor ``sup_a``), 2001 in B."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from test_desk_ws import publish

from agent_desk.ws import Connection, WebSocketHub
from stats.kpi import KpiSettings
from stats.live import LiveBoard

pytest_plugins = ["crm_core.testing", "test_desk_support"]

A = frozenset({"1001", "agent_a"})
B = frozenset({"2001", "agent_b"})
T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC).timestamp()


class ListSink:
    def __init__(self) -> None:
        self.texts: list[str] = []
        self.frames: list[bytes] = []

    def write(self, text: str, frame: bytes) -> bool:
        self.texts.append(text)
        self.frames.append(frame)
        return True

    def close(self) -> None:
        pass

    def seen(self) -> list[tuple[str, str | None]]:
        events = [json.loads(t) for t in self.texts]
        return [(e["type"], e.get("agent") or e.get("queue")) for e in events if e["type"] != "hub.hello"]


def state(seq: int, agent: str, value: str = "paused") -> dict:
    return {"type": "agent.state", "seq": seq, "agent": agent, "extension": agent, "state": value, "reason": ""}


def supervisor(
    hub: WebSocketHub, scope: frozenset[str] | None, since: int | None = None
) -> tuple[Connection, ListSink]:
    sink = ListSink()
    conn = Connection(1, None, True, sink, scope)
    hub.register(conn, since)
    return conn, sink


def test_a_department_supervisor_hears_only_of_his_agents_and_every_queue():
    hub = WebSocketHub()
    _, sup_a = supervisor(hub, A)
    _, sup_b = supervisor(hub, B)
    _, admin = supervisor(hub, None)
    hub.dispatch(state(1, "1001"))
    hub.dispatch(state(2, "2001"))
    hub.dispatch({"type": "queue.stats", "seq": 3, "queue": "support", "waiting": 1})
    # the per-call queue events reach no tab: no supervisor page draws them, queue.stats carries their sums
    hub.dispatch({"type": "queue.joined", "seq": 4, "call_id": "c1", "queue": "support", "position": 1})
    assert sup_a.seen() == [("agent.state", "1001"), ("queue.stats", "support")]
    assert sup_b.seen() == [("agent.state", "2001"), ("queue.stats", "support")]
    assert [kind for kind, _ in admin.seen()] == ["agent.state", "agent.state", "queue.stats"]


def test_a_frame_is_encoded_once_for_every_scope_that_receives_it():
    hub = WebSocketHub()
    sinks = [supervisor(hub, scope)[1] for scope in (A, A, B, None)]
    hub.dispatch({"type": "queue.stats", "seq": 1, "queue": "support", "waiting": 1})
    hub.dispatch(state(2, "1001"))
    first = sinks[0].frames[-2]
    assert all(s.frames[1] is first for s in sinks)  # the same bytes object on every socket
    receivers = [s for s in sinks if len(s.frames) == 3]
    assert len(receivers) == 3 and len({id(s.frames[-1]) for s in receivers}) == 1


def test_a_resume_replays_only_the_supervisors_scope():
    hub = WebSocketHub()
    conn, _ = supervisor(hub, A)
    hub.dispatch(state(1, "1001", "available"))
    hub.unregister(conn)  # the network blips
    hub.dispatch(state(2, "2001"))
    hub.dispatch(state(3, "1001", "paused"))
    hub.dispatch({"type": "queue.stats", "seq": 4, "queue": "support", "waiting": 2})
    _, again = supervisor(hub, A, since=1)
    hello = json.loads(again.texts[0])
    assert hello["resumed"] is True and hello["gap"] is False
    assert [json.loads(t)["seq"] for t in again.texts[1:]] == [3, 4]
    _, admin = supervisor(hub, None, since=1)
    assert [json.loads(t)["seq"] for t in admin.texts[1:]] == [2, 3, 4]


def test_a_supervisor_who_is_an_agent_gets_his_own_frames_once():
    hub = WebSocketHub()
    sink = ListSink()
    hub.register(Connection(1, "1001", True, sink, A), None)
    hub.dispatch(state(1, "1001"))
    assert sink.seen() == [("agent.state", "1001")]


# --- over the websocket ---------------------------------------------------------------------------------


def next_agent_state(ws) -> dict:
    for _ in range(20):
        frame = ws.receive_json()
        if frame["type"] == "agent.state":
            return frame
    raise AssertionError("no agent.state frame")


def test_the_socket_of_supervisor_a_never_carries_department_bs_agents(desk):
    client = desk.login("sup_a")
    with client.websocket_connect("/ws") as ws:
        last = ws.receive_json()["seq"]
        publish(desk, state(0, "2001"))
        publish(desk, state(0, "1001"))
        assert next_agent_state(ws)["agent"] == "1001"
    publish(desk, state(0, "2001", "available"))
    publish(desk, {"type": "queue.stats", "queue": "support", "waiting": 3})
    publish(desk, state(0, "1002", "available"))
    with client.websocket_connect(f"/ws?since={last}") as ws:
        assert ws.receive_json()["resumed"] is True
        replayed = [ws.receive_json() for _ in range(3)]
        assert [(e["type"], e.get("agent")) for e in replayed] == [
            ("agent.state", "1001"),
            ("queue.stats", None),
            ("agent.state", "1002"),
        ]
        ws.send_text("ping")
        assert ws.receive_json()["type"] == "hub.pong"  # nothing of 2001 was left to come


def test_an_administrator_hears_of_every_department(desk):
    client = desk.login("admin")
    with client.websocket_connect("/ws") as ws:
        assert ws.receive_json()["supervisor"] is True
        publish(desk, state(0, "2001"))
        publish(desk, state(0, "1001"))
        assert [next_agent_state(ws)["agent"] for _ in range(2)] == ["2001", "1001"]


# --- REST: the wallboard and the monitor ----------------------------------------------------------------


def board_with_agents() -> LiveBoard:
    board = LiveBoard(KpiSettings(), ["support"], tz="UTC", min_interval_s=0)
    for n, agent in enumerate(("1001", "1002", "2001")):
        ts = datetime.fromtimestamp(T0 + n, UTC).isoformat()
        board.apply({**state(n + 1, agent, "available"), "ts": ts, "queues": ["support"]}, T0 + 5)
    return board


def test_the_wallboard_lists_the_supervisors_agents_and_every_queue(desk):
    desk.runtime.board = board_with_agents()  # type: ignore[attr-defined]
    mine = desk.login("sup_a").get("/api/monitor/wallboard").json()
    assert [row["agent"] for row in mine["agents"]] == ["1001", "1002"]
    assert [q["queue"] for q in mine["queues"]] == ["support"]
    assert mine["queues"][0]["agents"]["logged_in"] == 3  # queue figures count the whole center
    every = desk.login("admin").get("/api/monitor/wallboard").json()
    assert [row["agent"] for row in every["agents"]] == ["1001", "1002", "2001"]


def test_the_monitor_shows_the_supervisors_seats_and_calls_and_the_queues_waiting(desk):
    desk.runtime.board = board_with_agents()  # type: ignore[attr-defined]
    party = {"role": "agent", "channel": "x", "number": "", "name": "", "state": "up"}
    desk.runtime.snapshot = {
        "calls": [
            {"call_id": "ca", "agent": "1001", "parties": [{**party, "extension": "1001"}]},
            {"call_id": "cb", "agent": "2001", "parties": [{**party, "extension": "2001"}]},
            {"call_id": "cq", "agent": None, "parties": [{**party, "role": "caller", "extension": None}]},
        ],
        "channels": [{"uniqueid": u, "call_id": c} for u, c in (("1", "ca"), ("2", "cb"), ("3", "cq"))],
        "queues": {"support": [{"call_id": "cq", "position": 1}]},
    }
    mine = desk.login("sup_a").get("/api/monitor/live").json()
    assert [s["agent"] for s in mine["seats"]] == ["1001", "1002"]
    assert [c["call_id"] for c in mine["calls"]] == ["ca", "cq"]
    assert [c["call_id"] for c in mine["channels"]] == ["ca", "cq"]
    assert mine["queues"] == {"support": [{"call_id": "cq", "position": 1}]}
    every = desk.login("admin").get("/api/monitor/live").json()
    assert [c["call_id"] for c in every["calls"]] == ["ca", "cb", "cq"]

"""A desk socket is registered under the extension its user had when it opened. When the binding changes (a
seat, an extension by hand, an administrator's edit), every node's hub hears of it on the bus and closes the
tabs the change made stale (close code 4409): no pop of the old extension reaches the old user."""

from __future__ import annotations

import pytest
from starlette.websockets import WebSocketDisconnect
from test_desk_ws import pop, publish

from agent_desk.ws import REBOUND, Connection, TransportSink, WebSocketHub, binding_event
from crm_core.models import Seat

pytest_plugins = ["crm_core.testing", "test_desk_support"]


class Transport:
    def __init__(self) -> None:
        self.written: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_write_buffer_size(self) -> int:
        return 0

    def abort(self) -> None:
        self.closed = True

    def pops(self) -> list[bytes]:
        return [data for data in self.written if b'"screen.pop"' in data]


def desk_tab(hub: WebSocketHub, user_id: int, extension: str, since: int | None = None) -> Transport:
    transport = Transport()
    hub.register(Connection(user_id, extension, False, TransportSink(transport, 1 << 20)), since)
    return transport


def test_a_seat_taken_on_the_desk_closes_the_old_socket_and_no_old_pop_reaches_it(desk):
    with desk.sessionmaker() as session:
        session.add(Seat(name="A-07", extension="1007"))
        session.commit()
    client = desk.login("agent_a")
    with client.websocket_connect("/ws") as ws:
        assert ws.receive_json()["agent"] == "1001"
        assert client.post("/api/desk/seat", json={"seat": "A-07"}).json()["extension"] == "1007"
        publish(desk, pop("c-old", "1001"))
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
        assert closed.value.code == REBOUND
    with client.websocket_connect("/ws") as ws:  # the desk reconnects under its seat's extension
        assert ws.receive_json()["agent"] == "1007"
        publish(desk, pop("c-old-2", "1001"))
        publish(desk, pop("c-new", "1007"))
        assert ws.receive_json()["call_id"] == "c-new"


def test_an_extension_bound_by_hand_moves_the_socket_too(desk):
    client = desk.login("agent_a")
    with client.websocket_connect("/ws") as ws:
        ws.receive_json()
        assert client.post("/api/desk/extension", json={"extension": "1008"}).status_code == 200
        publish(desk, pop("c-old", "1001"))
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
        assert closed.value.code == REBOUND


def test_the_previous_holders_socket_closes_when_another_user_takes_the_extension():
    hub = WebSocketHub()
    old_holder = desk_tab(hub, 1, "1007")
    hub.dispatch({**pop("c1", "1007"), "seq": 1})
    assert len(old_holder.pops()) == 1
    hub.dispatch({**binding_event(2, None, "1007"), "seq": 2})  # user 2 sits at the seat of 1007
    assert old_holder.closed and old_holder.written[-1][:4] == bytes((0x88, 35)) + REBOUND.to_bytes(2, "big")
    hub.dispatch({**pop("c2", "1007"), "seq": 3})
    assert len(old_holder.pops()) == 1  # the new holder's pop never reaches the old one
    new_holder = desk_tab(hub, 2, "1007", since=0)  # and the old holder's pops are not replayed to him
    assert [data for data in new_holder.pops() if b'"c1"' in data] == []


def test_a_user_left_unbound_loses_his_sockets_pops_and_others_keep_theirs():
    hub = WebSocketHub()
    leaving, staying = desk_tab(hub, 1, "1007"), desk_tab(hub, 3, "1009")
    hub.dispatch({**binding_event(1, "1007", None), "seq": 1})
    hub.dispatch({**pop("c1", "1007"), "seq": 2})
    hub.dispatch({**pop("c2", "1009"), "seq": 3})
    assert leaving.closed and leaving.pops() == []
    assert not staying.closed and len(staying.pops()) == 1
    assert hub.connection_count() == 1

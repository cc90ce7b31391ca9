"""``/ws``: one authenticated websocket per browser tab, fed by the websocket hub.

``?since=<seq>`` resumes after a reconnect: the hub replays what this agent missed. The client may send
``ping``; the answer is a ``hub.pong`` frame carrying the newest seq.

The socket is opened with the session cookie (browsers) or ``?ticket=`` from ``POST /api/auth/ws-ticket``
(API clients); a browser page of another site is refused by its ``Origin`` (close code 4403).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from agent_desk.deps import origin_allowed, ws_user
from agent_desk.ws import (
    Connection,
    QueueSink,
    Sink,
    TransportSink,
    encode_event,
    find_transport,
    hub_for,
    text_frame,
)

router = APIRouter()

# Close code for a socket opened without a valid session (4000-4999 are the application's own).
UNAUTHORIZED = 4401
FOREIGN_ORIGIN = 4403


def is_supervisor(user: Any) -> bool:
    """Supervisors (and administrators) watch every agent's state and the queues."""
    roles = set(getattr(user, "role_names", ()) or ())
    return bool(roles & {"supervisor", "admin"}) or bool(user.has_permission("supervisor", "monitor"))


def make_sink(websocket: WebSocket, max_buffer: int, queue_len: int) -> Sink:
    transport = find_transport(websocket._send)
    if transport is not None:
        return TransportSink(transport, max_buffer)
    return QueueSink(websocket.send_text, queue_len)


@router.websocket("/ws")
async def desk_socket(websocket: WebSocket, since: int | None = None) -> None:
    if not origin_allowed(websocket):
        await websocket.close(code=FOREIGN_ORIGIN)
        return
    user = await ws_user(websocket)
    if user is None:
        await websocket.close(code=UNAUTHORIZED)
        return
    hub = hub_for(websocket.app)
    await hub.start()
    await websocket.accept()
    sink = make_sink(websocket, hub.max_socket_buffer, hub.queue_len)
    conn = Connection(user.id, user.extension or None, is_supervisor(user), sink)
    hub.register(conn, since)
    try:
        while True:
            message = await websocket.receive_text()
            if message == "ping":
                pong = encode_event({"type": "hub.pong", "seq": hub.last_seq})
                if not sink.write(pong, text_frame(pong.encode())):
                    break
    except WebSocketDisconnect:
        pass
    finally:
        hub.unregister(conn)
        if isinstance(sink, QueueSink):
            sink.close()


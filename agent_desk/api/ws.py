"""``/ws``: one authenticated websocket per browser tab, fed by the websocket hub.

``?since=<seq>`` resumes after a reconnect: the hub replays what this agent missed. The client may send
``ping``; the answer is a ``hub.pong`` frame carrying the newest seq.

The socket is opened with the session cookie (browsers) or ``?ticket=`` from ``POST /api/auth/ws-ticket``
(API clients); a browser page of another site is refused by its ``Origin`` (close code 4403).

A supervisor's socket hears of the agents of its data scope only (``crm_core.permissions.agent_identities``,
the rule the reports and supervisor actions follow), worked out once when the socket opens.

A socket is registered under the extension its user had when it opened. A route that changes a binding
calls ``announce_binding`` once it is committed: the event goes over the bus to every node's hub, which
closes the tabs the change made stale (close code 4409); they reconnect under the binding of now.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from anyio import from_thread
from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from agent_desk.deps import app_sessionmaker, origin_allowed, ws_user
from agent_desk.ws import (
    Connection,
    QueueSink,
    Scope,
    Sink,
    TransportSink,
    binding_event,
    encode_event,
    find_transport,
    hub_for,
    text_frame,
)
from crm_core.permissions import agent_identities

router = APIRouter()

# Close code for a socket opened without a valid session (4000-4999 are the application's own).
UNAUTHORIZED = 4401
FOREIGN_ORIGIN = 4403


def is_supervisor(user: Any) -> bool:
    """Supervisors (and administrators) watch the queues and the state of the agents in their scope."""
    roles = set(getattr(user, "role_names", ()) or ())
    return bool(roles & {"supervisor", "admin"}) or bool(user.has_permission("supervisor", "monitor"))


def supervisor_scope(websocket: WebSocket, user: Any) -> Scope:
    """The agent names a supervisor may watch (``None``: every agent), from the one scope rule."""
    with app_sessionmaker(websocket.app)() as session:
        names = agent_identities(session, user)
    return None if names is None else frozenset(names)


def announce_binding(app: Any, user_id: int, previous: str | None, extension: str | None) -> None:
    """After a committed binding change, from a route's worker thread: tell every node's hub (the bus)."""
    if (previous or None) == (extension or None):
        return
    event = binding_event(user_id, previous or None, extension or None)
    event.update(ts=datetime.now(UTC).isoformat(), pbx=app.state.settings.pbx)
    bus = getattr(getattr(app.state, "runtime", None), "bus", None)
    if bus is not None:
        from_thread.run(bus.publish, event)
    else:  # no runtime (tests of the web tier alone): this node's hub is the only one
        from_thread.run_sync(hub_for(app).dispatch, event)


def make_sink(websocket: WebSocket, max_buffer: int, queue_len: int) -> Sink:
    transport = find_transport(websocket._send)
    if transport is not None:
        return TransportSink(transport, max_buffer)
    return QueueSink(websocket.send_text, queue_len, websocket.close)


@router.websocket("/ws")
async def desk_socket(websocket: WebSocket, since: int | None = None) -> None:
    if not origin_allowed(websocket):
        await websocket.close(code=FOREIGN_ORIGIN)
        return
    user = await ws_user(websocket)
    if user is None:
        await websocket.close(code=UNAUTHORIZED)
        return
    supervisor = is_supervisor(user)
    scope = await asyncio.to_thread(supervisor_scope, websocket, user) if supervisor else None
    hub = hub_for(websocket.app)
    await hub.start()
    await websocket.accept()
    sink = make_sink(websocket, hub.max_socket_buffer, hub.queue_len)
    conn = Connection(user.id, user.extension or None, supervisor, sink, scope)
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

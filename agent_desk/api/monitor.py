"""Live monitoring (系统监控) and the wallboard's data.

``/api/monitor/wallboard`` is the wallboard's first paint (the live board's snapshot); after it, the
page follows ``queue.stats`` and ``agent.state`` on the websocket. ``/api/monitor/live`` shows channels,
queues and seats now and the platform's health. Everything reads ``request.app.state.runtime``
defensively: it is None in tests and parts may be missing.

Agents, seats and the calls they take are cut to the user's data scope with the rule the websocket
applies to the same user's supervisor frames (``crm_core.permissions.agent_identities`` and
``agent_desk.ws.in_scope``). Queue figures and callers still waiting in a queue belong to no department
and stay center-wide.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from sqlalchemy import text
from sqlalchemy.orm import Session

from agent_desk.api.stats import agent_names, kpi_settings
from agent_desk.deps import get_session, require
from agent_desk.ws import Scope, in_scope
from config import Settings
from crm_core.models import User
from crm_core.permissions import agent_identities
from stats.live import LiveBoard

router = APIRouter(tags=["monitor"])

DbSession = Annotated[Session, Depends(get_session)]
Reader = [Depends(require("report", "read"))]
ReportReader = Annotated[User, Depends(require("report", "read"))]


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _runtime(request: Request) -> Any:
    return getattr(request.app.state, "runtime", None)


def _board(request: Request) -> LiveBoard:
    board = getattr(_runtime(request), "board", None)
    if isinstance(board, LiveBoard):
        return board
    settings = _settings(request)
    return LiveBoard(kpi_settings(settings), getattr(settings, "desk_queues", []), tz=settings.timezone)


def _names(row: dict[str, Any], *keys: str) -> frozenset[str]:
    return frozenset(str(row[k]) for k in keys if row.get(k))


def visible_agents(rows: list[dict[str, Any]], scope: Scope) -> list[dict[str, Any]]:
    """The agent grid rows (``agent``, ``extension``) of the agents within ``scope``."""
    return [row for row in rows if in_scope(scope, _names(row, "agent", "extension") or frozenset({""}))]


def visible_calls(calls: list[dict[str, Any]], scope: Scope) -> list[dict[str, Any]]:
    """Live calls that no agent has taken yet (in a queue, the IVR) and the calls of agents in ``scope``."""
    if scope is None:
        return calls
    shown = []
    for call in calls:
        names = _names(call, "agent") | {str(p["extension"]) for p in call.get("parties") or [] if p.get("extension")}
        if in_scope(scope, names):
            shown.append(call)
    return shown


def _scope(session: Session, user: User) -> Scope:
    names = agent_identities(session, user)
    return None if names is None else frozenset(names)


@router.get("/api/monitor/wallboard")
async def wallboard(request: Request, session: DbSession, user: ReportReader) -> dict[str, Any]:
    """Per-queue big numbers, the grid of the agents in the user's scope and the thresholds, as of now."""
    # the board changes on the event loop: read it there, and the scope and names in a worker thread
    snapshot = _board(request).snapshot(time.time())

    def scoped_names() -> tuple[Scope, dict[str, str]]:
        return _scope(session, user), agent_names(session, [row["agent"] for row in snapshot["agents"]])

    scope, names = await asyncio.to_thread(scoped_names)
    snapshot["agents"] = visible_agents(snapshot["agents"], scope)
    for row in snapshot["agents"]:
        row["name"] = names.get(row["agent"], row["name"])
    snapshot["timezone"] = _settings(request).timezone
    return snapshot


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if hasattr(value, "as_dict"):
        return value.as_dict()
    return value


def _attr(obj: Any, *path: str) -> Any:
    for name in path:
        if obj is None:
            return None
        obj = getattr(obj, name, None)
    return obj


def _tracker(runtime: Any) -> dict[str, Any]:
    snapshot = getattr(runtime, "tracker_snapshot", None)
    if not callable(snapshot):
        return {}
    try:
        found = snapshot()
    except Exception:  # a tracker that is not ready must not take the page down
        return {}
    return found if isinstance(found, dict) else {}


def _database(session: Session) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        session.execute(text("SELECT 1"))
    except Exception as exc:
        return {"ok": False, "error": type(exc).__name__}
    return {"ok": True, "latency_ms": round((time.perf_counter() - started) * 1000, 2)}


async def _redis(url: str) -> dict[str, Any]:
    if not url:
        return {"ok": None, "configured": False}
    import redis.asyncio as aioredis

    client = aioredis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
    started = time.perf_counter()
    try:
        await asyncio.wait_for(client.ping(), timeout=1.5)
        return {
            "ok": True,
            "configured": True,
            "latency_ms": round((time.perf_counter() - started) * 1000, 2),
        }
    except Exception as exc:
        return {"ok": False, "configured": True, "error": type(exc).__name__}
    finally:
        await client.aclose()


@router.get("/api/monitor/live")
async def live(request: Request, session: DbSession, user: ReportReader) -> dict[str, Any]:
    """Channels, queues (waiting callers with position and wait) and seats now, and platform health;
    the calls, channels and seats of agents outside the user's scope are left out."""
    runtime = _runtime(request)
    tracker = _tracker(runtime)
    bridge_stats = _plain(_attr(runtime, "bridge", "stats"))
    connected = _attr(runtime, "bridge", "connected")
    board = _board(request)
    now = time.time()
    scope = await asyncio.to_thread(_scope, session, user)
    calls = visible_calls(tracker.get("calls", []), scope)
    shown = {call.get("call_id") for call in calls}
    channels = tracker.get("channels", [])
    return {
        "now": now,
        "channels": channels if scope is None else [c for c in channels if c.get("call_id") in shown],
        "calls": calls,
        "queues": tracker.get("queues", {}),
        "queue_stats": board.snapshot(now)["queues"],
        "seats": visible_agents(board.agent_grid(now), scope),
        "platform": {
            "runtime": runtime is not None,
            "ami_connected": bool(connected) if connected is not None else None,
            "bridge": bridge_stats if isinstance(bridge_stats, dict) else None,
            "fastagi": _plain(_attr(runtime, "ivr", "stats")),
            "database": await asyncio.to_thread(_database, session),
            "redis": await _redis(_settings(request).redis_url),
        },
    }


@router.get("/api/monitor/health", dependencies=Reader)
async def health(request: Request, session: DbSession) -> dict[str, Any]:
    """The durable event path: journal backlog per consumer, oldest unsent age, bus and database state.

    ``ok`` is false while a consumer holds events it cannot hand over (Redis or the database away) or
    the AMI bridge is down; ``degraded`` names what. Nothing is lost meanwhile: the journal keeps it.
    """
    runtime = _runtime(request)
    bus = _attr(runtime, "bus")
    journal = bus.health() if callable(getattr(bus, "health", None)) else None
    bridge = _plain(_attr(runtime, "bridge", "stats"))
    database = await asyncio.to_thread(_database, session)
    redis = await _redis(_settings(request).redis_url)
    degraded: list[str] = []
    if journal is not None:
        for name, consumer in journal["consumers"].items():
            if consumer["state"] != "ok":
                degraded.append(f"journal.{name}")
    if not database["ok"]:
        degraded.append("database")
    if redis["ok"] is False:
        degraded.append("redis")
    connected = _attr(runtime, "bridge", "connected")
    if runtime is not None and connected is False:
        degraded.append("ami")
    return {
        "ok": not degraded,
        "degraded": degraded,
        "now": time.time(),
        "events": journal,
        "database": database,
        "redis": redis,
        "ami": bridge if isinstance(bridge, dict) else None,
    }

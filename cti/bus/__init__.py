"""The event bus every part of the platform meets on (ARCHITECTURE section 3)."""

from __future__ import annotations

from typing import Any

from cti.bus.base import Event, EventBus, Subscription
from cti.bus.lock import BridgeLock, LeaderLock, LocalBridgeLock
from cti.bus.memory import InProcessBus
from cti.bus.redis_bus import RedisBus

__all__ = [
    "BridgeLock",
    "Event",
    "EventBus",
    "InProcessBus",
    "LeaderLock",
    "LocalBridgeLock",
    "RedisBus",
    "Subscription",
    "make_bridge_lock",
    "make_bus",
]


def make_bus(settings: Any) -> EventBus:
    """Redis when ``settings.redis_url`` is set, else the in-process bus."""
    if settings.redis_url:
        return RedisBus(settings.redis_url, maxlen=settings.bus_stream_maxlen)
    return InProcessBus()


def make_bridge_lock(settings: Any) -> LeaderLock:
    """One lock per PBX in Redis, or the no-op lock of a single process."""
    if settings.redis_url:
        return BridgeLock(
            settings.redis_url,
            key=f"cc:bridge-lock:{settings.pbx}",
            ttl_s=settings.bridge_lock_ttl_s,
        )
    return LocalBridgeLock()

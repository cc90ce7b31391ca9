"""The event bus every part of the platform meets on (ARCHITECTURE section 3)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cti.bus.base import Event, EventBus, Subscription
from cti.bus.durable import DurableBus, make_journal
from cti.bus.lock import BridgeLock, LeaderLock, LocalBridgeLock
from cti.bus.memory import InProcessBus
from cti.bus.redis_bus import RedisBus

__all__ = [
    "BridgeLock",
    "DurableBus",
    "Event",
    "EventBus",
    "InProcessBus",
    "LeaderLock",
    "LocalBridgeLock",
    "RedisBus",
    "Subscription",
    "make_bridge_lock",
    "make_bus",
    "make_durable_bus",
]


def make_bus(settings: Any) -> EventBus:
    """Redis when ``settings.redis_url`` is set, else the in-process bus."""
    if settings.redis_url:
        prefix = getattr(settings, "redis_prefix", "cc:")
        return RedisBus(
            settings.redis_url,
            stream_key=f"{prefix}events",
            channel=f"{prefix}live",
            maxlen=settings.bus_stream_maxlen,
            publish_timeout_s=getattr(settings, "redis_timeout_s", None),
        )
    return InProcessBus()


JOURNAL_CONSUMERS = ("bus", "history")


def make_durable_bus(settings: Any) -> EventBus:
    """``make_bus`` behind the event journal (``cti.bus.durable``), unless ``journal_enabled`` is off."""
    inner = make_bus(settings)
    if not getattr(settings, "journal_enabled", False):
        return inner
    directory = Path(getattr(settings, "journal_dir", "") or "")
    if not str(directory) or str(directory) == ".":
        directory = Path(settings.data_dir) / "journal"
    return DurableBus(
        inner,
        make_journal(directory, JOURNAL_CONSUMERS, settings),
        fsync_interval_s=float(getattr(settings, "journal_fsync_interval_s", 0.2)),
        max_bytes=int(getattr(settings, "journal_max_bytes", 0)),
        kind="redis" if settings.redis_url else "memory",
    )


def make_bridge_lock(settings: Any) -> LeaderLock:
    """One lock per PBX in Redis, or the no-op lock of a single process."""
    if settings.redis_url:
        return BridgeLock(
            settings.redis_url,
            key=f"{getattr(settings, 'redis_prefix', 'cc:')}bridge-lock:{settings.pbx}",
            ttl_s=settings.bridge_lock_ttl_s,
        )
    return LocalBridgeLock()

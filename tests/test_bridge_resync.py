"""A resync while the bridge is live (``AMIBridge.resync``, run every ``resync_interval_s`` by the runtime):
a call whose Hangup never reached the bridge is ended once the PBX no longer reports it, its agent is off
the call, and a call the PBX still has is left alone. No reconnect is needed for it."""

from __future__ import annotations

import sys
from pathlib import Path

from cti.bridge import AMIBridge

sys.path.insert(0, str(Path(__file__).parent / "fixtures" / "bridge"))
from bridge_harness import (  # noqa: F401 - pytest fixtures
    CALL_02,
    BusReader,
    bridge_settings,
    fake_pbx_fixture,
    inbound_call,
    live_bridge_fixture,
    live_channels,
    make_tracker,
    wait_until,
)


def on_call(bridge: AMIBridge, extension: str) -> bool:
    return any(a["extension"] == extension and a["state"] == "on_call" for a in bridge.tracker.snapshot()["agents"])


async def test_a_call_the_pbx_no_longer_reports_is_ended_by_a_live_resync(pbx, live) -> None:
    bridge, reader = live
    head, _tail = inbound_call()
    await pbx.emit(*head)
    await reader.until(lambda ev: any(e["type"] == "call.answered" for e in ev))
    assert on_call(bridge, "1001")
    pbx.channels = []  # the Hangup was lost: the PBX has no channel of the call any more
    assert await bridge.resync() is True
    await reader.until(lambda ev: any(e["type"] == "call.ended" for e in ev))
    assert len(reader.of("call.ended", CALL_02)) == 1
    assert not on_call(bridge, "1001")
    assert bridge.stats.reconnects == 0 and bridge.connected


async def test_a_call_the_pbx_still_reports_survives_a_live_resync(pbx, live) -> None:
    bridge, reader = live
    head, tail = inbound_call()
    await pbx.emit(*head)
    await reader.until(lambda ev: any(e["type"] == "call.answered" for e in ev))
    pbx.channels = live_channels(head)
    assert await bridge.resync() is True
    assert reader.of("call.ended", CALL_02) == [] and on_call(bridge, "1001")
    await pbx.emit(*tail)
    await reader.until(lambda ev: any(e["type"] == "call.ended" for e in ev))
    assert len(reader.of("call.ended", CALL_02)) == 1

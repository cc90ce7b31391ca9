"""The live board: queue.stats shape, coalescing, one update per change, day roll-over, agent grid."""

from __future__ import annotations

import itertools
import sys
from datetime import UTC, datetime
from pathlib import Path

from stats.kpi import KpiSettings
from stats.live import LiveBoard

sys.path.insert(0, str(Path(__file__).parent / "fixtures" / "stats"))
from stats_events import EventLog

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC).timestamp()


def board(**kw: object) -> LiveBoard:
    return LiveBoard(KpiSettings(), ["support", "sales"], tz="UTC", **kw)  # type: ignore[arg-type]


def test_queue_stats_has_the_bus_shape() -> None:
    b = board(min_interval_s=0)
    log = EventLog()
    log.agent(T0, "a1", "available", queues=["support"])
    log.join(T0 + 1, "c1", "support")
    out = []
    for event in log.ordered():
        out += b.apply(event, now=T0 + 5)
    assert [e["queue"] for e in out] == ["support", "support"]  # one update per change
    stats = out[-1]
    assert stats["type"] == "queue.stats" and stats["pbx"] == "pbx1" and stats["ts"].endswith("Z")
    assert stats["waiting"] == 1 and stats["longest_wait_s"] == 4.0
    assert stats["agents"] == {
        "available": 1,
        "on_call": 0,
        "paused": 0,
        "ringing": 0,
        "wrap_up": 0,
        "logged_in": 1,
    }
    assert set(stats["today"]) == {
        "offered",
        "answered",
        "abandoned",
        "sl_pct",
        "asa_s",
        "aht_s",
        "abandon_pct",
    }
    assert stats["today"]["offered"] == 1 and stats["today"]["sl_pct"] == 0.0


def test_updates_are_coalesced_per_queue_and_flushed_later() -> None:
    b = board(min_interval_s=0.5)
    log = EventLog()
    for n in range(5):
        log.join(T0 + n * 0.01, f"c{n}", "support")
    events = log.ordered()
    sent = [b.apply(e, now=T0 + n * 0.01) for n, e in enumerate(events)]
    assert [len(s) for s in sent] == [1, 0, 0, 0, 0]  # the first goes out, the rest are held back
    assert b.flush(T0 + 0.2) == []  # still within the interval
    held = b.flush(T0 + 0.6)
    assert len(held) == 1 and held[0]["waiting"] == 5 and held[0]["today"]["offered"] == 5
    assert b.flush(T0 + 2) == []  # nothing changed since


def test_no_update_when_numbers_did_not_change() -> None:
    b = board(min_interval_s=0)
    log = EventLog()
    log.agent(T0, "a1", "available", queues=["support"])
    log.agent(T0 + 1, "a1", "available", queues=["support"])  # the same state again
    first, second = (b.apply(e, now=T0 + 2) for e in log.ordered())
    assert len(first) == 1 and second == []


def test_replayed_seq_is_ignored() -> None:
    b = board(min_interval_s=0)
    log = EventLog()
    log.join(T0, "c1", "support")
    log.join(T0 + 1, "c2", "support")
    events = log.ordered()
    for event in events + events:
        b.apply(event, now=T0 + 2)
    assert b.queue_counts("support").offered == 2


def test_day_rolls_over_at_local_midnight() -> None:
    b = LiveBoard(KpiSettings(), ["support"], tz="Asia/Shanghai", min_interval_s=0)
    log = EventLog()
    late = datetime(2026, 11, 20, 15, 59, tzinfo=UTC).timestamp()  # 23:59 in Shanghai
    log.join(late, "c1", "support")
    log.abandon(late + 30, "c1", "support", 30)
    log.join(late + 120, "c2", "support")  # 00:01 the next day
    events = log.ordered()
    b.apply(events[0], now=late)
    assert b.queue_counts("support").offered == 1
    for event in events[1:]:
        b.apply(event, now=datetime.fromisoformat(event["ts"].replace("Z", "+00:00")).timestamp())
    counts = b.queue_counts("support")
    assert (counts.offered, counts.abandoned, counts.waiting) == (1, 0, 1)


def test_agent_grid_follows_calls() -> None:
    b = board(agent_names={"a1": "张三"})
    log = EventLog()
    log.agent(T0, "a1", "available", queues=["support"])
    log.join(T0 + 1, "c1", "support")
    log.agent(T0 + 2, "a1", "ringing", queues=["support"])
    log.agent(T0 + 4, "a1", "on_call", queues=["support"])
    log.answer(T0 + 4, "c1", "a1", "support", 3, caller="13800138000")
    for event in log.ordered():
        b.apply(event, now=T0 + 5)
    row = b.agent_grid(T0 + 10)[0]
    assert row["name"] == "张三" and row["extension"] == "1"
    assert (row["state"], row["calls_today"], row["current_caller"], row["time_in_state_s"]) == (
        "on_call",
        1,
        "13800138000",
        6.0,
    )
    log = EventLog(first_seq=100)
    log.end(T0 + 64, "c1", T0, T0 + 4, "answered")
    log.agent(T0 + 64, "a1", "wrap_up", "", ["support"])
    for event in log.ordered():
        b.apply(event, now=T0 + 65)
    row = b.agent_grid(T0 + 70)[0]
    assert (row["state"], row["current_caller"]) == ("wrap_up", "")
    snap = b.snapshot(T0 + 70)
    support = next(q for q in snap["queues"] if q["queue"] == "support")
    assert support["agents"]["wrap_up"] == 1 and support["today"]["answered"] == 1
    assert snap["settings"] == {"sl_threshold_s": 20, "short_abandon_s": 5}


def test_at_100_calls_a_second_each_queue_gets_at_most_n_updates_a_second_the_latest_winning() -> None:
    rate = 2.0  # CC_WALLBOARD_UPDATES_PER_S's default
    b = board(min_interval_s=1 / rate)
    log = EventLog()
    for n in range(400):  # 4 s of calls at 100 per second, alternating queues
        t = T0 + n / 100
        queue = ("support", "sales")[n % 2]
        log.join(t, f"c{n}", queue)
        if n % 4:
            log.answer(t + 0.05, f"c{n}", f"a{n % 50}", queue, wait_s=0.05)
    sent: list[tuple[float, dict]] = []
    tick = T0
    for event in log.ordered():
        now = datetime.fromisoformat(event["ts"]).timestamp()
        while tick + 0.5 <= now:  # serve's flush loop
            tick += 0.5
            sent += [(tick, e) for e in b.flush(tick)]
        sent += [(now, e) for e in b.apply(event, now)]
    sent += [(T0 + 10, e) for e in b.flush(T0 + 10)]
    for queue in ("support", "sales"):
        times = [t for t, e in sent if e["queue"] == queue]
        assert all(later - earlier >= 1 / rate - 1e-9 for earlier, later in itertools.pairwise(times))
        assert len(times) <= 4 * rate + 2
        last = [e for _, e in sent if e["queue"] == queue][-1]
        assert last["today"]["offered"] == 200  # the last update carries the final numbers
    assert len(sent) * 40 < len(log.events)  # one update for some 50 queue events: the screens set the cost


def test_a_stay_reported_again_by_a_takeovers_resync_counts_once() -> None:
    """The node that takes over resyncs and reports the calls it finds in their queues: a second
    queue.joined for a stay still waiting is that stay, not a second offer (nor, later, an abandon)."""
    b = board(min_interval_s=0)
    log = EventLog()
    log.join(T0 + 1, "c1", "support")
    log.join(T0 + 3, "c1", "support")  # the resync's report, its join time worked out from the channel
    log.answer(T0 + 5, "c1", "a1", "support", 4)
    # a later resync finds it talking from inside Queue(): waited since T0 + 0.5, by the channels' ages
    log.add("queue.joined", T0 + 10, call_id="c1", queue="support", position=None, wait_s=9.5)
    log.end(T0 + 30, "c1", T0, T0 + 5, "answered")
    for event in log.ordered():
        b.apply(event, now=T0 + 31)
    counts = b.queue_counts("support")
    assert (counts.offered, counts.answered, counts.abandoned, counts.waiting) == (1, 1, 0, 0)
    log.join(T0 + 40, "c1", "support")  # transferred back to the queue: a second offer
    for event in log.ordered()[-1:]:
        b.apply(event, now=T0 + 41)
    assert (counts.offered, counts.waiting) == (2, 1)

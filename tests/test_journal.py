"""The event journal (cti.journal), its consumers and the durable bus on top of it."""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from cti.bus import InProcessBus, RedisBus
from cti.bus.durable import DurableBus
from cti.journal import Journal
from cti.journal_consumer import JournalConsumer

REDIS_URL = os.environ.get("CC_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def calls(n: int, start: int = 0) -> list[dict]:
    return [{"type": "call.new", "call_id": f"c{i}", "ts": "2024-05-01T08:00:00Z"} for i in range(start, start + n)]


def opened(path: Path, consumers: tuple[str, ...] = ("bus", "history"), **kw: object) -> Journal:
    journal = Journal(path, consumers, **kw)  # type: ignore[arg-type]
    journal.open()
    return journal


def take_all(journal: Journal, consumer: str, limit: int = 7) -> list[dict]:
    out: list[dict] = []
    while True:
        batch = journal.read(consumer, limit)
        if not batch.events:
            return out
        out.extend(batch.events)
        journal.commit(consumer, batch.end)


def test_events_get_ids_in_order_and_each_consumer_reads_them_all(tmp_path: Path) -> None:
    journal = opened(tmp_path)
    journal.append(calls(20))
    ids = [int(e["event_id"].rpartition("-")[2]) for e in take_all(journal, "bus")]
    assert ids == list(range(1, 21))
    assert [e["call_id"] for e in take_all(journal, "history")] == [f"c{i}" for i in range(20)]
    assert journal.pending("bus") == journal.pending("history") == 0
    journal.append(calls(1))
    assert journal.read("bus").events[0]["event_id"] == f"{journal.journal_id}-21"


def test_a_restart_replays_what_each_consumer_had_not_taken(tmp_path: Path) -> None:
    journal = opened(tmp_path)
    journal.append(calls(10))
    batch = journal.read("bus", 4)
    journal.commit("bus", batch.end)
    journal.close()

    again = opened(tmp_path)
    assert again.journal_id == journal.journal_id
    assert [e["call_id"] for e in take_all(again, "bus")] == [f"c{i}" for i in range(4, 10)]
    assert len(take_all(again, "history")) == 10
    again.append(calls(1, start=10))
    assert again.read("bus").events[0]["event_id"] == f"{journal.journal_id}-11"  # numbering goes on


def test_segments_rotate_and_are_deleted_once_every_consumer_is_past_them(tmp_path: Path) -> None:
    journal = opened(tmp_path, segment_bytes=600, tail_len=3)
    for i in range(30):
        journal.append(calls(1, start=i))
    assert len(journal.segments) > 5
    assert len(take_all(journal, "bus")) == 30  # from disk: the tail holds only 3
    assert len(list(tmp_path.glob("*.jsonl"))) == len(journal.segments)  # history has not read them
    assert len(take_all(journal, "history", limit=100)) == 30
    # with fsync=interval the cursor files follow at the interval: until then every segment stays
    assert len(journal.segments) > 5 and journal.deleted_segments == 0
    assert not (tmp_path / "cursor.history").exists()
    journal.save_cursors()  # what the durable bus does each interval
    assert json.loads((tmp_path / "cursor.history").read_text())["n"] == 30
    assert len(journal.segments) <= 2
    assert journal.deleted_segments > 0
    journal.close()
    again = opened(tmp_path, segment_bytes=600)
    assert again.pending("bus") == again.pending("history") == 0
    again.append(calls(1, start=30))
    assert [e["call_id"] for e in take_all(again, "history")] == ["c30"]


def test_a_torn_last_record_is_cut_off_at_open(tmp_path: Path) -> None:
    journal = opened(tmp_path)
    journal.append(calls(3))
    journal.close()
    (segment,) = tmp_path.glob("*.jsonl")
    with open(segment, "ab") as handle:
        handle.write(b'{"n": 4, "t": 1.0, "e": {"type": "call.n')  # a crash in the middle of a write
    again = opened(tmp_path)
    assert again.torn_bytes > 0
    assert again.last_n == 3
    again.append(calls(1, start=3))
    assert [e["call_id"] for e in take_all(again, "bus")] == ["c0", "c1", "c2", "c3"]
    assert [json.loads(line)["n"] for line in segment.read_bytes().splitlines()] == [1, 2, 3, 4]


def test_backlog_shows_pending_records_and_the_oldest_unsent_age(tmp_path: Path) -> None:
    now = [1000.0]
    journal = opened(tmp_path, clock=lambda: now[0])
    journal.append(calls(5))
    now[0] = 1012.5
    backlog = {b.name: b for b in journal.backlog()}
    assert backlog["bus"].pending == 5 and backlog["bus"].oldest_unsent_age_s == pytest.approx(12.5)
    take_all(journal, "bus")
    backlog = {b.name: b for b in journal.backlog()}
    assert backlog["bus"].pending == 0 and backlog["bus"].oldest_unsent_age_s is None
    assert backlog["history"].pending == 5


class FlakySink:
    """Refuses (connection reset) until told to work; then keeps what it was given."""

    def __init__(self) -> None:
        self.up = asyncio.Event()
        self.got: list[dict] = []
        self.refused = 0

    async def __call__(self, events: list[dict]) -> None:
        if not self.up.is_set():
            self.refused += 1
            raise ConnectionResetError("reset by peer")
        for event in events:
            if event.get("poison"):
                raise ValueError("a value the sink can never take")
        self.got.extend(events)


async def test_a_consumer_holds_events_through_an_outage_and_delivers_them_once(tmp_path: Path) -> None:
    journal = opened(tmp_path)
    sink = FlakySink()
    consumer = JournalConsumer(journal, "history", sink, batch=4, retry_min_s=0.01, retry_max_s=0.02)
    consumer.start()
    try:
        journal.append(calls(10))
        consumer.notify()
        async with asyncio.timeout(10):
            while sink.refused < 3:  # noqa: ASYNC110 (the sink counts, it signals nothing)
                await asyncio.sleep(0.01)
        assert consumer.stats.state == "retrying"
        assert journal.pending("history") == 10
        sink.up.set()
        assert await consumer.caught_up(10)
        journal.append(calls(5, start=10))
        consumer.notify()
        assert await consumer.caught_up(10)
    finally:
        await consumer.stop()
    assert [e["call_id"] for e in sink.got] == [f"c{i}" for i in range(15)]
    assert consumer.stats.state == "stopped" and consumer.stats.retries >= 3


async def test_a_bad_event_is_set_aside_and_the_others_go_on(tmp_path: Path) -> None:
    journal = opened(tmp_path)
    sink = FlakySink()
    sink.up.set()
    consumer = JournalConsumer(journal, "history", sink, batch=10)
    consumer.start()
    try:
        events = calls(5)
        events[2]["poison"] = True
        journal.append(events)
        consumer.notify()
        assert await consumer.caught_up(10)
    finally:
        await consumer.stop()
    assert [e["call_id"] for e in sink.got] == ["c0", "c1", "c3", "c4"]
    assert consumer.rejected == 1
    (rejected,) = (json.loads(line) for line in (tmp_path / "rejected.history.jsonl").read_text().splitlines())
    assert rejected["e"]["call_id"] == "c2" and "ValueError" in rejected["error"]


async def test_a_durable_bus_consumer_with_a_duty_rests_between_the_batches_of_a_backlog(tmp_path: Path) -> None:
    bus = DurableBus(InProcessBus(), Journal(tmp_path, ("bus", "history")))
    spans: list[tuple[float, float]] = []

    async def history(events: list[dict]) -> None:
        began = time.monotonic()
        await asyncio.sleep(0.05)  # a sink busy 50 ms a batch
        spans.append((began, time.monotonic()))

    # a quarter of the time: after each full batch the consumer rests three times as long as it worked
    consumer = bus.add_consumer("history", history, batch=2, duty=0.25)
    await bus.publish_many(calls(6))  # a backlog of three full batches
    await bus.start()
    try:
        assert await consumer.caught_up(10)
    finally:
        await bus.close()
    assert len(spans) == 3
    rests = [spans[i + 1][0] - spans[i][1] for i in range(2)]
    assert min(rests) >= 0.1, rests


async def test_durable_bus_delivers_each_event_once_and_a_restart_replays_the_spool(tmp_path: Path) -> None:
    first = DurableBus(InProcessBus(), Journal(tmp_path, ("bus", "history")))
    written: list[dict] = []

    async def history(events: list[dict]) -> None:
        written.extend(events)

    first.add_consumer("history", history)
    # not started: the events stay in the spool, as when the process stops before handing them over
    await first.publish_many(calls(3))
    await first.publish({"type": "queue.stats", "queue": "support"})  # live only: not journaled
    assert first.journal.pending("bus") == 3
    first.journal.close()

    inner = InProcessBus()
    second = DurableBus(inner, Journal(tmp_path, ("bus", "history")))
    second.add_consumer("history", history)
    sub = second.subscribe()
    await second.start()
    try:
        await second.publish_many(calls(2, start=3))
        assert await second.settle(10)
        async with asyncio.timeout(5):
            got = [await sub.get() for _ in range(5)]
        assert [e["call_id"] for e in got] == ["c0", "c1", "c2", "c3", "c4"]
        assert [e["call_id"] for e in written] == ["c0", "c1", "c2", "c3", "c4"]
        await inner.publish_many([dict(e) for e in got])  # a replayed publish of the same events
        assert sub.pending() == 0 and inner.replays == 5
        health = second.health()
        assert health["consumers"]["bus"]["pending"] == 0 and health["consumers"]["history"]["state"] == "ok"
        assert health["bus"]["replays_skipped"] == 5
    finally:
        await second.close()


async def test_the_durable_bus_writes_the_cursors_at_its_interval_off_the_event_path(tmp_path: Path) -> None:
    bus = DurableBus(InProcessBus(), Journal(tmp_path, ("bus", "history")), fsync_interval_s=0.05)
    written: list[dict] = []

    async def history(events: list[dict]) -> None:
        written.extend(events)

    bus.add_consumer("history", history)
    await bus.start()
    try:
        await bus.publish_many(calls(4))
        assert await bus.settle(10) and len(written) == 4
        async with asyncio.timeout(5):  # the files follow within an interval (files: no event to await)
            while any(  # noqa: ASYNC110
                not (tmp_path / f"cursor.{name}").exists()
                or json.loads((tmp_path / f"cursor.{name}").read_text())["n"] != 4
                for name in ("bus", "history")
            ):
                await asyncio.sleep(0.02)
    finally:
        await bus.close()
    again = Journal(tmp_path, ("bus", "history"))
    again.open()
    assert again.pending("bus") == again.pending("history") == 0


@pytest.mark.redis
async def test_redis_stores_a_journal_event_once_however_often_it_is_published() -> None:
    prefix = f"cc-test-journal-{uuid.uuid4().hex}:"
    bus = RedisBus(REDIS_URL, stream_key=f"{prefix}events", channel=f"{prefix}live", publish_timeout_s=2.0)
    try:
        events = [dict(e, event_id=f"j1-{i + 1}") for i, e in enumerate(calls(4))]
        await bus.publish_many([dict(e) for e in events[:3]])
        again = await bus.publish_many([dict(e) for e in events])  # a retry after a lost reply
        assert [("seq" in e) for e in again] == [False, False, False, True]
        assert bus.replays == 3
        await bus.publish({"type": "call.new", "call_id": "plain"})  # no event_id: always published
        stored = await bus.history(limit=100)
        assert [e.get("event_id") for e in stored] == ["j1-1", "j1-2", "j1-3", "j1-4", None]
        assert [e["seq"] for e in stored] == [1, 2, 3, 4, 5]
    finally:
        await bus.close()
        client = aioredis.from_url(REDIS_URL)
        keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()

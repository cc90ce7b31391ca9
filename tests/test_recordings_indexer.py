"""The recording index in the database: fed by recorded AMI traffic, bus events and folder scans."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from test_recordings_support import SCENARIO_04, make_department, make_user, write_tone

from config import Settings
from recordings.access import listener_for
from recordings.indexer import RecordingIndexService
from recordings.models import Recording
from recordings.search import RecordingQuery, search, status_counts

pytest_plugins = ["test_recordings_support"]

Q_FILE = "q-support-20261123-162714-1795451234.7.wav"
CTI_FILE = "cti-1795451234.8.wav"
T0 = 1_795_451_234.0


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


def _service(factory: sessionmaker[Session], settings: Settings) -> tuple[RecordingIndexService, list, Clock]:
    published: list[dict[str, Any]] = []

    async def publish(event: dict[str, Any]) -> None:
        published.append(event)

    clock = Clock()
    return RecordingIndexService(factory, settings, publish=publish, clock=clock), published, clock


async def _feed_scenario(service: RecordingIndexService, clock: Clock) -> None:
    answered = {
        "type": "call.answered",
        "call_id": "1795451234.6",
        "caller": {"number": "5551236"},
        "callee": {"number": "1001"},
        "agent": "1001",
        "queue": "support",
        "wait_s": 3,
    }
    for line in SCENARIO_04.read_text().splitlines():
        msg = json.loads(line)
        if msg.get("_kind") != "event":
            continue
        clock.now = T0 + msg["_t_rel"]
        await service.handle(msg)
        if msg["Event"] == "AgentConnect":
            await service.handle(answered)
    await service.handle(
        {
            "type": "call.ended",
            "call_id": "1795451234.6",
            "ts": "2026-11-23T16:27:28Z",
            "answered": True,
            "duration_s": 14,
            "talk_s": 10,
            "wait_s": 3,
            "disposition": "answered",
        }
    )


def _agent_1001(factory: sessionmaker[Session]) -> tuple[int, Any]:
    """Agent zhang (agent number 1001, who answers in scenario 04) in a department of his own."""
    with factory() as session:
        dept = make_department(session, "客服 Support")
        agent = make_user(session, "zhang", "agent", dept, agent_number="1001")
        session.commit()
    return dept, agent


def _rows(factory: sessionmaker[Session]) -> dict[str, Recording]:
    with factory() as session:
        return {r.file_name: r for r in session.scalars(select(Recording))}


async def test_recorded_call_is_indexed_linked_and_announced(
    db_factory: sessionmaker[Session], rec_settings: Settings
) -> None:
    dept, agent = _agent_1001(db_factory)
    write_tone(rec_settings.recordings_dir / Q_FILE, 11.4)
    write_tone(rec_settings.recordings_dir / CTI_FILE, 5.0)
    service, published, clock = _service(db_factory, rec_settings)
    await _feed_scenario(service, clock)

    rows = _rows(db_factory)
    assert set(rows) == {Q_FILE, CTI_FILE}
    q, cti = rows[Q_FILE], rows[CTI_FILE]
    assert (q.status, q.call_id, q.uniqueid, q.queue, q.duration_s, q.format) == (
        "ready",
        "1795451234.6",
        "1795451234.7",
        "support",
        11.4,
        "wav",
    )
    assert (cti.status, cti.call_id, cti.uniqueid, cti.duration_s) == (
        "ready",
        "1795451234.6",
        "1795451234.8",
        5.0,
    )
    for row in (q, cti):
        assert (row.agent, row.agent_user_id, row.department_id, row.caller_number) == (
            "1001",
            agent.id,
            dept,
            "5551236",
        )
        assert row.size_bytes == (rec_settings.recordings_dir / row.file_name).stat().st_size
    assert sorted((e["type"], e["recording_id"], e["duration_s"]) for e in published) == sorted(
        [("recording.ready", q.id, 11.4), ("recording.ready", cti.id, 5.0)]
    )
    assert all(e["call_id"] == "1795451234.6" for e in published)


async def test_feeding_the_same_traffic_twice_changes_nothing(
    db_factory: sessionmaker[Session], rec_settings: Settings
) -> None:
    write_tone(rec_settings.recordings_dir / Q_FILE, 1.0)
    write_tone(rec_settings.recordings_dir / CTI_FILE, 1.0)
    service, published, clock = _service(db_factory, rec_settings)
    await _feed_scenario(service, clock)
    first = {n: (r.id, r.status, r.duration_s) for n, r in _rows(db_factory).items()}
    again, published_again, clock_again = _service(db_factory, rec_settings)
    await _feed_scenario(again, clock_again)
    assert {n: (r.id, r.status, r.duration_s) for n, r in _rows(db_factory).items()} == first
    assert len(published) == 2 and published_again == []


async def test_file_found_before_its_call_is_linked_when_the_call_names_it(
    db_factory: sessionmaker[Session], rec_settings: Settings
) -> None:
    write_tone(rec_settings.recordings_dir / Q_FILE, 2.0)
    service, published, clock = _service(db_factory, rec_settings)
    report = await service.scan()
    assert (report.found, report.added) == (1, 1)
    with db_factory() as session:
        counts = status_counts(session)
    assert (counts["unlinked"], counts["total"]) == (1, 1)
    row = _rows(db_factory)[Q_FILE]
    assert (row.uniqueid, row.queue, row.call_id, row.duration_s) == ("1795451234.7", "support", None, 2.0)

    await _feed_scenario(service, clock)
    linked = _rows(db_factory)[Q_FILE]
    assert (linked.id, linked.status, linked.call_id) == (row.id, "ready", "1795451234.6")
    assert [e["recording_id"] for e in published] == [row.id]


async def test_call_whose_file_never_appears_is_reported_missing(
    db_factory: sessionmaker[Session], rec_settings: Settings
) -> None:
    service, _published, clock = _service(db_factory, rec_settings)
    await _feed_scenario(service, clock)
    assert {r.status for r in _rows(db_factory).values()} == {"pending"}
    clock.now += rec_settings.recordings_missing_grace_s + 1
    await service.reconcile()
    with db_factory() as session:
        counts = status_counts(session)
    assert (counts["missing"], counts["pending"], counts["ready"]) == (2, 0, 0)


async def test_scan_is_idempotent_and_notes_bad_and_vanished_files(
    db_factory: sessionmaker[Session], rec_settings: Settings
) -> None:
    root = rec_settings.recordings_dir
    write_tone(root / "2026/11/23/cti-1795450000.1.wav", 1.5)
    write_tone(root / "cti-1795450000.2.wav", 0.5)
    (root / "cti-1795450000.3.wav").write_bytes(b"this is not a wav file")
    (root / "notes.txt").write_text("not a recording")
    (root / ".tmp-partial.wav").write_bytes(b"RIFF")
    service, _published, clock = _service(db_factory, rec_settings)
    first = await service.scan()
    assert (first.found, first.added, first.invalid) == (3, 3, 1)
    second = await service.scan()
    assert (second.found, second.added, second.updated, second.vanished) == (3, 0, 0, 0)

    (root / "cti-1795450000.2.wav").unlink()
    clock.now += rec_settings.recordings_missing_grace_s + 1
    third = await service.scan()
    assert (third.added, third.vanished) == (0, 1)
    rows = _rows(db_factory)
    assert rows["2026/11/23/cti-1795450000.1.wav"].status == "unlinked"
    assert rows["cti-1795450000.3.wav"].status == "invalid"
    assert rows["cti-1795450000.3.wav"].problem.startswith("not_audio")
    with db_factory() as session:
        counts = status_counts(session)
    assert (counts["unlinked"], counts["invalid"], counts["missing"], counts["total"]) == (1, 1, 1, 3)


async def test_survey_score_after_the_call_reaches_its_recordings(
    db_factory: sessionmaker[Session], rec_settings: Settings
) -> None:
    write_tone(rec_settings.recordings_dir / Q_FILE, 1.0)
    service, _published, clock = _service(db_factory, rec_settings)
    await _feed_scenario(service, clock)
    await service.handle(
        {"type": "survey.scored", "call_id": "1795451234.6", "agent": "1001", "score": 5, "scale": 5}
    )
    assert [r.satisfaction for r in _rows(db_factory).values()] == [5, 5]


@pytest.mark.postgres
async def test_index_search_and_counts_on_postgresql(
    pg_factory: sessionmaker[Session], rec_settings: Settings
) -> None:
    _dept, agent = _agent_1001(pg_factory)
    with pg_factory() as session:
        listener = listener_for(session, agent, rec_settings.recordings_role_scopes)
    write_tone(rec_settings.recordings_dir / Q_FILE, 1.0)
    service, published, clock = _service(pg_factory, rec_settings)
    await _feed_scenario(service, clock)
    clock.now += rec_settings.recordings_missing_grace_s + 1
    await service.scan()
    with pg_factory() as session:
        counts = status_counts(session)
        rows, total = search(session, listener, RecordingQuery(number="5551236", queue="support"))
    assert (counts["ready"], counts["missing"]) == (1, 1)
    assert total == 2 and {r.file_name for r in rows} == {Q_FILE, CTI_FILE}
    assert [e["type"] for e in published] == ["recording.ready"]


async def test_demo_writes_stand_in_audio_for_simulated_recordings(
    db_factory: sessionmaker[Session], rec_settings: Settings
) -> None:
    service = RecordingIndexService(db_factory, rec_settings, clock=Clock(), demo_audio=True)
    await _feed_scenario(service, service.clock)  # type: ignore[arg-type]
    rows = _rows(db_factory)
    assert {r.status for r in rows.values()} == {"ready"}
    # lengths follow the recorded MixMonitor start and stop: 14.0 - 0.53 s and 8.55 - 3.54 s
    assert (rows[Q_FILE].duration_s, rows[CTI_FILE].duration_s) == (13.0, 5.0)

"""The recordings list: one row per recorded call (its queue and agent files together), and counters
from the same query as the list, under the listener's own scope."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker
from test_recordings_support import make_department, make_user, write_tone

from agent_desk.api import recordings as recordings_api
from config import Settings
from crm_core.auth import open_session
from recordings.access import listener_for
from recordings.models import Recording
from recordings.search import RecordingQuery, search_calls

pytest_plugins = ["test_recordings_support"]
T0 = datetime(2026, 11, 20, 9, 30)


def _file(session: Session, name: str, started: datetime, **fields: object) -> int:
    row = Recording(file_name=name, started_at=started, format="wav", **{"status": "ready", **fields})
    session.add(row)
    session.flush()
    return row.id


def _center(session: Session, settings: Settings) -> dict[str, object]:
    """Support agent 1001 took calls 1 and 2 (both recorded twice, as the demo and Asterisk do), 1002
    call 3; call 4's agent file is missing; a stray file no call named yet."""
    support = make_department(session, "客服 Support")
    zhang = make_user(session, "zhang", "agent", support, agent_number="1001")
    li = make_user(session, "li", "agent", support, agent_number="1002")
    boss = make_user(session, "boss", "supervisor", support)
    mine = {"agent": "1001", "agent_user_id": zhang.id, "department_id": support, "queue": "support"}
    ids: dict[str, object] = {"users": {"zhang": zhang, "li": li, "boss": boss}}
    for n in (1, 2, 4):
        start = T0 + timedelta(minutes=n)
        write_tone(settings.recordings_dir / f"q-support-{n}.1.wav", 1.0)
        ids[f"q{n}"] = _file(session, f"q-support-{n}.1.wav", start, call_id=f"{n}.0", duration_s=40.0, **mine)
        # the CTI's file of the agent leg starts 3 s later and is shorter; it has no satisfaction yet
        status = "missing" if n == 4 else "ready"
        ids[f"cti{n}"] = _file(
            session,
            f"cti-{n}.2.wav",
            start + timedelta(seconds=3),
            call_id=f"{n}.0",
            duration_s=5.0,
            status=status,
            **mine,
        )
    ids["q3"] = _file(
        session,
        "q-support-3.1.wav",
        T0 + timedelta(minutes=3),
        call_id="3.0",
        duration_s=20.0,
        agent="1002",
        agent_user_id=li.id,
        department_id=support,
        queue="support",
    )
    ids["stray"] = _file(session, "cti-9.1.wav", T0 + timedelta(minutes=9), status="unlinked")
    session.commit()
    return ids


@pytest.fixture
def center(db_factory: sessionmaker[Session], rec_settings: Settings) -> dict[str, object]:
    with db_factory() as session:
        return _center(session, rec_settings)


def test_each_recorded_call_is_one_row_with_both_files(
    db_factory: sessionmaker[Session], rec_settings: Settings, center: dict[str, object]
) -> None:
    with db_factory() as session:
        boss = session.merge(center["users"]["boss"])  # type: ignore[index]
        listener = listener_for(session, boss, rec_settings.recordings_role_scopes)
        calls, total, counts = search_calls(session, listener, RecordingQuery())
        assert [c.key for c in calls] == ["4.0", "3.0", "2.0", "1.0"]  # the stray file is not his to hear
        assert total == 4 and counts["total"] == 4
        one = next(c for c in calls if c.key == "1.0")
        assert [f.id for f in one.files] == [center["q1"], center["cti1"]]  # the queue recording first
        four = next(c for c in calls if c.key == "4.0")
        assert four.status == "ready" and [f.status for f in four.files] == ["ready", "missing"]
        assert counts["ready"] == 4 and counts["missing"] == 0


def test_counters_are_the_lists_rows_for_each_role(
    db_factory: sessionmaker[Session], rec_settings: Settings, center: dict[str, object]
) -> None:
    app = FastAPI()
    app.state.settings = rec_settings
    app.state.sessionmaker = db_factory
    app.include_router(recordings_api.router)
    with db_factory() as session:
        tokens = {
            name: open_session(session, session.merge(user), "bearer", timedelta(hours=1)).token
            for name, user in center["users"].items()  # type: ignore[attr-defined]
        }
        session.commit()
    with TestClient(app) as client:

        def get(who: str, url: str) -> dict[str, object]:
            response = client.get(url, headers={"Authorization": f"Bearer {tokens[who]}"})
            assert response.status_code == 200, response.text
            body: dict[str, object] = response.json()
            return body

        for who, calls in (("zhang", ["4.0", "2.0", "1.0"]), ("li", ["3.0"]), ("boss", ["4.0", "3.0", "2.0", "1.0"])):
            page = get(who, "/api/recordings")
            items = page["items"]
            assert [item["call_id"] for item in items] == calls  # type: ignore[attr-defined]
            assert page["total"] == len(calls) == page["counts"]["total"]  # type: ignore[index]
            assert get(who, "/api/recordings/status") == page["counts"]
        [row] = get("zhang", "/api/recordings?call_id=2.0")["items"]  # type: ignore[misc]
        assert [(f["kind"], f["playable"]) for f in row["files"]] == [("queue", True), ("agent", True)]
        assert row["duration_s"] == 40.0 and row["started_at"].startswith("2026-11-20T09:32:00")
        second_page = get("boss", "/api/recordings?limit=2&offset=2")
        assert [i["call_id"] for i in second_page["items"]] == ["2.0", "1.0"]  # type: ignore[attr-defined]
        assert second_page["total"] == 4
        only_missing = get("boss", "/api/recordings?status=missing")
        assert [i["call_id"] for i in only_missing["items"]] == ["4.0"]  # type: ignore[attr-defined]
        assert only_missing["counts"]["total"] == only_missing["total"] == 1  # type: ignore[index]


@pytest.mark.postgres
def test_one_row_per_call_on_postgresql(pg_factory: sessionmaker[Session], rec_settings: Settings) -> None:
    with pg_factory() as session:
        ids = _center(session, rec_settings)
        boss = session.merge(ids["users"]["boss"])  # type: ignore[index]
        listener = listener_for(session, boss, rec_settings.recordings_role_scopes)
        calls, total, counts = search_calls(session, listener, RecordingQuery(limit=3))
        assert [c.key for c in calls] == ["4.0", "3.0", "2.0"]
        assert total == counts["total"] == 4
        assert [f.id for f in calls[2].files] == [ids["q2"], ids["cti2"]]

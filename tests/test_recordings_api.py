"""The recordings API: search, play with Range, access per role, audit, download, bad input."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from test_recordings_support import make_department, make_user, write_tone

from agent_desk.api import recordings as recordings_api
from agent_desk.api import voicemail_audio as voicemail_api
from config import Settings
from crm_core.auth import open_session
from crm_core.models import AuditEntry, CallLink, Customer
from recordings.models import Recording
from recordings.transcode import recordings_cache_dir

pytest_plugins = ["test_recordings_support"]
STARTED = datetime(2026, 11, 20, 9, 30)


@dataclass
class Api:
    client: TestClient
    factory: sessionmaker[Session]
    settings: Settings
    tokens: dict[str, str]
    ids: dict[str, int]

    def get(self, who: str, url: str, **headers: str) -> object:
        return self.client.get(url, headers={"Authorization": f"Bearer {self.tokens[who]}", **headers})

    def audits(self, action: str) -> list[AuditEntry]:
        with self.factory() as session:
            return list(session.scalars(select(AuditEntry).where(AuditEntry.action == action)))


def _recording(session: Session, settings: Settings, name: str, **fields: object) -> int:
    row = Recording(file_name=name, started_at=STARTED, format="wav", **{"status": "ready", **fields})
    path = settings.recordings_dir / name
    if path.exists():
        row.size_bytes = path.stat().st_size
    session.add(row)
    session.flush()
    return row.id


@pytest.fixture
def api(db_factory: sessionmaker[Session], rec_settings: Settings) -> Iterator[Api]:
    root = rec_settings.recordings_dir
    write_tone(root / "q-support-20261120-093000-100.1.wav", 3.0)
    write_tone(root / "cti-200.1.wav", 1.0)
    (root / "cti-300.1.wav").write_bytes(b"definitely not audio" * 20)
    truncated = write_tone(root / "cti-400.1.wav", 1.0)
    truncated.write_bytes(truncated.read_bytes()[:3000])
    tokens: dict[str, str] = {}
    with db_factory() as session:
        sales, support = make_department(session, "销售 Sales"), make_department(session, "客服 Support")
        users = {
            "zhang": make_user(session, "zhang", "agent", support, agent_number="1001"),
            "li": make_user(session, "li", "agent", support, agent_number="1002"),
            "wang": make_user(session, "wang", "supervisor", support),
            "zhao": make_user(session, "zhao", "supervisor", sales),
            "qian": make_user(session, "qian", "quality"),
            "root": make_user(session, "root", "admin"),
        }
        customer = Customer(name="华为 Huawei")
        session.add(customer)
        session.flush()
        ids = {
            "mine": _recording(
                session,
                rec_settings,
                "q-support-20261120-093000-100.1.wav",
                call_id="100.0",
                uniqueid="100.1",
                agent="1001",
                agent_user_id=users["zhang"].id,
                department_id=support,
                queue="support",
                caller_number="13800138000",
                direction="inbound",
                duration_s=3.0,
                satisfaction=5,
                customer_id=customer.id,
            ),
            "sales": _recording(
                session,
                rec_settings,
                "cti-200.1.wav",
                call_id="200.0",
                agent="1003",
                department_id=sales,
                queue="sales",
                caller_number="02155550000",
                direction="outbound",
                duration_s=1.0,
                satisfaction=2,
            ),
            "garbage": _recording(session, rec_settings, "cti-300.1.wav", call_id="300.0", queue="support"),
            "truncated": _recording(session, rec_settings, "cti-400.1.wav", call_id="400.0", queue="support"),
            "gone": _recording(session, rec_settings, "cti-500.1.wav", call_id="500.0", status="deleted"),
            "missing": _recording(session, rec_settings, "cti-600.1.wav", call_id="600.0", status="missing"),
            "escape": _recording(session, rec_settings, "../outside.wav", call_id="700.0"),
            "customer": customer.id,
        }
        session.add(CallLink(call_id="200.0", customer_id=customer.id))
        for name, user in users.items():
            tokens[name] = open_session(session, user, "bearer", timedelta(hours=1)).token
        session.commit()
    write_tone(rec_settings.recordings_dir.parent / "outside.wav", 0.5)
    app = FastAPI()
    app.state.settings = rec_settings
    app.state.sessionmaker = db_factory
    app.include_router(recordings_api.router)
    app.include_router(voicemail_api.router)
    with TestClient(app) as client:
        yield Api(client, db_factory, rec_settings, tokens, ids)


def _ids(response: object) -> list[int]:
    assert response.status_code == 200, response.text  # type: ignore[attr-defined]
    return sorted(item["id"] for item in response.json()["items"])  # type: ignore[attr-defined]


def test_one_click_from_a_call_finds_its_recording(api: Api) -> None:
    body = api.get("zhang", "/api/recordings?call_id=100.0").json()
    assert body["total"] == 1
    [item] = body["items"]
    assert (item["id"], item["playable"], item["audio_url"]) == (
        api.ids["mine"],
        True,
        f"/api/recordings/{api.ids['mine']}/audio",
    )


def test_each_role_sees_what_it_may_hear(api: Api) -> None:
    everything = _ids(api.get("qian", "/api/recordings"))
    assert len(everything) == 7
    assert _ids(api.get("root", "/api/recordings")) == everything
    assert _ids(api.get("zhang", "/api/recordings")) == [api.ids["mine"]]
    assert _ids(api.get("li", "/api/recordings")) == []
    assert _ids(api.get("wang", "/api/recordings")) == [api.ids["mine"]]
    assert _ids(api.get("zhao", "/api/recordings")) == [api.ids["sales"]]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("queue=sales", ["sales"]),
        ("agent=1001", ["mine"]),
        ("number=138-0013", ["mine"]),
        ("direction=outbound", ["sales"]),
        ("min_duration=2", ["mine"]),
        ("max_duration=2&min_duration=0.5", ["sales"]),
        ("min_score=4", ["mine"]),
        ("max_score=3", ["sales"]),
        (
            "from=2026-11-20T00:00:00&to=2026-11-21T00:00:00&queue=support&status=ready",
            ["garbage", "mine", "truncated"],
        ),
        ("from=2026-11-21T00:00:00", []),
    ],
)
def test_search_filters(api: Api, query: str, expected: list[str]) -> None:
    assert _ids(api.get("qian", f"/api/recordings?{query}")) == sorted(api.ids[n] for n in expected)


def test_search_by_customer_includes_calls_linked_to_him(api: Api) -> None:
    found = _ids(api.get("qian", f"/api/recordings?customer_id={api.ids['customer']}"))
    assert found == sorted([api.ids["mine"], api.ids["sales"]])


def test_play_streams_a_browser_copy_with_range_and_audits_once(api: Api) -> None:
    url = f"/api/recordings/{api.ids['mine']}/audio"
    full = api.get("zhang", url)
    assert full.status_code == 200, full.text
    assert full.headers["content-type"] == "audio/mpeg"
    assert full.headers["accept-ranges"] == "bytes"
    body = full.content
    assert body[:3] == b"ID3" or body[0] == 0xFF
    assert int(full.headers["content-length"]) == len(body)

    part = api.get("zhang", url, Range="bytes=100-199")
    assert part.status_code == 206
    assert part.headers["content-range"] == f"bytes 100-199/{len(body)}"
    assert part.content == body[100:200]
    tail = api.get("zhang", url, Range="bytes=-50")
    assert tail.content == body[-50:]

    cached = list(recordings_cache_dir(api.settings).glob(f"rec-{api.ids['mine']}-*.mp3"))
    assert len(cached) == 1 and cached[0].read_bytes() == body
    plays = api.audits("play")
    assert [(a.username, a.resource, a.object_id) for a in plays] == [
        ("zhang", "recording", str(api.ids["mine"]))
    ]


def test_wrong_agent_and_wrong_department_are_refused(api: Api) -> None:
    for who in ("li", "zhao"):
        for suffix in ("", "/audio", "/peaks", "/download"):
            response = api.get(who, f"/api/recordings/{api.ids['mine']}{suffix}")
            assert response.status_code == 403, (who, suffix)
    assert api.get("wang", f"/api/recordings/{api.ids['mine']}").status_code == 200
    assert api.audits("play") == []


def test_waveform_peaks(api: Api) -> None:
    body = api.get("zhang", f"/api/recordings/{api.ids['mine']}/peaks").json()
    assert body["duration_s"] == 3.0
    assert len(body["peaks"]) == 800 and all(0.45 < p <= 0.51 for p in body["peaks"])


def test_download_the_original_only_when_allowed(api: Api) -> None:
    url = f"/api/recordings/{api.ids['mine']}/download"
    assert api.get("zhang", url).status_code == 403
    response = api.get("root", url)
    assert response.status_code == 200
    original = api.settings.recordings_dir / "q-support-20261120-093000-100.1.wav"
    assert response.content == original.read_bytes()
    assert response.headers["content-disposition"] == f'attachment; filename="{original.name}"'
    assert response.headers["content-type"] in ("audio/x-wav", "audio/wav")
    assert [a.username for a in api.audits("download")] == ["root"]


@pytest.mark.parametrize(
    ("path", "headers", "status"),
    [
        ("/api/recordings/999999/audio", {}, 404),
        ("/api/recordings/999999", {}, 404),
        ("/api/recordings/abc/audio", {}, 422),
        ("/api/recordings/..%2F..%2Fetc%2Fpasswd/audio", {}, 404),
        ("/api/recordings/{mine}/audio", {"Range": "bytes=oops"}, 400),
        ("/api/recordings/{mine}/audio", {"Range": "bytes=0-1,5-9"}, 400),
        ("/api/recordings/{mine}/audio", {"Range": "bytes=99999999-"}, 416),
        ("/api/recordings/{mine}/download", {"Range": "bytes=99999999-"}, 416),
        ("/api/recordings/{garbage}/audio", {}, 422),
        ("/api/recordings/{truncated}/audio", {}, 422),
        ("/api/recordings/{truncated}/peaks", {}, 422),
        ("/api/recordings/{gone}/audio", {}, 410),
        ("/api/recordings/{missing}/audio", {}, 404),
        ("/api/recordings/{escape}/audio", {}, 400),
        ("/api/recordings/{escape}/download", {}, 400),
        ("/api/recordings?limit=0", {}, 422),
        ("/api/recordings?direction=sideways", {}, 422),
    ],
)
def test_bad_input_is_a_clear_4xx(api: Api, path: str, headers: dict[str, str], status: int) -> None:
    response = api.get("root", path.format(**api.ids), **headers)
    assert response.status_code == status, response.text
    assert response.json()["detail"]
    if status == 416:
        assert response.headers["content-range"].startswith("bytes */")


def test_login_required(api: Api) -> None:
    assert api.client.get("/api/recordings").status_code == 401
    assert api.client.get(f"/api/recordings/{api.ids['mine']}/audio").status_code == 401


def test_status_counts_for_the_platform_page(api: Api) -> None:
    counts = api.get("qian", "/api/recordings/status").json()
    assert (counts["ready"], counts["deleted"], counts["missing"], counts["total"]) == (5, 1, 1, 7)


def test_retention_rules_and_dry_run_preview(api: Api) -> None:
    headers = {"Authorization": f"Bearer {api.tokens['root']}"}
    rules = {"rules": [{"queue": "sales", "keep_days": 1}, {"queue": "*", "keep_days": 0}]}
    assert api.client.put("/api/recordings/retention", json=rules, headers=headers).status_code == 200
    assert api.get("root", "/api/recordings/retention").json()["rules"] == rules["rules"]
    preview = api.get("root", "/api/recordings/retention/preview").json()
    assert [item["id"] for item in preview["items"]] == [api.ids["sales"]]
    assert (api.settings.recordings_dir / "cti-200.1.wav").exists()
    assert api.get("zhang", "/api/recordings/retention").status_code == 403
    bad = {"rules": [{"queue": "../x", "keep_days": 1}]}
    assert api.client.put("/api/recordings/retention", json=bad, headers=headers).status_code == 422


def _voicemail(api: Api, mailbox: str = "1001") -> Path:
    inbox = api.settings.voicemail_dir / "default" / mailbox / "INBOX"
    write_tone(inbox / "msg0000.wav", 1.0)
    (inbox / "msg0000.txt").write_text("[message]\nmsg_id=1795451300-00000001\nduration=1\n")
    return inbox


def test_voicemail_plays_with_range_and_is_marked_heard(api: Api) -> None:
    inbox = _voicemail(api)
    url = "/api/voicemail/1001@default/msg0000/audio"
    full = api.get("zhang", url)
    assert full.status_code == 200 and full.headers["content-type"] == "audio/mpeg"
    part = api.get("zhang", url, Range="bytes=10-19")
    assert (part.status_code, part.content) == (206, full.content[10:20])
    heard = api.client.post(
        "/api/voicemail/1001/msg0000/heard", headers={"Authorization": f"Bearer {api.tokens['zhang']}"}
    )
    assert heard.status_code == 200
    assert heard.json() == {
        "mailbox": "1001@default",
        "folder": "Old",
        "message_id": "msg0000",
        "msg_id": "1795451300-00000001",
        "heard": True,
    }
    assert not (inbox / "msg0000.wav").exists()
    assert api.get("zhang", "/api/voicemail/1001/1795451300-00000001/audio").status_code == 200
    assert api.get("zhang", "/api/voicemail/1001/msg0000/audio?folder=Old").status_code == 200
    assert [a.resource for a in api.audits("heard")] == ["voicemail"]
    assert len(api.audits("play")) == 3


@pytest.mark.parametrize(
    ("who", "path", "status"),
    [
        ("li", "/api/voicemail/1001/msg0000/audio", 403),  # not his mailbox
        ("qian", "/api/voicemail/1001/msg0000/audio", 200),  # quality hears all
        ("root", "/api/voicemail/1001/msg0009/audio", 404),
        ("root", "/api/voicemail/1001/msg0000/audio?folder=..", 422),
        ("root", "/api/voicemail/..%2F..%2Fetc/msg0000/audio", 404),
        ("root", "/api/voicemail/1001@../msg0000/audio", 400),
        ("root", "/api/voicemail/1001/..%2Fmsg0000/audio", 404),
        ("root", "/api/voicemail/1001/msg0000.txt/audio", 400),
        ("root", "/api/voicemail/1001/msg0000/audio", 200),
    ],
)
def test_voicemail_access_and_bad_names(api: Api, who: str, path: str, status: int) -> None:
    _voicemail(api)
    response = api.get(who, path)
    assert response.status_code == status, response.text


def test_voicemail_that_is_not_audio_is_422(api: Api) -> None:
    inbox = _voicemail(api, "1002")
    (inbox / "msg0000.wav").write_bytes(b"not audio" * 30)
    assert api.get("li", "/api/voicemail/1002/msg0000/audio").status_code == 422

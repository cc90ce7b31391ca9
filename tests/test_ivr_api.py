"""The IVR administration API: flows, calendar, voicemail listing, server counters."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from test_ivr_support import FLOWS

from agent_desk.api.ivr import router
from agent_desk.deps import current_user
from config import Settings
from ivr.agi import IVRStats
from ivr.directory import InMemoryDirectory

FIXTURES = Path(__file__).parent / "fixtures" / "ivr"
ROOT = Path(__file__).resolve().parent.parent


@dataclass
class FakeUser:
    allowed: set[tuple[str, str]] = field(default_factory=set)
    username: str = "admin"
    roles: list[str] = field(default_factory=list)

    def has_permission(self, resource: str, action: str) -> bool:
        return (resource, action) in self.allowed


@dataclass
class FakeServer:
    directory: InMemoryDirectory
    stats: IVRStats = field(default_factory=IVRStats)
    port: int = 4573


@dataclass
class FakeRuntime:
    ivr: FakeServer


@dataclass
class Api:
    client: TestClient
    user: FakeUser
    flows: Path
    voicemail: Path


ADMIN = {("ivr", "read"), ("ivr", "update"), ("voicemail", "read"), ("supervisor", "monitor")}


def test_an_agent_lists_only_his_own_mailbox(api: Api) -> None:
    for box in ("1001", "1002"):
        (api.voicemail / "default" / box / "INBOX").mkdir(parents=True)
    api.user.allowed, api.user.username = {("voicemail", "read")}, "1001"  # an agent, not an administrator
    assert api.client.get("/api/ivr/voicemail").json() == ["1001@default"]
    assert api.client.get("/api/ivr/voicemail/1002@default").status_code == 403
    assert api.client.get("/api/ivr/voicemail/1001@default").json() == []


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    flows = tmp_path / "flows"
    shutil.copytree(FLOWS, flows)
    calendar = tmp_path / "calendar.yaml"
    shutil.copy(ROOT / "config" / "calendar.yaml", calendar)
    settings = Settings(ivr_flows_dir=flows, ivr_calendar_file=calendar, voicemail_dir=tmp_path / "vm")
    app = FastAPI()
    app.include_router(router)
    app.state.settings = settings
    directory = InMemoryDirectory(customers={"5551238": {"id": 9, "name": "王芳"}})
    app.state.runtime = FakeRuntime(FakeServer(directory))
    user = FakeUser(set(ADMIN))
    app.dependency_overrides[current_user] = lambda: user
    with TestClient(app) as client:
        yield Api(client, user, flows, tmp_path / "vm")


def test_list_flows_reports_valid_and_broken(api: Api) -> None:
    shutil.copy(FIXTURES / "broken_flow.yaml", api.flows / "broken.yaml")
    listed = {f["name"]: f for f in api.client.get("/api/ivr/flows").json()}
    assert listed["ivr"]["valid"] and listed["ivr"]["nodes"] > 10
    assert not listed["broken"]["valid"]
    assert {i["line"] for i in listed["broken"]["issues"]} == {11, 13, 14, 18, 23, 26}


def test_validate_and_upload(api: Api) -> None:
    bad = "nodes:\n  a: {type: play, file: x, next: nowhere}\n"
    report = api.client.post("/api/ivr/flows/new/validate", content=bad,
                             headers={"content-type": "text/yaml", "accept-language": "en"}).json()
    issue = {"line": 2, "path": "nodes.a.next", "message": "points to unknown node 'nowhere'"}
    assert report == {"name": "new", "valid": False, "issues": [issue]}
    refused = api.client.put("/api/ivr/flows/new", json={"text": bad})
    assert refused.status_code == 422 and refused.json()["detail"]["issues"][0]["line"] == 2
    assert not (api.flows / "new.yaml").exists()
    good = "description: 测试\nnodes:\n  a: {type: queue, queue: sales}\n"
    saved = api.client.put("/api/ivr/flows/new", json={"text": good})
    assert saved.status_code == 200 and saved.json()["description"] == "测试"
    assert (api.flows / "new.yaml").read_text() == good
    assert api.client.put("/api/ivr/flows/..%2Fevil", json={"text": good}).status_code in (400, 404)


def test_flow_as_tree(api: Api) -> None:
    body = api.client.get("/api/ivr/flows/ivr").json()
    assert body["root"]["id"] == "welcome" and body["root"]["type"] == "play"
    assert body["text"][0] == "welcome: 播放 play custom/welcome"
    assert any("[按 key 2] support_queue" in line for line in body["text"])
    assert api.client.get("/api/ivr/flows/missing").status_code == 404


def test_calendar_read_and_edit(api: Api) -> None:
    calendar = api.client.get("/api/ivr/calendar").json()
    assert {"date": "2026-01-04", "name": "元旦调休上班"} in calendar["workdays"]
    calendar["hours"]["sat"] = [["09:00", "12:00"]]
    assert api.client.put("/api/ivr/calendar", json=calendar).status_code == 200
    assert api.client.get("/api/ivr/calendar").json()["hours"]["sat"] == [["09:00", "12:00"]]
    bad = api.client.put("/api/ivr/calendar", json={"hours": {"mon": [["25:00", "26:00"]]}})
    assert bad.status_code == 422


def test_permissions(api: Api) -> None:
    api.user.allowed = {("ivr", "read")}
    assert api.client.get("/api/ivr/flows").status_code == 200
    assert api.client.put("/api/ivr/flows/x", json={"text": "nodes: {a: {type: hangup}}"}).status_code == 403
    assert api.client.put("/api/ivr/calendar", json={}).status_code == 403
    assert api.client.get("/api/ivr/voicemail/100").status_code == 403


def test_voicemail_listing_links_customers(api: Api) -> None:
    inbox = api.voicemail / "default" / "100" / "INBOX"
    old = api.voicemail / "default" / "100" / "Old"
    messages = ((inbox, '"PSTN 5551238" <5551238>', "1795451412-00000000"),
                (old, "<13100000000>", "1795450000-00000001"))
    for folder, caller, msg_id in messages:
        folder.mkdir(parents=True)
        text = (FIXTURES / "msg0000.txt").read_text().replace('"PSTN 5551238" <5551238>', caller)
        (folder / "msg0000.txt").write_text(text.replace("1795451412-00000000", msg_id))
        (folder / "msg0000.wav").write_bytes(b"RIFF")
    assert api.client.get("/api/ivr/voicemail").json() == ["100@default"]
    listed: list[dict[str, Any]] = api.client.get("/api/ivr/voicemail/100@default").json()
    assert [(m["caller"], m["heard"], m["customer"]) for m in listed] == [
        ("5551238", False, {"id": 9, "name": "王芳"}), ("13100000000", True, None)]
    assert len(api.client.get("/api/ivr/voicemail/100?folder=INBOX").json()) == 1
    assert api.client.get("/api/ivr/voicemail/..%2F..").status_code in (400, 404)


def test_stats(api: Api) -> None:
    assert api.client.get("/api/ivr/stats").json()["sessions_total"] == 0

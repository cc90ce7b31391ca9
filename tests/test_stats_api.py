"""Reports and live monitoring over HTTP: permissions, date ranges, department filter, CSV and Excel."""

from __future__ import annotations

import csv
import io
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import openpyxl
import pytest
from fastapi.testclient import TestClient

from agent_desk.app import create_app
from config import Settings
from crm_core.db import make_engine, make_sessionmaker
from crm_core.testing import TEST_PASSWORD, Org, make_org
from stats.writer import HistoryWriter

sys.path.insert(0, str(Path(__file__).parent / "fixtures" / "stats"))
from stats_events import EventLog

pytest_plugins = ["crm_core.testing"]

# 2026-11-20 10:00 in Shanghai (the default business time zone)
T0 = 1_795_140_000.0


@dataclass
class Env:
    client: TestClient
    org: Org
    sup: dict[str, str]
    agent: dict[str, str]


@pytest.fixture(scope="module")
def env(crm_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    folder = tmp_path_factory.mktemp("stats_api")
    shutil.copyfile(crm_template, folder / "crm.db")
    url = f"sqlite:///{folder / 'crm.db'}"
    engine = make_engine(url)
    factory = make_sessionmaker(engine)
    with factory() as session:
        org = make_org(session)
    HistoryWriter(factory).apply_many(day_of_calls())
    engine.dispose()
    app = create_app(Settings(database_url=url, data_dir=folder))
    with TestClient(app) as client:
        yield Env(client, org, bearer(client, "sup_a"), bearer(client, "agent_a"))


def day_of_calls() -> list[dict]:
    log = EventLog()
    for n, (agent, queue, wait) in enumerate([("1001", "2/4", 8), ("1001", "2/4", 30), ("2001", "sales", 12)]):
        t = T0 + n * 600
        call_id = f"c{n}"
        log.new_call(t, call_id, f"1380000000{n}")
        log.join(t + 5, call_id, queue)
        log.answer(t + 5 + wait, call_id, agent, queue, wait)
        log.add("recording.ready", t + 6 + wait, call_id=call_id, recording_id=str(40 + n), duration_s=60)
        log.end(t + 65 + wait, call_id, t, t + 5 + wait, "answered")
    return log.ordered()


def bearer(client: TestClient, username: str) -> dict[str, str]:
    reply = client.post("/api/auth/token", json={"username": username, "password": TEST_PASSWORD})
    assert reply.status_code == 200, reply.text
    return {"Authorization": f"Bearer {reply.json()['access_token']}"}


RANGE = {"start": "2026-11-20", "end": "2026-11-21"}


def test_reports_need_the_report_permission(env: Env) -> None:
    client = env.client
    assert client.get("/api/stats/reports/cdr", params=RANGE).status_code == 401
    assert client.get("/api/stats/reports/cdr", params=RANGE, headers=bearer(client, "agent_a")).status_code == 403
    assert client.get("/api/monitor/live", headers=bearer(client, "agent_a")).status_code == 403


def test_queue_history_by_day(env: Env) -> None:
    client = env.client
    reply = client.get("/api/stats/reports/queue_history", params=RANGE, headers=env.sup)
    assert reply.status_code == 200, reply.text
    body = reply.json()
    rows = [dict(zip([c["key"] for c in body["columns"]], r, strict=True)) for r in body["rows"]]
    assert [(r["period"], r["queue"], r["offered"], r["answered"]) for r in rows] == [
        ("2026-11-20", "2/4", 2, 2),
        ("2026-11-20", "sales", 1, 1),
    ]
    assert rows[0]["sl_pct"] == 50.0 and rows[0]["asa_s"] == 19.0
    assert body["columns"][2]["label"] == "进线"
    english = client.get("/api/stats/reports/queue_history", params={**RANGE, "lang": "en"}, headers=env.sup)
    assert english.json()["columns"][2]["label"] == "Offered"


def test_department_filter_keeps_its_agents(env: Env) -> None:
    client, org = env.client, env.org
    params = {**RANGE, "department": str(org.dept_a.id)}
    rows = client.get("/api/stats/reports/cdr", params=params, headers=env.sup).json()["rows"]
    assert len(rows) == 2 and {r[6] for r in rows} == {"1001"}  # agent_a has extension 1001
    assert rows[0][-1] == "/api/recordings/40/audio"


def test_bad_range_is_a_readable_error(env: Env) -> None:
    client = env.client
    reply = client.get(
        "/api/stats/reports/cdr",
        params={"start": "2026-11-21", "end": "2026-11-20"},
        headers=env.sup,
    )
    assert reply.status_code == 422 and "end" in reply.json()["detail"]
    assert client.get("/api/stats/reports/nope", params=RANGE, headers=env.sup).status_code == 422


def test_csv_export_reads_in_excel(env: Env) -> None:
    client = env.client
    reply = client.get(
        "/api/stats/reports/queue_history/export",
        params={**RANGE, "format": "csv"},
        headers=env.sup,
    )
    assert reply.status_code == 200 and reply.headers["content-type"].startswith("text/csv")
    assert reply.content.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(reply.content.decode("utf-8-sig"))))
    assert rows[0][:3] == ["时段", "队列", "进线"] and rows[1][:3] == ["2026-11-20", "2/4", "2"]


def test_xlsx_export_keeps_text_as_text(env: Env) -> None:
    client = env.client
    reply = client.get(
        "/api/stats/reports/queue_history/export",
        params={**RANGE, "format": "xlsx", "lang": "en"},
        headers=env.sup,
    )
    assert reply.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(reply.content)).active
    assert [c.value for c in sheet[1]][:3] == ["Period", "Queue", "Offered"]
    assert sheet["B2"].value == "2/4" and sheet["B2"].data_type == "s"  # never a date
    assert sheet["C2"].value == 2


def test_monitoring_without_a_runtime(env: Env) -> None:
    client = env.client
    headers = env.sup
    live = client.get("/api/monitor/live", headers=headers).json()
    assert live["platform"]["runtime"] is False and live["platform"]["database"]["ok"] is True
    assert live["platform"]["ami_connected"] is None and live["channels"] == []
    board = client.get("/api/monitor/wallboard", headers=headers).json()
    assert board["settings"] == {"sl_threshold_s": 20, "short_abandon_s": 5}
    assert board["timezone"] == "Asia/Shanghai"


def test_pages_need_a_login(env: Env) -> None:
    client = env.client
    reply = client.get("/wallboard", follow_redirects=False)
    assert reply.status_code == 303 and reply.headers["location"] == "/login?next=/wallboard"
    client.post("/api/auth/login", json={"username": "sup_a", "password": TEST_PASSWORD})
    for path in ("/wallboard", "/reports"):
        page = client.get(path)
        assert page.status_code == 200 and "data-i18n" in page.text

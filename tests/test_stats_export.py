"""Reports and exports as a supervisor reads them: durations as h:mm:ss and rates as percentages with
real Excel number formats (the values stay numbers), a frozen header row, file names that match the
chosen period, the callee of inbound calls and the customers of the customer-calls report."""

from __future__ import annotations

import csv
import io
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import openpyxl
import pytest
from fastapi.testclient import TestClient

from agent_desk.app import create_app
from config import Settings
from crm_core.db import make_engine, make_sessionmaker
from crm_core.testing import TEST_PASSWORD, make_org
from stats.export import export_name, hms
from stats.writer import HistoryWriter

sys.path.insert(0, str(Path(__file__).parent / "fixtures" / "stats"))
from stats_events import EventLog

pytest_plugins = ["crm_core.testing"]

T0 = 1_795_140_000.0  # 2026-11-20 10:00 in Shanghai
LONG_TALK_S = 9760.2
RANGE = {"start": "2026-11-20", "end": "2026-11-21"}  # the page sends the day after the last one


@dataclass
class Env:
    client: TestClient
    sup: dict[str, str]


def _calls() -> list[dict]:
    log = EventLog()
    # inbound: the demo dialplan carries the caller's own number as the extension (no DID)
    log.new_call(T0, "in1", "13800000000")
    log.events[-1]["dialed"] = "13800000000"
    log.join(T0 + 1, "in1", "support")
    log.answer(T0 + 9, "in1", "1001", "support", 8)
    log.end(T0 + 9 + LONG_TALK_S, "in1", T0, T0 + 9, "answered")
    # a second call to support that was abandoned: 50 % answered
    log.new_call(T0 + 100, "in2", "13800000002")
    log.events[-1]["dialed"] = "13800000002"
    log.join(T0 + 101, "in2", "support")
    log.abandon(T0 + 131, "in2", "support", 30)
    log.end(T0 + 131, "in2", T0 + 100, None, "abandoned")
    # click-to-dial: the agent's extension calls the customer
    log.new_call(T0 + 200, "out1", "1001", direction="outbound")
    log.events[-1]["dialed"] = "13900000001"
    log.answer(T0 + 205, "out1", "1001", None, 0, caller="1001")
    log.end(T0 + 265, "out1", T0 + 200, T0 + 205, "answered")
    return log.ordered()


@pytest.fixture(scope="module")
def env(crm_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    folder = tmp_path_factory.mktemp("stats_export")
    shutil.copyfile(crm_template, folder / "crm.db")
    url = f"sqlite:///{folder / 'crm.db'}"
    engine = make_engine(url)
    factory = make_sessionmaker(engine)
    with factory() as session:
        make_org(session)
    HistoryWriter(factory).apply_many(_calls())
    engine.dispose()
    app = create_app(Settings(database_url=url, data_dir=folder))
    with TestClient(app) as client:
        reply = client.post("/api/auth/token", json={"username": "admin", "password": TEST_PASSWORD})
        assert reply.status_code == 200, reply.text
        yield Env(client, {"Authorization": f"Bearer {reply.json()['access_token']}"})


def _export(env: Env, kind: str, format: str, **params: str) -> object:
    reply = env.client.get(
        f"/api/stats/reports/{kind}/export", params={**RANGE, "format": format, **params}, headers=env.sup
    )
    assert reply.status_code == 200, reply.text
    return reply


def test_durations_and_rates_are_numbers_with_excel_formats_and_the_header_is_frozen(env: Env) -> None:
    reply = _export(env, "agent_service", "xlsx", lang="en")
    sheet = openpyxl.load_workbook(io.BytesIO(reply.content)).active  # type: ignore[attr-defined]
    assert sheet.freeze_panes == "A2"
    header = [c.value for c in sheet[1]]
    talk = sheet.cell(row=2, column=header.index("Talk time") + 1)
    assert talk.number_format == "[h]:mm:ss"
    # openpyxl reads a time-formatted number back as the duration it means
    assert talk.value == timedelta(seconds=LONG_TALK_S + 60) or abs(talk.value.total_seconds() - (LONG_TALK_S + 60)) < 1
    queue = _export(env, "queue_history", "xlsx", lang="en")
    sheet = openpyxl.load_workbook(io.BytesIO(queue.content)).active  # type: ignore[attr-defined]
    header = [c.value for c in sheet[1]]
    rows = {r[header.index("Queue")].value: r for r in sheet.iter_rows(min_row=2)}
    sl = rows["support"][header.index("Service level %")]
    abandon_pct = rows["support"][header.index("Abandon rate %")]
    assert sl.number_format == "0.00%" and isinstance(sl.value, float) and 0 <= sl.value <= 1
    assert abandon_pct.value == pytest.approx(0.5)
    asa = rows["support"][header.index("ASA")]
    assert asa.number_format == "[h]:mm:ss" and abs(asa.value.total_seconds() - 8) < 1


def test_csv_writes_durations_and_rates_as_a_spreadsheet_reads_them(env: Env) -> None:
    reply = _export(env, "queue_history", "csv", lang="en")
    rows = list(csv.DictReader(io.StringIO(reply.content.decode("utf-8-sig"))))  # type: ignore[attr-defined]
    support = next(r for r in rows if r["Queue"] == "support")
    assert support["Abandon rate %"] == "50.00%" and support["ASA"] == "0:00:08"
    assert hms(LONG_TALK_S) == "2:42:40" and hms(90000) == "25:00:00"


def test_file_names_match_the_chosen_period(env: Env) -> None:
    reply = _export(env, "cdr", "xlsx")
    assert reply.headers["content-disposition"] == 'attachment; filename="cdr_20261120.xlsx"'  # type: ignore[attr-defined]
    month = export_name("queue_history", datetime(2026, 11, 1), datetime(2026, 12, 1), "csv")
    assert month == "queue_history_20261101_20261130.csv"
    assert (
        export_name("cdr", datetime(2026, 11, 1, 8), datetime(2026, 11, 3, 12), "xlsx") == "cdr_20261101_20261103.xlsx"
    )


def test_inbound_callee_is_not_the_caller_and_agents_are_not_customers(env: Env) -> None:
    cdr = env.client.get("/api/stats/reports/cdr", params={**RANGE, "lang": "en"}, headers=env.sup).json()
    keys = [c["key"] for c in cdr["columns"]]
    by_call = {r[keys.index("call_id")]: dict(zip(keys, r, strict=True)) for r in cdr["rows"]}
    assert by_call["in1"]["caller"] == "13800000000" and by_call["in1"]["dialed"] == "1001"
    assert by_call["in2"]["dialed"] == "support"  # nobody answered: the queue it waited in
    assert (by_call["out1"]["caller"], by_call["out1"]["dialed"]) == ("1001", "13900000001")
    report = env.client.get("/api/stats/reports/customer_calls", params=RANGE, headers=env.sup).json()
    keys = [c["key"] for c in report["columns"]]
    numbers = {r[keys.index("caller_number")] for r in report["rows"]}
    assert numbers == {"13800000000", "13800000002", "13900000001"}  # never the agent's 1001

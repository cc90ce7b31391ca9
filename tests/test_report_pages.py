"""The reports per agent or queue come a page of whole periods at a time, and the pages add up to the
whole report.

Three simulated days go through the history writer (one of them the day New York leaves daylight saving
time). Each paged report kind, grouped by hour, day and week, in the rollups' zone, a zone with daylight
saving time and one with a half-hour offset, over ranges on and off the hour, is read page after page
with a small row limit: the pages' rows, in order, are the whole report's rows; every period of the range
is in exactly one page; a page holds whole periods and never more rows than the limit allows (unless one
period alone has more). The API pages what it shows and exports every period.
"""

from __future__ import annotations

import itertools
import shutil
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from agent_desk.app import create_app
from config import Settings
from crm_core.db import make_engine, make_sessionmaker, migrate
from crm_core.testing import TEST_PASSWORD, make_org
from stats.reports import PAGED, GroupBy, ReportError, period_bounds, period_label, report
from stats.writer import HistoryWriter

sys.path.insert(0, str(Path(__file__).parent / "fixtures" / "stats"))
from stats_events import simulate_day

pytest_plugins = ["crm_core.testing"]

FIRST_DAY = datetime(2026, 10, 31, tzinfo=ZoneInfo("Asia/Shanghai"))


@pytest.fixture(scope="module")
def factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sessionmaker[Session]]:
    url = f"sqlite:///{tmp_path_factory.mktemp('pages') / 'days.db'}"
    migrate(url)
    engine = make_engine(url)
    made = make_sessionmaker(engine)
    events: list[dict[str, Any]] = []
    for n in range(3):
        events += simulate_day((FIRST_DAY + timedelta(days=n)).timestamp(), seed=3 + n, agents=5, calls=60)
    for seq, event in enumerate(events, 1):
        event["seq"] = seq
    writer = HistoryWriter(made)
    for at in range(0, len(events), 300):
        writer.apply_many(events[at : at + 300])
    yield made
    engine.dispose()


def pages(session: Session, limit: int, **ask: Any) -> list[Any]:
    out, offset = [], 0
    while True:
        table = report(session, **ask, limit=limit, period_offset=offset)
        assert table.periods is not None and table.periods.offset == offset and table.periods.count >= 1
        out.append(table)
        offset += table.periods.count
        assert offset <= table.periods.total
        if offset == table.periods.total:
            return out


RANGES = [
    (timedelta(0), timedelta(days=3)),
    (timedelta(hours=9, minutes=17, seconds=23), timedelta(days=2, hours=15, minutes=42)),
]


@pytest.mark.parametrize("tz", ["Asia/Shanghai", "America/New_York", "Asia/Kolkata"])
def test_the_pages_of_a_report_add_up_to_the_whole_report(factory: sessionmaker[Session], tz: str) -> None:
    zone = ZoneInfo(tz)
    day = datetime(2026, 10, 31, tzinfo=zone)
    paged_reads = 0
    with factory() as session:
        for begin, finish in RANGES:
            for kind in PAGED:
                for group_by in ("hour", "day", "week"):
                    ask: dict[str, Any] = dict(
                        kind=kind.value, start=day + begin, end=day + finish, group_by=group_by, tz=tz
                    )
                    whole = report(session, **ask)
                    assert whole.periods is None
                    for limit in (1, 12, 40):
                        got = pages(session, limit, **ask)
                        assert [row for table in got for row in table.rows] == whole.rows, (ask, limit)
                        assert sum(t.periods.count for t in got) == got[0].periods.total
                        labels = [{row[0] for row in t.rows} for t in got]
                        for one, other in itertools.pairwise(labels):
                            assert not one & other, "a period is split across pages"
                        for table in got:
                            if table.periods.count > 1:
                                assert len(table.rows) <= limit, (ask, limit, table.periods)
                        paged_reads += len(got)
    assert paged_reads > 100  # the small limits did cut the reports into many pages


def test_the_period_bounds_follow_the_business_calendar() -> None:
    zone = ZoneInfo("America/New_York")
    start = datetime(2026, 10, 31, 12, tzinfo=zone).timestamp()
    end = datetime(2026, 11, 3, tzinfo=zone).timestamp()
    days = period_bounds(start, end, GroupBy.DAY, zone)
    assert [datetime.fromtimestamp(b, zone).isoformat() for b in days] == [
        "2026-10-31T12:00:00-04:00",
        "2026-11-01T00:00:00-04:00",
        "2026-11-02T00:00:00-05:00",  # the day daylight saving time ends has 25 hours
        "2026-11-03T00:00:00-05:00",
    ]
    hours = period_bounds(start, end, GroupBy.HOUR, zone)
    # 25 hours that day, but 01:00 comes twice: its two UTC hours are one period, as the report folds them
    assert len(hours) - 1 == 12 + 24 + 24
    labels = [period_label(int(b // 3600), GroupBy.HOUR, zone) for b in hours[:-1]]
    assert len(set(labels)) == len(labels)
    repeated = datetime(2026, 11, 1, 1, tzinfo=zone).timestamp()
    assert repeated in hours and repeated + 3600 not in hours
    kolkata = ZoneInfo("Asia/Kolkata")  # UTC+05:30: a day's first hour is the UTC hour that starts at 00:30
    bounds = period_bounds(datetime(2026, 11, 1, tzinfo=kolkata).timestamp(), end, GroupBy.DAY, kolkata)
    assert datetime.fromtimestamp(bounds[1], kolkata).isoformat() == "2026-11-02T00:30:00+05:30"
    weeks = period_bounds(start, datetime(2026, 11, 20, tzinfo=zone).timestamp(), GroupBy.WEEK, zone)
    assert [datetime.fromtimestamp(b, zone).strftime("%a %d") for b in weeks[1:-1]] == ["Mon 02", "Mon 09", "Mon 16"]
    months = period_bounds(start, datetime(2027, 2, 1, tzinfo=zone).timestamp(), GroupBy.MONTH, zone)
    assert [datetime.fromtimestamp(b, zone).strftime("%Y-%m-%d") for b in months[1:-1]] == [
        "2026-11-01",
        "2026-12-01",
        "2027-01-01",
    ]


def test_a_page_past_the_last_period_is_refused(factory: sessionmaker[Session]) -> None:
    with factory() as session, pytest.raises(ReportError, match="after the range's last period"):
        report(session, "agent_service", FIRST_DAY, FIRST_DAY + timedelta(days=1), "day", period_offset=1)


def test_the_api_shows_a_page_of_periods_and_exports_them_all(crm_template: Path, tmp_path: Path) -> None:
    shutil.copyfile(crm_template, tmp_path / "crm.db")
    url = f"sqlite:///{tmp_path / 'crm.db'}"
    engine = make_engine(url)
    made = make_sessionmaker(engine)
    with made() as session:
        make_org(session)
    events = simulate_day(FIRST_DAY.timestamp(), seed=3, agents=5, calls=60)
    for seq, event in enumerate(events, 1):
        event["seq"] = seq
    HistoryWriter(made).apply_many(events)
    engine.dispose()
    with TestClient(create_app(Settings(database_url=url, data_dir=tmp_path))) as client:
        token = client.post("/api/auth/token", json={"username": "admin", "password": TEST_PASSWORD})
        auth = {"Authorization": f"Bearer {token.json()['access_token']}"}
        window = {"start": "2026-10-31", "end": "2026-11-01", "group_by": "hour", "limit": 10}
        path = "/api/stats/reports/agent_service"
        first = client.get(path, params=window, headers=auth).json()
        assert first["periods"]["total"] == 24 and first["periods"]["offset"] == 0
        assert 1 <= first["periods"]["count"] < 24
        shown = {row[0] for row in first["rows"]}
        later = client.get(path, params={**window, "period_offset": first["periods"]["count"]}, headers=auth).json()
        assert later["periods"]["offset"] == first["periods"]["count"]
        assert not shown & {row[0] for row in later["rows"]}
        past = client.get(path, params={**window, "period_offset": 24}, headers=auth)
        assert past.status_code == 422
        whole = client.get(path, params={**window, "limit": 100_000}, headers=auth).json()
        assert whole["periods"]["count"] == 24
        exported = client.get(f"{path}/export", params={**window, "format": "csv"}, headers=auth).text
        assert len(exported.strip().splitlines()) == 1 + len(whole["rows"]) > 1 + len(first["rows"])
        assert "periods" not in client.get("/api/stats/reports/service_center", params=window, headers=auth).json()
        kinds = client.get("/api/stats/kinds", headers=auth).json()  # what the reports page pages
        assert kinds["paged"] == ["agent_service", "queue_history", "satisfaction", "seat_states"]

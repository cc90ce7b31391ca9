"""The reports page as a supervisor reads it: the queue-history chart draws one series per queue (one
point per period each, no repeated labels), in Chinese and in English. With CC_SCREENSHOTS=1 it
rewrites ``docs/report.zh-CN.png`` and ``docs/report.en.png``."""

from __future__ import annotations

import os
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from conftest import LiveDesk, log_in
from playwright.sync_api import Browser, Page, expect

from crm_core.db import make_engine, make_sessionmaker
from crm_core.services.users import create_user
from stats.writer import HistoryWriter

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures" / "stats"))
from stats_events import EventLog

pytestmark = pytest.mark.browser
DOCS = Path(__file__).resolve().parents[2] / "docs"
SUPERVISOR = "banzhang"
DAYS = 7
WAIT_MS = 15_000


def _week_of_calls(now: float) -> list[dict]:
    """A week of calls to support and sales, each day a little different, some abandoned."""
    log = EventLog(pbx="pbx1")
    n = 0
    for day in range(DAYS):
        base = now - (DAYS - day) * 86400 + 3600
        for queue, count in (("support", 6 + day % 3), ("sales", 3 + (day * 2) % 4)):
            for i in range(count):
                t = base + i * 400 + (0 if queue == "support" else 200)
                call_id = f"r{n}"
                n += 1
                log.new_call(t, call_id, f"1391234{n:04d}")
                log.join(t + 2, call_id, queue)
                if i % 5 == 4:
                    log.abandon(t + 40, call_id, queue, 38)
                    log.end(t + 40, call_id, t, None, "abandoned")
                else:
                    wait = 5 + (i * 7) % 30
                    log.answer(t + 2 + wait, call_id, "1001", queue, wait)
                    log.end(t + 2 + wait + 120 + i * 10, call_id, t, t + 2 + wait, "answered")
    return log.ordered()


@pytest.fixture(scope="module")
def history(live: LiveDesk) -> LiveDesk:
    engine = make_engine(live.settings().effective_database_url)
    factory = make_sessionmaker(engine)
    with factory() as session:
        create_user(session, SUPERVISOR, live.password, display_name="Li Banzhang", roles=["supervisor"])
        session.commit()
    HistoryWriter(factory).apply_many(_week_of_calls(time.time()))
    engine.dispose()
    return live


def _datasets(page: Page) -> dict[str, object]:
    return page.evaluate(
        """() => {
            const chart = window.Chart.getChart(document.getElementById('rp-chart'));
            return { labels: chart.data.labels, series: chart.data.datasets.map((d) => d.label),
                     points: chart.data.datasets.map((d) => d.data.length) };
        }"""
    )


def _shot(page: Page, name: str) -> None:
    if os.environ.get("CC_SCREENSHOTS") == "1":
        DOCS.mkdir(exist_ok=True)
        page.screenshot(path=str(DOCS / name), full_page=True)


def test_queue_history_is_one_series_per_queue_in_both_languages(history: LiveDesk, browser: Browser) -> None:
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="zh-CN")
    page = context.new_page()
    page.goto(f"{history.url}/login")
    log_in(page, history, SUPERVISOR, "/desk")
    page.goto(f"{history.url}/reports")
    tz = ZoneInfo(history.settings().timezone)
    start = (datetime.now(tz) - timedelta(days=DAYS)).date().isoformat()
    page.wait_for_function("() => document.querySelector('input[name=start]').value !== ''")  # the page's defaults
    page.select_option("#rp-kind", "queue_history")
    page.fill("input[name=start]", start)
    page.click("#rp-form button[type=submit]")
    expect(page.locator("#rp-rows tr").first).to_be_visible(timeout=WAIT_MS)
    expect(page.locator("#rp-measure-label")).to_be_visible()
    page.wait_for_function("() => window.Chart.getChart(document.getElementById('rp-chart'))", timeout=WAIT_MS)
    data = _datasets(page)
    labels = data["labels"]
    assert sorted(data["series"]) == ["sales", "support"]  # type: ignore[arg-type]
    assert len(labels) == len(set(labels)) >= DAYS - 1  # type: ignore[arg-type]
    assert set(data["points"]) == {len(labels)}  # type: ignore[arg-type]
    page.select_option("#rp-measure", "sl_pct")
    page.wait_for_function(
        "() => window.Chart.getChart(document.getElementById('rp-chart')).options.scales.y.max === 100"
    )
    expect(page.locator("#rp-rows tr").first.locator("td").nth(1)).not_to_be_empty()
    _shot(page, "report.zh-CN.png")

    page.select_option("#lang-switch", "en")
    expect(page.locator("#rp-head th").nth(2)).to_have_text("Offered", timeout=WAIT_MS)
    page.wait_for_function("() => window.Chart.getChart(document.getElementById('rp-chart'))", timeout=WAIT_MS)
    assert sorted(_datasets(page)["series"]) == ["sales", "support"]  # type: ignore[arg-type]
    _shot(page, "report.en.png")
    context.close()

"""The reports page as a supervisor reads it: the queue-history chart draws one series per queue (one
point per period each, no repeated labels), in Chinese and in English. With CC_SCREENSHOTS=1 it
rewrites ``docs/report.zh-CN.png`` and ``docs/report.en.png``."""

from __future__ import annotations

import os
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
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
QUALITY = "zhijian"  # quality sees every agent's figures (a supervisor only their department's)
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
        create_user(session, QUALITY, live.password, display_name="Zhao Zhijian", roles=["quality"])
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


PAGE_LIMIT = 48  # rows per page, through the page's ?limit=: two days by hour for the one agent


def _period_cells(page: Page) -> list[str]:
    """The period column (the first) of the table on screen."""
    return page.locator("#rp-rows tr td:first-child").all_inner_texts()


def _chart_periods(page: Page) -> set[str]:
    """The periods the chart draws (its labels are "agent period")."""
    labels = page.evaluate("() => window.Chart.getChart(document.getElementById('rp-chart')).data.labels")
    return {label.split(" ", 1)[1] for label in labels}


def test_agent_service_by_hour_pages_through_the_periods(history: LiveDesk, browser: Browser) -> None:
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="zh-CN")
    page = context.new_page()
    page.goto(f"{history.url}/login?next=/reports%3Flimit%3D{PAGE_LIMIT}")
    log_in(page, history, QUALITY, f"/reports?limit={PAGE_LIMIT}")
    today = datetime.now(ZoneInfo(history.settings().timezone)).date()
    first, last = today - timedelta(days=6), today - timedelta(days=1)  # six whole days, each with calls
    page.wait_for_function("() => document.querySelector('input[name=start]').value !== ''")
    pager, message = page.locator("#rp-pager"), page.locator("#rp-message")
    prev, nxt, text = page.locator("#rp-prev"), page.locator("#rp-next"), page.locator("#rp-periods")
    page.select_option("#rp-kind", "agent_service")
    page.select_option("#rp-group", "hour")
    page.fill("input[name=start]", first.isoformat())
    page.fill("input[name=end]", last.isoformat())
    page.click("#rp-form button[type=submit]")
    expect(pager).to_be_visible(timeout=WAIT_MS)

    # What the API says of the same query: the pager's figures and the rows of each page.
    query = f"start={first}&end={today}&group_by=hour&limit={PAGE_LIMIT}&lang=zh-CN"

    def api(offset: int) -> dict[str, Any]:
        response = page.request.get(f"{history.url}/api/stats/reports/agent_service?{query}&period_offset={offset}")
        assert response.ok, response.text()
        return response.json()

    answer = api(0)
    total, count = answer["periods"]["total"], answer["periods"]["count"]
    assert total == 6 * 24 and 1 <= count < total  # more than one page
    expect(text).to_have_text(f"第 1–{count} 时段，共 {total} 个", timeout=WAIT_MS)
    expect(prev).to_have_text("上一页")
    expect(nxt).to_have_text("下一页")
    expect(prev).to_be_disabled()
    expect(nxt).to_be_enabled()
    # the first page's hours may hold no call (the data's calls begin an hour after the time of day now)
    expect(message).to_have_text(f"共 {len(answer['rows'])} 行" if answer["rows"] else "本页时段内没有数据")
    page_one = _period_cells(page)
    assert page_one == [row[0] for row in answer["rows"]]
    if page_one:
        page.wait_for_function("() => window.Chart.getChart(document.getElementById('rp-chart'))", timeout=WAIT_MS)
        assert _chart_periods(page) == set(page_one)  # the chart draws the page on screen

    # Next, to the last page: each page the following periods, none seen before.
    seen = set(page_one)
    pages = [(0, count)]  # (offset, count) of each page
    while nxt.is_enabled():
        offset = sum(pages[-1])
        expected = api(offset)
        nxt.click()
        pages.append((offset, expected["periods"]["count"]))
        expect(text).to_have_text(f"第 {offset + 1}–{sum(pages[-1])} 时段，共 {total} 个", timeout=WAIT_MS)
        expect(prev).to_be_enabled()
        cells = _period_cells(page)
        assert cells == [row[0] for row in expected["rows"]]
        assert not seen & set(cells) and min(cells, default="9") > max(seen, default="0")  # "YYYY-MM-DD HH:00" sorts
        seen |= set(cells)
    assert len(pages) >= 2 and sum(pages[-1]) == total
    assert len(seen) >= 6  # every day's calls were on some page
    expect(nxt).to_be_disabled()
    if page.locator("#rp-rows tr").count() == 0:
        expect(message).to_have_text("本页时段内没有数据")

    # Previous, back to the first page, where previous is disabled again.
    for offset, n in reversed(pages[:-1]):
        prev.click()
        expect(text).to_have_text(f"第 {offset + 1}–{offset + n} 时段，共 {total} 个", timeout=WAIT_MS)
        expect(nxt).to_be_enabled()
    expect(prev).to_be_disabled()
    assert _period_cells(page) == page_one

    # In English the pager says the same; a new query starts again at the first period.
    page.select_option("#lang-switch", "en")
    expect(text).to_have_text(f"Periods 1–{count} of {total}", timeout=WAIT_MS)
    expect(prev).to_have_text("Previous")
    expect(nxt).to_have_text("Next")
    nxt.click()
    expect(text).to_contain_text(f"Periods {count + 1}–", timeout=WAIT_MS)
    page.click("#rp-form button[type=submit]")
    expect(text).to_have_text(f"Periods 1–{count} of {total}", timeout=WAIT_MS)
    expect(prev).to_be_disabled()

    # A report not paged by periods has no pager.
    page.select_option("#rp-kind", "service_center")
    page.click("#rp-form button[type=submit]")
    expect(pager).to_be_hidden(timeout=WAIT_MS)
    context.close()

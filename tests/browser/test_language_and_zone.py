"""One language and one time zone on every page, in a real browser: a server with CC_LANGUAGE=en and a
business zone of Asia/Tokyo, seen from a browser set to Los Angeles time. The pages open in English until
the user picks Chinese; an error shows one language only; the desk's history, the recordings and the
reports show the seeded call at the business zone's wall-clock time, and every page names that zone."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import AGENT, LiveDesk, log_in
from playwright.sync_api import Browser, BrowserContext, Page, Response, expect

from config import Settings
from crm_core.db import make_engine, make_sessionmaker
from crm_core.services.users import create_user
from recordings.models import Recording
from stats.models import CallRow
from stats.writer import hour_of

pytestmark = pytest.mark.browser

ZONE = "Asia/Tokyo"
BROWSER_ZONE = "America/Los_Angeles"
UNBOUND = "agent_unbound"
BOSS = "boss"
# 2026-01-15 01:02:03 UTC: 10:02:03 in Tokyo, 17:02:03 the day before in Los Angeles
STARTED = datetime(2026, 1, 15, 1, 2, 3, tzinfo=UTC)
SHOWN = "2026-01-15 10:02"
BROWSER_SHOWN = "2026-01-14 17:02"
CJK = re.compile(r"[\u3400-\u9fff]")
WAIT_MS = 15_000
SHOTS = Path(os.environ.get("CC_TEST_SHOTS", "")) if os.environ.get("CC_TEST_SHOTS") else None


class EnglishTokyoDesk(LiveDesk):
    def settings(self) -> Settings:
        return super().settings().model_copy(update={"language": "en", "timezone": ZONE})

    def seed(self, url: str) -> None:
        super().seed(url)
        engine = make_engine(url)
        with make_sessionmaker(engine)() as session:
            create_user(session, UNBOUND, self.password, display_name="Sun Li", roles=["agent"])
            create_user(session, BOSS, self.password, display_name="Qian Hua", roles=["admin"])
            epoch = STARTED.timestamp()
            session.add(CallRow(
                pbx="pbx1", call_id="1768438923.1", direction="inbound", caller_number="13900000001",
                dialed="6000", queue="support", agent="1001", started_at=epoch, hour=hour_of(epoch),
                ended_at=epoch + 30, wait_s=30.0, duration_s=30.0, talk_s=0.0, hold_s=0.0, wrapup_s=0.0,
                disposition="abandoned", hangup_by="caller"))
            session.add(Recording(
                file_name="q-support-20260115-100203-1768438923.1.wav", status="ready", call_id="1768438923.1",
                uniqueid="1768438923.1", queue="support", agent="1001", caller_number="13900000001",
                direction="inbound", started_at=STARTED.replace(tzinfo=None), duration_s=30.0, format="wav"))
            session.commit()
        engine.dispose()


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EnglishTokyoDesk]:
    desk = EnglishTokyoDesk(tmp_path_factory.mktemp("english-tokyo"))
    desk.start()
    try:
        yield desk
    finally:
        desk.stop()


def fresh(browser: Browser) -> BrowserContext:
    """A browser that never chose a language, with Chinese preferred and its clock in Los Angeles."""
    return browser.new_context(viewport={"width": 1600, "height": 1000}, locale="zh-CN", timezone_id=BROWSER_ZONE)


def logged_in(context: BrowserContext, live: LiveDesk, username: str, address: str) -> Page:
    page = context.new_page()
    page.on("pageerror", lambda error: print(f"[browser error] {error}"))
    page.goto(f"{live.url}{address}")
    page.wait_for_url(f"{live.url}/login?next={address}", timeout=WAIT_MS)
    log_in(page, live, username, address, timeout_ms=WAIT_MS)
    return page


def shot(page: Page, name: str) -> None:
    if SHOTS is not None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / name), full_page=True)


def close_bind_dialog(page: Page) -> None:
    dialog = page.locator("#bind-dialog")
    expect(dialog).to_be_visible(timeout=WAIT_MS)
    dialog.locator("button[value=cancel]").click()
    expect(dialog).to_be_hidden()


def test_pages_open_in_the_servers_language_until_the_user_picks_another(
    live: EnglishTokyoDesk, browser: Browser
) -> None:
    context = fresh(browser)
    page = logged_in(context, live, AGENT, "/desk")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator(".topbar .brand")).to_have_text("Call center", timeout=WAIT_MS)
    expect(page.locator("cc-nav a[href='/desk']")).to_have_text("Agent desk")
    assert page.get_by_text("Agent desk", exact=True).count() == 1  # the nav link only, not the brand too
    expect(page.locator("#pop-empty")).to_have_text("No incoming call")
    expect(page.locator("#lang-switch")).to_have_value("en")
    # the history keeps one line per call: the time cell is no taller than one line of text
    expect(page.locator("#history-rows tr")).to_have_count(1, timeout=WAIT_MS)
    heights = page.evaluate("""() => [...document.querySelectorAll('#history-rows td, .sidepanel th')]
        .map((cell) => cell.getBoundingClientRect().height)""")
    assert max(heights) < 40, heights
    shot(page, "desk-en-tokyo.png")
    page.select_option("#lang-switch", "zh-CN")
    expect(page.locator(".topbar .brand")).to_have_text("呼叫中心")
    page.reload()
    expect(page.locator(".topbar .brand")).to_have_text("呼叫中心", timeout=WAIT_MS)
    expect(page.locator("#lang-switch")).to_have_value("zh-CN")
    # the login page, in a browser that never chose, opens in English as well
    other = fresh(browser).new_page()
    other.goto(f"{live.url}/login")
    expect(other.locator("h1")).to_have_text("Call center · Log in", timeout=WAIT_MS)
    other.context.close()
    context.close()


def test_an_error_on_the_desk_shows_one_language(live: EnglishTokyoDesk, browser: Browser) -> None:
    context = fresh(browser)
    refused: list[str] = []

    def on_response(response: Response) -> None:
        if response.status == 409:
            refused.append(f"{response.request.method} {response.url}")

    page = context.new_page()
    page.on("response", on_response)
    page.goto(f"{live.url}/desk")
    page.wait_for_url(f"{live.url}/login?next=/desk", timeout=WAIT_MS)
    log_in(page, live, UNBOUND, "/desk", timeout_ms=WAIT_MS)
    close_bind_dialog(page)
    expect(page.locator("#history-unbound")).to_have_text("Bind a seat or an extension to see your calls")
    page.wait_for_function("() => window.deskApp && window.deskApp.socket && window.deskApp.socket.online")
    assert refused == [], f"the desk's load was refused: {refused}"
    page.click("#pause-button")  # nothing to pause before an extension is bound: the server refuses
    notice = page.locator("#notice")
    expect(notice).to_be_visible(timeout=WAIT_MS)
    expect(notice).to_contain_text("Bind a seat or an extension first")
    assert not CJK.search(notice.inner_text()), notice.inner_text()
    shot(page, "desk-error-en.png")
    page.select_option("#lang-switch", "zh-CN")
    # the switch has finished once the page's texts are in Chinese; only then is the next error in Chinese
    expect(page.locator("#history-unbound")).to_have_text("绑定座席或分机后可查看通话记录", timeout=WAIT_MS)
    page.click("#pause-button")
    expect(notice).to_contain_text("请先绑定座席或分机", timeout=WAIT_MS)
    assert not re.search(r"[A-Za-z]", notice.inner_text()), notice.inner_text()
    shot(page, "desk-error-zh.png")
    assert len(refused) == 2 and all("/api/desk/state" in r for r in refused), refused
    context.close()


def zone_named(page: Page) -> None:
    expect(page.locator("#cc-zone")).to_have_text("Time zone: Asia/Tokyo (UTC+09:00)", timeout=WAIT_MS)


def test_times_on_the_desk_recordings_and_reports_are_the_business_zones(
    live: EnglishTokyoDesk, browser: Browser
) -> None:
    context = fresh(browser)
    desk = logged_in(context, live, AGENT, "/desk")
    zone_named(desk)
    row = desk.locator("#history-rows tr").first
    expect(row.locator("td").first).to_have_text(SHOWN, timeout=WAIT_MS)
    expect(row).to_contain_text("Abandoned")
    assert desk.evaluate("() => new Date(Date.UTC(2026, 0, 15, 1, 2)).getHours()") == 17  # the browser: LA
    context.close()

    context = fresh(browser)
    page = logged_in(context, live, BOSS, "/recordings")
    zone_named(page)
    rows = page.locator("#rec-rows tr")
    expect(rows).to_have_count(1, timeout=WAIT_MS)
    expect(rows.first.locator("td").first).to_have_text(f"{SHOWN}:03")
    # a search from the business zone's 10:00 finds it; one from 10:05 does not
    page.fill("#rec-search input[name=from]", "2026-01-15T10:00")
    page.locator("#rec-search").evaluate("(form) => form.requestSubmit()")
    expect(rows).to_have_count(1, timeout=WAIT_MS)
    page.fill("#rec-search input[name=from]", "2026-01-15T10:05")
    page.locator("#rec-search").evaluate("(form) => form.requestSubmit()")
    expect(rows).to_have_count(0, timeout=WAIT_MS)
    shot(page, "recordings-en-tokyo.png")

    page.goto(f"{live.url}/reports")
    zone_named(page)
    page.select_option("#rp-kind", "cdr")
    page.fill("#rp-form input[name=start]", "2026-01-15")
    page.fill("#rp-form input[name=end]", "2026-01-15")
    page.locator("#rp-form").evaluate("(form) => form.requestSubmit()")
    cdr = page.locator("#rp-rows tr")
    expect(cdr).to_have_count(1, timeout=WAIT_MS)
    cells = cdr.first.locator("td").all_inner_texts()
    assert cells[0] == f"{SHOWN}:03", cells
    assert "Inbound" in cells and "Abandoned" in cells and "Caller" in cells, cells
    assert "inbound" not in cells and "abandoned" not in cells and BROWSER_SHOWN not in " ".join(cells)
    shot(page, "reports-cdr-en-tokyo.png")
    context.close()


def test_an_agent_on_the_wallboard_sees_only_that_it_is_not_allowed(live: EnglishTokyoDesk, browser: Browser) -> None:
    context = fresh(browser)
    page = logged_in(context, live, AGENT, "/desk")
    reply: Any = page.goto(f"{live.url}/wallboard")
    assert reply is not None and reply.status == 403
    expect(page.locator("#not-allowed h1")).to_have_text("You may not open this page", timeout=WAIT_MS)
    zone_named(page)
    for label in ("Listen", "Barge", "Force logout"):
        assert page.get_by_role("button", name=label).count() == 0, label
    shot(page, "wallboard-refused-en.png")
    context.close()

"""The supervisor's wallboard and reports in a real browser against the PBX simulator: the agents on shift
in the grid, an abandon and an answered call moving today's numbers, the same numbers in the report for
today and in the call rows, and the page in English."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from conftest import EXTENSION, ActionLog, LiveDesk, log_in, watch
from playwright.sync_api import Browser, Locator, Page, expect
from sqlalchemy import func, select, update

from crm_core.db import make_engine, make_sessionmaker
from crm_core.models import Department, User
from crm_core.services.users import create_user
from cti.simulator import PBXSimulator
from stats.models import CallRow

pytestmark = pytest.mark.browser

DOCS = Path(__file__).resolve().parents[2] / "docs"
WAIT_MS = 15_000
SPEED = 4.0  # the simulated PBX plays calls and runs its clock this many times faster than real time
SUPERVISOR = "supervisor1"
QUEUE = "support"
# extension -> (display name, paused with this reason, or None when available)
SHIFT = {EXTENSION: ("Wang Fang", None), "1002": ("Li Na", None), "1003": ("Zhang Wei", "Training")}


class PbxClock:
    """The simulated PBX's clock, running ``speed`` times faster than the wall clock from its start, so a
    caller who waits 8 s by the PBX's timestamps waits 2 s of the test's time."""

    def __init__(self, speed: float) -> None:
        self.speed = speed
        self.started = time.time()

    def __call__(self) -> float:
        return self.started + (time.time() - self.started) * self.speed


class WallboardDesk(LiveDesk):
    """The live product with a fast PBX clock, a supervisor and three agents on shift in ``support``."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.sim = PBXSimulator("127.0.0.1", 0, "cti", "sim-secret", speed=SPEED, clock=PbxClock(SPEED))
        self.actions = ActionLog(self.sim)

    def seed(self, url: str) -> None:
        super().seed(url)
        engine = make_engine(url)
        with make_sessionmaker(engine)() as session:
            # the supervisor and the shift are one department: a supervisor sees his department's calls
            team = Department(name="客服一组 Service team 1", path="/")
            session.add(team)
            session.flush()
            team.path = f"/{team.id}/"
            create_user(
                session, SUPERVISOR, self.password, display_name="Zhao Min", roles=["supervisor"],
                department_id=team.id,
            )
            for extension, (name, _) in SHIFT.items():
                if extension != EXTENSION:
                    create_user(
                        session,
                        f"agent{extension}",
                        self.password,
                        display_name=name,
                        roles=["agent"],
                        extension=extension,
                        department_id=team.id,
                    )
            session.execute(update(User).where(User.extension == EXTENSION).values(department_id=team.id))
            session.commit()
        engine.dispose()

    def start_shift(self) -> None:
        """The agents log in to the queue (QueueAdd as the CTI does it); one of them paused."""

        async def log_in() -> None:
            for extension, (_, reason) in SHIFT.items():
                self.sim.pbx.login_agent(QUEUE, extension, paused=reason is not None, reason=reason or "")

        self.run(log_in())

    def play(self, scenario: str, **params: Any) -> str:
        """Play one simulated call to its end; its call id (the Linkedid)."""
        result = self.run(self.sim.run_scenario(scenario, queue=QUEUE, **params))
        return str(result.linkedid)

    def today(self) -> tuple[str, float, float]:
        """Today in the business time zone: its date and its bounds in epoch seconds."""
        zone = ZoneInfo(self.settings().timezone)
        start = datetime.now(zone).replace(hour=0, minute=0, second=0, microsecond=0)
        end = (start + timedelta(days=1, hours=3)).replace(hour=0)
        return start.date().isoformat(), start.timestamp(), end.timestamp()

    def call_rows(self, *where: Any) -> int:
        """Today's finished call rows (``stats_calls``) matching ``where``, counted straight from the table."""
        _, start, end = self.today()
        engine = make_engine(self.settings().effective_database_url)
        try:
            with make_sessionmaker(engine)() as session:
                query = (
                    select(func.count())
                    .select_from(CallRow)
                    .where(CallRow.started_at >= start, CallRow.started_at < end, CallRow.ended_at.isnot(None), *where)
                )
                return int(session.scalar(query) or 0)
        finally:
            engine.dispose()

    def finished_call(self, call_id: str, timeout_s: float = WAIT_MS / 1000) -> CallRow:
        """The call's row in ``stats_calls`` once the history writer has stored its end."""
        deadline = time.monotonic() + timeout_s
        while (row := self.call_row(call_id)) is None:
            if time.monotonic() > deadline:
                raise AssertionError(f"call {call_id} has no finished row in stats_calls")
            time.sleep(0.05)
        return row

    def call_row(self, call_id: str) -> CallRow | None:
        engine = make_engine(self.settings().effective_database_url)
        try:
            with make_sessionmaker(engine)() as session:
                return session.scalar(select(CallRow).where(CallRow.call_id == call_id, CallRow.ended_at.isnot(None)))
        finally:
            engine.dispose()


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WallboardDesk]:
    desk = WallboardDesk(tmp_path_factory.mktemp("wallboard-desk"))
    desk.start()
    try:
        desk.start_shift()
        yield desk
    finally:
        desk.stop()


@pytest.fixture(scope="module")
def wallboard(live: WallboardDesk, browser: Browser) -> Iterator[Page]:
    """A supervisor who opened /wallboard, logged in on the way, and watches it live (1600x900, as on a
    screen in the room). Any JavaScript dialog (an injected alert would open one) fails."""
    context = browser.new_context(viewport={"width": 1600, "height": 900}, locale="zh-CN")
    page = context.new_page()
    dialogs: list[str] = []
    watch(page, dialogs)
    page.goto(f"{live.url}/wallboard")
    page.wait_for_url(f"{live.url}/login?next=/wallboard", timeout=WAIT_MS)
    log_in(page, live, SUPERVISOR, "/wallboard", timeout_ms=WAIT_MS)
    expect(page.locator("#conn")).to_have_class("online", timeout=WAIT_MS)
    yield page
    context.close()
    assert dialogs == [], f"a script ran from data: {dialogs}"


def card_value(page: Page, key: str, queue: str = QUEUE) -> Locator:
    return page.locator(f'#queues [data-queue="{queue}"] .value[data-key="{key}"]')


def today_number(page: Page, key: str) -> int:
    text = card_value(page, key).inner_text()
    assert text.isdigit(), f"{key} shows {text!r}"
    return int(text)


def agent_row(page: Page, extension: str) -> Locator:
    return page.locator(f'#agents tr[data-agent="{extension}"]')


def report_rows(page: Page, live: WallboardDesk, kind: str) -> list[dict[str, str]]:
    """Run a report for today on the reports page; its table as {column label: cell text} rows."""
    with page.expect_response(lambda r: "/api/stats/reports/" in r.url):  # the page's first report
        page.goto(f"{live.url}/reports")
    day, _, _ = live.today()
    page.select_option("#rp-kind", kind)
    page.fill("input[name=start]", day)
    page.fill("input[name=end]", day)
    with page.expect_response(lambda r: f"/api/stats/reports/{kind}?" in r.url) as answer:
        page.click("#rp-form button[type=submit]")
    assert answer.value.status == 200
    body = answer.value.json()
    expect(page.locator("#rp-head th")).to_have_text([c["label"] for c in body["columns"]], timeout=WAIT_MS)
    expect(page.locator("#rp-rows tr")).to_have_count(len(body["rows"]), timeout=WAIT_MS)
    rows: list[dict[str, str]] = page.evaluate(
        """() => {
          const heads = [...document.querySelectorAll('#rp-head th')].map((th) => th.textContent);
          return [...document.querySelectorAll('#rp-rows tr')].map((tr) =>
            Object.fromEntries([...tr.children].map((td, i) => [heads[i], td.textContent])));
        }"""
    )
    return rows


def queue_report(
    page: Page, live: WallboardDesk, queue_label: str = "队列", period_label: str = "时段"
) -> dict[str, str]:
    """Today's queue history row of ``support``, as the reports page shows it."""
    rows = [r for r in report_rows(page, live, "queue_history") if r[queue_label] == QUEUE]
    assert len(rows) == 1, rows
    assert rows[0][period_label] == live.today()[0]
    return rows[0]


def save_screenshot(page: Page, name: str) -> None:
    """Documentation shots are rewritten only on request (CC_SCREENSHOTS=1), not by every CI run."""
    if os.environ.get("CC_SCREENSHOTS") == "1":
        DOCS.mkdir(exist_ok=True)
        page.screenshot(path=str(DOCS / name))


def test_agents_on_shift_show_in_the_grid_with_their_state(live: WallboardDesk, wallboard: Page) -> None:
    page = wallboard
    expect(page.locator("h1")).to_have_text("实时监控大屏")
    for extension, (name, reason) in SHIFT.items():
        row = agent_row(page, extension)
        expect(row).to_have_count(1, timeout=WAIT_MS)
        cells = row.locator("td")
        expect(cells.nth(0)).to_have_text(name)
        expect(cells.nth(1)).to_have_text(extension)
        expect(cells.nth(2).locator(".state")).to_have_text("置忙" if reason else "空闲")
        expect(cells.nth(3)).to_have_text(reason or "")
    expect(card_value(page, "agents_logged_in")).to_have_text(str(len(SHIFT)))
    expect(card_value(page, "agents_available")).to_have_text("2")
    expect(card_value(page, "agents_paused")).to_have_text("1")
    expect(card_value(page, "waiting")).to_have_text("0")


def test_an_abandon_counts_the_same_on_the_wallboard_in_the_report_and_in_the_call_rows(
    live: WallboardDesk, wallboard: Page
) -> None:
    page = wallboard
    before = today_number(page, "abandoned")
    # 8 s of music on hold by the PBX's clock: longer than the 5 s short-abandon threshold
    call_id = live.play("inbound_abandon", caller="13900001111", moh=8)
    expect(card_value(page, "abandoned")).to_have_text(str(before + 1), timeout=WAIT_MS)
    row = live.finished_call(call_id)
    assert row.disposition == "abandoned" and row.queue == QUEUE
    assert row.wait_s is not None and row.wait_s > live.settings().short_abandon_s
    in_rows = live.call_rows(CallRow.queue == QUEUE, CallRow.disposition == "abandoned")
    short_in_rows = live.call_rows(
        CallRow.queue == QUEUE, CallRow.disposition == "abandoned", CallRow.wait_s <= live.settings().short_abandon_s
    )
    assert in_rows == before + 1
    expect(card_value(page, "abandon_pct")).not_to_have_text("–")

    reports = page.context.new_page()
    shown = queue_report(reports, live)
    reports.close()
    assert int(shown["放弃"]) == in_rows
    assert int(shown["短时放弃"]) == short_in_rows


def test_an_answered_call_counts_the_same_on_the_wallboard_in_the_reports_and_in_the_call_rows(
    live: WallboardDesk, wallboard: Page
) -> None:
    page = wallboard
    offered, answered = today_number(page, "offered"), today_number(page, "answered")
    call_id = live.play("inbound_answered", caller="13900002222", agent=EXTENSION, talk=4)
    expect(card_value(page, "offered")).to_have_text(str(offered + 1), timeout=WAIT_MS)
    expect(card_value(page, "answered")).to_have_text(str(answered + 1), timeout=WAIT_MS)
    expect(agent_row(page, EXTENSION).locator(".state")).to_have_text("空闲", timeout=WAIT_MS)
    row = live.finished_call(call_id)
    assert row.disposition == "answered" and row.agent == EXTENSION
    offered_rows = live.call_rows(CallRow.queue == QUEUE)
    answered_rows = live.call_rows(CallRow.queue == QUEUE, CallRow.disposition == "answered")
    assert (offered_rows, answered_rows) == (offered + 1, answered + 1)
    # the service-center report of a department supervisor counts the calls his agents took
    team = CallRow.agent.in_(list(SHIFT))
    inbound_rows = live.call_rows(CallRow.direction == "inbound", team)
    inbound_answered_rows = live.call_rows(CallRow.direction == "inbound", team, CallRow.answered_at.isnot(None))

    reports = page.context.new_page()
    shown = queue_report(reports, live)
    assert (int(shown["进线"]), int(shown["接通"])) == (offered_rows, answered_rows)
    center = report_rows(reports, live, "service_center")
    reports.close()
    assert [(r["时段"], int(r["呼入总数"]), int(r["呼入接通"])) for r in center] == [
        (live.today()[0], inbound_rows, inbound_answered_rows)
    ]


def test_the_english_switch_changes_the_wallboard_labels(live: WallboardDesk, wallboard: Page) -> None:
    page = wallboard
    labels = page.locator(f'#queues [data-queue="{QUEUE}"] .metric .label')
    expect(labels).to_contain_text(["排队中", "最长等待"])
    page.select_option("#lang-switch", "en")
    try:
        expect(page.locator("h1")).to_have_text("Live wallboard")
        expect(labels).to_contain_text(["Waiting", "Longest wait", "Available", "Offered today", "Abandoned"])
        expect(page.locator("#agents").locator("xpath=..").locator("th").first).to_have_text("Agent")
        expect(agent_row(page, "1003").locator(".state")).to_have_text("Paused")
        expect(page.locator("#conn")).to_have_text("Live")
        # a live call while the page is in English: the grid row and the card follow it in English
        offered = today_number(page, "offered")
        live.start_call("inbound_answered", caller="13900003333", agent=EXTENSION, queue=QUEUE, talk=12)
        expect(agent_row(page, EXTENSION).locator(".state")).to_have_text("On call", timeout=WAIT_MS)
        expect(card_value(page, "agents_on_call")).to_have_text("1", timeout=WAIT_MS)
        expect(card_value(page, "waiting")).to_have_text("0", timeout=WAIT_MS)  # answered: out of the queue
        # The documentation shot is taken in English: the test machine may have no CJK font.
        save_screenshot(page, "wallboard.png")
        expect(agent_row(page, EXTENSION).locator(".state")).to_have_text("Available", timeout=WAIT_MS)
        expect(card_value(page, "offered")).to_have_text(str(offered + 1), timeout=WAIT_MS)
        live.finished_call(live.published("call.answered", agent=EXTENSION)[-1]["call_id"])
        assert live.call_rows(CallRow.queue == QUEUE) == offered + 1
        # the reports page opened now speaks English too, with today's numbers equal to the wallboard's
        today = {key: today_number(page, key) for key in ("offered", "answered", "abandoned")}
        reports = page.context.new_page()
        shown = queue_report(reports, live, "Queue", "Period")
        assert {
            k: int(shown[label])
            for k, label in (("offered", "Offered"), ("answered", "Answered"), ("abandoned", "Abandoned"))
        } == today
        expect(reports.locator("#rp-kind option:checked")).to_have_text("Queue history")
        save_screenshot(reports, "reports.png")
        reports.close()
    finally:
        page.select_option("#lang-switch", "zh-CN")
    expect(page.locator("h1")).to_have_text("实时监控大屏")
    expect(labels.first).to_have_text("排队中")
    expect(agent_row(page, "1003").locator(".state")).to_have_text("置忙")

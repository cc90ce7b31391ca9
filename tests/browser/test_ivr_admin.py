"""IVR administration in a real browser: an administrator reads a flow as a tree, uploads a broken flow,
sees each problem with its line, fixes and saves it; edits the business calendar; hears voicemail."""

from __future__ import annotations

import math
import shutil
import wave
from array import array
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from conftest import KNOWN_CALLER, KNOWN_NAME, LiveDesk, log_in
from playwright.sync_api import Browser, Dialog, FilePayload, Page, expect

from config import Settings
from crm_core.db import make_engine, make_sessionmaker
from crm_core.services.users import create_user
from ivr.calendar import load_calendar
from ivr.flow import parse_flow

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
ADMIN = "ivradmin"
WAIT_MS = 15_000
MAILBOX = "100@default"
MSG_ID = "1795451412-00000000"

BROKEN_FLOW = """\
description: 节日流程
start: welcome
nodes:
  welcome:
    type: play
    file: custom/holiday
    next: nowhere
  bye:
    type: teleport
"""
FIXED_FLOW = BROKEN_FLOW.replace("next: nowhere", "next: bye").replace("type: teleport", "type: hangup")


class IvrDesk(LiveDesk):
    """The live product with its own copy of the flows and the calendar, and an administrator."""

    def settings(self) -> Settings:
        return super().settings().model_copy(
            update={"ivr_flows_dir": self.root / "flows", "ivr_calendar_file": self.root / "calendar.yaml"}
        )

    def seed(self, url: str) -> None:
        super().seed(url)
        engine = make_engine(url)
        with make_sessionmaker(engine)() as session:
            create_user(session, ADMIN, self.password, display_name="管理员", roles=["admin"])
            session.commit()
        engine.dispose()


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveDesk]:
    root = tmp_path_factory.mktemp("ivr-desk")
    shutil.copytree(ROOT / "config" / "flows", root / "flows")
    shutil.copy(ROOT / "config" / "calendar.yaml", root / "calendar.yaml")
    desk = IvrDesk(root)
    desk.start()
    try:
        yield desk
    finally:
        desk.stop()


@pytest.fixture
def admin_page(live: LiveDesk, browser: Browser) -> Iterator[Page]:
    """A logged-in administrator. Any JavaScript dialog (an injected alert) fails the test."""
    context = browser.new_context(viewport={"width": 1500, "height": 950}, locale="zh-CN")
    page = context.new_page()
    dialogs: list[str] = []

    def refuse(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", refuse)
    page.on("pageerror", lambda error: print(f"[browser error] {error}"))
    page.goto(f"{live.url}/login")
    log_in(page, live, ADMIN, "/desk")
    yield page
    context.close()
    assert dialogs == [], f"a script ran from data: {dialogs}"


def open_page(page: Page, live: LiveDesk, name: str) -> None:
    page.goto(f"{live.url}/static/{name}")
    expect(page.locator("body")).to_have_attribute("data-ready", "1", timeout=WAIT_MS)


def test_a_visitor_without_a_session_logs_in_and_comes_back(live: LiveDesk, browser: Browser) -> None:
    context = browser.new_context(locale="zh-CN")
    page = context.new_page()
    page.goto(f"{live.url}/static/calendar.html")
    page.wait_for_url(f"{live.url}/login?next=%2Fstatic%2Fcalendar.html", timeout=WAIT_MS)
    log_in(page, live, ADMIN, "/static/calendar.html", timeout_ms=WAIT_MS)
    expect(page.locator("body")).to_have_attribute("data-ready", "1", timeout=WAIT_MS)
    expect(page.locator("#admin-nav a[aria-current=page]")).to_have_text("工作日/节假日设置")
    context.close()


def test_the_admin_reads_a_flow_as_a_tree(live: LiveDesk, admin_page: Page) -> None:
    page = admin_page
    open_page(page, live, "ivr-admin.html")
    item = page.locator("#flow-list li[data-flow=ivr]")
    expect(item).to_have_attribute("data-valid", "1")
    item.click()
    expect(page.locator("#tree-name")).to_have_text("ivr")
    expect(page.locator("#admin-nav a[aria-current=page]")).to_have_text("IVR 流程")
    root = page.locator("#flow-tree > ul > li > .tree-node").first
    expect(root).to_have_attribute("data-node", "welcome")
    expect(root.locator(".badge")).to_have_text("播放")
    expect(root.locator(".detail")).to_have_text("custom/welcome")
    menu = page.locator("#flow-tree .tree-node[data-node=main_menu]")
    expect(menu).to_have_count(1)
    expect(menu.locator(".badge")).to_have_text("按键菜单")
    key_two = page.locator("#flow-tree li[data-edge='按 key 2']")
    expect(key_two.locator(":scope > .tree-edge")).to_have_text("按 2")
    expect(key_two.locator(":scope > .tree-node")).to_have_attribute("data-node", "support_queue")
    expect(page.locator("#yaml-text")).to_have_value(
        (live.root / "flows" / "ivr.yaml").read_text(encoding="utf-8"))
    # the node's line link shows that line in the editor
    menu.locator(".line-link").click()
    flow = parse_flow((live.root / "flows" / "ivr.yaml").read_text(encoding="utf-8"), "ivr")
    menu_line = str(flow.nodes["main_menu"].line)
    expect(page.locator("#yaml-editor")).to_have_attribute("data-marked-line", menu_line)

    page.select_option("#lang-switch", "en")
    expect(menu.locator(".badge")).to_have_text("Menu")
    expect(key_two.locator(":scope > .tree-edge")).to_have_text("key 2")
    page.select_option("#lang-switch", "zh-CN")
    expect(menu.locator(".badge")).to_have_text("按键菜单")


def test_a_broken_upload_shows_each_line_and_is_saved_once_fixed(live: LiveDesk, admin_page: Page) -> None:
    page = admin_page
    saved = live.root / "flows" / "holiday.yaml"
    open_page(page, live, "ivr-admin.html")
    upload: FilePayload = {"name": "holiday.yaml", "mimeType": "text/yaml", "buffer": BROKEN_FLOW.encode()}
    page.set_input_files("#flow-file", files=[upload])
    expect(page.locator("#flow-name")).to_have_value("holiday")
    expect(page.locator("#tree-message")).to_have_text("保存后显示此流程的结构")
    expect(page.locator("#flow-tree .tree-node")).to_have_count(0)
    issues = page.locator("#flow-issues button.issue")
    expect(issues).to_have_count(2, timeout=WAIT_MS)
    expect(issues.locator(".issue-line")).to_have_text(["第 7 行", "第 9 行"])
    expect(issues.first.locator(".issue-path")).to_have_text("nodes.welcome.next")
    expect(page.locator("#editor-status")).to_have_class("status-bad")
    expect(page.locator("#yaml-editor")).to_have_attribute("data-marked-line", "7")
    expect(page.locator("#line-mark")).to_be_visible()
    expect(page.locator("#yaml-gutter div.error")).to_have_text(["7", "9"])
    selected = page.evaluate(
        "() => { const e = document.querySelector('#yaml-text');"
        " return e.value.slice(e.selectionStart, e.selectionEnd); }"
    )
    assert selected.strip() == "next: nowhere"
    issues.nth(1).click()
    expect(page.locator("#yaml-editor")).to_have_attribute("data-marked-line", "9")

    page.click("#flow-save")  # refused: nothing is written
    expect(page.locator("#editor-status")).to_have_text("未保存：发现 2 个问题", timeout=WAIT_MS)
    assert not saved.exists()

    page.fill("#yaml-text", FIXED_FLOW)
    page.click("#flow-validate")
    expect(page.locator("#editor-status")).to_have_text("校验通过", timeout=WAIT_MS)
    expect(issues).to_have_count(0)
    expect(page.locator("#yaml-gutter div.error")).to_have_count(0)
    page.click("#flow-save")
    expect(page.locator("#editor-status")).to_have_text("已保存流程 holiday，新来电即生效", timeout=WAIT_MS)
    assert saved.read_text(encoding="utf-8") == FIXED_FLOW
    expect(page.locator("#flow-list li[data-flow=holiday]")).to_have_attribute("data-valid", "1")
    expect(page.locator("#flow-list li[data-flow=holiday]")).to_have_class("current")
    expect(page.locator("#flow-tree .tree-node[data-node=bye]")).to_have_attribute("data-type", "hangup")


def test_an_added_holiday_and_a_second_span_persist(live: LiveDesk, admin_page: Page) -> None:
    page = admin_page
    open_page(page, live, "calendar.html")
    holidays = page.locator("#holidays")
    holidays.locator("input[name=date]").fill("2026-12-24")
    holidays.locator("input[name=name]").fill("公司年会")
    holidays.locator("button[type=submit]").click()
    expect(holidays.locator("tr[data-date='2026-12-24'] td").nth(2)).to_have_text("公司年会")
    expect(page.locator("#month-label")).to_have_text("2026 年 12 月")
    expect(page.locator(".day[data-date='2026-12-24']")).to_have_attribute("data-kind", "holiday")
    expect(page.locator(".day[data-date='2026-12-23']")).to_have_attribute("data-kind", "open")
    # the same date cannot also be a make-up working day
    workdays = page.locator("#workdays")
    workdays.locator("input[name=date]").fill("2026-12-24")
    workdays.locator("button[type=submit]").click()
    expect(page.locator("#cal-status")).to_have_text("2026-12-24 不能同时是节假日和调休上班日")

    monday = page.locator("#cal-hours tr[data-day=mon]")
    monday.locator(".span-row input").nth(1).fill("12:00")
    monday.locator(".span-add").click()
    monday.locator(".span-row input").nth(2).fill("13:00")
    monday.locator(".span-row input").nth(3).fill("18:00")
    page.click("#cal-save")
    expect(page.locator("#cal-status")).to_have_class("status-ok", timeout=WAIT_MS)

    calendar = load_calendar(live.root / "calendar.yaml")
    assert not calendar.is_open(datetime(2026, 12, 24, 10, 0))
    assert calendar.is_open(datetime(2026, 12, 21, 10, 0))
    assert not calendar.is_open(datetime(2026, 12, 21, 12, 30))
    assert calendar.is_open(datetime(2026, 12, 21, 13, 30))

    page.reload()
    expect(page.locator("body")).to_have_attribute("data-ready", "1", timeout=WAIT_MS)
    expect(page.locator("#holidays tr[data-date='2026-12-24']")).to_have_count(1)
    expect(monday.locator(".span-row")).to_have_count(2)
    expect(monday.locator(".span-row input").nth(2)).to_have_value("13:00")


def _leave_voicemail(live: LiveDesk) -> Path:
    inbox = live.root / "voicemail" / "default" / "100" / "INBOX"
    inbox.mkdir(parents=True, exist_ok=True)
    info = (ROOT / "tests" / "fixtures" / "ivr" / "msg0000.txt").read_text(encoding="utf-8")
    (inbox / "msg0000.txt").write_text(info.replace("<5551238>", f"<{KNOWN_CALLER}>").replace(
        "duration=12", "duration=3"), encoding="utf-8")
    tone = array("h", (int(8000 * math.sin(2 * math.pi * 440 * i / 8000)) for i in range(8000))).tobytes()
    with wave.open(str(inbox / "msg0000.wav"), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(tone * 3)
    return inbox


def test_voicemail_is_listed_with_its_customer_played_and_heard(live: LiveDesk, admin_page: Page) -> None:
    page = admin_page
    inbox = _leave_voicemail(live)
    page.goto(f"{live.url}/static/voicemail.html?mailbox={MAILBOX}")
    expect(page.locator("body")).to_have_attribute("data-ready", "1", timeout=WAIT_MS)
    row = page.locator(f"tr.vm-row[data-message='{MSG_ID}']")
    expect(row).to_have_class("vm-row new")
    expect(row.locator("td").nth(1)).to_contain_text(KNOWN_CALLER)
    expect(row.locator("td").nth(2)).to_have_text(KNOWN_NAME)
    expect(row.locator("td").nth(3)).to_have_text("00:03")

    row.locator("button.vm-play").click()
    player = page.locator("#player .rp")
    expect(player).to_have_attribute("data-source", f"/api/voicemail/{MAILBOX.replace('@', '%40')}/{MSG_ID}")
    expect(player).to_have_attribute("data-playing", "1", timeout=WAIT_MS)

    row.locator("button.vm-heard").click()
    expect(row).to_have_attribute("data-folder", "Old", timeout=WAIT_MS)
    expect(row.locator("button.vm-heard")).to_have_count(0)
    assert not (inbox / "msg0000.txt").exists()
    assert (inbox.parent / "Old" / "msg0000.txt").exists()

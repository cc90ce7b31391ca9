"""An agent's day on the desk, every state with a way out, in a real browser against the PBX simulator:
busy before queue login and queue login paused, hold and unhold with the held timer, the pop and its
ticket form kept through wrap-up, the wrap-up timed on the server after the tab is closed, a pop for a
click-to-dial call, and the supervisor's way out of a pause on the wallboard.

``CC_SCREENSHOTS=1`` also writes the documentation shots ``docs/desk-*.{zh-CN,en}.png`` and
``docs/wallboard.{zh-CN,en}.png``."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import CHROMIUM, EXTENSION, LiveDesk, log_in, watch
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select
from test_desk_browser import wait_for

from config import Settings
from crm_core.db import make_engine, make_sessionmaker
from crm_core.models import Customer, Department, Ticket, TicketType, User
from crm_core.services.customers import add_phone
from crm_core.services.users import create_user

pytestmark = pytest.mark.browser

DOCS = Path(__file__).resolve().parents[2] / "docs"
WAIT_MS = 15_000
WRAPUP_S = 4
OTHER = "1002"  # the agent whose tab is closed during wrap-up
SUPERVISOR = "supervisor1"
SHOTS = os.environ.get("CC_SCREENSHOTS") == "1"
CALLER = "13911112222"  # a customer with an open ticket, as the documentation shots show one
CUSTOMER = "北京华鑫科技有限公司"
LONG_WRAPUP_QUEUE = "sales"  # its own wrap-up seconds (wrapup_queue_s): long enough for the supervisor


class DayDesk(LiveDesk):
    """The live product with wrap-up timed on the server (``WRAPUP_S``), a second agent and a supervisor
    of the agents' department."""

    def settings(self) -> Settings:
        return (
            super()
            .settings()
            .model_copy(
                update={"wrapup_s": WRAPUP_S, "wrapup_queue_s": {LONG_WRAPUP_QUEUE: 120}, "desk_queues": ["support"]}
            )
        )

    def seed(self, url: str) -> None:
        super().seed(url)
        engine = make_engine(url)
        with make_sessionmaker(engine)() as session:
            team = Department(name="客服一组 Service team 1", path="/")
            session.add(team)
            session.flush()
            team.path = f"/{team.id}/"
            session.scalars(select(User).where(User.extension == EXTENSION)).one().department_id = team.id
            create_user(
                session,
                f"agent{OTHER}",
                self.password,
                display_name="Li Na",
                roles=["agent"],
                extension=OTHER,
                department_id=team.id,
            )
            create_user(
                session, SUPERVISOR, self.password, display_name="Zhao Min", roles=["supervisor"], department_id=team.id
            )
            customer = Customer(
                name=CUSTOMER,
                kind="company",
                level="VIP",
                region="北京 Beijing",
                category="企业客户",
                status="active",
                department_id=team.id,
            )
            session.add(customer)
            session.flush()
            add_phone(session, customer.id, CALLER)
            kind = session.scalars(select(TicketType).order_by(TicketType.id)).first()
            assert kind is not None
            session.add(
                Ticket(
                    title="路由器无法联网 Router offline",
                    type_id=kind.id,
                    customer_id=customer.id,
                    priority="high",
                    status="in_progress",
                    department_id=team.id,
                )
            )
            session.commit()
        engine.dispose()

    def agent(self, extension: str) -> dict[str, Any]:
        rows = self.runtime.tracker_snapshot()["agents"]
        return next((r for r in rows if r["extension"] == extension), {"state": "logged_out", "queues": []})


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DayDesk]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium")
    desk = DayDesk(tmp_path_factory.mktemp("desk-day"))
    desk.start()
    try:
        yield desk
    finally:
        desk.stop()


def open_desk(browser: Browser, live: DayDesk, username: str, lang: str = "zh-CN") -> Page:
    context = browser.new_context(viewport={"width": 1600, "height": 1000}, locale=lang)
    page = context.new_page()
    watch(page, [])
    page.goto(f"{live.url}/desk")
    log_in(page, live, username, "/desk")
    page.wait_for_function("() => window.deskApp && window.deskApp.socket && window.deskApp.socket.online")
    if lang != "zh-CN":
        page.select_option("#lang-switch", lang)
    return page


def shoot(page: Page, name: str) -> None:
    """The documentation shot in the page's language (zh-CN, then en), rendered with the CJK font."""
    if not SHOTS:
        return
    DOCS.mkdir(exist_ok=True)
    page.evaluate("() => { const n = document.getElementById('notice'); if (n) n.hidden = true; }")
    for lang in ("zh-CN", "en"):
        page.select_option("#lang-switch", lang)
        page.wait_for_timeout(150)
        page.screenshot(path=str(DOCS / f"{name}.{lang}.png"))
    page.select_option("#lang-switch", "zh-CN")


def ring(live: DayDesk, caller: str, agent: str = EXTENSION, talk: int = 600) -> None:
    live.start_call("inbound_answered", caller=caller, agent=agent, queue="support", talk=talk)


def talking(page: Page) -> None:
    expect(page.locator("#call-state")).to_have_attribute("data-state", "talking", timeout=WAIT_MS)


def in_talk_phase(live: DayDesk) -> None:
    # the simulator takes hold, transfer and the like once its recorded call reaches the talk phase
    wait_for(lambda: any(run.waiting_at == "talk" for run in live.sim.pbx.calls))


@pytest.fixture(scope="module")
def page(live: DayDesk, browser: Browser) -> Iterator[Page]:
    desk = open_desk(browser, live, "agent1001")
    yield desk
    desk.context.close()


def test_busy_before_queue_login_then_the_login_goes_in_paused(live: DayDesk, page: Page) -> None:
    expect(page.locator("#agent-state")).to_have_attribute("data-state", "logged_out")
    page.select_option("#pause-reason", "training")
    page.click("#pause-button")
    expect(page.locator("#notice")).to_have_text("尚未签入队列：签入后将保持置忙", timeout=WAIT_MS)
    expect(page.locator("#login-paused")).to_be_checked()
    assert live.actions.named("QueuePause") == []  # never a raw "Interface not found"
    page.click("#queues-login")
    expect(page.locator("#agent-state")).to_have_attribute("data-state", "paused", timeout=WAIT_MS)
    expect(page.locator("#agent-reason")).to_have_text("培训")
    add = live.actions.named("QueueAdd")[-1]
    assert add["paused"] == "true" and add["interface"] == f"Local/{EXTENSION}@agents/n"
    assert live.agent(EXTENSION)["state"] == "paused"
    page.click("#ready-button")
    expect(page.locator("#agent-state")).to_have_attribute("data-state", "available", timeout=WAIT_MS)


def test_queue_login_paused_rings_nobody_until_ready(live: DayDesk, page: Page) -> None:
    page.click("#queues-logout")
    expect(page.locator("#agent-state")).to_have_attribute("data-state", "logged_out", timeout=WAIT_MS)
    page.check("#login-paused")
    page.select_option("#pause-reason", "meeting")
    page.click("#queues-login")
    expect(page.locator("#agent-state")).to_have_attribute("data-state", "paused", timeout=WAIT_MS)
    expect(page.locator("#agent-reason")).to_have_text("会议")
    assert live.actions.named("QueueAdd")[-1]["paused"] == "true"
    page.uncheck("#login-paused")
    page.click("#ready-button")
    expect(page.locator("#agent-state")).to_have_attribute("data-state", "available", timeout=WAIT_MS)


def test_hold_and_unhold_with_the_held_timer(live: DayDesk, page: Page) -> None:
    ring(live, CALLER)
    expect(page.locator("#pop-customer .customer-name")).to_have_text(CUSTOMER, timeout=WAIT_MS)
    talking(page)
    in_talk_phase(live)
    page.wait_for_timeout(1200)
    shoot(page, "desk-call")
    expect(page.locator("[data-action=unhold]")).to_be_disabled()
    page.click("[data-action=hold]")
    expect(page.locator("#call-state")).to_have_attribute("data-state", "held", timeout=WAIT_MS)
    expect(page.locator("[data-action=unhold]")).to_be_enabled()  # 取回 while held
    expect(page.locator("[data-action=hold]")).to_be_disabled()
    expect(page.locator("#held-timer")).to_have_text("00:02", timeout=WAIT_MS)  # the held timer runs
    assert live.published("call.hold")
    shoot(page, "desk-hold")
    page.click("[data-action=unhold]")
    talking(page)
    expect(page.locator("#held")).to_have_count(0)
    assert live.published("call.unhold")


def test_the_pop_and_its_ticket_form_survive_the_end_of_the_call(live: DayDesk, page: Page) -> None:
    # the call of the last test is still up: the agent types a ticket, then hangs up
    form = page.locator("#pop-ticket")
    form.locator("input[name=title]").fill("发票未收到 invoice missing")
    call_id = page.locator("#pop").get_attribute("data-call-id")
    page.click("[data-action=hangup]")
    expect(page.locator("#pop-status")).to_be_visible(timeout=WAIT_MS)
    expect(page.locator("#call-info")).to_contain_text("当前没有通话")
    expect(page.locator("#pop-customer .customer-name")).to_have_text(CUSTOMER)
    expect(form.locator("input[name=title]")).to_have_value("发票未收到 invoice missing")  # not re-drawn
    # the server times the wrap-up; the desk counts down from its deadline
    expect(page.locator("#agent-state")).to_have_attribute("data-state", "wrap_up", timeout=WAIT_MS)
    expect(page.locator("#wrapup")).to_be_visible()
    assert any(a.get("reason") == "after_call_work" for a in live.actions.named("QueuePause"))
    form.locator("button[type=submit]").click()
    expect(page.locator("#pop-tickets")).to_contain_text("发票未收到 invoice missing", timeout=WAIT_MS)
    engine = make_engine(live.settings().effective_database_url)
    with make_sessionmaker(engine)() as session:
        assert session.scalars(select(Ticket).where(Ticket.title == "发票未收到 invoice missing")).one()
    engine.dispose()
    assert page.locator("#pop").get_attribute("data-call-id") == call_id
    shoot(page, "desk-wrapup")
    expect(page.locator("#agent-state")).to_have_attribute("data-state", "available", timeout=WAIT_MS)
    expect(page.locator("#wrapup")).to_be_hidden()
    page.click("#pop-close")
    expect(page.locator("#pop-empty")).to_be_visible()


def test_the_agent_ends_his_wrap_up_from_the_desk(live: DayDesk, page: Page) -> None:
    live.start_call("inbound_answered", caller="13600008888", agent=EXTENSION, queue=LONG_WRAPUP_QUEUE, talk=600)
    talking(page)
    in_talk_phase(live)
    page.click("[data-action=hangup]")
    expect(page.locator("#agent-state")).to_have_attribute("data-state", "wrap_up", timeout=WAIT_MS)
    expect(page.locator("#wrapup-left")).to_have_text(re.compile(r"^(01:5\d|02:00)$"), timeout=WAIT_MS)  # 120 s
    page.click("#wrapup-end")
    expect(page.locator("#agent-state")).to_have_attribute("data-state", "available", timeout=WAIT_MS)
    expect(page.locator("#wrapup")).to_be_hidden()
    page.click("#pop-close")


def test_a_tab_closed_during_wrap_up_and_the_agent_available_again_after_wrapup_s(
    live: DayDesk, browser: Browser
) -> None:
    other = open_desk(browser, live, f"agent{OTHER}")
    other.click("#queues-login")
    expect(other.locator("#agent-state")).to_have_attribute("data-state", "available", timeout=WAIT_MS)
    ring(live, "13600007777", agent=OTHER)
    talking(other)
    in_talk_phase(live)
    other.click("[data-action=hangup]")
    expect(other.locator("#agent-state")).to_have_attribute("data-state", "wrap_up", timeout=WAIT_MS)
    closed_at = time.monotonic()
    other.context.close()  # no desk tab for this agent any more
    assert live.agent(OTHER)["state"] == "wrap_up"
    wait_for(lambda: live.agent(OTHER)["state"] == "available", timeout=WRAPUP_S + 10)
    assert time.monotonic() - closed_at < WRAPUP_S + 5
    unpause = [a for a in live.actions.named("QueuePause") if a["interface"] == f"Local/{OTHER}@agents/n"][-1]
    assert unpause["paused"] == "false"


def test_click_to_dial_pops_the_customer_dialled(live: DayDesk, page: Page) -> None:
    page.fill("#dial-number", CALLER)
    page.click("#dial-button")
    expect(page.locator("#pop-customer .customer-name")).to_have_text(CUSTOMER, timeout=WAIT_MS)
    expect(page.locator("#pop-outbound")).to_have_text("呼出")
    expect(page.locator("#pop-number")).to_have_text(CALLER)
    expect(page.locator("#pop-tickets")).to_contain_text("路由器无法联网")
    page.click("[data-action=hangup]")
    expect(page.locator("#call-info")).to_contain_text("当前没有通话", timeout=WAIT_MS)
    page.click("#pop-close")


def test_the_supervisor_ends_a_wrap_up_and_makes_a_paused_agent_available_from_the_wallboard(
    live: DayDesk, browser: Browser, page: Page
) -> None:
    if live.agent(EXTENSION)["state"] == "logged_out":  # run alone: the agent's shift starts here
        page.uncheck("#login-paused")
        page.click("#queues-login")
        expect(page.locator("#agent-state")).to_have_attribute("data-state", "available", timeout=WAIT_MS)
    context = browser.new_context(viewport={"width": 1600, "height": 1000}, locale="zh-CN")
    board = context.new_page()
    watch(board, [])
    board.goto(f"{live.url}/wallboard")
    log_in(board, live, SUPERVISOR, "/wallboard")
    row = board.locator(f"#agents tr[data-agent='{EXTENSION}']")
    expect(row).to_be_visible(timeout=WAIT_MS)
    # a call of a queue with a long wrap-up: the supervisor ends it
    live.start_call("inbound_answered", caller=CALLER, agent=EXTENSION, queue=LONG_WRAPUP_QUEUE, talk=600)
    talking(page)
    in_talk_phase(live)
    page.click("[data-action=hangup]")
    expect(row.locator(".state")).to_have_text("话后处理", timeout=WAIT_MS)
    expect(page.locator("#wrapup")).to_be_visible(timeout=WAIT_MS)
    shoot(board, "wallboard")
    row.locator("button", has_text="结束话后处理").click()
    expect(row.locator(".state")).to_have_text("空闲", timeout=WAIT_MS)
    expect(page.locator("#agent-state")).to_have_attribute("data-state", "available", timeout=WAIT_MS)
    expect(page.locator("#wrapup")).to_be_hidden()
    # a paused agent made available
    page.select_option("#pause-reason", "lunch")
    page.click("#pause-button")
    expect(row.locator(".state")).to_have_text("置忙", timeout=WAIT_MS)
    row.locator("button", has_text="置闲").click()
    expect(page.locator("#agent-state")).to_have_attribute("data-state", "available", timeout=WAIT_MS)
    expect(row.locator(".state")).to_have_text("空闲", timeout=WAIT_MS)
    context.close()

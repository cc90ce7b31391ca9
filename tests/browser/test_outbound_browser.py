"""Outbound pages in a real browser against the PBX simulator: a supervisor sets up and starts a preview
campaign on /admin/outbound (leads from a list, a do-not-call number); the agent takes the next lead on
the desk, sees the lead and the script, dials it (click-to-dial), wraps the call up with a disposition
and the script's answer; the do-not-call lead is never offered and the dial pad refuses its number; a
callback due now shows on the desk and is dialled in one click."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import CHROMIUM, EXTENSION, LiveDesk, log_in, watch
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from crm_core.db import make_engine, make_sessionmaker
from crm_core.models import AgentScript, Callback, CallDisposition, DispositionCode, Lead, User
from crm_core.services import outbound as svc
from crm_core.services.users import create_user

pytestmark = pytest.mark.browser

DOCS = Path(__file__).resolve().parents[2] / "docs"
WAIT_MS = 20_000
LEAD, BLOCKED = "13900001111", "13900002222"


def db(live: LiveDesk) -> Any:
    engine = make_engine(live.settings().effective_database_url)
    return make_sessionmaker(engine)()


@pytest.fixture(scope="module")
def supervisor(live: LiveDesk) -> str:
    with db(live) as session:
        if session.scalar(select(User).where(User.username == "boss")) is None:
            create_user(session, "boss", live.password, display_name="Boss", roles=["supervisor"])
        session.add(
            AgentScript(
                name="续费话术",
                body="您好{name}，我是客服，关于您的续费……",
                questions=[{"key": "renew", "label": "是否续费", "kind": "choice", "options": ["是", "否"]}],
            )
        )
        session.commit()
    return "boss"


def page_for(browser: Browser, live: LiveDesk, username: str, address: str) -> Page:
    context = browser.new_context(viewport={"width": 1500, "height": 1100}, locale="zh-CN")
    page = context.new_page()
    watch(page, [])
    page.goto(f"{live.url}{address}")
    log_in(page, live, username, address)
    return page


def shot(page: Page, name: str) -> None:
    if os.environ.get("CC_SCREENSHOTS") == "1":
        DOCS.mkdir(exist_ok=True)
        page.screenshot(path=str(DOCS / name), full_page=True)


def test_campaign_set_up_then_preview_dial_and_wrap_up(live: LiveDesk, browser: Browser, supervisor: str) -> None:
    assert Path(CHROMIUM).exists()
    admin = page_for(browser, live, supervisor, "/admin/outbound")
    form = admin.locator("#campaign-form")
    form.locator("input[name=name]").fill("续费回访")
    form.locator("select[name=mode]").select_option("preview")
    form.locator("input[name=queue]").fill("support")
    form.locator("input[name=start]").fill("00:00")
    form.locator("input[name=end]").fill("23:59")
    form.locator("input[name=calendar]").uncheck()
    form.locator("select[name=script_id]").select_option(label="续费话术")
    form.locator("button[type=submit]").click()
    row = admin.locator("#campaign-rows tr", has_text="续费回访")
    expect(row).to_contain_text("预览式", timeout=WAIT_MS)
    row.get_by_role("button", name="添加名单").click()
    admin.fill("#leads-text", f"{LEAD},张三\n{BLOCKED},李四")
    admin.click("#leads-add")
    expect(row.locator(".leads")).to_contain_text("待拨 2", timeout=WAIT_MS)
    admin.fill("#dnc-text", "139-0000-2222")
    admin.click("#dnc-add")
    expect(admin.locator("#dnc-list")).to_contain_text("139-0000-2222", timeout=WAIT_MS)
    # the whole week: the test may run on a weekend
    with db(live) as session:
        campaign_id = session.scalar(select(Lead.campaign_id).where(Lead.phone == LEAD))
        svc.update_campaign(
            session,
            campaign_id,
            {"schedule": {"days": list(range(7)), "start": "00:00", "end": "23:59", "calendar": False}},
        )
        session.commit()
    row.get_by_role("button", name="开始").click()
    expect(row).to_contain_text("进行中", timeout=WAIT_MS)
    admin.select_option("#lang-switch", "en")
    expect(row).to_contain_text("Running", timeout=WAIT_MS)
    admin.select_option("#lang-switch", "zh-CN")
    expect(row).to_contain_text("进行中", timeout=WAIT_MS)
    expect(admin.locator("#script-select")).to_contain_text("续费话术")
    shot(admin, "outbound-admin.png")

    desk = page_for(browser, live, "agent1001", "/desk")
    desk.wait_for_function("() => window.deskApp && window.deskApp.socket && window.deskApp.socket.online")
    campaign = desk.locator("#ob-campaigns li", has_text="续费回访")
    campaign.locator(".ob-next").click()
    expect(desk.locator("#ob-lead")).to_contain_text("张三", timeout=WAIT_MS)
    expect(desk.locator("#ob-preview #ob-script")).to_have_text("您好张三，我是客服，关于您的续费……")
    desk.click("#ob-dial")
    expect(desk.locator("#ob-call #ob-lead")).to_contain_text(LEAD, timeout=WAIT_MS)
    desk.locator("#ob-call select[data-question=renew]").select_option("是")
    desk.click("#ob-save")
    expect(desk.locator("#ob-notice")).to_have_text("请选择处理结果")  # required before it is saved
    desk.locator("#ob-code").select_option("sale")
    shot(desk, "outbound-desk.png")
    desk.click("#ob-save")
    expect(desk.locator("#ob-saved")).to_have_text("处理结果已保存", timeout=WAIT_MS)
    with db(live) as session:
        given = session.scalars(select(CallDisposition)).one()
        assert (given.code, given.answers, given.agent) == ("sale", {"renew": "是"}, EXTENSION)
        lead = session.scalar(select(Lead).where(Lead.phone == LEAD))
        assert lead is not None and lead.disposition == "sale" and lead.attempts == 1

    campaign.locator(".ob-next").click()  # the other lead is on the do-not-call list: never offered
    expect(desk.locator("#ob-notice")).to_have_text("没有待拨打的名单", timeout=WAIT_MS)
    with db(live) as session:
        blocked = session.scalar(select(Lead).where(Lead.phone == BLOCKED))
        assert blocked is not None and (blocked.state, blocked.attempts) == ("dnc", 0)
    desk.fill("#dial-number", BLOCKED)
    desk.click("#dial-button")
    expect(desk.locator("#notice")).to_contain_text("免打扰", timeout=WAIT_MS)

    with db(live) as session:
        agent = session.scalar(select(User).where(User.username == "agent1001"))
        svc.schedule_callback(
            session,
            phone="13900003333",
            due_at=datetime.now(UTC).replace(tzinfo=None),
            owner_id=agent.id,
            note="客户要求下午回电",
        )
        session.commit()
    desk.reload()
    callback = desk.locator("#ob-callbacks li", has_text="13900003333")
    expect(callback).to_contain_text("客户要求下午回电", timeout=WAIT_MS)
    callback.locator(".ob-callback-dial").click()
    expect(desk.locator("#ob-callbacks")).to_contain_text("没有到期的回拨", timeout=WAIT_MS)
    with db(live) as session:
        done = session.scalars(select(Callback)).one()
        assert done.status == "done" and done.done_call_id
    desk.context.close()
    admin.context.close()


def test_scripts_and_wrap_up_codes_are_edited_on_the_page(live: LiveDesk, browser: Browser, supervisor: str) -> None:
    admin = page_for(browser, live, supervisor, "/admin/outbound")
    script = admin.locator("#script-rows li", has_text="续费话术")
    script.locator("button.edit").click()
    form = admin.locator("#script-form")
    expect(form.locator("textarea[name=questions]")).to_have_value("renew|是否续费|是,否")
    form.locator("textarea[name=body]").fill("您好{name}，本月续费有优惠。")
    form.locator("textarea[name=questions]").fill("renew|是否续费|是,否\nwhy|不续费的原因")
    form.locator("button[type=submit]").click()
    expect(admin.locator("#notice")).to_have_text("已保存", timeout=WAIT_MS)
    admin.click("#script-new")
    form.locator("input[name=name]").fill("投诉回访")
    form.locator("input[name=queue]").fill("support")
    form.locator("textarea[name=body]").fill("{name}您好，回访您上次的投诉。")
    form.locator("textarea[name=questions]").fill("没有竖线的一行")
    form.locator("button[type=submit]").click()
    expect(admin.locator("#notice")).to_contain_text("第 1 行的问题写法不对", timeout=WAIT_MS)
    form.locator("textarea[name=questions]").fill("")
    form.locator("button[type=submit]").click()
    expect(admin.locator("#script-rows")).to_contain_text("投诉回访", timeout=WAIT_MS)

    codes = admin.locator("#code-form")
    admin.click("#code-new")
    codes.locator("input[name=code]").fill("refund")
    codes.locator("input[name=name]").fill("退款咨询")
    codes.locator("input[name=queue]").fill("support")
    codes.locator("input[name=retry]").check()
    codes.locator("button[type=submit]").click()
    row = admin.locator("#code-rows tr[data-code=refund]")
    expect(row).to_contain_text("稍后再拨", timeout=WAIT_MS)
    row.locator("button.edit").click()
    expect(codes.locator("input[name=name]")).to_have_value("退款咨询")
    codes.locator("input[name=name]").fill("退款")
    codes.locator("input[name=is_active]").uncheck()
    codes.locator("button[type=submit]").click()
    expect(row).to_contain_text("停用", timeout=WAIT_MS)
    expect(row).to_contain_text("退款")
    admin.select_option("#lang-switch", "en")
    expect(admin.locator("#code-rows")).to_contain_text("Inactive", timeout=WAIT_MS)
    admin.select_option("#lang-switch", "zh-CN")
    expect(admin.locator("#code-rows")).to_contain_text("停用", timeout=WAIT_MS)
    expect(admin.locator("#script-form")).to_contain_text("问题")
    shot(admin, "outbound-codes.png")
    with db(live) as session:
        edited = session.scalar(select(AgentScript).where(AgentScript.name == "续费话术"))
        assert edited is not None and edited.body == "您好{name}，本月续费有优惠。"
        assert [q["key"] for q in edited.questions] == ["renew", "why"] and edited.questions[1]["kind"] == "text"
        refund = session.scalar(select(DispositionCode).where(DispositionCode.code == "refund"))
        assert refund is not None and (refund.name, refund.queue, refund.retry, refund.is_active) == (
            "退款",
            "support",
            True,
            False,
        )
    row.locator("button.delete").click()
    expect(admin.locator("#code-rows tr[data-code=refund]")).to_have_count(0, timeout=WAIT_MS)

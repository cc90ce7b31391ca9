"""Administration pages in a real browser: an administrator creates and edits a user, a role with its permission
matrix and departments in the tree, and each page refuses bad input with a message in the page's language,
next to the field it concerns."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import LiveDesk, log_in
from playwright.sync_api import Browser, Page, expect

from crm_core.db import make_engine, make_sessionmaker
from crm_core.services.users import create_user

pytestmark = pytest.mark.browser

DOCS = Path(__file__).resolve().parents[2] / "docs"
ADMIN = "sysadmin"
WAIT_MS = 15_000


class AdminDesk(LiveDesk):
    """The live product with an administrator."""

    def seed(self, url: str) -> None:
        super().seed(url)
        engine = make_engine(url)
        with make_sessionmaker(engine)() as session:
            create_user(session, ADMIN, self.password, display_name="系统管理员", roles=["admin"])
            session.commit()
        engine.dispose()


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AdminDesk]:
    desk = AdminDesk(tmp_path_factory.mktemp("admin-desk"))
    desk.start()
    try:
        yield desk
    finally:
        desk.stop()


@pytest.fixture
def page(live: AdminDesk, browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1440, "height": 900}, locale="zh-CN")
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    tab.goto(f"{live.url}/admin")
    log_in(tab, live, ADMIN, "/admin")
    yield tab
    context.close()
    assert errors == [], errors


def open_route(page: Page, hash_route: str) -> None:
    page.evaluate("(target) => { location.hash = target; }", hash_route)
    expect(page.locator("body")).to_have_attribute("data-rendered", hash_route, timeout=WAIT_MS)


def english(page: Page) -> None:
    page.select_option("#lang-switch", "en")
    expect(page.locator("#admin-nav a[data-route=users]")).to_have_text("Users")


def shot(page: Page, name: str) -> None:
    """Documentation shots are rewritten only on request (CC_SCREENSHOTS=1), not by every CI run."""
    if os.environ.get("CC_SCREENSHOTS") == "1":
        DOCS.mkdir(exist_ok=True)
        page.screenshot(path=str(DOCS / name), full_page=True)


def test_an_agent_is_refused_the_administration(live: AdminDesk, browser: Browser) -> None:
    context = browser.new_context(locale="zh-CN")
    tab = context.new_page()
    tab.goto(f"{live.url}/admin")
    log_in(tab, live, "agent1001", "/admin")
    expect(tab.locator("#notice")).to_have_text("您没有执行此操作的权限", timeout=WAIT_MS)
    expect(tab.locator("cc-nav a[href='/admin']")).to_have_count(0)
    context.close()


def test_users_page_creates_edits_and_refuses_a_bad_extension(page: Page) -> None:
    open_route(page, "#/users")
    expect(page.locator("cc-nav a[href='/admin']")).to_have_text("系统管理")
    page.click("#new-user")
    expect(page.locator("body")).to_have_attribute("data-rendered", "#/users/new")
    page.fill("#f-username", "li.na")
    page.fill("#f-password", "a-long-password")
    page.fill("#f-display_name", "李娜")
    page.fill("#f-agent_number", "A2001")
    page.fill("#f-extension", "20ab")
    page.fill("#f-mobile", "13800001111")
    page.fill("#f-position", "客服专员")
    page.check("#f-roles input[value=agent]")
    page.click("#save")
    expect(page.locator(".field-error")).to_have_text("分机号须为 2 到 20 位数字", timeout=WAIT_MS)
    expect(page.locator("#f-extension")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#notice")).to_contain_text("分机号: 分机号须为 2 到 20 位数字")
    page.fill("#f-extension", "1001")  # agent1001's extension
    page.click("#save")
    expect(page.locator(".field-error")).to_have_text("分机号已被其他用户使用", timeout=WAIT_MS)

    page.fill("#f-extension", "2001")
    page.click("#save")
    expect(page.locator("body")).to_have_attribute("data-rendered", "#/users", timeout=WAIT_MS)
    row = page.locator("tr", has=page.locator("a", has_text="li.na"))
    expect(row).to_contain_text("A2001")
    expect(row).to_contain_text("2001")
    expect(row).to_contain_text("客服专员")
    expect(row).to_contain_text("坐席")

    row.locator("a", has_text="li.na").click()
    expect(page.locator("#f-position")).to_have_value("客服专员", timeout=WAIT_MS)
    page.fill("#f-position", "质检组长")
    page.check("#f-roles input[value=quality]")
    page.uncheck("#f-is_active")
    page.click("#save")
    expect(page.locator("body")).to_have_attribute("data-rendered", "#/users", timeout=WAIT_MS)
    row = page.locator("tr", has=page.locator("a", has_text="li.na"))
    expect(row).to_contain_text("质检组长")
    expect(row).to_contain_text("坐席、质检")
    expect(row).to_contain_text("停用")
    shot(page, "admin-users.zh-CN.png")

    english(page)
    expect(page.locator("th").first).to_have_text("Login")
    expect(row).to_contain_text("Agent、Quality")
    expect(row).to_contain_text("Disabled")
    shot(page, "admin-users.en.png")
    page.click("#new-user")
    page.click("#save")  # nothing filled in: refused here, before the server
    expect(page.locator(".field-error").first).to_have_text("required", timeout=WAIT_MS)
    expect(page.locator("#notice")).to_have_text("Login: required; Password: required")
    page.fill("#f-username", "wang.qiang")
    page.fill("#f-password", "short")
    page.check("#f-roles input[value=agent]")
    page.click("#save")
    expect(page.locator("#notice")).to_have_text("Password: the password needs at least 8 characters")
    expect(page.locator(".field-error")).to_have_text("the password needs at least 8 characters", timeout=WAIT_MS)
    shot(page, "admin-user-form.en.png")


def test_roles_page_creates_a_role_and_saves_its_permission_matrix(page: Page) -> None:
    open_route(page, "#/roles")
    page.fill("#f-name", "Team Lead")
    page.fill("#f-title", "组长 Team lead")
    page.click("#create-role")
    expect(page.locator(".field-error")).to_have_text("角色代码须以小写字母开头，只含小写字母和下划线", timeout=WAIT_MS)
    page.fill("#f-name", "team_lead")
    page.select_option("#f-data_scope", "department")
    page.click("#create-role")
    expect(page.locator("#matrix")).to_be_visible(timeout=WAIT_MS)
    assert page.locator("#matrix tr[data-resource=audit] input").count() == 1  # audit has "read" only
    page.check("#matrix input[value='customer.read']")
    page.check("#matrix input[value='ticket.approve']")
    page.click("#save-grants")
    expect(page.locator("#flash")).to_have_text("组长 的权限已保存（2 项）", timeout=WAIT_MS)

    page.fill("#f-title", "班组长 Team leader")
    page.click("#save")
    expect(page.locator("body")).to_have_attribute("data-rendered", "#/roles", timeout=WAIT_MS)
    row = page.locator("tr", has=page.locator("code", has_text="team_lead"))
    expect(row).to_contain_text("班组长")
    expect(row).to_contain_text("本部门")
    expect(row).to_contain_text("2 项")
    row.locator("a").click()
    expect(page.locator("#matrix input[value='customer.read']")).to_be_checked(timeout=WAIT_MS)
    expect(page.locator("#matrix input[value='customer.update']")).not_to_be_checked()
    shot(page, "admin-roles.zh-CN.png")
    english(page)
    expect(page.locator("#matrix tr[data-resource=customer] th")).to_have_text("Customers")
    shot(page, "admin-roles.en.png")

    open_route(page, "#/roles")
    page.locator("tr", has=page.locator("code", has_text="agent")).locator("a").click()
    expect(page.locator("#matrix")).to_be_visible(timeout=WAIT_MS)
    page.click("#delete-role")
    held = re.compile(r"^still held by [1-9][0-9]* user\(s\)$")
    expect(page.locator("#notice")).to_have_text(held, timeout=WAIT_MS)


def test_department_tree_adds_moves_and_refuses_a_loop(page: Page) -> None:
    open_route(page, "#/departments")
    page.click("#new-dept")
    page.click("#save")
    expect(page.locator(".field-error")).to_have_text("必填", timeout=WAIT_MS)
    page.fill("#f-name", "华南大区")
    page.click("#save")
    node = page.locator(".dept-tree li", has=page.locator(".dept-name", has_text="华南大区")).first
    expect(node).to_be_visible(timeout=WAIT_MS)
    node.locator(".add-child").first.click()
    page.fill("#f-name", "广州分部")
    page.click("#save")
    child = node.locator("ul li", has=page.locator(".dept-name", has_text="广州分部"))
    expect(child).to_be_visible(timeout=WAIT_MS)

    node.locator(".edit-dept").first.click()
    expect(page.locator("#f-name")).to_have_value("华南大区")
    page.select_option("#f-parent_id", label="　广州分部")
    page.click("#save")
    expect(page.locator(".field-error")).to_have_text("不能移到自己的下级", timeout=WAIT_MS)
    page.fill("#f-name", "华南区")
    page.select_option("#f-parent_id", "")
    page.click("#save")
    expect(page.locator(".dept-tree .dept-name", has_text="华南区")).to_be_visible(timeout=WAIT_MS)
    expect(page.locator(".dept-tree .dept-name", has_text="华南大区")).to_have_count(0)
    shot(page, "admin-departments.zh-CN.png")
    english(page)
    expect(page.locator("#new-dept")).to_have_text("New department")
    page.locator(".dept-tree li", has=page.locator(".dept-name", has_text="华南区")).first.locator(
        ".edit-dept"
    ).first.click()
    page.select_option("#f-parent_id", label="　广州分部")
    page.click("#save")
    expect(page.locator(".field-error")).to_have_text("a department cannot move under itself", timeout=WAIT_MS)
    shot(page, "admin-departments.en.png")


def test_pause_reasons_page_adds_edits_and_refuses_a_bad_code(page: Page) -> None:
    open_route(page, "#/pause-reasons")
    expect(page.locator("#view table tbody tr").first).to_be_visible(timeout=WAIT_MS)
    page.click("#new-item")
    page.fill("#f-code", "Coffee Break")
    page.fill("#f-name", "茶歇 Coffee break")
    page.click("#save")
    expect(page.locator(".field-error")).to_have_text(
        "代码须以小写字母开头，只含小写字母、数字和下划线", timeout=WAIT_MS
    )
    expect(page.locator("#f-code")).to_have_attribute("aria-invalid", "true")
    page.fill("#f-code", "coffee")
    page.fill("#f-position", "9")
    page.click("#save")
    row = page.locator("#view tr", has_text="coffee")
    expect(row).to_contain_text("茶歇", timeout=WAIT_MS)
    row.locator("button.edit-item").click()
    page.fill("#f-name", "茶歇 Tea break")
    page.uncheck("#f-is_active")
    page.click("#save")
    expect(row).to_contain_text("否", timeout=WAIT_MS)
    page.click("#new-item")
    page.fill("#f-code", "lunch")  # already there
    page.fill("#f-name", "午饭")
    page.click("#save")
    expect(page.locator(".field-error")).to_have_text("代码已存在", timeout=WAIT_MS)
    shot(page, "admin-pause-reasons.zh-CN.png")
    english(page)
    expect(page.locator("#view h2").first).to_have_text("Pause reasons", timeout=WAIT_MS)
    expect(page.locator("#view tr", has_text="coffee")).to_contain_text("Tea break")
    shot(page, "admin-pause-reasons.en.png")


def test_dictionaries_page_adds_edits_and_refuses_a_duplicate(page: Page) -> None:
    open_route(page, "#/dictionary/region")
    expect(page.locator(".dict-kinds a[aria-current=page]")).to_have_text("地区", timeout=WAIT_MS)
    page.click("#new-item")
    page.click("#save")
    expect(page.locator(".field-error")).to_be_visible(timeout=WAIT_MS)  # the value is required
    page.fill("#f-value", "华东")
    page.click("#save")
    row = page.locator("#view tr", has_text="华东")
    expect(row).to_be_visible(timeout=WAIT_MS)
    row.locator("button.edit-item").click()
    page.fill("#f-value", "华东区")
    page.click("#save")
    expect(page.locator("#view tr", has_text="华东区")).to_be_visible(timeout=WAIT_MS)
    page.click("#new-item")
    page.fill("#f-value", "华东区")
    page.click("#save")
    expect(page.locator(".field-error")).to_have_text("该取值已存在", timeout=WAIT_MS)
    open_route(page, "#/dictionary/level")
    expect(page.locator("#view tr", has_text="华东区")).to_have_count(0)  # one dictionary per field
    open_route(page, "#/dictionary/region")
    shot(page, "admin-dictionary.zh-CN.png")
    english(page)
    expect(page.locator(".dict-kinds a[aria-current=page]")).to_have_text("Region", timeout=WAIT_MS)
    shot(page, "admin-dictionary.en.png")


def test_seats_page_adds_edits_and_refuses_a_bad_extension(page: Page) -> None:
    open_route(page, "#/seats")
    page.click("#new-seat")
    page.fill("#f-name", "B区-07")
    page.fill("#f-extension", "80a7")
    page.click("#save")
    expect(page.locator(".field-error")).to_have_text("分机号须为 2 到 20 位数字", timeout=WAIT_MS)
    expect(page.locator("#f-extension")).to_have_attribute("aria-invalid", "true")
    page.fill("#f-extension", "8007")
    page.click("#save")
    row = page.locator("#view tr", has_text="B区-07")
    expect(row).to_contain_text("8007", timeout=WAIT_MS)
    expect(row).to_contain_text("空闲")
    row.locator("button.edit-item").click()
    page.fill("#f-extension", "8017")
    page.click("#save")
    expect(page.locator("#view tr", has_text="B区-07")).to_contain_text("8017", timeout=WAIT_MS)
    page.click("#new-seat")
    page.fill("#f-name", "B区-08")
    page.fill("#f-extension", "8017")
    page.click("#save")
    expect(page.locator(".field-error")).to_have_text("该分机已绑定其他座席", timeout=WAIT_MS)
    shot(page, "admin-seats.zh-CN.png")
    english(page)
    expect(page.locator("#view h2").first).to_have_text("Seats and extensions", timeout=WAIT_MS)
    shot(page, "admin-seats.en.png")


def test_ticket_types_page_adds_edits_and_refuses_a_bad_sla(page: Page) -> None:
    open_route(page, "#/ticket-types")
    page.click("#new-type")
    page.fill("#f-code", "refund")
    page.fill("#f-name", "退款申请 Refund request")
    page.fill("#f-sla_hours", "0")
    page.select_option("#f-workflow_id", index=1)
    page.click("#save")
    expect(page.locator(".field-error")).to_have_text("处理时限（小时）须为 1 到 8760 的整数", timeout=WAIT_MS)
    page.fill("#f-sla_hours", "12")
    page.click("#save")
    row = page.locator("#view tr", has_text="refund")
    expect(row).to_contain_text("12 小时", timeout=WAIT_MS)
    row.locator("button.edit-item").click()
    page.fill("#f-sla_hours", "6")
    page.click("#save")
    expect(page.locator("#view tr", has_text="refund")).to_contain_text("6 小时", timeout=WAIT_MS)
    shot(page, "admin-ticket-types.zh-CN.png")
    english(page)
    expect(page.locator("#view tr", has_text="refund")).to_contain_text("Refund request", timeout=WAIT_MS)
    shot(page, "admin-ticket-types.en.png")


def test_workflow_page_creates_orders_steps_and_refuses_a_step_without_handler(page: Page) -> None:
    open_route(page, "#/workflows/ticket")
    page.fill("#f-name", "退款流程")
    page.click("#create-flow")
    expect(page.locator(".flow-list a[aria-current=page]")).to_have_text("退款流程", timeout=WAIT_MS)
    for name, role in (("受理", "坐席"), ("审核", "班长"), ("回访", "")):
        page.click("#add-step")
        last = page.locator(".step-row").last
        last.locator("[name=name]").fill(name)
        if role:
            last.locator("[name=assignee_role_id]").select_option(label=role)
    page.click("#save-steps")
    expect(page.locator("#notice")).to_contain_text("第 3 步须指定处理角色或处理人", timeout=WAIT_MS)
    expect(page.locator(".step-row").nth(2).locator("[name=assignee_role_id]")).to_have_attribute(
        "aria-invalid", "true"
    )
    page.locator(".step-row").nth(2).locator("[name=assignee_role_id]").select_option(label="坐席")
    page.locator(".step-row").nth(1).locator("button.up").click()  # 审核 first, then 受理
    page.click("#save-steps")
    expect(page.locator("#flash")).to_contain_text("退款流程", timeout=WAIT_MS)
    names = page.locator(".step-row [name=name]")
    expect(names).to_have_count(3)
    assert [names.nth(i).input_value() for i in range(3)] == ["审核", "受理", "回访"]
    expect(page.locator(".step-row .step-number")).to_have_text(["1", "2", "3"])
    shot(page, "admin-workflows.zh-CN.png")
    open_route(page, "#/workflows/order")
    expect(page.locator(".step-row").first.locator("[name=action]")).not_to_have_value("", timeout=WAIT_MS)
    english(page)
    expect(page.locator("#view h2").first).to_have_text("Order approval workflows", timeout=WAIT_MS)
    shot(page, "admin-workflows.en.png")


def test_workflow_editor_shows_the_readers_half_of_a_step_name_and_keeps_the_other(page: Page) -> None:
    open_route(page, "#/workflows/order")
    names = page.locator(".step-row [name=name]")
    expect(names.first).to_have_value("审核", timeout=WAIT_MS)  # stored as "审核 Review"
    expect(names.last).to_have_value("回访")
    names.nth(1).fill("主管审核")
    page.click("#save-steps")
    expect(page.locator("#flash")).to_be_visible(timeout=WAIT_MS)
    english(page)
    expect(names.first).to_have_value("Review", timeout=WAIT_MS)
    expect(names.nth(1)).to_have_value("Manager review")
    page.wait_for_load_state("networkidle")  # the save's own redraw and the language's both done
    names.last.fill("Satisfaction call")
    expect(names.last).to_have_value("Satisfaction call")
    page.click("#save-steps")
    expect(page.locator("#flash")).to_contain_text("Saved", timeout=WAIT_MS)
    stored = page.evaluate(
        "() => fetch('/api/crm/admin/workflows/order').then((r) => r.json())"
        ".then((flows) => flows[0].steps.map((s) => s.name))"
    )
    assert stored[:3] == ["审核 Review", "主管审核 Manager review", "发货 Shipping"]
    assert stored[-1] == "回访 Satisfaction call"


def test_stages_page_adds_reorders_and_keeps_won_and_lost_last(page: Page) -> None:
    open_route(page, "#/stages")
    page.click("#new-stage")
    page.fill("#f-name", "样品试用")
    page.fill("#f-probability", "150")
    page.click("#save")
    expect(page.locator(".field-error")).to_have_text("赢单概率（%）须为 0 到 100 的整数", timeout=WAIT_MS)
    page.fill("#f-probability", "60")
    page.click("#save")
    rows = page.locator("#view table tbody tr")
    new_row = page.locator("#view tr", has_text="样品试用")
    expect(new_row).to_contain_text("60%", timeout=WAIT_MS)
    last_two = [rows.nth(i).inner_text() for i in (rows.count() - 2, rows.count() - 1)]
    assert "赢单" in last_two[0] + last_two[1] and "输单" in last_two[0] + last_two[1]
    new_row.locator("button.up").click()
    expect(rows.nth(rows.count() - 3)).not_to_contain_text("样品试用", timeout=WAIT_MS)
    won = page.locator("#view tbody tr", has_text="赢单").first
    won.locator("button.up").click()  # a closed stage may not move above an open one
    expect(page.locator("#notice")).to_contain_text("赢单和输单阶段须排在最后", timeout=WAIT_MS)
    won.locator("button.edit-item").click()
    page.select_option("#f-outcome", "open")
    page.click("#save")
    expect(page.locator(".field-error")).to_have_text("赢单和输单阶段保持关闭", timeout=WAIT_MS)
    shot(page, "admin-stages.zh-CN.png")
    english(page)
    expect(page.locator("#view h2").first).to_have_text("Opportunity stages", timeout=WAIT_MS)
    shot(page, "admin-stages.en.png")


def test_audit_log_filters_by_user_table_and_period_and_refuses_a_bad_period(page: Page) -> None:
    open_route(page, "#/seats")  # make an entry: a seat saved by the administrator
    page.click("#new-seat")
    page.fill("#f-name", "审计-01")
    page.fill("#f-extension", "8099")
    page.click("#save")
    expect(page.locator("#view tr", has_text="审计-01")).to_be_visible(timeout=WAIT_MS)
    open_route(page, "#/audit")
    page.fill("#f-username", ADMIN)
    page.fill("#f-resource", "seat")
    page.fill("#f-from", "2026-13-01")
    page.click("#audit-search")
    expect(page.locator(".field-error")).to_have_text("须为日期，如 2026-12-01", timeout=WAIT_MS)
    page.fill("#f-from", "2099-12-31")
    page.fill("#f-to", "2099-12-01")
    page.click("#audit-search")
    expect(page.locator(".field-error")).to_have_text("结束日期不能早于开始日期", timeout=WAIT_MS)
    page.fill("#f-from", "")
    page.fill("#f-to", "")
    page.click("#audit-search")
    expect(page.locator("body")).to_have_attribute("data-rendered", re.compile(r"resource=seat"), timeout=WAIT_MS)
    rows = page.locator("#view table tbody tr")
    expect(rows.first).to_contain_text("座席", timeout=WAIT_MS)  # the table's name, not its code
    for text in rows.all_inner_texts():
        assert ADMIN in text and "座席" in text and "seat\t" not in text
    expect(page.locator("#view", has_text="审计-01")).to_be_visible()
    shot(page, "admin-audit.zh-CN.png")
    english(page)
    expect(page.locator("#view h2").first).to_have_text("Audit log", timeout=WAIT_MS)
    shot(page, "admin-audit.en.png")


def test_menus_page_hides_a_link_per_role_and_refuses_hiding_the_administration(page: Page) -> None:
    open_route(page, "#/menus")
    admin_row = page.locator("tr[data-role=admin]")
    admin_row.locator("input[name='/admin']").uncheck()
    admin_row.locator("button.save-menus").click()
    expect(page.locator("#notice")).to_contain_text("管理员角色不能隐藏系统管理", timeout=WAIT_MS)
    admin_row.locator("input[name='/admin']").check()
    admin_row.locator("input[name='/wallboard']").uncheck()
    admin_row.locator("button.save-menus").click()
    expect(page.locator("#flash")).to_contain_text("显示", timeout=WAIT_MS)
    page.reload()
    expect(page.locator("cc-nav a[href='/admin']")).to_be_visible(timeout=WAIT_MS)
    expect(page.locator("cc-nav a[href='/wallboard']")).to_have_count(0)
    open_route(page, "#/menus")
    expect(page.locator("tr[data-role=admin] input[name='/wallboard']")).not_to_be_checked()
    shot(page, "admin-menus.zh-CN.png")
    english(page)
    expect(page.locator("#view h2").first).to_have_text("Menus per role", timeout=WAIT_MS)
    shot(page, "admin-menus.en.png")
    page.locator("tr[data-role=admin] input[name='/wallboard']").check()
    page.locator("tr[data-role=admin] button.save-menus").click()
    expect(page.locator("#flash")).to_contain_text("Saved", timeout=WAIT_MS)

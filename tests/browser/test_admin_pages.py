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

"""Sales targets edited on /sales in a real browser: a manager creates a department's target and a person's,
each form refusing what the rules refuse (no person nor department, a period that ends before it starts, a
negative or fractional count, no measure at all) next to the field in the page's language; he edits a
target (its measures and period, from a person to the whole department) and deletes one after a second
click."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from back_office import WAIT_MS, logged_in_tab, open_route, serve
from conftest import LiveDesk
from playwright.sync_api import Browser, Locator, Page, expect
from sqlalchemy import select

from crm_core.db import make_engine, make_sessionmaker
from crm_core.models import SalesTarget
from crm_core.services.users import create_user
from crm_core.testing import add_department

pytestmark = pytest.mark.browser

MANAGER = "targetmgr"
DEPARTMENT = "销售二部 Sales team 2"


class TargetsDesk(LiveDesk):
    """The live product with a sales department, its manager and one agent."""

    def seed(self, url: str) -> None:
        super().seed(url)
        engine = make_engine(url)
        with make_sessionmaker(engine)() as session:
            dept = add_department(session, DEPARTMENT)
            for name, display, role, ext in (
                (MANAGER, "赵经理", "supervisor", None),
                ("chen", "陈静", "agent", "1201"),
            ):
                create_user(
                    session,
                    name,
                    self.password,
                    display_name=display,
                    roles=[role],
                    extension=ext,
                    department_id=dept.id,
                )
            session.commit()
        engine.dispose()

    def targets(self) -> list[tuple[str, int | None, int | None, int, str]]:
        engine = make_engine(self.settings().effective_database_url)
        with make_sessionmaker(engine)() as session:
            rows = session.execute(
                select(
                    SalesTarget.title,
                    SalesTarget.user_id,
                    SalesTarget.department_id,
                    SalesTarget.calls,
                    SalesTarget.amount,
                ).order_by(SalesTarget.id)
            )
            out = [(str(t), u, d, int(c), str(a)) for t, u, d, c, a in rows]
        engine.dispose()
        return out


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveDesk]:
    yield from serve(TargetsDesk, tmp_path_factory)


@pytest.fixture
def page(live: LiveDesk, browser: Browser) -> Iterator[Page]:
    yield from logged_in_tab(live, browser, MANAGER, "/sales", "#/board")


def error_of(form: Locator, name: str) -> Locator:
    return form.locator(f".field:has([name={name}]) + .field-error")


def test_a_target_is_created_refused_edited_and_deleted(live: TargetsDesk, page: Page) -> None:
    page.fill("#filter-start", "2026-12-01")  # the period the list shows: December's targets
    page.fill("#filter-end", "2026-12-31")
    open_route(page, "#/targets")
    page.click("#new-target")
    form = page.locator("#target-form form")
    form.locator("[name=title]").fill("十二月冲刺")
    form.locator("[name=period_start]").fill("2026-12-31")
    form.locator("[name=period_end]").fill("2026-12-01")
    form.locator("[name=calls]").fill("-3")
    form.locator("[name=orders]").fill("2.5")
    page.click("#save-target")
    expect(error_of(form, "user_id")).to_have_text("请选择人员或部门", timeout=WAIT_MS)
    expect(error_of(form, "period_end")).to_have_text("结束日期不能早于开始日期")
    expect(error_of(form, "calls")).to_have_text("须为不小于 0 的整数")
    expect(error_of(form, "orders")).to_have_text("须为不小于 0 的整数")
    expect(form.locator("[name=period_end]")).to_have_attribute("aria-invalid", "true")
    form.locator("[name=department_id]").select_option(label="销售二部")
    form.locator("[name=period_start]").fill("2026-12-01")
    form.locator("[name=period_end]").fill("2026-12-31")
    form.locator("[name=calls]").fill("")
    form.locator("[name=orders]").fill("")
    page.click("#save-target")
    expect(error_of(form, "calls")).to_have_text("至少设定一项目标", timeout=WAIT_MS)
    form.locator("[name=calls]").fill("300")
    form.locator("[name=amount]").fill("50000.5")
    page.click("#save-target")
    expect(page.locator("#flash")).to_contain_text("目标已保存", timeout=WAIT_MS)
    assert live.targets() == [("十二月冲刺", None, live.targets()[0][2], 300, "50000.50")]
    assert live.targets()[0][2] is not None, "a department's target"

    row = page.locator("#targets tr", has_text="十二月冲刺")
    expect(row).to_contain_text("销售二部", timeout=WAIT_MS)
    expect(row).to_contain_text("2026-12-01 ~ 2026-12-31")

    row.locator("button.edit-target").click()
    form = page.locator("#target-form form")
    expect(form.locator("[name=calls]")).to_have_value("300", timeout=WAIT_MS)
    expect(form.locator("[name=department_id]")).to_have_value(str(live.targets()[0][2]))
    form.locator("[name=user_id]").select_option(label="陈静")
    form.locator("[name=calls]").fill("120")
    form.locator("[name=period_end]").fill("2026-11-30")
    page.click("#save-target")
    expect(error_of(form, "period_end")).to_have_text("结束日期不能早于开始日期", timeout=WAIT_MS)
    form.locator("[name=period_end]").fill("2026-12-15")
    page.click("#save-target")
    expect(page.locator("#flash")).to_contain_text("目标已保存", timeout=WAIT_MS)
    row = page.locator("#targets tr", has_text="十二月冲刺")
    expect(row).to_contain_text("陈静", timeout=WAIT_MS)
    expect(row.locator("[data-measure=calls]")).to_contain_text("0 / 120（0%）")
    title, user_id, _, calls, _ = live.targets()[0]
    assert (title, user_id is not None, calls) == ("十二月冲刺", True, 120)

    page.select_option("#lang-switch", "en")
    row = page.locator("#targets tr", has_text="十二月冲刺")
    expect(row.locator("button.edit-target")).to_have_text("Edit", timeout=WAIT_MS)
    row.locator("button.edit-target").click()
    form = page.locator("#target-form form")
    form.locator("[name=amount]").fill("-1")
    page.click("#save-target")
    expect(error_of(form, "amount")).to_have_text(
        "Must be an amount of 0 or more, with at most two decimals", timeout=WAIT_MS
    )
    page.click("#cancel-target")
    expect(page.locator("#target-form form")).to_have_count(0)

    delete = row.locator("button.delete-target")
    delete.click()
    expect(delete).to_have_text("Click again to delete")
    assert len(live.targets()) == 1, "the first click only asks"
    delete.click()
    expect(page.locator("#flash")).to_contain_text("Target deleted: 十二月冲刺", timeout=WAIT_MS)
    expect(page.locator("#targets tr", has_text="十二月冲刺")).to_have_count(0)
    assert live.targets() == []

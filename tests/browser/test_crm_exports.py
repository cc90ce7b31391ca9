"""The list pages export what was searched, and a re-import of the export previews and updates: an
administrator filters the customer list, downloads Excel and CSV from it (only the filtered rows, "007"
kept as text for Excel), changes a cell, previews the import (1 update, the rest skipped), then imports it."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator

import pytest
from conftest import LiveDesk, log_in
from openpyxl import load_workbook
from playwright.sync_api import Browser, FilePayload, Page, expect
from sqlalchemy import select

from crm_core.db import make_engine, make_sessionmaker
from crm_core.models import Customer, Ticket, TicketType
from crm_core.services.users import create_user
from crm_core.tabular import read_rows

pytestmark = pytest.mark.browser

WAIT_MS = 15_000
ADMIN = "exportadmin"
LEVELS = {"导出甲公司": "007", "导出乙公司": "007", "导出丙公司": "A"}
TICKETS = {"已关闭的导出工单": "closed", "处理中的导出工单": "open"}


class ExportDesk(LiveDesk):
    def seed(self, url: str) -> None:
        super().seed(url)
        engine = make_engine(url)
        with make_sessionmaker(engine)() as session:
            create_user(session, ADMIN, self.password, display_name="导出管理员", roles=["admin"])
            session.add_all([Customer(name=n, level=lv, status="active") for n, lv in LEVELS.items()])
            kind = session.scalars(select(TicketType.id)).first()
            assert kind is not None, "the migrations seed the ticket types"
            session.add_all([Ticket(title=title, type_id=kind, status=status) for title, status in TICKETS.items()])
            session.commit()
        engine.dispose()


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveDesk]:
    desk = ExportDesk(tmp_path_factory.mktemp("export-desk"))
    desk.start()
    try:
        yield desk
    finally:
        desk.stop()


@pytest.fixture
def page(live: LiveDesk, browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1500, "height": 1000}, locale="zh-CN", accept_downloads=True)
    tab = context.new_page()
    tab.goto(f"{live.url}/static/crm.html#/customers")
    log_in(tab, live, ADMIN, "/static/crm.html", timeout_ms=WAIT_MS)
    yield tab
    context.close()


def test_the_filtered_list_is_exported_and_re_imported_as_updates(live: LiveDesk, page: Page) -> None:
    page.goto(f"{live.url}/static/crm.html#/customers?level=007")
    expect(page.locator("body")).to_have_attribute("data-rendered", re.compile(r"level=007"), timeout=WAIT_MS)
    expect(page.locator("#view table.crm-table tbody tr")).to_have_count(2, timeout=WAIT_MS)

    with page.expect_download() as excel:
        page.click("[data-export=customers] .export-xlsx")
    assert excel.value.suggested_filename == "customers.xlsx"
    sheet = load_workbook(io.BytesIO(excel.value.path().read_bytes())).worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    assert sorted(r[1] for r in rows[1:]) == ["导出乙公司", "导出甲公司"]  # only what the list shows
    assert {r[rows[0].index("等级")] for r in rows[1:]} == {"007"}

    with page.expect_download() as text:
        page.click("[data-export=customers] .export-csv")
    data = text.value.path().read_bytes()
    assert '"=""007"""' in data.decode("utf-8-sig")  # Excel opens ="007" as the text 007
    table = list(read_rows(data, "csv"))
    level = table[0].index("等级")
    for row in table[1:]:
        if row[1] == "导出甲公司":
            row[level] = "008"
    out = io.StringIO()
    csv.writer(out).writerows(table)
    upload: FilePayload = {"name": "customers.csv", "mimeType": "text/csv", "buffer": out.getvalue().encode()}

    page.goto(f"{live.url}/static/crm.html#/io")
    expect(page.locator("#csv-hint")).to_contain_text('="2/4"', timeout=WAIT_MS)
    page.set_input_files("#import-form input[type=file]", files=[upload])
    page.click("#import-preview")
    report = page.locator("#import-result")
    expect(report.locator("#import-counts")).to_contain_text("将新建 0、更新 1、跳过（无变化）1", timeout=WAIT_MS)
    expect(report.locator("tbody tr", has_text="导出甲公司")).to_contain_text("等级")
    page.click("#import-form button[type=submit]")
    expect(report.locator("#import-counts")).to_contain_text("导入 1 行（新建 0、更新 1）", timeout=WAIT_MS)
    page.goto(f"{live.url}/static/crm.html#/customers?level=008")
    expect(page.locator("#view table.crm-table tbody tr")).to_have_count(1, timeout=WAIT_MS)


def test_the_ticket_list_exports_its_filter(live: LiveDesk, page: Page) -> None:
    page.goto(f"{live.url}/static/crm.html#/tickets?status=closed")
    expect(page.locator("body")).to_have_attribute("data-rendered", re.compile(r"status=closed"), timeout=WAIT_MS)
    with page.expect_download() as text:
        page.click("[data-export=tickets] .export-csv")
    rows = list(read_rows(text.value.path().read_bytes(), "csv"))
    assert rows[0][:2] == ["编号", "标题"]
    assert [row[1] for row in rows[1:]] == ["已关闭的导出工单"]  # the open ticket is left out
    assert all(row[4] == "已关闭" for row in rows[1:])

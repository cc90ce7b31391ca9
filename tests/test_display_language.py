"""One language at a time: the pages carry the server's default language and business time zone, files
are written with names in the chosen language instead of codes, and a page the visitor may not use is a
plain refusal. The names the server writes agree with the pages' translation files."""

from __future__ import annotations

import csv
import io
import json
import re

from openpyxl import load_workbook
from sqlalchemy.orm import Session

from agent_desk.api.pages import LOGGED_IN_PAGES, with_display_settings
from agent_desk.pages import STATIC_DIR
from crm_core.exporter import ORDER_STATUS_NAMES, export_customers, export_orders
from crm_core.importer import import_customers
from crm_core.models import Customer, Order, OrderLine, Product
from crm_core.sheet_layout import VALUE_NAMES
from stats.export import to_csv, to_xlsx
from stats.labels import CALL_VALUE_LABELS
from stats.reports import CDR_COLUMNS, ReportKind, ReportTable

pytest_plugins = ["crm_core.testing", "test_desk_support"]

I18N = STATIC_DIR / "i18n"


def catalog(namespace: str, lang: str) -> dict[str, str]:
    loaded: dict[str, str] = json.loads((I18N / f"{namespace}.{lang}.json").read_text(encoding="utf-8"))
    return loaded


# --- pages ---------------------------------------------------------------------------------------------
def test_a_page_carries_the_default_language_and_the_business_zone() -> None:
    html = '<!doctype html>\n<html lang="zh-CN">\n<head>\n  <meta charset="utf-8">\n</head><body></body></html>'
    out = with_display_settings(html, "en", "Europe/Berlin")
    assert '<html lang="en">' in out
    head = out[out.index("<head>") : out.index("</head>")]
    assert '<meta name="cc-language" content="en">' in head
    assert '<meta name="cc-timezone" content="Europe/Berlin">' in head
    assert with_display_settings(html, "zh-CN", 'x"><script>').count("<script>") == 0


def test_every_page_is_served_with_the_servers_settings(desk) -> None:  # type: ignore[no-untyped-def]
    settings = desk.client.app.state.settings
    settings.language, settings.timezone = "en", "America/New_York"
    client = desk.login("admin")
    for address in [*LOGGED_IN_PAGES, "/login"]:
        page = client.get(address)
        assert page.status_code == 200, address
        assert '<meta name="cc-language" content="en">' in page.text, address
        assert '<meta name="cc-timezone" content="America/New_York">' in page.text, address
        assert '<html lang="en">' in page.text, address


def test_every_logged_in_page_names_the_zone_and_the_product_once() -> None:
    for name in [*LOGGED_IN_PAGES.values(), "not-allowed.html"]:
        text = (STATIC_DIR / name).read_text(encoding="utf-8")
        assert 'src="/static/nav.js"' in text and "<cc-nav>" in text, name  # nav.js shows the zone
        brand = re.findall(r'class="brand" data-i18n="([^"]+)"', text)
        assert brand in ([], ["common.brand"]), name  # never the page's own name next to its nav link


def test_an_agent_opening_the_wallboard_gets_only_the_refusal(desk) -> None:  # type: ignore[no-untyped-def]
    agent = desk.login("agent_a")
    for address in ("/wallboard", "/reports"):
        page = agent.get(address)
        assert page.status_code == 403, address
        assert 'id="not-allowed"' in page.text and "wb.listen" not in page.text and "wallboard.js" not in page.text
    supervisor = desk.login("sup_a")
    page = supervisor.get("/wallboard")
    assert page.status_code == 200 and 'src="/static/wallboard.js"' in page.text


def test_the_refusal_is_translated() -> None:
    text = (STATIC_DIR / "not-allowed.html").read_text(encoding="utf-8")
    keys = set(re.findall(r'data-i18n="([^"]+)"', text))
    for lang in ("zh-CN", "en"):
        assert keys <= set(catalog("common", lang)), lang
    assert catalog("common", "en")["common.timezone"].count("{zone}") == 1


# --- names instead of codes ------------------------------------------------------------------------------
def test_call_code_names_match_the_pages() -> None:
    for lang, index in (("zh-CN", 0), ("en", 1)):
        pages = catalog("common", lang) | catalog("wallboard", lang)
        for column, codes in CALL_VALUE_LABELS.items():
            for code, names in codes.items():
                assert pages[f"{column}.{code}"] == names[index], (lang, column, code)


def test_crm_code_names_match_the_pages() -> None:
    for lang, index in (("zh-CN", 0), ("en", 1)):
        crm, desk = catalog("crm", lang), catalog("desk", lang)
        for code, names in VALUE_NAMES["kind"].items():
            assert crm[f"crm.kind.{code}"] == names[index]
        for code, names in VALUE_NAMES["status"].items():
            assert crm[f"crm.status.{code}"] == names[index]
        for code, names in ORDER_STATUS_NAMES.items():
            assert crm[f"crm.order_status.{code}"] == names[index] == desk[f"order.status.{code}"]


def test_the_wallboard_reports_and_pop_translate_their_codes() -> None:
    wallboard = (STATIC_DIR / "wallboard.js").read_text(encoding="utf-8")
    assert "reasonText(row.reason)" in wallboard and "el('td', '', row.reason" not in wallboard
    desk = (STATIC_DIR / "desk.js").read_text(encoding="utf-8")
    assert "label('order.status', o.status)" in desk
    for lang in ("zh-CN", "en"):
        assert "reason.after_call_work" in catalog("common", lang)


def _cdr(direction: str, disposition: str) -> ReportTable:
    row: list[object] = [None] * len(CDR_COLUMNS)
    keys = [c.key for c in CDR_COLUMNS]
    row[keys.index("started")] = "2026-01-15 10:02:03"
    row[keys.index("direction")] = direction
    row[keys.index("disposition")] = disposition
    row[keys.index("hangup_by")] = "caller"
    row[keys.index("talk_s")] = 12.0
    return ReportTable(ReportKind.CDR, CDR_COLUMNS, [row], {})


def test_report_files_name_the_codes_in_the_chosen_language() -> None:
    table = _cdr("inbound", "abandoned")
    english = list(csv.reader(io.StringIO(to_csv(table, "en").decode("utf-8-sig"))))
    by_header = dict(zip(english[0], english[1], strict=True))
    assert (by_header["Direction"], by_header["Disposition"], by_header["Hung up by"]) == (
        "Inbound", "Abandoned", "Caller")
    chinese = list(csv.reader(io.StringIO(to_csv(table, "zh-CN").decode("utf-8-sig"))))
    by_header = dict(zip(chinese[0], chinese[1], strict=True))
    assert (by_header["方向"], by_header["结果"], by_header["挂断方"]) == ("呼入", "放弃", "主叫")
    sheet = load_workbook(io.BytesIO(to_xlsx(table, "en"))).active
    assert sheet is not None
    values = {sheet.cell(1, i).value: sheet.cell(2, i).value for i in range(1, sheet.max_column + 1)}
    assert values["Direction"] == "Inbound" and values["Disposition"] == "Abandoned"
    unknown = list(csv.reader(io.StringIO(to_csv(_cdr("sideways", "answered"), "en").decode("utf-8-sig"))))
    assert "sideways" in unknown[1] and "Answered" in unknown[1]


def test_customer_files_use_names_in_the_chosen_language_and_import_back(db: Session) -> None:
    company = Customer(name="杭州测试科技", kind="company", status="active")
    person = Customer(name="Li Lei", kind="person", status="pool")
    db.add_all([company, person])
    db.commit()
    english = export_customers(db, None, "csv", "en").decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(english)))
    assert {(r["Customer name"], r["Kind"], r["Status"]) for r in rows} == {
        ("杭州测试科技", "Company", "Active"), ("Li Lei", "Person", "Public pool")}
    chinese = export_customers(db, None, "csv", "zh-CN").decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(chinese)))
    assert {(r["客户名称"], r["类型"], r["状态"]) for r in rows} == {
        ("杭州测试科技", "企业", "正常"), ("Li Lei", "个人", "公海")}
    assert "company" not in english and "active" not in chinese
    # the English file comes back with the codes
    db.query(Customer).delete()
    db.commit()
    report = import_customers(db, english.encode("utf-8"), "customers.csv", valid_only=False)
    db.commit()
    assert report.imported == 2, report.errors
    assert {(c.name, c.kind, c.status) for c in db.query(Customer)} == {
        ("杭州测试科技", "company", "active"), ("Li Lei", "person", "pool")}


def test_order_files_name_the_status(db: Session) -> None:
    customer = Customer(name="甲公司", kind="company", status="active")
    product = Product(sku="RT-1", name="Router", price=10)
    db.add_all([customer, product])
    db.flush()
    order = Order(number="SO1", customer_id=customer.id, status="completed", total=10)
    db.add(order)
    db.flush()
    db.add(OrderLine(order_id=order.id, product_id=product.id, quantity=1, unit_price=10, amount=10))
    db.commit()
    english = list(csv.DictReader(io.StringIO(export_orders(db, None, "csv", lang="en").decode("utf-8-sig"))))
    assert [(r["Order number"], r["Status"]) for r in english] == [("SO1", "Completed")]
    chinese = list(csv.DictReader(io.StringIO(export_orders(db, None, "csv").decode("utf-8-sig"))))
    assert [(r["订单号"], r["状态"]) for r in chinese] == [("SO1", "已完成")]

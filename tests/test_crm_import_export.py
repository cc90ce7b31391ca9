"""Import and export: text stays text, round trips are exact, bad files and rows change nothing."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from crm_core.db import make_engine, make_sessionmaker
from crm_core.errors import InvalidInput, PermissionDenied
from crm_core.exporter import export_customers, export_orders
from crm_core.importer import error_report, import_customers
from crm_core.models import Contact, Customer, CustomFieldDef, Order, OrderLine, Phone, Product
from crm_core.tabular import TableFileError
from crm_core.testing import Org

pytest_plugins = ["crm_core.testing"]


@pytest.fixture
def db(any_db: Session) -> Session:
    """Every test here runs on SQLite and on PostgreSQL (the round trip imports into SQLite)."""
    return any_db


FIELDS = ("name", "kind", "category", "region", "source", "level", "status", "address", "notes", "custom")


def _define_fields(db: Session) -> None:
    db.add_all(
        [
            CustomFieldDef(key="id_no", label="身份证号", kind="text"),
            CustomFieldDef(key="code", label="编码", kind="text"),
            CustomFieldDef(key="since", label="签约日期", kind="date"),
            CustomFieldDef(key="grade", label="评级", kind="choice", choices=["金", "银"]),
        ]
    )
    db.commit()


def _snapshot(db: Session) -> list[tuple[Any, ...]]:
    rows = []
    for customer in db.scalars(select(Customer).order_by(Customer.name)):
        phones = sorted(db.scalars(select(Phone.raw).where(Phone.customer_id == customer.id)))
        contacts = sorted(
            db.execute(select(Contact.name, Contact.position).where(Contact.customer_id == customer.id)).all()
        )
        rows.append((*[getattr(customer, f) for f in FIELDS], phones, contacts))
    return rows


def _seed_tricky(db: Session, org: Org) -> None:
    _define_fields(db)
    tricky = Customer(
        name="2/4",
        category="007",
        level="0012",
        address="1-2",
        notes="=SUM(A1)",
        status="active",
        owner_id=org.agent_a.id,
        custom={"id_no": "110101199003070123", "code": "007", "since": "2024-02-04", "grade": "金"},
    )
    plain = Customer(name="北京恒达科技有限公司", region="北京", status="pool", custom={})
    db.add_all([tricky, plain])
    db.flush()
    db.add_all(
        [
            Phone(customer_id=tricky.id, raw="13812345678", key="+8613812345678"),
            Phone(customer_id=plain.id, raw="010-62345678", key="+861062345678"),
        ]
    )
    contact = Contact(customer_id=plain.id, name="王伟", position="采购经理")
    db.add(contact)
    db.flush()
    db.add(Phone(customer_id=plain.id, contact_id=contact.id, raw="0086 139 0000 1111", key="+8613900001111"))
    db.commit()


@pytest.fixture
def second_db(crm_template: Path, tmp_path: Path) -> Any:
    import shutil

    path = tmp_path / "second.db"
    shutil.copyfile(crm_template, path)
    engine = make_engine(f"sqlite:///{path}")
    factory: sessionmaker[Session] = make_sessionmaker(engine)
    with factory() as session:
        yield session
    engine.dispose()


@pytest.mark.parametrize("fmt", ["xlsx", "csv", "txt"])
def test_round_trip_keeps_records_identical(db: Session, org: Org, second_db: Session, fmt: str) -> None:
    _seed_tricky(db, org)
    data = export_customers(db, None, fmt)
    _define_fields(second_db)
    from crm_core.testing import make_org

    make_org(second_db)
    report = import_customers(second_db, data, f"customers.{fmt}")
    assert report.errors == [] and report.imported == 2
    second_db.commit()
    assert _snapshot(second_db) == _snapshot(db)


def test_excel_cells_are_written_as_text(db: Session, org: Org) -> None:
    _seed_tricky(db, org)
    sheet = load_workbook(io.BytesIO(export_customers(db, None, "xlsx"))).worksheets[0]
    values = {cell.value: cell for row in sheet.iter_rows() for cell in row}
    for text in ("2/4", "007", "0012", "110101199003070123", "13812345678"):
        assert isinstance(values[text].value, str)
        assert values[text].number_format == "@"


def _xlsx(rows: list[list[Any]]) -> bytes:
    book = Workbook()
    for row in rows:
        book.active.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_bad_rows_are_reported_by_row_and_column_and_nothing_is_stored(db: Session, org: Org) -> None:
    _define_fields(db)
    data = _xlsx(
        [
            ["客户名称", "电话", "签约日期", "评级", "负责人"],
            ["好客户", "13800000001", "2024-01-02", "金", "agent_a"],
            ["<script>x</script>", "13800000002", "", "", ""],
            ["日期错", "13800000003", "明天", "", ""],
            ["重复号", "+86 138 0000 0001", "", "铜", "nobody"],
            ["", "", "", "", ""],
        ]
    )
    report = import_customers(db, data, "c.xlsx")
    assert report.imported == 0 and report.total == 4
    assert [(e.row, e.column) for e in report.errors] == [
        (3, "客户名称"),
        (4, "签约日期"),
        (5, "电话"),
        (5, "评级"),
        (5, "负责人"),
    ]
    assert "第 2 行" in report.errors[2].message
    assert db.scalar(select(func.count(Customer.id))) == 0
    assert "签约日期" in error_report(report).decode("utf-8-sig")


def test_valid_only_imports_the_good_rows_and_reports_phones_of_other_customers(db: Session, org: Org) -> None:
    elsewhere = Customer(name="老客户", status="active", department_id=org.dept_b.id, owner_id=org.agent_b.id)
    db.add(elsewhere)
    db.flush()
    db.add(Phone(customer_id=elsewhere.id, raw="13800000009", key="+8613800000009"))
    db.commit()
    data = "客户名称,电话\n新客户,13800000001\n撞号,008613800000009\n".encode()
    report = import_customers(db, data, "c.csv", valid_only=True, user=org.supervisor_a)
    assert (report.imported, report.created) == (1, 1)
    assert [(e.row, e.column) for e in report.errors] == [(3, "电话")]
    assert "已属于客户" in report.errors[0].message  # another department's customer is not updated
    assert db.scalar(select(func.count(Customer.id))) == 2
    assert elsewhere.name == "老客户"


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("c.xlsx", b"name,phones\nx,1\n"),
        ("c.xlsx", b"PK\x03\x04garbage"),
        ("c.csv", b"PK\x03\x04zip"),
        ("c.exe", b"MZ"),
        ("c.xlsx", _xlsx([["name"], ["ok"]])[:200]),
    ],
)
def test_files_that_lie_or_are_broken_give_a_clear_error(db: Session, name: str, data: bytes) -> None:
    with pytest.raises(TableFileError) as caught:
        import_customers(db, data, name)
    assert caught.value.field == "file" and str(caught.value)
    assert db.scalar(select(func.count(Customer.id))) == 0


def test_unknown_columns_are_named(db: Session) -> None:
    report = import_customers(db, "客户名称,颜色\nx,红\n".encode(), "c.csv")
    assert [(e.row, e.column) for e in report.errors] == [(1, "颜色")]


def test_import_needs_the_permission_and_reports_progress(db: Session, org: Org) -> None:
    data = ("客户名称,电话\n" + "".join(f"客户{i},1390000{i:04d}\n" for i in range(2500))).encode()
    with pytest.raises(PermissionDenied):
        import_customers(db, data, "c.csv", user=org.agent_a, valid_only=False)
    seen: list[tuple[int, int]] = []
    report = import_customers(db, data, "c.csv", user=org.supervisor_a, progress=lambda d, t: seen.append((d, t)))
    assert report.imported == 2500
    assert seen[-1] == (5000, 5000) and seen == sorted(seen)


def test_orders_export_one_sheet_per_customer(db: Session, org: Org) -> None:
    product = Product(sku="007", name="滤芯", price=1)
    first, second = Customer(name="甲公司"), Customer(name="乙公司")
    db.add_all([product, first, second])
    db.flush()
    for n, customer in enumerate([first, second, first]):
        db.add(
            Order(
                number=f"SO{n}",
                customer_id=customer.id,
                lines=[OrderLine(product_id=product.id, quantity=1, unit_price=1, amount=1)],
            )
        )
    db.commit()
    book = load_workbook(io.BytesIO(export_orders(db, None, "xlsx", per_customer=True)))
    assert book.sheetnames == ["甲公司", "乙公司"]
    assert [row[0] for row in book["甲公司"].iter_rows(min_row=2, values_only=True)] == ["SO0", "SO2"]
    assert book["甲公司"]["E2"].value == "007"
    with pytest.raises(InvalidInput):
        export_orders(db, None, "csv", per_customer=True)


def test_values_typed_into_excel_are_read_as_the_text_they_show(db: Session) -> None:
    from datetime import date

    from crm_core.tabular import read_rows

    data = _xlsx([["a", "b", "c", "d", "e"], [13800138000, 3.5, date(2024, 2, 4), True, "007"], [None, 1.0]])
    rows = list(read_rows(data, "xlsx"))
    assert rows[1] == ["13800138000", "3.5", "2024-02-04", "TRUE", "007"]
    assert rows[2] == ["", "1"]


def _customer_with_phone(db: Session, org: Org, name: str, raw: str, key: str, **fields: Any) -> Customer:
    customer = Customer(name=name, owner_id=org.agent_a.id, department_id=org.dept_a.id, status="active", **fields)
    db.add(customer)
    db.flush()
    db.add(Phone(customer_id=customer.id, raw=raw, key=key))
    db.flush()
    return customer


@pytest.mark.parametrize("fmt", ["xlsx", "csv", "txt"])
def test_re_importing_the_own_export_updates_and_skips(db: Session, org: Org, fmt: str) -> None:
    for n in range(30):
        _customer_with_phone(db, org, f"客户{n}", f"1380000{n:04d}", f"+861380000{n:04d}", level="007")
    db.commit()
    data = export_customers(db, org.supervisor_a, fmt)
    report = import_customers(db, data, f"c.{fmt}", user=org.supervisor_a)
    assert report.errors == []
    assert (report.total, report.created, report.updated, report.skipped) == (30, 0, 0, 30)
    assert db.scalar(select(func.count(Customer.id))) == 30


def test_rows_match_by_id_else_by_phone_and_update_what_they_say(db: Session, org: Org) -> None:
    by_id = _customer_with_phone(db, org, "甲公司", "13800000001", "+8613800000001", region="北京")
    by_phone = _customer_with_phone(db, org, "乙公司", "13800000002", "+8613800000002", notes="老备注")
    db.commit()
    data = (
        "客户编号,客户名称,地区,电话,备注,联系人,联系人电话\n"
        f"{by_id.id},甲公司（新名）,,13900000001,,王伟,13900000011\n"  # empty cells keep what is stored
        ",乙公司,上海,+86 138 0000 0002,,,\n"
        ",丙公司,广州,13800000003,,,\n"
    ).encode()
    plan = import_customers(db, data, "c.csv", user=org.supervisor_a, dry_run=True)
    assert [(p.row, p.action, p.customer_id) for p in plan.plan] == [
        (2, "update", by_id.id),
        (3, "update", by_phone.id),
        (4, "create", None),
    ]
    assert plan.plan[0].changes == ("name", "phones", "contact_name", "contact_phones")
    assert plan.plan[1].changes == ("region",)
    assert (plan.created, plan.updated, plan.skipped, plan.imported) == (1, 2, 0, 0)
    assert db.scalar(select(func.count(Customer.id))) == 2 and by_id.name == "甲公司"  # a dry run writes nothing

    report = import_customers(db, data, "c.csv", user=org.supervisor_a)
    assert (report.created, report.updated, report.imported) == (1, 2, 3)
    db.commit()
    db.expire_all()
    assert (by_id.name, by_id.region) == ("甲公司（新名）", "北京")
    assert sorted(db.scalars(select(Phone.key).where(Phone.customer_id == by_id.id))) == [
        "+8613800000001",
        "+8613900000001",
        "+8613900000011",
    ]
    assert db.scalar(select(Contact.name).where(Contact.customer_id == by_id.id)) == "王伟"
    assert (by_phone.region, by_phone.notes) == ("上海", "老备注")
    again = import_customers(db, data, "c.csv", user=org.supervisor_a)
    assert (again.errors, again.created, again.updated, again.skipped) == ([], 0, 0, 3)  # the new one by phone
    assert db.scalar(select(func.count(Customer.id))) == 3


def test_a_row_whose_match_breaks_a_rule_is_reported_by_row(db: Session, org: Org) -> None:
    first = _customer_with_phone(db, org, "甲公司", "13800000001", "+8613800000001")
    _customer_with_phone(db, org, "乙公司", "13800000002", "+8613800000002")
    _customer_with_phone(db, org, "丁公司", "13800000004", "+8613800000004")
    other = Customer(name="二组的客户", department_id=org.dept_b.id, owner_id=org.agent_b.id, status="active")
    db.add(other)
    db.commit()
    data = (
        "客户编号,客户名称,电话\n"
        f"{other.id},不在范围,\n"
        f"{first.id},甲公司,13800000002\n"  # the id says one customer, the phone another
        ",两家,13800000001;13800000004\n"
        "abc,坏编号,\n"
        "999999,别处的编号,13800000003\n"  # an id this database does not have: a new customer
    ).encode()
    report = import_customers(db, data, "c.csv", user=org.supervisor_a, valid_only=True)
    assert [(e.row, e.column) for e in report.errors] == [
        (2, "客户编号"),
        (3, "电话"),
        (4, "电话"),
        (4, "电话"),
        (5, "客户编号"),
    ]
    assert "范围" in report.errors[0].message and "已属于客户" in report.errors[1].message
    assert [(p.row, p.action) for p in report.plan] == [(6, "create")]
    assert other.name == "二组的客户"


def test_updating_stored_customers_needs_the_update_permission(db: Session, org: Org) -> None:
    from crm_core.models import Permission, Role

    customer = _customer_with_phone(db, org, "甲公司", "13800000001", "+8613800000001")
    importer = Role(name="importer", title="导入员 Importer", data_scope="all")
    importer.permissions = [Permission(resource="customer", action=a) for a in ("read", "import")]
    db.add(importer)
    org.agent_a2.roles = [importer]
    db.commit()
    created = import_customers(db, "客户名称\n新客户\n".encode(), "c.csv", user=org.agent_a2)
    assert created.created == 1
    data = f"客户编号,客户名称\n{customer.id},新名字\n".encode()
    with pytest.raises(PermissionDenied):
        import_customers(db, data, "c.csv", user=org.agent_a2)


def test_csv_cells_excel_would_convert_are_written_as_text_formulas(db: Session, org: Org) -> None:
    from crm_core.tabular import read_rows

    _seed_tricky(db, org)
    data = export_customers(db, None, "csv")
    text = data.decode("utf-8-sig")
    # Excel opens ="2/4" as the text 2/4 (not 4 February), ="007" as 007, a phone not as 1.38E+10
    for cell in ('"=""2/4"""', '"=""007"""', '"=""0012"""', '"=""13812345678"""', '"=""110101199003070123"""'):
        assert cell in text
    assert "'=SUM(A1)" in text and '"=""北京' not in text  # a formula is neutralised, plain text stays plain
    rows = list(read_rows(data, "csv"))
    tricky = next(row for row in rows if "2/4" in row)
    assert {"2/4", "007", "0012", "1-2", "=SUM(A1)", "13812345678", "2024-02-04"} <= set(tricky)
    plain = export_customers(db, None, "txt").decode()
    assert "\t2/4\t" in plain  # TXT is left plain


def _tickets_and_orders(db: Session, org: Org) -> None:
    from datetime import datetime

    from crm_core.models import Ticket, TicketType

    complaint = db.scalar(select(TicketType).where(TicketType.code == "complaint"))
    assert complaint is not None
    customer = Customer(name="甲公司", department_id=org.dept_a.id, owner_id=org.agent_a.id)
    product = Product(sku="007", name="滤芯", price=1)
    db.add_all([customer, product])
    db.flush()
    for n, status in enumerate(["open", "closed", "open"]):
        db.add(
            Ticket(
                title=f"工单{n}",
                type_id=complaint.id,
                status=status,
                priority="high" if n else "normal",
                customer_id=customer.id,
                department_id=org.dept_a.id,
                owner_id=org.agent_a.id,
                created_at=datetime(2026, 12, 1, 16, 30),
            )
        )
        db.add(
            Order(
                number=f"SO{n}",
                status="draft" if n != 1 else "void",
                customer_id=customer.id,
                department_id=org.dept_a.id,
                created_at=datetime(2026, 12, 1, 16, 30),
                lines=[OrderLine(product_id=product.id, quantity=1, unit_price=1, amount=1)],
            )
        )
    db.commit()


def test_exports_take_the_lists_filters_and_search(db: Session, org: Org) -> None:
    from crm_core.exporter import Search, export_tickets
    from crm_core.tabular import read_rows

    _tickets_and_orders(db, org)
    for n in range(3):
        _customer_with_phone(db, org, f"客户{n}", f"1380000{n:04d}", f"+861380000{n:04d}", level="A" if n else "B")
    db.commit()
    zone = "Asia/Shanghai"
    tickets = list(
        read_rows(export_tickets(db, org.supervisor_a, "csv", "en", Search({"status": "open"}, "", zone)), "csv")
    )
    assert [row[1] for row in tickets[1:]] == ["工单0", "工单2"]
    assert tickets[0][:3] == ["ID", "Title", "Type"] and tickets[1][2:6] == ["Complaint", "甲公司", "Open", "Normal"]
    assert tickets[1][8] == "2026-12-02 00:30"  # created at 16:30 UTC, written in the business zone
    searched = export_tickets(db, org.supervisor_a, "csv", "zh-CN", Search({}, "工单1", zone))
    assert [row[1] for row in list(read_rows(searched, "csv"))[1:]] == ["工单1"]
    orders = list(read_rows(export_orders(db, org.supervisor_a, "csv", search=Search({"status__in": "void"})), "csv"))
    assert [row[0] for row in orders[1:]] == ["SO1"]
    customers = export_customers(db, org.supervisor_a, "csv", search=Search({"level": "A"}))
    assert sorted(row[1] for row in list(read_rows(customers, "csv"))[1:]) == ["客户1", "客户2"]
    with pytest.raises(InvalidInput):
        export_customers(db, org.supervisor_a, "csv", search=Search({"nosuch": "1"}))

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


def test_valid_only_imports_the_good_rows_and_reports_duplicates(db: Session, org: Org) -> None:
    db.add(Customer(name="老客户", status="pool"))
    db.flush()
    db.add(Phone(customer_id=db.scalar(select(Customer.id)), raw="13800000009", key="+8613800000009"))
    db.commit()
    data = "客户名称,电话\n新客户,13800000001\n撞号,008613800000009\n".encode()
    report = import_customers(db, data, "c.csv", valid_only=True, user=org.supervisor_a)
    assert report.imported == 1
    assert [(e.row, e.column) for e in report.errors] == [(3, "电话")]
    assert "已属于客户" in report.errors[0].message
    assert db.scalar(select(func.count(Customer.id))) == 2


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

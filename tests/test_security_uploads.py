"""Imports refuse compression bombs and oversized tables before parsing them (413, nothing stored), and
CSV/TXT exports never hand a spreadsheet a formula to run, while text survives an export and re-import."""

from __future__ import annotations

import csv
import io
import re
import struct
import tracemalloc
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from agent_desk.app import create_app
from config import Settings
from crm_core.exporter import export_customers
from crm_core.importer import import_customers
from crm_core.models import Customer
from crm_core.tabular import TableFileError, TableTooLarge, neutralise_formula, read_rows, restore_text, write_xlsx
from crm_core.testing import TEST_PASSWORD, Org
from crm_core.xlsx_reader import ReadLimits

pytest_plugins = ["crm_core.testing"]

MB = 1024 * 1024
SHEET_HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/'
    '2006/main"><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>客户名称</t></is></c></row>'
)


def workbook(sheet_xml: bytes) -> bytes:
    """A minimal .xlsx around ``sheet_xml`` (deflated: whitespace compresses about 1000:1)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as book:
        book.writestr(
            "xl/workbook.xml",
            '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://'
            'schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="s" sheetId="1" '
            'r:id="rId1"/></sheets></workbook>',
        )
        book.writestr(
            "xl/_rels/workbook.xml.rels",
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship '
            'Id="rId1" Target="worksheets/sheet1.xml" Type="worksheet"/></Relationships>',
        )
        book.writestr("xl/worksheets/sheet1.xml", sheet_xml)
    return out.getvalue()


def whitespace_bomb(unpacked_mb: int) -> bytes:
    padding = b" " * (unpacked_mb * MB)
    return workbook(
        SHEET_HEAD.encode()
        + b'<row r="2"><c r="A2" t="inlineStr"><is><t>'
        + padding
        + b"</t></is></c></row></sheetData></worksheet>"
    )


def lying_about_size(data: bytes, member: str, claimed: int) -> bytes:
    """The archive with ``member``'s uncompressed size in the central directory and local header set low."""
    raw = bytearray(data)
    with zipfile.ZipFile(io.BytesIO(data)) as book:
        info = book.getinfo(member)
    struct.pack_into("<I", raw, info.header_offset + 22, claimed)
    position = raw.find(b"PK\x01\x02")
    while position != -1:
        name_len = struct.unpack_from("<H", raw, position + 28)[0]
        if bytes(raw[position + 46 : position + 46 + name_len]).decode() == member:
            struct.pack_into("<I", raw, position + 24, claimed)
        position = raw.find(b"PK\x01\x02", position + 4)
    return bytes(raw)


@pytest.fixture
def client(crm_url: str, org: Org, tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(
        database_url=crm_url, data_dir=tmp_path, import_max_unzipped_mb=2, import_max_rows=100, import_max_cells=250
    )
    with TestClient(create_app(settings)) as test_client:
        test_client.headers["Authorization"] = (
            "Bearer "
            + test_client.post("/api/auth/token", json={"username": "sup_a", "password": TEST_PASSWORD}).json()[
                "access_token"
            ]
        )
        yield test_client


def upload(client: TestClient, name: str, data: bytes) -> tuple[int, str]:
    reply = client.post("/api/crm/import/customers", files={"file": (name, data)})
    detail = reply.json()["detail"]
    return reply.status_code, detail[0]["msg"] if isinstance(detail, list) else str(detail)


def customers(db: Session) -> int:
    return db.scalar(select(func.count(Customer.id))) or 0


# --- finding 13: compression bombs and oversized tables --------------------------------------------------


def test_a_compression_bomb_is_refused_from_its_declared_size_with_413(client: TestClient, db: Session) -> None:
    bomb = whitespace_bomb(64)
    assert len(bomb) < MB // 4  # a quarter of a megabyte on the wire
    before = customers(db)
    status, message = upload(client, "bomb.xlsx", bomb)
    assert status == 413 and "2 MB" in message and "解压" in message
    db.expire_all()
    assert customers(db) == before


def test_the_bomb_is_never_unpacked_into_memory() -> None:
    bomb = whitespace_bomb(64)
    tracemalloc.start()
    try:
        with pytest.raises(TableTooLarge):
            list(read_rows(bomb, "xlsx", ReadLimits(max_bytes=2 * MB)))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * MB


def test_an_archive_lying_about_its_sizes_is_read_no_further_than_it_claims(client: TestClient) -> None:
    liar = lying_about_size(whitespace_bomb(16), "xl/worksheets/sheet1.xml", 1000)
    status, message = upload(client, "liar.xlsx", liar)
    assert status == 422 and "damaged" in message  # the stream stops at the claimed size, then fails its CRC


def test_the_limit_on_declared_sizes_is_exact() -> None:
    rows = b"".join(b'<row><c t="inlineStr"><is><t>' + b"x" * 200 + b"</t></is></c></row>" for _ in range(15_000))
    data = workbook(SHEET_HEAD.encode() + rows + b"</sheetData></worksheet>")
    with zipfile.ZipFile(io.BytesIO(data)) as book:
        declared = sum(i.file_size for i in book.infolist())
    assert len(list(read_rows(data, "xlsx", ReadLimits(max_bytes=declared + 10)))) == 15_001
    rows_read = 0
    with pytest.raises(TableTooLarge):
        for _ in read_rows(data, "xlsx", ReadLimits(max_bytes=declared - 10)):
            rows_read += 1
    assert rows_read == 0  # refused from the declared sizes, before the first row


def test_the_running_count_stops_reading_even_when_the_directory_is_not_checked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from crm_core import xlsx_reader

    monkeypatch.setattr(xlsx_reader, "_check_declared_sizes", lambda book, limits: None)
    rows = b"".join(b'<row><c t="inlineStr"><is><t>' + b"y" * 200 + b"</t></is></c></row>" for _ in range(30_000))
    data = workbook(SHEET_HEAD.encode() + rows + b"</sheetData></worksheet>")
    rows_read = 0
    with pytest.raises(TableTooLarge) as stopped:
        for _ in read_rows(data, "xlsx", ReadLimits(max_bytes=1 * MB)):
            rows_read += 1
    assert "1 MB" in str(stopped.value) and 0 < rows_read < 30_000 // 2  # stopped about a seventh of the way


def test_too_many_rows_or_cells_are_refused_before_anything_is_stored(client: TestClient, db: Session) -> None:
    rows = "客户名称,电话\n" + "".join(f"客户{n},1380000{n:04d}\n" for n in range(150))
    status, message = upload(client, "many.csv", rows.encode())
    assert status == 413 and "100" in message and "rows" in message
    wide = "客户名称" + ",x" * 300 + "\n"
    status, message = upload(client, "wide.txt", wide.replace(",", "\t").encode())
    assert status == 413 and "cells" in message
    sheet = write_xlsx([("s", ["客户名称"], [[f"客户{n}"] for n in range(150)])])
    status, message = upload(client, "many.xlsx", sheet)
    assert status == 413 and "rows" in message
    db.expire_all()
    assert customers(db) == 0


def test_a_cell_longer_than_excel_allows_is_refused(client: TestClient) -> None:
    long_cell = workbook(
        SHEET_HEAD.encode()
        + b'<row r="2"><c r="A2" t="inlineStr"><is><t>'
        + b"x" * 40_000
        + b"</t></is></c></row></sheetData></worksheet>"
    )
    status, message = upload(client, "long.xlsx", long_cell)
    assert status == 413 and "32767" in message


def test_a_normal_import_still_works_under_the_limits(client: TestClient, db: Session) -> None:
    sheet = write_xlsx([("s", ["客户名称", "电话"], [[f"客户{n}", f"1390000{n:04d}"] for n in range(50)])])
    reply = client.post("/api/crm/import/customers", files={"file": ("ok.xlsx", sheet)})
    assert reply.status_code == 200 and reply.json()["imported"] == 50


def test_a_damaged_file_is_still_a_422() -> None:
    with pytest.raises(TableFileError) as damaged:
        list(read_rows(b"PK\x03\x04garbage", "xlsx"))
    assert damaged.value.status == 422


# --- finding 14: formula injection in CSV and TXT exports --------------------------------------------------

HOSTILE = ['=HYPERLINK("http://evil.example","点我")', "=1+1", "+1+1", "-2+3", "@SUM(A1)", "'=already", "'"]


@pytest.mark.parametrize("fmt", ["csv", "txt"])
def test_exports_neutralise_formula_cells_and_text_stays_text(db: Session, org: Org, fmt: str) -> None:
    for n, notes in enumerate(HOSTILE):
        db.add(Customer(name=notes if n else "=cmd|' /C calc'!A0", notes=notes, status="pool", kind="company"))
    db.commit()
    data = export_customers(db, None, fmt)
    text = data.decode("utf-8-sig")
    cells = [cell for row in csv.reader(io.StringIO(text), delimiter="\t" if fmt == "txt" else ",") for cell in row]
    # the only cells that start like a formula are Excel's text literal ="…" (a CSV's number- or date-like
    # text, the ID column among them), which shows its text and runs nothing
    literal = re.compile(r'="(?:[^"]|"")*"')
    formulas = [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r") and not literal.fullmatch(c)]
    assert formulas == [], formulas
    assert '\'=HYPERLINK("http://evil.example","点我")' in cells and "'=1+1" in cells and "''=already" in cells
    rows = list(read_rows(data, fmt))
    notes_at = rows[0].index("备注")
    assert [row[notes_at] for row in rows[1:]] == HOSTILE


def test_a_reimported_export_keeps_the_text(db: Session, org: Org) -> None:
    stored = Customer(name="=1+1 公司", notes="-5 件", status="pool", kind="company")
    db.add(stored)
    db.commit()
    exported = export_customers(db, None, "csv")
    # into the same database the row is the stored customer, unchanged: the text came back exactly
    again = import_customers(db, exported, "again.csv")
    assert again.ok and (again.created, again.updated, again.skipped) == (0, 0, 1), again
    # into a database without him, the row creates him with the same text
    db.delete(stored)
    db.commit()
    report = import_customers(db, exported, "again.csv")
    assert report.ok and report.created == 1, report.errors
    db.commit()
    copies = db.scalars(select(Customer).where(Customer.name == "=1+1 公司")).all()
    assert [c.notes for c in copies] == ["-5 件"]


def test_the_neutraliser_is_its_own_exact_inverse() -> None:
    for text in [*HOSTILE, "plain", "", "''", "'a", "2/4", "007"]:
        assert restore_text(neutralise_formula(text)) == text
    assert neutralise_formula("2/4") == "2/4" and neutralise_formula("007") == "007"

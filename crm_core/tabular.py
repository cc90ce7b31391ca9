"""Reading and writing tables (Excel, CSV, TXT) with every cell kept as text.

"2/4" stays "2/4" (never a date), "007" keeps its zeros, an 18-digit ID never becomes a float:
Excel cells are written as strings with the text format ``@``; numbers and dates a person typed
into Excel are read back as the text they show.

A CSV carries no cell types, and Excel opening one turns whatever looks like a number, a date or a
time into one ("2/4" -> 4 Feb, "007" -> 7, 13800138000 -> 1.38E+10). Such CSV cells are written as
the formula ``="2/4"``, which Excel shows as the text 2/4; the product's own import reads them back
as the plain text.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterable, Iterator
from datetime import date, datetime, time
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import ParseError

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell

from crm_core.errors import InvalidInput
from crm_core.xlsx_reader import ReadLimits, SheetTooLarge, read_first_sheet

FORMATS = ("xlsx", "csv", "txt")
TEXT_FORMAT = "@"
MAX_SHEET_TITLE = 31
# A spreadsheet runs a CSV cell starting with one of these as a formula (=HYPERLINK(...), +1+1, @SUM...).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
QUOTE = "'"
_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?"
# Cells Excel reads as a number, date, time, percentage, currency or boolean when it opens a CSV.
EXCEL_CONVERTS = re.compile(
    r"[-+(]?[\d\s/.,:%$¥€£()-]*\d[\d\s/.,:%$¥€£()-]*"  # 007, 2/4, 1-2, 12:30, 3.50, (5), 13800138000, 50%
    r"|[-+]?\d*\.?\d+e[-+]?\d+"  # 1E5, 0503E000
    rf"|\d{{1,4}}[\s/-]*{_MONTH}(?:[\s/,-]*\d{{1,4}})*|{_MONTH}[\s/,-]*\d{{1,4}}(?:[\s/,-]*\d{{1,4}})*"  # 4-Feb
    r"|\d{1,4}年\d{1,2}月(?:\d{1,2}日)?|\d{1,2}月\d{1,2}日"  # 2月4日
    r"|true|false",
    re.IGNORECASE,
)
EXCEL_TEXT_MAX = 255  # the longest text literal an Excel formula takes


def excel_text(text: str) -> str:
    """A CSV cell Excel opens as exactly ``text``: a number- or date-like cell as the formula ``="…"``."""
    if len(text) <= EXCEL_TEXT_MAX and EXCEL_CONVERTS.fullmatch(text.strip()):
        return '="' + text.replace('"', '""') + '"'
    return neutralise_formula(text)


def _excel_text_value(cell: str) -> str | None:
    """The text inside a ``="…"`` cell (as ``excel_text`` writes it), or None for any other cell."""
    if len(cell) < 3 or not cell.startswith('="') or not cell.endswith('"'):
        return None
    inner = cell[2:-1]
    return inner.replace('""', '"') if '"' not in inner.replace('""', "") else None


def neutralise_formula(text: str) -> str:
    """``text`` as a spreadsheet shows it without running it: a leading apostrophe marks it as text.

    A cell that already starts with the apostrophe gets one more, so that ``restore_text`` is exact.
    """
    return QUOTE + text if text.startswith(FORMULA_START) or text.startswith(QUOTE) else text


def restore_text(cell: str) -> str:
    """The inverse of ``excel_text`` and ``neutralise_formula``, for files this product exported."""
    wrapped = _excel_text_value(cell)
    if wrapped is not None:
        return wrapped
    if cell.startswith(QUOTE) and (cell[1:].startswith(FORMULA_START) or cell[1:].startswith(QUOTE)):
        return cell[1:]
    return cell


class TableFileError(InvalidInput):
    """The file is not what it claims to be, or cannot be read at all."""

    def __init__(self, message: str) -> None:
        super().__init__(message, "file")


class TableTooLarge(TableFileError):
    """The file holds more (unpacked bytes, rows, cells) than an import accepts: 413, nothing is read on."""

    status = 413


def detect_format(name: str, head: bytes) -> str:
    """The format from the file name, checked against the first bytes (an .xlsx is a zip archive)."""
    suffix = Path(name).suffix.lower().lstrip(".")
    if suffix not in FORMATS:
        raise TableFileError(f"不支持的文件类型 unsupported file type: .{suffix[:10]} (xlsx, csv, txt)")
    is_zip = head.startswith(b"PK\x03\x04")
    if suffix == "xlsx" and not is_zip:
        raise TableFileError("文件不是 Excel (.xlsx) 文件 the file is not an Excel .xlsx file")
    if suffix != "xlsx" and (is_zip or b"\x00" in head[:4096]):
        raise TableFileError(f"文件不是文本文件 the file is not a plain-text .{suffix} file")
    return suffix


def cell_text(value: Any) -> str:
    """What a cell shows, as text: 13800138000.0 -> "13800138000", a date -> "2024-02-04"."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time(0) else value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    return str(value).strip()


def read_rows(data: bytes, fmt: str, limits: ReadLimits | None = None) -> Iterator[list[str]]:
    """Rows of text cells; the first row is the header. Excel: the first sheet.

    Raises :class:`TableTooLarge` past ``limits``: for text files the line count is checked first.
    """
    limits = limits or ReadLimits()
    if fmt == "xlsx":
        yield from _read_xlsx(data, limits)
        return
    if data.count(b"\n") > limits.max_rows:
        raise TableTooLarge(f"超过 {limits.max_rows} 行 more than {limits.max_rows:,} rows")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = data.decode("gb18030")
        except UnicodeDecodeError as exc:
            raise TableFileError("无法识别文件编码 cannot decode the file (UTF-8 or GB18030)") from exc
    reader = csv.reader(io.StringIO(text, newline=""), delimiter="\t" if fmt == "txt" else ",")
    cells = 0
    try:
        for row in reader:
            cells += len(row)
            if cells > limits.max_cells:
                raise TableTooLarge(f"超过 {limits.max_cells} 个单元格 more than {limits.max_cells:,} cells")
            yield [restore_text(cell.strip()) for cell in row]
    except csv.Error as exc:
        raise TableFileError(f"文件第 {reader.line_num} 行格式错误 malformed line {reader.line_num}: {exc}") from exc


def _read_xlsx(data: bytes, limits: ReadLimits) -> Iterator[list[str]]:
    try:
        for row in read_first_sheet(io.BytesIO(data), limits):
            yield [cell_text(value) for value in row]
    except SheetTooLarge as exc:
        raise TableTooLarge(str(exc)) from exc
    except (zipfile.BadZipFile, KeyError, ValueError, IndexError, OSError, ParseError) as exc:
        raise TableFileError(f"Excel 文件已损坏或无法读取 the Excel file is damaged or unreadable: {exc}") from exc


def _text_row(sheet: Any, values: Iterable[Any]) -> list[WriteOnlyCell]:
    cells = []
    for value in values:
        cell = WriteOnlyCell(sheet, value=cell_text(value))
        cell.data_type = "s"  # "=SUM(A1)" in a customer's notes is text, never a formula
        cell.number_format = TEXT_FORMAT
        cells.append(cell)
    return cells


def sheet_title(name: str, taken: set[str]) -> str:
    """A valid, unique Excel sheet title for ``name``."""
    clean = "".join("_" if ch in "[]:*?/\\" else ch for ch in name).strip("'") or "sheet"
    title = clean[:MAX_SHEET_TITLE]
    n = 2
    while title.lower() in taken:
        suffix = f"~{n}"
        title = clean[: MAX_SHEET_TITLE - len(suffix)] + suffix
        n += 1
    taken.add(title.lower())
    return title


def write_xlsx(sheets: Iterable[tuple[str, list[str], Iterable[Iterable[Any]]]]) -> bytes:
    """An .xlsx with one sheet per (title, header, rows); every cell is text."""
    book = Workbook(write_only=True)
    taken: set[str] = set()
    for title, header, rows in sheets:
        sheet = book.create_sheet(sheet_title(title, taken))
        sheet.append(_text_row(sheet, header))
        for row in rows:
            sheet.append(_text_row(sheet, row))
    if not book.worksheets:
        book.create_sheet("sheet")
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def write_text(header: list[str], rows: Iterable[Iterable[Any]], fmt: str) -> bytes:
    """CSV (UTF-8 with BOM, so that Excel shows Chinese) or tab-separated TXT.

    Every cell is text: one a spreadsheet would run as a formula is neutralised, as the Excel export
    is safe by writing string cells. In a CSV, a cell Excel would turn into a number or a date is
    written ``="…"`` so that Excel shows the text (TXT is left plain for other programs).
    """
    out = io.StringIO(newline="")
    writer = csv.writer(out, delimiter="\t" if fmt == "txt" else ",", lineterminator="\r\n")
    cell = excel_text if fmt == "csv" else neutralise_formula
    writer.writerow([neutralise_formula(cell_text(title)) for title in header])
    for row in rows:
        writer.writerow([cell(cell_text(value)) for value in row])
    return ("\ufeff" if fmt == "csv" else "").encode() + out.getvalue().encode("utf-8")

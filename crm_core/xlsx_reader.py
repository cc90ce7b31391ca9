"""A fast reader of an .xlsx file's first sheet, as rows of raw cell values.

openpyxl builds an object per shared string and per cell; reading 100,000 customers that way costs
more than validating and storing them. This reader streams the sheet XML with iterparse and returns
plain values (str, float, bool, datetime), dates recognised from the cell's number format as Excel does.

An upload may be a compression bomb (a 1 MB file holding 1 GB of whitespace): ``ReadLimits`` bound what is
read. The sizes the archive declares are checked before anything is decompressed, and every stream is
counted while it is read, so that a file lying about its sizes stops at the same bound.
"""

from __future__ import annotations

import posixpath
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any
from xml.etree.ElementTree import iterparse

from openpyxl.styles.numbers import BUILTIN_FORMATS, is_date_format
from openpyxl.utils.datetime import from_excel

NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
REL_NS = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
PKG_REL_NS = "{http://schemas.openxmlformats.org/package/2006/relationships}"
MAX_MEMBERS = 10_000
MAX_CELL_CHARS = 32_767  # Excel's own limit for the text of one cell
MAX_COLUMNS = 16_384  # Excel's last column, XFD


@dataclass(frozen=True, slots=True)
class ReadLimits:
    max_bytes: int = 200 * 1024 * 1024  # decompressed, all parts of the archive together
    max_rows: int = 200_000
    max_cells: int = 5_000_000


class SheetTooLarge(Exception):
    """The file holds more than the limits allow; the message names the limit (Chinese, then English)."""


class _Budget:
    """Decompressed bytes left for the whole archive."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.left = limit

    def spend(self, count: int) -> None:
        self.left -= count
        if self.left < 0:
            mb = self.limit // (1024 * 1024)
            raise SheetTooLarge(f"解压后超过 {mb} MB the unpacked file exceeds {mb} MB")


class _Counted:
    """A member stream that charges every byte read to the budget (iterparse reads through ``read``)."""

    def __init__(self, stream: IO[bytes], budget: _Budget) -> None:
        self.stream = stream
        self.budget = budget

    def read(self, size: int = -1) -> bytes:
        data = self.stream.read(size if size and size > 0 else 1 << 16)
        self.budget.spend(len(data))
        return data


def _check_declared_sizes(book: zipfile.ZipFile, limits: ReadLimits) -> None:
    members = book.infolist()
    if len(members) > MAX_MEMBERS:
        raise SheetTooLarge(f"压缩包内文件过多 too many parts in the file ({len(members)})")
    declared = sum(member.file_size for member in members)
    if declared > limits.max_bytes:
        mb = limits.max_bytes // (1024 * 1024)
        raise SheetTooLarge(
            f"解压后 {declared // (1024 * 1024)} MB，超过 {mb} MB the unpacked file "
            f"({declared // (1024 * 1024)} MB) exceeds {mb} MB"
        )


def _open(book: zipfile.ZipFile, name: str, budget: _Budget) -> _Counted:
    return _Counted(book.open(name), budget)


def _column_index(ref: str) -> int:
    index = 0
    for ch in ref:
        if ch.isdigit():
            break
        index = index * 26 + (ord(ch.upper()) - 64)
    return index - 1


def _text_of(element: Any) -> str:
    """Concatenated <t> runs of a shared or inline string (rich text has several)."""
    text = "".join(t.text or "" for t in element.iter(f"{NS}t"))
    if len(text) > MAX_CELL_CHARS:
        raise SheetTooLarge(f"单元格超过 {MAX_CELL_CHARS} 个字符 a cell holds more than {MAX_CELL_CHARS} characters")
    return text


def _shared_strings(book: zipfile.ZipFile, budget: _Budget, limits: ReadLimits) -> list[str]:
    if "xl/sharedStrings.xml" not in book.namelist():
        return []
    strings: list[str] = []
    with book.open("xl/sharedStrings.xml") as raw:
        for _, element in iterparse(_Counted(raw, budget)):
            if len(strings) >= limits.max_cells:
                raise SheetTooLarge(f"超过 {limits.max_cells} 个单元格 more than {limits.max_cells:,} cells")
            if element.tag == f"{NS}si":
                strings.append(_text_of(element))
                element.clear()
    return strings


def _date_styles(book: zipfile.ZipFile, budget: _Budget) -> set[int]:
    """Indexes of the cell formats (cellXfs) that display a date."""
    if "xl/styles.xml" not in book.namelist():
        return set()
    custom: dict[int, str] = {}
    dates: set[int] = set()
    with book.open("xl/styles.xml") as raw:
        stream = _Counted(raw, budget)
        xf_index, in_cell_xfs = 0, False
        for event, element in iterparse(stream, events=("start", "end")):
            if element.tag == f"{NS}numFmt" and event == "end":
                custom[int(element.get("numFmtId", "0"))] = element.get("formatCode", "")
            elif element.tag == f"{NS}cellXfs":
                in_cell_xfs = event == "start"
            elif element.tag == f"{NS}xf" and in_cell_xfs and event == "start":
                fmt_id = int(element.get("numFmtId", "0"))
                code = custom.get(fmt_id) or BUILTIN_FORMATS.get(fmt_id, "")
                if fmt_id in range(14, 23) or (code and is_date_format(code)):
                    dates.add(xf_index)
                xf_index += 1
    return dates


def _first_sheet_path(book: zipfile.ZipFile, budget: _Budget) -> str:
    with book.open("xl/workbook.xml") as raw:
        sheet = next((el for _, el in iterparse(_Counted(raw, budget)) if el.tag == f"{NS}sheet"), None)
    if sheet is None:
        raise KeyError("the workbook has no sheet")
    rel_id = sheet.get(f"{REL_NS}id")
    with book.open("xl/_rels/workbook.xml.rels") as raw:
        for _, rel in iterparse(_Counted(raw, budget)):
            if rel.tag == f"{PKG_REL_NS}Relationship" and rel.get("Id") == rel_id:
                target = rel.get("Target", "")
                return target.lstrip("/") if target.startswith("/") else posixpath.normpath(f"xl/{target}")
    raise KeyError("the first sheet is missing")


def _value(cell: Any, strings: list[str], dates: set[int]) -> Any:
    kind = cell.get("t", "n")
    if kind == "inlineStr":
        inline = cell.find(f"{NS}is")
        return _text_of(inline) if inline is not None else ""
    raw = cell.findtext(f"{NS}v")
    if raw is None:
        return None
    if kind == "s":
        return strings[int(raw)]
    if kind in ("str", "e"):
        return raw
    if kind == "b":
        return raw == "1"
    number = float(raw)
    if int(cell.get("s", "0")) in dates:
        return from_excel(number)
    return number


def read_first_sheet(source: IO[bytes], limits: ReadLimits | None = None) -> Iterator[list[Any]]:
    """Rows of the first sheet; missing cells are None. Raises zipfile/KeyError/ValueError if damaged,
    :class:`SheetTooLarge` past ``limits`` (declared sizes before any parsing, then while reading)."""
    limits = limits or ReadLimits()
    with zipfile.ZipFile(source) as book:
        _check_declared_sizes(book, limits)
        budget = _Budget(limits.max_bytes)
        strings = _shared_strings(book, budget, limits)
        dates = _date_styles(book, budget)
        rows = cells = 0
        with book.open(_first_sheet_path(book, budget)) as raw:
            row: list[Any] = []
            for _, element in iterparse(_Counted(raw, budget)):
                if element.tag == f"{NS}c":
                    ref = element.get("r")
                    if ref:
                        missing = _column_index(ref) - len(row)
                        if missing >= MAX_COLUMNS:
                            raise ValueError(f"cell reference beyond column XFD: {ref[:20]}")
                        row.extend([None] * max(missing, 0))
                    row.append(_value(element, strings, dates))
                    element.clear()
                elif element.tag == f"{NS}row":
                    rows += 1
                    cells += len(row)
                    if rows > limits.max_rows:
                        raise SheetTooLarge(f"超过 {limits.max_rows} 行 more than {limits.max_rows:,} rows")
                    if cells > limits.max_cells:
                        raise SheetTooLarge(f"超过 {limits.max_cells} 个单元格 more than {limits.max_cells:,} cells")
                    yield row
                    row = []
                    element.clear()

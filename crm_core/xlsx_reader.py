"""A fast reader of an .xlsx file's first sheet, as rows of raw cell values.

openpyxl builds an object per shared string and per cell; reading 100,000 customers that way costs
more than validating and storing them. This reader streams the sheet XML with iterparse and returns
plain values (str, float, bool, datetime), dates recognised from the cell's number format as Excel does.
"""

from __future__ import annotations

import posixpath
import zipfile
from collections.abc import Iterator
from typing import IO, Any
from xml.etree.ElementTree import iterparse

from openpyxl.styles.numbers import BUILTIN_FORMATS, is_date_format
from openpyxl.utils.datetime import from_excel

NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
REL_NS = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
PKG_REL_NS = "{http://schemas.openxmlformats.org/package/2006/relationships}"


def _column_index(ref: str) -> int:
    index = 0
    for ch in ref:
        if ch.isdigit():
            break
        index = index * 26 + (ord(ch.upper()) - 64)
    return index - 1


def _text_of(element: Any) -> str:
    """Concatenated <t> runs of a shared or inline string (rich text has several)."""
    return "".join(t.text or "" for t in element.iter(f"{NS}t"))


def _shared_strings(book: zipfile.ZipFile) -> list[str]:
    if "xl/sharedStrings.xml" not in book.namelist():
        return []
    strings: list[str] = []
    with book.open("xl/sharedStrings.xml") as stream:
        for _, element in iterparse(stream):
            if element.tag == f"{NS}si":
                strings.append(_text_of(element))
                element.clear()
    return strings


def _date_styles(book: zipfile.ZipFile) -> set[int]:
    """Indexes of the cell formats (cellXfs) that display a date."""
    if "xl/styles.xml" not in book.namelist():
        return set()
    custom: dict[int, str] = {}
    dates: set[int] = set()
    with book.open("xl/styles.xml") as stream:
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


def _first_sheet_path(book: zipfile.ZipFile) -> str:
    with book.open("xl/workbook.xml") as stream:
        sheet = next((el for _, el in iterparse(stream) if el.tag == f"{NS}sheet"), None)
    if sheet is None:
        raise KeyError("the workbook has no sheet")
    rel_id = sheet.get(f"{REL_NS}id")
    with book.open("xl/_rels/workbook.xml.rels") as stream:
        for _, rel in iterparse(stream):
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


def read_first_sheet(source: IO[bytes]) -> Iterator[list[Any]]:
    """Rows of the first sheet; missing cells are None. Raises zipfile/KeyError/ValueError if damaged."""
    with zipfile.ZipFile(source) as book:
        strings = _shared_strings(book)
        dates = _date_styles(book)
        with book.open(_first_sheet_path(book)) as stream:
            row: list[Any] = []
            for _, element in iterparse(stream):
                if element.tag == f"{NS}c":
                    ref = element.get("r")
                    if ref:
                        missing = _column_index(ref) - len(row)
                        row.extend([None] * max(missing, 0))
                    row.append(_value(element, strings, dates))
                    element.clear()
                elif element.tag == f"{NS}row":
                    yield row
                    row = []
                    element.clear()

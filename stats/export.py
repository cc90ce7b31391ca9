"""Reports as files: CSV (UTF-8 with a byte-order mark, so Excel reads Chinese) and Excel (.xlsx).

Text cells stay text in Excel (a queue named "2/4" never becomes a date); numbers stay numbers, shown
as a supervisor reads them: durations as h:mm:ss (a number of days with the ``[h]:mm:ss`` format, as
Excel keeps times), rates as percentages (a fraction with ``0.00%``), the header row frozen. In CSV the
same figures are written as ``2:42:40`` and ``85.50%``, which Excel reads back as numbers.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from crm_core.tabular import neutralise_formula
from stats.labels import value_label
from stats.reports import ReportTable

CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# column kind -> Excel number format (the value written as Excel keeps it: days, fractions)
NUMBER_FORMATS = {"seconds": "[h]:mm:ss", "pct": "0.00%", "float": "0.00", "int": "0"}
_WIDTHS = {"text": 14, "time": 20, "link": 34, "seconds": 11, "pct": 11, "float": 10, "int": 10}


def hms(seconds: float) -> str:
    """``9760.2`` -> ``2:42:40``: a duration as h:mm:ss (hours past 24 keep counting)."""
    whole = round(seconds)
    sign = "-" if whole < 0 else ""
    hours, rest = divmod(abs(whole), 3600)
    return f"{sign}{hours}:{rest // 60:02d}:{rest % 60:02d}"


def export_name(kind: str, start: datetime, end: datetime, extension: str) -> str:
    """``kind_<first day>_<last day>.ext`` for the range ``[start, end)``: an end at midnight is the day
    before's end, so a report of November is ``…_20261101_20261130``, one day ``…_20261120``."""
    last = end - timedelta(microseconds=1) if end > start else start
    first_day, last_day = f"{start:%Y%m%d}", f"{last:%Y%m%d}"
    days = first_day if first_day == last_day else f"{first_day}_{last_day}"
    return f"{kind}_{days}.{extension}"


def _csv_cell(kind: str, value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, int | float) and not isinstance(value, bool):
        if kind == "seconds":
            return hms(value)
        if kind == "pct":
            return f"{value:.2f}%"
    # A text cell that a spreadsheet would run as a formula is written as text.
    return neutralise_formula(value) if isinstance(value, str) else value


def to_csv(table: ReportTable, lang: str = "zh-CN") -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([c.label(lang) for c in table.columns])
    for row in table.rows:
        writer.writerow(
            [_csv_cell(c.kind, value_label(c.key, v, lang)) for c, v in zip(table.columns, row, strict=False)]
        )
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def to_xlsx(table: ReportTable, lang: str = "zh-CN", title: str = "") -> bytes:
    book = Workbook(write_only=True)
    sheet = book.create_sheet(title=(title or table.kind)[:31])
    sheet.freeze_panes = "A2"  # the header stays in view while scrolling
    for i, column in enumerate(table.columns, start=1):
        sheet.column_dimensions[get_column_letter(i)].width = max(
            _WIDTHS.get(column.kind, 12), len(column.label(lang)) + 4
        )
    header = []
    for column in table.columns:
        cell = WriteOnlyCell(sheet, value=column.label(lang))
        cell.font = Font(bold=True)
        header.append(cell)
    sheet.append(header)
    text_columns = {i for i, c in enumerate(table.columns) if c.kind in ("text", "time", "link")}
    for row in table.rows:
        cells = []
        for i, value in enumerate(row):
            value = value_label(table.columns[i].key, value, lang)  # a code's name, not the code
            cell = WriteOnlyCell(sheet, value=value)
            kind = table.columns[i].kind
            if i in text_columns and value is not None:
                cell.value = str(value)
                cell.data_type = "s"
                cell.number_format = "@"
            elif isinstance(value, int | float) and not isinstance(value, bool) and kind in NUMBER_FORMATS:
                if kind == "seconds":
                    cell.value = value / 86400.0
                elif kind == "pct":
                    cell.value = value / 100.0
                cell.number_format = NUMBER_FORMATS[kind]
            cells.append(cell)
        sheet.append(cells)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()

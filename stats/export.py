"""Reports as files: CSV (UTF-8 with a byte-order mark, so Excel reads Chinese) and Excel (.xlsx).

Text cells stay text in Excel (a queue named "2/4" never becomes a date); numbers stay numbers.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

from crm_core.tabular import neutralise_formula
from stats.labels import value_label
from stats.reports import ReportTable

CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    # A text cell that a spreadsheet would run as a formula is written as text.
    return neutralise_formula(value) if isinstance(value, str) else value


def to_csv(table: ReportTable, lang: str = "zh-CN") -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([c.label(lang) for c in table.columns])
    for row in table.rows:
        writer.writerow([_csv_cell(value_label(c.key, v, lang)) for c, v in zip(table.columns, row, strict=False)])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def to_xlsx(table: ReportTable, lang: str = "zh-CN", title: str = "") -> bytes:
    book = Workbook(write_only=True)
    sheet = book.create_sheet(title=(title or table.kind)[:31])
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
            if i in text_columns and value is not None:
                cell.value = str(value)
                cell.data_type = "s"
                cell.number_format = "@"
            cells.append(cell)
        sheet.append(cells)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()

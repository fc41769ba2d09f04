"""Lead exports as .xlsx: every cell a text cell, so nothing in it is a formula, number or link.

Danish and Swedish marketers open exports in Excel, which splits CSV on `;` by locale; a
workbook of typed text cells needs no escaping at all.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import IO

import xlsxwriter

from capture.leads.export import SOURCE, Filter, cell_text, columns, counted
from capture.leads.listing import stream_rows

# Excel's limits: rows per sheet (the header is one) and characters per cell.
XLSX_MAX_ROWS = 1_048_576
XLSX_MAX_CELL = 32_767
XLSX_CUT = " [cut: see the CSV export]"


class TooManyRows(ValueError):
    """More leads than one Excel sheet holds."""


def write_xlsx(
    where: Filter,
    output: IO[bytes],
    progress: Callable[[int], None] | None = None,
    batch: int = 1000,
) -> None:
    """Every lead `where` matches as an .xlsx workbook written to `output`, every cell a text
    cell: nothing in it is ever a formula, number or link, so no `'` is needed.

    XlsxWriter in constant-memory mode keeps one row in memory and the sheet in a temporary
    file; the workbook (a ZIP) is put together at the end, so it is written whole before a
    byte of it is sent. A cell longer than Excel takes is cut, saying so; more rows than a
    sheet holds raise `TooManyRows` (the CSV export has no limit).
    """
    tell = progress or (lambda n: None)
    options = {
        "constant_memory": True,
        "strings_to_numbers": False,
        "strings_to_formulas": False,
        "strings_to_urls": False,
    }
    workbook = xlsxwriter.Workbook(output, options)
    sheet = workbook.add_worksheet("Leads")
    names = columns()
    keys = [SOURCE.get(name, name) for name in names]
    for column, name in enumerate(names):
        sheet.write_string(0, column, name)
    rows = counted(stream_rows(where, batch=batch, json_as_text=True), tell, batch)
    for number, row in enumerate(rows, start=1):
        if number >= XLSX_MAX_ROWS:
            workbook.close()
            raise TooManyRows(f"more than {XLSX_MAX_ROWS - 1} leads")
        for column, key in enumerate(keys):
            text = cell_text(row[key])
            if len(text) > XLSX_MAX_CELL:
                text = text[: XLSX_MAX_CELL - len(XLSX_CUT)] + XLSX_CUT
            if text:
                sheet.write_string(number, column, text)
    workbook.close()

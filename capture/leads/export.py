"""Lead exports as CSV or JSON Lines, written a row at a time, safe to open in a spreadsheet.

`csv_chunks` and `jsonl_chunks` take any iterable of lead rows and yield text, so the CLI writes
them to stdout and a back-office view can return `Response(stream_with_context(...))`.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any

from capture.leads.listing import lead_payload

# A spreadsheet treats a cell starting with one of these as a formula (or, for TAB, CR and NUL,
# strips them and then does). `|` starts DDE payloads in older Excel. OWASP's list plus ours.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\0", "|")
NESTED = ("first_touch", "last_touch", "properties")


def neutralise(cell: str) -> str:
    """Prefix a leading formula trigger with `'`, which spreadsheets show as text."""
    return "'" + cell if cell.startswith(FORMULA_TRIGGERS) else cell


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        if isinstance(value, dict | list):
            value = json.dumps(value, ensure_ascii=False, sort_keys=True)
        elif isinstance(value, datetime):
            value = value.isoformat()
        elif isinstance(value, float):
            value = f"{value:.2f}"
        else:
            value = str(value)
    return "'" + value if value.startswith(FORMULA_TRIGGERS) else value


# CSV column -> lead row key, where they differ.
SOURCE = {"id": "public_id"}


def columns() -> list[str]:
    return [key for key in lead_payload(_EMPTY) if key not in NESTED] + list(NESTED)


class _Empty(dict):
    def __missing__(self, key: str) -> None:
        return None


_EMPTY: Mapping[str, Any] = _Empty()


def csv_chunks(rows: Iterable[Mapping[str, Any]], batch: int = 500) -> Iterator[str]:
    """A header line, then the rows, every cell neutralised, in chunks of `batch` rows.

    Rows are lead rows (`stream_rows`, with `json_as_text=True` for speed, or ORM leads'
    column values); the columns are those of `lead_payload`.
    """
    names = columns()
    keys = [SOURCE.get(name, name) for name in names]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(names)
    pending = 0
    for row in rows:
        writer.writerow([_cell(row[key]) for key in keys])
        pending += 1
        if pending >= batch:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
            pending = 0
    yield buffer.getvalue()


def jsonl_chunks(rows: Iterable[Mapping[str, Any]], batch: int = 500) -> Iterator[str]:
    """One JSON object per line, the same shape as `GET /api/v1/leads/<id>`."""
    lines: list[str] = []
    for row in rows:
        lines.append(json.dumps(lead_payload(row), ensure_ascii=False))
        if len(lines) >= batch:
            yield "\n".join(lines) + "\n"
            lines = []
    if lines:
        yield "\n".join(lines) + "\n"

"""Lead exports as CSV, JSON Lines or .xlsx, in batches, safe to open in a spreadsheet.

`export_chunks(where, fmt)` yields the text of every lead a filter matches, so the CLI writes
it to stdout and a back-office view can return `Response(stream_with_context(...))`. On
PostgreSQL the database formats each cell (and each JSON line) and streams them with COPY;
Python neutralises the rare CSV record that needs it and writes the batches: a million leads
take seconds, not minutes. Elsewhere `csv_chunks` and `jsonl_chunks`
format plain lead rows in Python, to the same output. `write_xlsx` writes a workbook of text
cells (capture.leads.xlsx); `guarded` marks a stream that fails part-way as failed.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import re
from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime
from itertools import accumulate
from typing import Any

import sqlalchemy as sa

from capture.base.db import UTCDateTime, db
from capture.base.driver import sqlalchemy_error
from capture.leads.cells import CELL_BREAKS, TRIGGER_AHEAD, neutralise
from capture.leads.lead import Lead, lead_payload
from capture.leads.listing import Filter, stream_rows
from capture.leads.owner import OWNER_EMAIL, OWNER_ID, owner_join, owner_json

log = logging.getLogger(__name__)

NESTED = ("first_touch", "last_touch", "properties")


def _cell(value: Any) -> str:
    return neutralise(cell_text(value))


def cell_text(value: Any) -> str:
    """The value as the text of its cell."""
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
    return value


# CSV column -> lead row key, where they differ. The owner is one cell: their e-mail.
SOURCE = {"id": "public_id", "owner": OWNER_EMAIL}


def columns() -> list[str]:
    return [key for key in lead_payload(_EMPTY) if key not in NESTED] + list(NESTED)


class _Empty(dict):
    def __missing__(self, key: str) -> None:
        return None


_EMPTY: Mapping[str, Any] = _Empty()


def csv_chunks(rows: Iterable[Mapping[str, Any]], batch: int = 500) -> Iterator[str]:
    """A header line, then the rows, every cell quoted and neutralised, in chunks of `batch` rows.

    Rows are lead rows (`stream_rows`, with `json_as_text=True` for speed, or ORM leads'
    column values); the columns are those of `lead_payload`.
    """
    names = columns()
    keys = [SOURCE.get(name, name) for name in names]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n", quoting=csv.QUOTE_ALL)
    writer.writerow(names)
    pending = 0
    for row in rows:
        writer.writerow([_cell(row[key] if key != OWNER_EMAIL else row.get(key)) for key in keys])
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


# PostgreSQL path: `COPY (SELECT ...) TO STDOUT`, so the database streams records while Python
# writes the previous batch. CSV: the database writes each cell's text as `cell_text` would and
# Python neutralises the few records that need it (`neutralise_records`), so the file is the one
# `csv_chunks` writes, byte for byte (tested); Python also swaps each record's LF for CRLF.
# JSON Lines: the database builds each line.
ISO_UTC = 'YYYY-MM-DD"T"HH24:MI:SS'


def _pg_iso(column: Any) -> Any:
    """`datetime.isoformat()` of the UTC value: microseconds only when there are any."""
    utc = sa.func.timezone("UTC", column)
    return sa.case(
        (
            sa.func.date_trunc("second", column) == column,
            sa.func.to_char(utc, ISO_UTC + '"+00:00"'),
        ),
        else_=sa.func.to_char(utc, ISO_UTC + '.US"+00:00"'),
    )


def _pg_csv_text(column: sa.ColumnElement[Any]) -> Any:
    """`cell_text` of the column, never NULL: with FORCE_QUOTE every cell is quoted, as
    csv.writer quotes every cell (COPY would leave NULL unquoted)."""
    if isinstance(column.type, UTCDateTime):
        return sa.func.coalesce(_pg_iso(column), "")
    if isinstance(column.type, sa.Float):
        return sa.func.coalesce(sa.cast(sa.func.round(sa.cast(column, sa.Numeric), 2), sa.Text), "")
    if isinstance(column.type, sa.String):
        return sa.func.coalesce(column, "")
    return sa.func.coalesce(sa.cast(column, sa.Text), "")


# Where a formula could begin in a CSV record of quoted cells: after the record's start (the
# LF before it), a separator or a break inside a cell, with spaces and quotes (doubled or not)
# between. A cell that `neutralise` changes starts with a trigger or has one after a break, so
# its record has such a spot; a record without one is left as PostgreSQL wrote it.
_FORMULA_SPOT = re.compile(f"[{CELL_BREAKS}]{TRIGGER_AHEAD}".encode())


def neutralise_records(records: list[bytes]) -> list[bytes]:
    """The records, those with a spot where a formula could begin rewritten with every cell
    neutralised (one regular-expression pass over the batch finds them)."""
    text = b"\n" + b"\n".join(records)
    starts = list(accumulate((len(record) + 1 for record in records), initial=1))
    suspects = {bisect_right(starts, spot.start() + 1) - 1 for spot in _FORMULA_SPOT.finditer(text)}
    for index in suspects:
        [cells] = csv.reader(io.StringIO(records[index].decode(), newline=""))
        line = io.StringIO()
        csv.writer(line, lineterminator="", quoting=csv.QUOTE_ALL).writerow(map(neutralise, cells))
        records[index] = line.getvalue().encode()
    return records


def _pg_copy(statement: sa.Select[Any], options: str, batch: int) -> Iterator[list[bytes]]:
    """The records COPY writes of the statement's rows, LF taken off, `batch` at a time.
    The driver's errors are raised as SQLAlchemy's, a lost connection invalidated, as for any
    statement the session runs."""
    connection = db.session.connection()
    dialect = connection.dialect
    compiled = statement.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
    sql, params = f"COPY ({compiled.string}) TO STDOUT ({options})", compiled.construct_params()
    driver = connection.connection.driver_connection
    if driver is None:  # pragma: no cover - a checked-out connection always has its driver's
        raise RuntimeError("no driver connection")
    cursor = driver.cursor()
    try:
        with cursor.copy(sql, params) as copy:
            records: list[bytes] = []
            for record in copy:  # PostgreSQL sends one record per COPY message, LF-terminated
                records.append(bytes(record[:-1]))
                if len(records) == batch:
                    yield records
                    records = []
            if records:
                yield records
    except dialect.loaded_dbapi.Error as error:
        raise sqlalchemy_error(connection, error, sql, params, cursor) from error
    finally:
        cursor.close()


def _pg_csv(where: Filter, names: list[str], batch: int) -> Iterator[list[bytes]]:
    """The CSV records of every matching lead, oldest first, neutralised, `batch` at a time."""
    joined, owner = owner_join(Lead.__table__)
    source = {**dict(Lead.__table__.c.items()), **owner}
    cells = [_pg_csv_text(source[SOURCE.get(name, name)]) for name in names]
    statement = where.apply(sa.select(*cells).select_from(joined)).order_by(Lead.id)
    for records in _pg_copy(statement, "FORMAT csv, FORCE_QUOTE *", batch):
        yield neutralise_records(records)


# COPY's CSV format with a quote and a delimiter that JSON text never holds raw (it escapes
# every control character), nor does it hold a raw line break: each line goes out verbatim.
_VERBATIM = "FORMAT csv, QUOTE E'\\x01', DELIMITER E'\\x02'"


def _pg_jsonl(where: Filter, batch: int) -> Iterator[list[bytes]]:
    """`lead_payload` of every matching lead as one JSON object a line, built by the database
    (same keys, same order): `row_to_json` of a row of the payload's values, which costs less
    than `json_build_object`, that works out how to write each argument on every row."""
    joined, owner = owner_join(Lead.__table__)
    source = {**dict(Lead.__table__.c.items()), **owner}
    values: list[sa.ColumnElement[Any]] = []
    for name in lead_payload(_EMPTY):
        column = source[SOURCE.get(name, name)]
        value: sa.ColumnElement[Any]
        if name == "owner":
            value = owner_json(owner)
        elif isinstance(column.type, sa.JSON):
            value = sa.func.coalesce(column, sa.text("'{}'::jsonb"))
        elif name == "engagement_score":
            value = sa.func.round(sa.cast(sa.func.coalesce(column, 0.0), sa.Numeric), 2)
        elif isinstance(column.type, UTCDateTime):
            value = _pg_iso(column)
        else:
            value = column
        values.append(value.label(name))
    # Correlated to the lead and its owner: the row is theirs, without a FROM of its own.
    tables = (Lead.__table__, owner[OWNER_ID].table)
    payload = sa.select(*values).correlate(*tables).lateral("payload")
    line = sa.cast(sa.func.row_to_json(payload.table_valued()), sa.Text)
    statement = sa.select(line).select_from(joined.join(payload, sa.true()))
    yield from _pg_copy(where.apply(statement).order_by(Lead.id), _VERBATIM, batch)


def export_chunks(
    where: Filter, fmt: str, progress: Callable[[int], None] | None = None, batch: int = 1000
) -> Iterator[str]:
    """Every lead `where` matches as CSV (`fmt="csv"`) or JSON Lines, in chunks of text;
    `progress(n)` hears of each batch of `n` leads written."""
    tell = progress or (lambda n: None)
    if db.session.get_bind().dialect.name != "postgresql":
        rows = stream_rows(where, batch=batch, json_as_text=fmt == "csv")
        chunks = csv_chunks if fmt == "csv" else jsonl_chunks
        yield from chunks(counted(rows, tell, batch), batch)
        return
    if fmt == "csv":
        names = columns()
        header = ",".join(f'"{name}"' for name in names) + "\r\n"
        for records in _pg_csv(where, names, batch):
            tell(len(records))
            yield header + (b"\r\n".join(records) + b"\r\n").decode()
            header = ""  # with the first batch: the query has run before anything is sent
        if header:
            yield header
        return
    for lines in _pg_jsonl(where, batch):
        tell(len(lines))
        yield (b"\n".join(lines) + b"\n").decode()


# What ends a stream that failed part-way, so the file cannot pass for a complete export
# (`guarded`); a spreadsheet shows it as the last row, a JSON Lines reader as an error object.
FAILED = {
    "csv": '"# EXPORT FAILED: this file is incomplete. Export again."\r\n',
    "jsonl": json.dumps({"error": {"code": "export_failed", "message": "incomplete"}}) + "\n",
}


def guarded(chunks: Iterator[str], fmt: str) -> Iterator[str]:
    """The chunks; if producing one fails, a last line saying the export failed, then the error
    again, so a server ends the response without its final chunk (a client sees a broken
    transfer, not a short file) and the CLI exits non-zero."""
    try:
        yield from chunks
    except Exception:
        log.exception("lead export failed part-way")
        yield FAILED[fmt]
        raise


def counted(
    rows: Iterable[Mapping[str, Any]], tell: Callable[[int], None], every: int
) -> Iterator[Mapping[str, Any]]:
    """The rows, calling `tell` with how many went by every `every` rows (and at the end)."""
    done = 0
    for row in rows:
        yield row
        done += 1
        if done == every:
            tell(done)
            done = 0
    if done:
        tell(done)

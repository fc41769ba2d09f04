"""Lead exports as CSV, JSON Lines or .xlsx, in batches, safe to open in a spreadsheet.

`export_chunks(where, fmt)` yields the text of every lead a filter matches, so the CLI writes
it to stdout and a back-office view can return `Response(stream_with_context(...))`. On
PostgreSQL the database formats each cell (and each JSON line) and Python only writes the
batches: a million leads take seconds, not minutes. Elsewhere `csv_chunks` and `jsonl_chunks`
format plain lead rows in Python, to the same output. `write_xlsx` writes a workbook of text
cells (capture.leads.xlsx); `guarded` marks a stream that fails part-way as failed.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import queue
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import suppress
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from capture.base.db import UTCDateTime, db
from capture.leads.cells import CELL_BREAKS, TRIGGER_AHEAD, neutralise
from capture.leads.lead import Lead, lead_payload
from capture.leads.listing import Filter, stream_rows
from capture.leads.owner import OWNER_EMAIL, owner_join, owner_json

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


# PostgreSQL path. CSV: `COPY (SELECT ...) TO STDOUT (FORMAT csv)`, each cell made by the
# database the way `_cell` makes it in Python, so the file is the same byte for byte (tested);
# Python only swaps each record's LF for CRLF. JSON Lines: the database builds each line.
ISO_UTC = 'YYYY-MM-DD"T"HH24:MI:SS'


def _pg_iso(column: Any) -> Any:
    """`datetime.isoformat()` of the UTC value: microseconds only when there are any."""
    utc = sa.func.timezone("UTC", column)
    fraction = sa.case(
        (sa.func.date_trunc("second", column) == column, ""), else_=sa.func.to_char(utc, ".US")
    )
    return sa.func.to_char(utc, ISO_UTC) + fraction + "+00:00"


def _pg_csv_cell(column: sa.ColumnElement[Any]) -> Any:
    """The column's CSV cell as text, never NULL: with FORCE_QUOTE every cell is quoted, as
    csv.writer quotes every cell (COPY would leave NULL unquoted)."""
    if isinstance(column.type, UTCDateTime):
        return sa.func.coalesce(_pg_iso(column), "")  # never starts with a trigger
    text: sa.ColumnElement[Any]
    if isinstance(column.type, sa.Float):
        text = sa.cast(sa.func.round(sa.cast(column, sa.Numeric), 2), sa.Text)
    elif isinstance(column.type, sa.String):
        text = column
    else:
        text = sa.cast(column, sa.Text)
    # `neutralise` in SQL: the same patterns (PostgreSQL's regular expressions take them as
    # written; text there never holds NUL). A leading `'` by a CASE, as an empty match at the
    # start and a separator there would be chosen differently by the two regex engines.
    cell = sa.func.coalesce(text, "")
    ahead = TRIGGER_AHEAD.replace("\0", "")
    breaks = f"([{CELL_BREAKS}])(?={ahead})"
    inner = sa.func.regexp_replace(cell, sa.literal(breaks), sa.literal("\\1'"), sa.literal("g"))
    starts = cell.regexp_match(sa.literal("^" + ahead))
    return sa.case((starts, sa.literal("'") + inner), else_=inner)


def _pg_copy_csv(where: Filter, names: list[str], batch: int) -> Iterator[list[bytes]]:
    """The CSV records of every matching lead, oldest first, `batch` at a time, from COPY."""
    joined, owner = owner_join(Lead.__table__)
    source = {**dict(Lead.__table__.c.items()), **owner}
    cells = [_pg_csv_cell(source[SOURCE.get(name, name)]) for name in names]
    statement = where.apply(sa.select(*cells).select_from(joined)).order_by(Lead.id)
    connection = db.session.connection()
    compiled = statement.compile(
        dialect=connection.dialect, compile_kwargs={"render_postcompile": True}
    )
    sql = f"COPY ({compiled.string}) TO STDOUT (FORMAT csv, FORCE_QUOTE *)"
    driver = connection.connection.driver_connection
    if driver is None:  # pragma: no cover - a checked-out connection always has its driver's
        raise RuntimeError("no driver connection")
    with driver.cursor() as cursor, cursor.copy(sql, compiled.construct_params()) as copy:
        records: list[bytes] = []
        for record in copy:  # PostgreSQL sends one CSV record per COPY message, LF-terminated
            records.append(bytes(record[:-1]))
            if len(records) == batch:
                yield records
                records = []
        if records:
            yield records


def _pg_json_line() -> Any:
    """`lead_payload` as one JSON object, built by the database (same keys, same order)."""
    _joined, owner = owner_join(Lead.__table__)
    source = {**dict(Lead.__table__.c.items()), **owner}
    values: dict[str, Any] = {}
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
        values[name] = value
    arguments = [part for name, value in values.items() for part in (sa.literal(name), value)]
    return sa.cast(sa.func.json_build_object(*arguments), sa.Text)


def _batches(where: Filter, selected: list[Any], batch: int) -> Iterator[Sequence[Any]]:
    """Rows of `selected` for every matching lead, oldest first, through a server-side cursor."""
    joined, _owner = owner_join(Lead.__table__)
    statement = where.apply(sa.select(*selected).select_from(joined)).order_by(Lead.id)
    # Per statement: Connection.execution_options would change the session's connection.
    result = db.session.connection().execute(statement, execution_options={"yield_per": batch})
    try:
        yield from _ahead(result.partitions())
    finally:
        with suppress(sa.exc.DBAPIError):  # on a lost connection there is nothing to close
            result.close()


_DONE = object()


def _ahead(batches: Iterator[Sequence[Any]]) -> Iterator[Sequence[Any]]:
    """The same batches, the next one fetched by a thread while the caller formats this one:
    the database and Python then work at once (the driver releases the GIL while it waits).
    Only that thread touches the connection until the batches run out or the caller stops."""
    ready: queue.Queue[Any] = queue.Queue(maxsize=1)
    stop = threading.Event()

    def fetch() -> None:
        try:
            for rows in batches:
                while not stop.is_set():
                    with suppress(queue.Full):
                        ready.put(rows, timeout=0.1)
                        break
                if stop.is_set():
                    return
            ready.put(_DONE)
        except BaseException as exc:  # handed to the caller, raised there
            ready.put(exc)

    worker = threading.Thread(target=fetch, name="lead-export-fetch", daemon=True)
    worker.start()
    try:
        while (item := ready.get()) is not _DONE:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        worker.join()


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
        for records in _pg_copy_csv(where, names, batch):
            tell(len(records))
            yield header + (b"\r\n".join(records) + b"\r\n").decode()
            header = ""  # with the first batch: the query has run before anything is sent
        if header:
            yield header
        return
    for lines in _batches(where, [_pg_json_line()], batch):
        tell(len(lines))
        yield "\n".join([line[0] for line in lines]) + "\n"


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

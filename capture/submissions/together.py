"""New rows of a submission written in one statement, then known to the session as saved.

The ORM's flush sends one INSERT per table. A submission's consent records and its conversion
have nothing to wait for between them, so on PostgreSQL they go as one statement (the consent
records an INSERT in a CTE of the conversion's INSERT, both returning their ids): one round
trip fewer, in the same transaction. The objects are then attached to the session as rows it
loaded, so hooks and later flushes see ordinary persistent objects with their ids. Elsewhere
(SQLite) the same rows go as two statements.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import make_transient_to_detached, object_mapper

from capture.base.db import Model, db, table_of


def _values(row: Model) -> dict[str, Any]:
    """The row's column values as an INSERT needs them, client-side defaults applied where
    the attribute was never set (and set on the object, as a flush would)."""
    mapper = object_mapper(row)
    values: dict[str, Any] = {}
    for column in table_of(type(row)).columns:
        if column.primary_key:
            continue
        key = mapper.get_property_by_column(column).key
        value = row.__dict__.get(key)
        default = column.default
        if key not in row.__dict__:
            if isinstance(default, sa.ColumnDefault):
                value = default.arg(None) if default.is_callable else default.arg
            # Set even when None: what was inserted is known, so reading it later (the
            # consent_changed payload reads confirmed_at) loads nothing.
            setattr(row, key, value)
        values[column.key] = value
    return values


def _saved(row: Model, row_id: int) -> None:
    row.id = row_id  # type: ignore[attr-defined]
    make_transient_to_detached(row)
    db.session.add(row)  # persistent, as if loaded: nothing more is sent for it


# Built statements by (head table, rows table, number of rows, PostgreSQL?): with bound
# parameters instead of embedded values, SQLAlchemy builds and cache-keys each shape once, not
# once per submission (that was a quarter of a worker's time in `python -m bench.profile`).
_STATEMENTS: dict[tuple[str, str | None, int, bool], Any] = {}


def _insert(table: sa.Table, prefix: str, count: int = 1) -> Any:
    columns = [column for column in table.columns if not column.primary_key]
    rows = [
        {c: sa.bindparam(f"{prefix}{i}_{c.key}", type_=c.type) for c in columns}
        for i in range(count)
    ]
    return sa.insert(table).values(rows if count > 1 else rows[0])


def _params(values: dict[str, Any], prefix: str) -> dict[str, Any]:
    return {f"{prefix}_{key}": value for key, value in values.items()}


def _statement(head_table: sa.Table, table: sa.Table | None, count: int, postgres: bool) -> Any:
    key = (head_table.name, table.name if table is not None else None, count, postgres)
    statement = _STATEMENTS.get(key)
    if statement is None:
        head = _insert(head_table, "h").returning(head_table.c.id)
        if table is None:
            statement = head
        else:
            many = _insert(table, "r", count).returning(table.c.id, table.c.public_id)
            if postgres:
                written = many.cte("written")
                # One aggregate, so nothing depends on the order rows come back in.
                pairs = sa.select(sa.func.json_object_agg(written.c.public_id, written.c.id))
                statement = head.add_cte(written).returning(pairs.scalar_subquery())
            else:
                statement = (head, many)
        _STATEMENTS[key] = statement
    return statement


def insert_together(head: Model, rows: Sequence[Model]) -> None:
    """INSERT `head` and `rows` (all of one table with a unique `public_id`, possibly another
    than `head`'s), the rows first; afterwards every object has its id and belongs to the
    session as a saved row."""
    head_table = table_of(type(head))
    params = _params(_values(head), "h0")
    ids: dict[str, int] = {}
    if rows:
        table = table_of(type(rows[0]))
        for index, row in enumerate(rows):
            params.update(_params(_values(row), f"r{index}"))
        postgres = db.session.get_bind().dialect.name == "postgresql"
        statement = _statement(head_table, table, len(rows), postgres)
        if postgres:
            head_id, ids = db.session.execute(statement, params).one()
        else:
            head_statement, many = statement
            ids = {public_id: row_id for row_id, public_id in db.session.execute(many, params)}
            head_id = db.session.scalar(head_statement, params)
    else:
        head_id = db.session.scalar(_statement(head_table, None, 0, False), params)
    for row in rows:
        _saved(row, ids[row.public_id])  # type: ignore[attr-defined]
    _saved(head, head_id)

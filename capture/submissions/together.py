"""New rows of a submission written in one statement, then known to the session as saved.

The ORM's flush sends one INSERT per table. A submission's consent records and its conversion
have nothing to wait for between them, so on PostgreSQL they go as one statement (the consent
records an INSERT in a CTE of the conversion's INSERT, both returning their ids): one round
trip fewer, in the same transaction. The objects are then attached to the session as rows it
loaded, so hooks and later flushes see ordinary persistent objects with their ids. Elsewhere
(SQLite) the same rows go as two statements. When the claim drew their ids (PostgreSQL), they
need not go first at all: `add_drawn` leaves them to the submission's final statement.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any

import sqlalchemy as sa

from capture.base.built import built
from capture.base.db import Model, db, table_of
from capture.base.driver import compiled, fetch_one
from capture.base.one_trip import attach, mark_saved, row_values


def _insert(table: sa.Table, prefix: str, count: int = 1) -> Any:
    columns = [column for column in table.columns if not column.primary_key]

    def row(i: int) -> dict[sa.Column[Any], Any]:
        return {c: sa.bindparam(f"{prefix}{i}_{c.key}", type_=c.type) for c in columns}

    if count == 1:
        return sa.insert(table).values(row(0))
    # INSERT ... SELECT ... UNION ALL SELECT ...: unlike a multi-row VALUES, SQLAlchemy can
    # cache-key it, so it is compiled once per shape, not on every call.
    rows = sa.union_all(*(sa.select(*row(i).values()) for i in range(count)))
    return sa.insert(table).from_select(columns, rows)


def _params(values: dict[str, Any], prefix: str) -> dict[str, Any]:
    return {f"{prefix}_{key}": value for key, value in values.items()}


def _statement(head_table: sa.Table, table: sa.Table | None, count: int, dialect: Any) -> Any:
    """Built once per shape with bound parameters (capture.base.built): building and
    cache-keying a new multi-row INSERT per submission was a quarter of a worker's time."""

    def build() -> Any:
        head = _insert(head_table, "h").returning(head_table.c.id)
        if table is None:
            return head
        many = _insert(table, "r", count).returning(table.c.id, table.c.public_id)
        if dialect.name != "postgresql":
            return head, many
        written = many.cte("written")
        # One aggregate, so nothing depends on the order rows come back in.
        pairs = sa.select(sa.func.json_object_agg(written.c.public_id, written.c.id))
        return head.add_cte(written).returning(pairs.scalar_subquery())

    rows = table.name if table is not None else None
    return built(("together", head_table.name, rows, count, dialect.name), build)


def insert_together(head: Model, rows: Sequence[Model]) -> None:
    """INSERT `head` and `rows` (all of one table with a unique `public_id`, possibly another
    than `head`'s), the rows first; afterwards every object has its id and belongs to the
    session as a saved row."""
    head_table = table_of(type(head))
    params = _params(row_values(head), "h0")
    ids: dict[str, int] = {}
    if rows:
        table = table_of(type(rows[0]))
        for index, row in enumerate(rows):
            params.update(_params(row_values(row), f"r{index}"))
        connection = db.session.connection()
        dialect = connection.dialect
        if dialect.name == "postgresql":
            key = ("together", head_table.name, table.name, len(rows))
            build = partial(_statement, head_table, table, len(rows), dialect)
            head_id, ids = fetch_one(connection, compiled(key, build, dialect), params)
        else:
            statement = _statement(head_table, table, len(rows), dialect)
            head_statement, many = statement
            ids = {public_id: row_id for row_id, public_id in connection.execute(many, params)}
            head_id = connection.scalar(head_statement, params)
    else:
        statement = _statement(head_table, None, 0, db.session.get_bind().dialect)
        head_id = db.session.connection().scalar(statement, params)
    for row in rows:
        row.id = ids[row.public_id]  # type: ignore[attr-defined]
    head.id = head_id  # type: ignore[attr-defined]
    mark_saved((*rows, head))


def add_drawn(head: Model, head_id: int, rows: Sequence[Model], row_ids: Sequence[int]) -> None:
    """`head` and `rows` with ids drawn beforehand (`capture.submissions.claim`): added to be
    written by the next flush with the rows that point at them (one statement on PostgreSQL,
    `capture.base.one_trip`). Their client-side defaults (public ids, times) are applied now,
    as writing them would: hooks read them before that flush."""
    head.id = head_id  # type: ignore[attr-defined]
    row_values(head)
    for row, row_id in zip(rows, row_ids, strict=True):
        row.id = row_id  # type: ignore[attr-defined]
        row_values(row)
    for row in (*rows, head):
        attach(row)

"""A session's pending writes sent as one statement on PostgreSQL.

The ORM's flush sends one statement per new or changed row and waits for each. The writes that
end a submission (the lead's UPDATE, its stage and score changes, the submission's answer)
need nothing from one another, so on PostgreSQL they go as the data-modifying CTEs of one
statement: all of them or none, in the caller's transaction, foreign keys checked at its end.
Afterwards the objects are what a flush would have left: saved, with their ids, nothing
pending. Whatever this does not cover (deletes, relationship changes, rows without a plain
integer `id`, another database) goes through the ordinary flush.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.orm.attributes import (
    PASSIVE_NO_INITIALIZE,
    get_history,
    instance_state,
    set_committed_value,
)
from sqlalchemy.orm.exc import StaleDataError

from capture.base.built import binds
from capture.base.db import Model, db, fresh, table_of
from capture.base.driver import compiled, fetch_one

M = TypeVar("M", bound=Model)


@cache
def mapper_of(model: type[Model]) -> sa.orm.Mapper[Any]:
    """`sa.inspect(model)`, which walks three lookups on every call."""
    return sa.inspect(model)


@cache
def attribute_keys(model: type[Model]) -> dict[str, str]:
    """The mapped attribute of each column of `model`'s table, by column name."""
    mapper = sa.inspect(model)
    return {c.key: mapper.get_property_by_column(c).key for c in table_of(model).columns}


@cache
def _inserted(model: type[Model]) -> tuple[tuple[str, str, Any], ...]:
    """Column name, attribute and client-side default of each column an INSERT gives."""
    keys = attribute_keys(model)
    return tuple(
        (c.key, keys[c.key], c.default if isinstance(c.default, sa.ColumnDefault) else None)
        for c in table_of(model).columns
        if not c.primary_key
    )


def row_values(row: Model) -> dict[str, Any]:
    """A new row's column values as an INSERT needs them, client-side defaults applied where
    the attribute was never set (and set on the object, as a flush would)."""
    values: dict[str, Any] = {}
    given = row.__dict__
    for name, key, default in _inserted(type(row)):
        if key in given:
            values[name] = given[key]
            continue
        value = None
        if default is not None:
            value = default.arg(None) if default.is_callable else default.arg
        # Set even when None: what was inserted is known, so reading it later loads nothing.
        # Into its dict, as a flush puts what it wrote: a new row has no history to keep.
        given[key] = value
        values[name] = value
    return values


def mark_saved(rows: Iterable[Model]) -> None:
    """`rows`, written by hand (new ones with their `id` set), become what the session holds
    after flushing them: persistent, their present values taken as loaded, nothing pending, and
    known to the transaction, so a rollback expunges the new ones and expires the others.

    This is the unit of work's own last step (`Session._register_persistent`, private to
    SQLAlchemy but what every flush calls; `tests/test_one_trip.py` checks the states it
    leaves): re-adding each object after `make_transient_to_detached` cost three cascade walks
    per row, a tenth of a submission's Python.
    """
    session = db.session()
    states = set()
    for row in rows:
        state = instance_state(row)
        if state.session_id != session.hash_key:
            attach(row)
        states.add(state)
    session._register_persistent(states)


def attach(row: Model) -> None:
    """Put `row` in the session as `Session.add` does, without the walk along its "save-update"
    cascade when no related object is set on it: a row made with `fresh` holds column values
    only, so the walk finds nothing, yet on the submission path it cost a few per cent of the
    request's instructions. A row with a related object set goes through `Session.add`.

    `Session.add` is this and the walk (`Session._save_or_update_state`, private to SQLAlchemy;
    `tests/test_one_trip.py` checks that both leave the same states).
    """
    state = instance_state(row)
    given = state.dict
    if any(key in given for key in _shape(type(row)).relationships):
        db.session.add(row)
        return
    state._orphaned_outside_of_session = False
    db.session()._save_or_update_impl(state)


def as_loaded(model: type[M], row: Mapping[str, Any] | sa.RowMapping) -> M:
    """A row written or read with Core (every column, by column name: returned, or given and
    known) as the session's object for it, as an ORM query with `populate_existing` would
    give, without the ORM's per-call statement annotation and cache-key walk."""
    mapper = mapper_of(model)
    keys = attribute_keys(model)
    values = {keys[name]: value for name, value in row.items()}
    identity = mapper.identity_key_from_primary_key((row["id"],))
    existing = db.session.identity_map.get(identity)
    if existing is not None:
        for key, value in values.items():
            set_committed_value(existing, key, value)
        return existing
    # Made as a query's loader makes it (no attribute events, no history), its identity key
    # set, then added as a detached row is.
    saved = fresh(model, **values)
    instance_state(saved).key = identity
    attach(saved)
    return saved


@dataclass(frozen=True)
class _Shape:
    """What one statement needs to know of a model, worked out once."""

    plain: bool  # one table, keyed by a plain `id`
    relationships: tuple[str, ...]
    columns: dict[str, str]  # column attribute -> column name
    onupdate: tuple[tuple[str, sa.ColumnDefault], ...]


@cache
def _shape(model: type[Model]) -> _Shape:
    mapper = sa.inspect(model)
    plain = len(mapper.tables) == 1 and [c.key for c in mapper.primary_key] == ["id"]
    columns = {name: key for key, name in attribute_keys(model).items()}
    onupdate = tuple(
        (c.key, c.onupdate)
        for c in table_of(model).columns
        if isinstance(c.onupdate, sa.ColumnDefault)
    )
    return _Shape(plain, tuple(r.key for r in mapper.relationships), columns, onupdate)


def _plain(row: Model) -> bool:
    shape = _shape(type(row))
    return shape.plain and not any(
        get_history(row, key, PASSIVE_NO_INITIALIZE).has_changes() for key in shape.relationships
    )


def _fits(new: Iterable[Model], dirty: Iterable[Model]) -> bool:
    """Whether every pending write is a plain INSERT of a new row or UPDATE of one by id."""
    return all(_plain(row) for row in new) and all(_plain(row) for row in dirty)


def _changes(row: Model) -> dict[str, Any]:
    """Changed column values of a saved row, by column name, `onupdate` defaults added."""
    shape = _shape(type(row))
    changes: dict[str, Any] = {}
    # Only the attributes set since the row was loaded (their old values are kept there).
    for key in instance_state(row).committed_state:
        name = shape.columns.get(key)
        if name is not None:
            added = get_history(row, key, PASSIVE_NO_INITIALIZE).added
            if added:
                changes[name] = added[0]
    if changes:
        for name, update in shape.onupdate:
            if name not in changes:
                changes[name] = update.arg(None) if update.is_callable else update.arg
    return changes


def _statement(shape: tuple[tuple[str, str, tuple[str, ...]], ...]) -> Any:
    tables = Model.metadata.tables
    outputs = []
    for index, (kind, name, columns) in enumerate(shape):
        table = tables[name]
        prefix = f"w{index}_"
        values = binds(table, columns, prefix)
        if kind == "insert":
            write: Any = sa.insert(table).values(values)
        else:
            key = sa.bindparam(f"{prefix}id", type_=table.c.id.type)
            write = sa.update(table).where(table.c.id == key).values(values)
        written = write.returning(table.c.id).cte(f"w{index}")
        outputs.append(sa.select(written.c.id).scalar_subquery().label(f"w{index}"))
    return sa.select(*outputs)


def commit_in_one_trip(last: bool = False) -> None:
    """Commit the session; on PostgreSQL, when its pending writes fit one statement, the
    statement and the `COMMIT` go in one round trip (`capture.base.wire`).

    `last`: nothing reads the session's objects after this (a request that has made its
    answer), so the commit does not expire them (a tenth of the commit's work; expiring is
    for whoever reads them next, to see other transactions' changes).

    The session's `before_commit` listeners are told before the statement, as a commit tells
    them before its flush, and once more by the `commit()` that ends this (it finds nothing to
    flush and nothing to send): they must not mind hearing it twice, as `settled`'s does not.

    For writes whose changed rows cannot vanish meanwhile: rows this transaction inserted or
    holds locked (a submission's own row; its lead, locked by the upsert in the claim). A
    changed row deleted by another transaction is only noticed (`StaleDataError`) from the
    statement's answer, after the `COMMIT` that went with it kept the other writes.
    """
    session = db.session()
    if session.new or session.dirty:
        session.dispatch.before_commit(session)
        flush_in_one_trip(commit=True)
    if not last:
        session.commit()
        return
    expire, session.expire_on_commit = session.expire_on_commit, False
    try:
        session.commit()
    finally:
        session.expire_on_commit = expire


def flush_in_one_trip(commit: bool = False) -> None:
    """Flush the session; on PostgreSQL, as one statement when every pending write is a plain
    INSERT or UPDATE of one row by its id. `commit`: see `commit_in_one_trip`."""
    session = db.session()
    if session.get_bind().dialect.name != "postgresql" or session.deleted:
        session.flush()
        return
    if not _fits(session.new, session.dirty):
        session.flush()  # tells the listeners itself
        return
    session.dispatch.before_flush(session, None, None)  # what a flush would tell listeners
    new, changed = list(session.new), list(session.dirty)
    if not _fits(new, changed):  # a listener added what one statement cannot write
        session.flush()
        return
    saved = [(row, _changes(row)) for row in changed]
    dirty = [(row, changes) for row, changes in saved if changes]
    if not new and not dirty:
        return
    shape: list[tuple[str, str, tuple[str, ...]]] = []
    params: dict[str, Any] = {}
    for row in new:
        values = row_values(row)
        if row.id is not None:  # drawn beforehand (capture.submissions.claim): given
            values = {"id": row.id, **values}
        shape.append(("insert", table_of(type(row)).name, tuple(values)))
        params.update({f"w{len(shape) - 1}_{key}": value for key, value in values.items()})
    for row, changes in dirty:
        shape.append(("update", table_of(type(row)).name, tuple(changes)))
        prefix = f"w{len(shape) - 1}_"
        params.update({f"{prefix}{key}": value for key, value in changes.items()})
        params[f"{prefix}id"] = row.id
    key: Hashable = ("one_trip", tuple(shape))
    connection = session.connection()
    with session.no_autoflush:  # the statement is the flush
        statement = compiled(key, lambda: _statement(tuple(shape)), connection.dialect)
        ids = fetch_one(connection, statement, params, commit=commit)
    for row, row_id in zip(new, ids, strict=False):
        row.id = row_id
    for (row, changes), row_id in zip(dirty, ids[len(new) :], strict=True):
        if row_id is None:
            raise StaleDataError(f"{type(row).__name__} {row.id} was deleted meanwhile")
        model: type[Model] = type(row)
        keys = attribute_keys(model)
        for column_key, value in changes.items():  # onupdate values were not on the row yet
            row.__dict__[keys[column_key]] = value
    mark_saved((*new, *(row for row, _changes in dirty)))

"""Core statements compiled once and run straight through the driver, for a hot path.

SQLAlchemy's execution of an already cached statement still costs about 0.1-0.3 ms of CPU per
call (its cache key, an execution context, parameter processing, result metadata); psycopg's
own `execute` costs less than half of that. A download link is two statements and hardly any
other work, so that difference is a large part of its time (README, "Speed and faults").

The submission's statements go the same way (the version check, the claim with its lead, the
final writes; the consent records with the conversion where the claim drew no ids): about a
tenth of a submission's Python was SQLAlchemy executing statements compiled long before.

`Compiled` keeps the SQL text, the values of the statement's constant parameters already
processed for the driver, the bind processors of the ones given per call, and the names and
result processors of the columns it returns. psycopg gets the text with positional
placeholders and a list in their order: built in one pass, instead of a dict of every value
that psycopg then reorders into a list itself (about 150 values a submission).
`fetch_one` runs it on a SQLAlchemy connection's driver connection (`fetch_mapping`: the
row by column name, values processed as a query's would be, say UTC times); errors come out
as SQLAlchemy's own (`OperationalError` and so on, the connection invalidated when it is
gone), so the app's error handlers answer as for any statement. When anything listens to the
engine's statement events (a test counting statements, `bench.statements`), it goes through
SQLAlchemy instead, which tells them: the statement sent is the same text (with named
placeholders) with the same values.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable, Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.compiler import SQLCompiler

from capture.base import wire
from capture.base.built import built

# A named placeholder as SQLAlchemy renders it for psycopg (paramstyle "pyformat").
_NAMED = re.compile(r"%\(([^)]+)\)s")


class Compiled:
    """`statement` compiled for `dialect`; `given` names the parameters set per call."""

    def __init__(self, statement: sa.ClauseElement, dialect: sa.Dialect, given: Iterable[str] = ()):
        self.dialect = dialect
        compiled = statement.compile(dialect=dialect)
        if not isinstance(compiled, SQLCompiler) or compiled.positiontup:
            raise ValueError("only statements with named parameters are supported")
        if compiled.post_compile_params or compiled.literal_execute_params:
            raise ValueError("only parameters rendered into the statement are supported")
        if compiled.insert_prefetch or compiled.update_prefetch:
            # SQLAlchemy fills those in per execution; give them as values instead.
            missing = [c.key for c in (*compiled.insert_prefetch, *compiled.update_prefetch)]
            raise ValueError(f"columns with Python-side defaults not given: {missing}")
        self.sql = compiled.string
        binds = {name: bind for bind, name in compiled.bind_names.items()}
        per_call = {name for name, bind in binds.items() if bind.required} | set(given)
        self.constants: dict[str, Any] = {}
        self.processors: dict[str, Callable[[Any], Any]] = {}
        constructed = compiled.construct_params(dict.fromkeys(per_call)) or {}
        for name, value in constructed.items():
            process = binds[name].type.dialect_impl(dialect).bind_processor(dialect)
            if name in per_call:
                if process is not None:
                    self.processors[name] = process
            else:
                self.constants[name] = value if process is None else process(value)
        self.names = frozenset(per_call)
        # Each placeholder in order: its constant value, or the name and processor of the value
        # given per call.
        order = _NAMED.findall(self.sql)
        unknown = set(order) - self.constants.keys() - self.names
        if unknown:  # pragma: no cover - escaped bind names (none of ours need escaping)
            raise ValueError(f"placeholders without a parameter: {sorted(unknown)}")
        self.positional_sql = _NAMED.sub("%s", self.sql)
        self.numbered_sql = wire.numbered(self.positional_sql)
        self.slots = tuple(
            (name in self.constants, self.constants.get(name, name), self.processors.get(name))
            for name in order
        )
        self.returned = tuple(getattr(statement, "exported_columns", ()))
        self.columns = tuple(column.key for column in self.returned)
        # Some processors depend on the type the database sends (numbers): made at the first
        # row, from its description.
        self.results: tuple[tuple[int, Callable[[Any], Any]], ...] | None = None

    def _processors(
        self, type_codes: Sequence[Any]
    ) -> tuple[tuple[int, Callable[[Any], Any]], ...]:
        found = []
        for index, (column, code) in enumerate(zip(self.returned, type_codes, strict=True)):
            process = column.type.dialect_impl(self.dialect).result_processor(self.dialect, code)
            if process is not None:
                found.append((index, process))
        return tuple(found)

    def mapping(self, row: Sequence[Any], type_codes: Sequence[Any]) -> dict[str, Any]:
        """`row` by column name, each value as SQLAlchemy's result would give it."""
        if self.results is None:
            self.results = self._processors(type_codes)
        values = list(row)
        for index, process in self.results:
            values[index] = process(values[index])
        return dict(zip(self.columns, values, strict=True))

    def params(self, values: dict[str, Any]) -> dict[str, Any]:
        """Every parameter by name, processed (for SQLAlchemy's `exec_driver_sql`)."""
        self._check(values)
        params = {**self.constants, **{name: values[name] for name in self.names}}
        for name, process in self.processors.items():
            params[name] = process(params[name])
        return params

    def positional(self, values: dict[str, Any]) -> list[Any]:
        """The value of each placeholder of `positional_sql`, in order, processed."""
        self._check(values)
        return [
            value if constant else values[value] if process is None else process(values[value])
            for constant, value, process in self.slots
        ]

    def _check(self, values: dict[str, Any]) -> None:
        missing = self.names - values.keys()
        if missing:
            raise KeyError(f"no value for {sorted(missing)}")


def fetch_one(
    connection: sa.Connection, compiled: Compiled, values: dict[str, Any], commit: bool = False
) -> Any:
    """The first row (a tuple) of a statement that returns rows, or None. `commit`: the
    transaction's COMMIT may go in the same round trip (`wire`); the caller commits the
    session afterwards all the same, which then has nothing left to send."""
    return _fetch(connection, compiled, values, describe=False, commit=commit)[0]


def fetch_mapping(
    connection: sa.Connection, compiled: Compiled, values: dict[str, Any]
) -> dict[str, Any] | None:
    """The first row by column name, values processed; None when there is none."""
    row, type_codes = _fetch(connection, compiled, values, describe=compiled.results is None)
    return None if row is None else compiled.mapping(row, type_codes)


def _fetch(
    connection: sa.Connection,
    compiled: Compiled,
    values: dict[str, Any],
    describe: bool,
    commit: bool = False,
) -> tuple[Any, list[Any]]:
    events = connection.dispatch
    if events.before_cursor_execute or events.after_cursor_execute:
        result = connection.exec_driver_sql(compiled.sql, compiled.params(values))
        # (A row-returning result always has its cursor's description.)
        codes = [d[1] for d in result.cursor.description or ()] if describe else []
        return result.first(), codes
    if connection.get_transaction() is None:
        # SQLAlchemy begins its transaction on a connection's first statement; this one does
        # not go through it, so begin here, or the connection's commit() would not commit.
        connection.begin()
    dbapi_connection = connection.connection.dbapi_connection
    if dbapi_connection is None:  # pragma: no cover - a connection in use always has one
        raise sa.exc.InvalidRequestError("the connection is closed")
    params = compiled.positional(values)
    dialect = connection.dialect
    cursor = None
    try:
        if wire.usable(dbapi_connection):  # psycopg 3: BEGIN in the same round trip
            return wire.fetch(dbapi_connection, compiled.numbered_sql, params, commit, describe)
        cursor = dbapi_connection.cursor()
        cursor.execute(compiled.positional_sql, params)
        # `cursor.description` builds a column object per column: only read the first time,
        # for the result processors (every statement run here returns rows).
        codes = [d[1] for d in cursor.description or ()] if describe else []
        return cursor.fetchone(), codes
    except dialect.loaded_dbapi.Error as error:
        raise sqlalchemy_error(
            connection, error, compiled.positional_sql, params, cursor
        ) from error
    finally:
        if cursor is not None:
            cursor.close()


def sqlalchemy_error(
    connection: sa.Connection, error: Any, sql: str, params: Any, cursor: Any = None
) -> sa.exc.StatementError:
    """The driver's `error` as SQLAlchemy raises it (`OperationalError` and so on), for a
    statement sent past SQLAlchemy on `connection`, which is invalidated when it is gone."""
    dialect = connection.dialect
    gone = dialect.is_disconnect(error, connection.connection.dbapi_connection, cursor)
    if gone:
        connection.invalidate(error)
    return sa.exc.DBAPIError.instance(
        sql, params, error, dialect.loaded_dbapi.Error, connection_invalidated=gone, dialect=dialect
    )


def compiled(key: Hashable, build: Callable[[], sa.ClauseElement], dialect: sa.Dialect) -> Compiled:
    """`build()`'s statement compiled for `dialect`, once per process for `key` (which must
    name everything the statement's shape depends on), in `capture.base.built`'s cache."""
    full = ("compiled", dialect.name, dialect.driver, key)
    return built(full, lambda: Compiled(build(), dialect))

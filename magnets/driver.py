"""Core statements compiled once and run straight through the driver, for a hot path.

SQLAlchemy's execution of an already cached statement still costs about 0.1-0.3 ms of CPU per
call (its cache key, an execution context, parameter processing, result metadata); psycopg's
own `execute` costs less than half of that. A download link is two statements and hardly any
other work, so that difference is a large part of its time (README, "Speed and faults").

`Compiled` keeps the SQL text, the values of the statement's constant parameters already
processed for the driver, and the bind processors of the ones given per call. `fetch_one`
runs it on a SQLAlchemy connection's driver connection; errors come out as SQLAlchemy's own
(`OperationalError` and so on, the connection invalidated when it is gone), so the app's
error handlers answer as for any statement. When anything listens to the engine's statement
events (a test counting statements, `bench.statements`), it goes through SQLAlchemy instead,
which tells them: the statement sent is the same text with the same values.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.compiler import SQLCompiler


class Compiled:
    """`statement` compiled for `dialect`; `given` names the parameters set per call."""

    def __init__(self, statement: sa.ClauseElement, dialect: sa.Dialect, given: Iterable[str] = ()):
        self.dialect = dialect
        compiled = statement.compile(dialect=dialect)
        if not isinstance(compiled, SQLCompiler) or compiled.positiontup:
            raise ValueError("only statements with named parameters are supported")
        if compiled.post_compile_params or compiled.literal_execute_params:
            raise ValueError("only parameters rendered into the statement are supported")
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

    def params(self, values: dict[str, Any]) -> dict[str, Any]:
        missing = self.names - values.keys()
        if missing:
            raise KeyError(f"no value for {sorted(missing)}")
        params = {**self.constants, **{name: values[name] for name in self.names}}
        for name, process in self.processors.items():
            params[name] = process(params[name])
        return params


def fetch_one(connection: sa.Connection, compiled: Compiled, values: dict[str, Any]) -> Any:
    """The first row (a tuple) of a statement that returns rows, or None."""
    params = compiled.params(values)
    events = connection.dispatch
    if events.before_cursor_execute or events.after_cursor_execute:
        return connection.exec_driver_sql(compiled.sql, params).first()
    dbapi_connection = connection.connection.dbapi_connection
    if dbapi_connection is None:  # pragma: no cover - a connection in use always has one
        raise sa.exc.InvalidRequestError("the connection is closed")
    cursor = dbapi_connection.cursor()
    dialect = connection.dialect
    try:
        cursor.execute(compiled.sql, params)
        # (Not `cursor.description`, which builds a column object per column: every
        # statement run here returns rows.)
        return cursor.fetchone()
    except dialect.loaded_dbapi.Error as error:
        gone = dialect.is_disconnect(error, dbapi_connection, cursor)
        if gone:
            connection.invalidate(error)
        raise sa.exc.DBAPIError.instance(
            compiled.sql,
            params,
            error,
            dialect.loaded_dbapi.Error,
            connection_invalidated=gone,
            dialect=dialect,
        ) from error
    finally:
        cursor.close()

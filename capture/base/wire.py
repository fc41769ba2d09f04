"""A compiled statement sent on psycopg's connection at the protocol level, BEGIN folded in.

psycopg starts a transaction by sending `BEGIN` on its own and waiting for the answer before
the first statement: a submission's four round trips were BEGIN, the claim, the final writes
and COMMIT, and on a busy machine each round trip is a wait for the server's process to be
scheduled as well as for the network. Here the first statement of a transaction goes in
libpq's pipeline mode: `BEGIN`, the statement (prepared on first use) and a Sync in one
write, their answers in one read. Every other statement goes the same way without the
`BEGIN`, which skips the cursor's Python layers (query conversion, its prepared-statement
bookkeeping, result selection); the last one of a transaction may carry its `COMMIT`
(`commit=True`, from `capture.base.one_trip.commit_in_one_trip`). A fresh submission is two
round trips.

What stays psycopg's: the connection (its transaction state is libpq's, so psycopg's own
`commit()` and `rollback()` see the transaction begun here), adaptation both ways (its
`Transformer` with the connection's adapters, as a cursor has), waiting (its generators and
`Connection.wait`, notices and notifications included) and errors (`error_from_result`, the
class a cursor would raise). Prepared statements get names of their own (`_lg_<n>`), one per
statement text and parameter types on each connection, as psycopg keys its own. psycopg's
own preparing is off (`capture.base.db`): it deallocates all of a connection's prepared
statements on each rollback, ours included. Should they vanish all the same (someone's
`DEALLOCATE ALL`), a statement that starts its transaction or runs in autocommit is prepared
and sent again (nothing else ran in its transaction, which is rolled back first); one in the
middle of a transaction fails as any statement would, and the next transaction prepares anew.

Used where libpq supports pipeline mode and no pipeline is open already. The `BEGIN` sent is
the one psycopg would send, with the connection's isolation level, read-only and deferrable
settings (SQLAlchemy sets the isolation level back on a connection that ran in autocommit, as
a download link's does).
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Sequence
from typing import Any, TypeGuard

from psycopg import Connection, capabilities, errors, pq
from psycopg.adapt import PyFormat, Transformer
from psycopg.generators import fetch_many, send

_OK = pq.ExecStatus.COMMAND_OK
_ROWS = pq.ExecStatus.TUPLES_OK
_SYNC = pq.ExecStatus.PIPELINE_SYNC
_IDLE = pq.TransactionStatus.IDLE
_PLACEHOLDER = re.compile(rb"%s|%%")

# Per connection: (statement, parameter types) -> name of its prepared statement there.
_prepared: weakref.WeakKeyDictionary[Connection[Any], dict[tuple[bytes, tuple[int, ...]], bytes]]
_prepared = weakref.WeakKeyDictionary()


def numbered(positional_sql: str) -> bytes:
    """`%s` placeholders as `$1`, `$2`...; `%%` as `%` (what psycopg's conversion does)."""
    count = 0

    def replace(match: re.Match[bytes]) -> bytes:
        nonlocal count
        if match.group(0) == b"%%":
            return b"%"
        count += 1
        return b"$%d" % count

    return _PLACEHOLDER.sub(replace, positional_sql.encode())


def usable(connection: Any) -> TypeGuard[Connection[Any]]:
    """Whether `connection` is a psycopg connection this module may drive (no pipeline of
    psycopg's open on it)."""
    return (
        isinstance(connection, Connection)
        and capabilities.has_pipeline()
        and connection.pgconn.pipeline_status == pq.PipelineStatus.OFF
    )


def begin_command(connection: Connection[Any]) -> bytes:
    """The `BEGIN` psycopg sends for this connection's settings."""
    parts = [b"BEGIN"]
    if connection.isolation_level is not None:
        level = connection.isolation_level.name.replace("_", " ")
        parts.append(b"ISOLATION LEVEL " + level.encode())
    if connection.read_only is not None:
        parts.append(b"READ ONLY" if connection.read_only else b"READ WRITE")
    if connection.deferrable is not None:
        parts.append(b"DEFERRABLE" if connection.deferrable else b"NOT DEFERRABLE")
    return b" ".join(parts)


def fetch(
    connection: Connection[Any],
    query: bytes,
    params: Sequence[Any],
    commit: bool = False,
    describe: bool = True,
) -> tuple[tuple[Any, ...] | None, list[int]]:
    """The first row of `query` (`$n` placeholders) and, with `describe`, the type codes of its
    columns, in one round trip, starting a transaction first when psycopg would (not in
    autocommit); with `commit`, the transaction's `COMMIT` goes in the same round trip, after
    the statement (skipped by the server if the statement fails, which then leaves it open and
    aborted)."""
    alone = connection.autocommit or connection.pgconn.transaction_status == _IDLE
    try:
        return _fetch(connection, query, params, commit, describe)
    except errors.InvalidSqlStatementName:
        _prepared.pop(connection, None)  # deallocated under us: prepare them again
        if not alone:
            raise
        if connection.pgconn.transaction_status == pq.TransactionStatus.INERROR:
            connection.rollback()  # the transaction this statement began, nothing else
        return _fetch(connection, query, params, commit, describe)


def _fetch(
    connection: Connection[Any], query: bytes, params: Sequence[Any], commit: bool, describe: bool
) -> tuple[tuple[Any, ...] | None, list[int]]:
    with connection.lock:
        pgconn = connection.pgconn
        transformer = Transformer(connection)
        dumped = transformer.dump_sequence(params, [PyFormat.AUTO] * len(params))
        types = tuple(transformer.types or ())
        names = _prepared.setdefault(connection, {})
        name = names.get((query, types))
        begin = not connection.autocommit and pgconn.transaction_status == _IDLE
        commit = commit and not connection.autocommit
        commands = 1 + begin + (name is None) + commit
        pgconn.enter_pipeline_mode()
        try:
            if begin:
                pgconn.send_query_params(begin_command(connection), None)
            if name is None:
                name = b"_lg_%d" % len(names)
                pgconn.send_prepare(name, query, param_types=types)
            pgconn.send_query_prepared(name, dumped, param_formats=transformer.formats)
            if commit:
                pgconn.send_query_params(b"COMMIT", None)
            pgconn.pipeline_sync()
            answers = connection.wait(_round_trip(pgconn, commands))
        finally:
            _leave_pipeline(connection)
        committed = answers.pop() if commit else None
        for result in answers[:-1]:  # BEGIN and PREPARE: any error is the first to report
            if result.status != _OK:
                raise _error(connection, result)
        names[(query, types)] = name  # prepared now, whatever the statement's fate
        result = answers[-1]
        if result.status != _ROWS:
            raise _error(connection, result)
        if committed is not None and committed.status != _OK:
            raise _error(connection, committed)
        codes = [result.ftype(index) for index in range(result.nfields)] if describe else []
        if not result.ntuples:
            return None, codes
        transformer.set_pgresult(result)
        return transformer.load_row(0, tuple), codes


def _error(connection: Connection[Any], result: pq.abc.PGresult) -> errors.Error:
    """psycopg's exception for a failed result (the encoding is read only then: it costs a
    lookup of the server's parameter on every call)."""
    return errors.error_from_result(result, encoding=connection.info.encoding)


def _leave_pipeline(connection: Connection[Any]) -> None:
    """Back to psycopg's normal mode; a connection that cannot leave it (answers left unread
    after a failed wait) is closed, so the pool drops it rather than reuse it half-way."""
    pgconn = connection.pgconn
    if pgconn.status != pq.ConnStatus.OK:
        return
    try:
        pgconn.exit_pipeline_mode()
    except errors.OperationalError:
        connection.close()


def _round_trip(pgconn: pq.abc.PGconn, commands: int) -> Any:
    """Send what was queued and read one answer per command, then the Sync's."""
    yield from send(pgconn)
    answers = []
    for _command in range(commands):
        results = yield from fetch_many(pgconn)
        if not results:  # pragma: no cover - libpq answers every command in a pipeline
            raise errors.InternalError("a command in the pipeline was not answered")
        answers.append(results[0])
    sync = yield from fetch_many(pgconn)
    if not sync or sync[0].status != _SYNC:  # pragma: no cover - libpq's protocol
        raise errors.InternalError("the pipeline's Sync was not answered")
    return answers

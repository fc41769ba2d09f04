"""Statements compiled once and run straight through psycopg (capture.base.driver), as a
download link and a submission do on PostgreSQL: the same rows and values as through
SQLAlchemy, SQLAlchemy's own errors, a lost connection invalidated, and statement listeners
still told."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from helpers import ON_POSTGRES

from capture.base.db import JSONType, UTCDateTime, db, utcnow
from capture.base.driver import Compiled, fetch_mapping, fetch_one

pytestmark = pytest.mark.skipif(not ON_POSTGRES, reason="the driver path is PostgreSQL's")

MOMENT = sa.bindparam("p_at", type_=UTCDateTime())
STATEMENT = sa.select(
    sa.bindparam("p_n", type_=sa.Integer()) + 1,
    MOMENT + sa.literal(timedelta(days=1), sa.Interval()),
    sa.literal("constant"),
)


def autocommit(app: Flask) -> sa.Connection:
    connection = db.engine.connect()
    connection.execution_options(isolation_level="AUTOCOMMIT")
    return connection


def test_rows_are_those_sqlalchemy_returns(app_context: None, app: Flask) -> None:
    now = utcnow()
    with autocommit(app) as connection:
        compiled = Compiled(STATEMENT, connection.dialect)
        assert compiled.names == {"p_n", "p_at"}
        row = fetch_one(connection, compiled, {"p_n": 41, "p_at": now, "unused": 1})
        expected = connection.execute(STATEMENT, {"p_n": 41, "p_at": now}).one()
    assert tuple(row) == (42, now + timedelta(days=1), "constant") == tuple(expected)
    with pytest.raises(KeyError):
        compiled.params({"p_n": 1})
    with pytest.raises(ValueError):  # bind processors run: a naive time is refused
        compiled.params({"p_n": 1, "p_at": now.replace(tzinfo=None)})


def test_placeholders_become_positional_in_their_order(app_context: None, app: Flask) -> None:
    """psycopg gets `%s` placeholders and a list: a parameter used twice is sent twice, a
    constant in its place, and a literal `%` stays a `%`."""
    number = sa.bindparam("p_n", type_=sa.Integer())
    statement = sa.select(
        number * 10 + number,
        sa.literal("50%") + sa.bindparam("p_text", type_=sa.String()),
        sa.literal_column("'100%'"),
    )
    with autocommit(app) as connection:
        compiled = Compiled(statement, connection.dialect)
        values = {"p_n": 4, "p_text": " off"}
        assert "%(" not in compiled.positional_sql
        assert compiled.positional(values).count(4) == 2
        row = fetch_one(connection, compiled, values)
        assert tuple(row) == tuple(connection.execute(statement, values).one())
    assert tuple(row) == (44, "50% off", "100%")


def test_errors_are_sqlalchemys_and_the_connection_stays_usable(
    app_context: None, app: Flask
) -> None:
    failing = sa.select(sa.literal(1) / sa.bindparam("p_zero", type_=sa.Integer()))
    with autocommit(app) as connection:
        compiled = Compiled(failing, connection.dialect)
        with pytest.raises(sa.exc.DataError) as raised:
            fetch_one(connection, compiled, {"p_zero": 0})
        assert not raised.value.connection_invalidated
        assert tuple(fetch_one(connection, compiled, {"p_zero": 1})) == (1,)


def test_a_lost_connection_is_invalidated_and_reported_as_operational(
    app_context: None, app: Flask
) -> None:
    """What the app's error handler answers with 503 and Retry-After; the pool reconnects."""
    with autocommit(app) as connection:
        compiled = Compiled(STATEMENT, connection.dialect)
        pid = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
        with db.engine.connect() as other:
            other.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        with pytest.raises(sa.exc.OperationalError) as raised:
            fetch_one(connection, compiled, {"p_n": 1, "p_at": utcnow()})
        assert raised.value.connection_invalidated
        assert connection.invalidated
    with autocommit(app) as connection:
        assert fetch_one(
            connection, Compiled(STATEMENT, connection.dialect), {"p_n": 1, "p_at": utcnow()}
        )


def test_statement_listeners_see_the_statement_and_its_values(
    app_context: None, app: Flask
) -> None:
    seen: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        seen.append((statement, parameters))

    with autocommit(app) as connection:
        compiled = Compiled(STATEMENT, connection.dialect)
        sa.event.listen(db.engine, "before_cursor_execute", record)
        try:
            row = fetch_one(connection, compiled, {"p_n": 1, "p_at": utcnow()})
        finally:
            sa.event.remove(db.engine, "before_cursor_execute", record)
    assert row[0] == 2
    assert seen == [(compiled.sql, compiled.params({"p_n": 1, "p_at": seen[0][1]["p_at"]}))]


TYPED = sa.select(
    sa.cast(sa.bindparam("p_ratio", type_=sa.Float()), sa.Numeric(asdecimal=False)).label("ratio"),
    sa.bindparam("p_at", type_=UTCDateTime()).label("at"),
    sa.literal(
        {"a": [1]}, sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), "postgresql")
    ).label("document"),
)


@pytest.mark.parametrize("listened", [False, True], ids=["driver", "through SQLAlchemy"])
def test_mappings_are_what_sqlalchemy_gives(app_context: None, app: Flask, listened: bool) -> None:
    """Values processed by their column types as a query's are: a numeric the database sends
    as `numeric` comes back a float, a time in another session time zone comes back in UTC."""
    now = utcnow()
    values = {"p_ratio": 0.25, "p_at": now}

    def record(*args: Any) -> None:
        pass

    with autocommit(app) as connection:
        connection.exec_driver_sql("SET TIME ZONE 'Europe/Copenhagen'")
        compiled = Compiled(TYPED, connection.dialect)
        if listened:
            sa.event.listen(db.engine, "before_cursor_execute", record)
        try:
            first = fetch_mapping(connection, compiled, values)
            again = fetch_mapping(connection, compiled, values)  # processors kept from the first
        finally:
            if listened:
                sa.event.remove(db.engine, "before_cursor_execute", record)
        expected = dict(connection.execute(TYPED, values).mappings().one())
    assert first == again == expected == {"ratio": 0.25, "at": now, "document": {"a": [1]}}
    assert isinstance(first["ratio"], float) and first["at"].utcoffset() == timedelta(0)


def test_python_side_defaults_must_be_given(app_context: None, app: Flask) -> None:
    """SQLAlchemy fills those in per execution; a statement compiled once has nobody to."""
    table = sa.Table(
        "t",
        sa.MetaData(),
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("n", sa.Integer, default=0),
        sa.Column("name", sa.String),
    )
    insert = sa.insert(table).values(name=sa.bindparam("p_name")).returning(table.c.id)
    with pytest.raises(ValueError, match="'n'"):
        Compiled(insert, db.engine.dialect)
    Compiled(insert.values(n=sa.bindparam("p_n")), db.engine.dialect)  # given: fine


def test_a_transaction_begun_with_the_first_statement_commits_and_rolls_back(
    app_context: None, app: Flask
) -> None:
    """The first statement of a transaction carries its BEGIN (capture.base.wire): what it
    writes is committed by the connection's commit and undone by its rollback, as after a
    BEGIN of psycopg's own."""
    db.session.execute(sa.text("CREATE TABLE IF NOT EXISTS wire_probe (n integer)"))
    db.session.commit()
    insert = sa.text("INSERT INTO wire_probe (n) VALUES (:p_n) RETURNING n").bindparams(
        sa.bindparam("p_n", type_=sa.Integer())
    )
    count = "SELECT count(*) FROM wire_probe"
    with db.engine.connect() as connection:
        compiled = Compiled(insert.columns(n=sa.Integer()), connection.dialect)
        assert tuple(fetch_one(connection, compiled, {"p_n": 1})) == (1,)
        assert connection.connection.dbapi_connection.info.transaction_status.name == "INTRANS"
        connection.rollback()
        assert tuple(fetch_one(connection, compiled, {"p_n": 2})) == (2,)
        connection.commit()
    with db.engine.connect() as connection:
        assert connection.exec_driver_sql(count).scalar_one() == 1
        assert connection.exec_driver_sql("SELECT n FROM wire_probe").scalar_one() == 2
        connection.exec_driver_sql("DROP TABLE wire_probe")
        connection.commit()


def test_errors_inside_a_transaction_leave_the_connection_usable(
    app_context: None, app: Flask
) -> None:
    """A statement refused by the server (its BEGIN in the same round trip), and one that
    cannot even be prepared: SQLAlchemy's errors, and after a rollback the connection works."""
    failing = sa.select(sa.literal(1) / sa.bindparam("p_zero", type_=sa.Integer()))
    unknown = sa.select(sa.column("no_such_column")).select_from(sa.table("pg_class"))
    with db.engine.connect() as connection:
        dividing = Compiled(failing, connection.dialect)
        with pytest.raises(sa.exc.DataError):
            fetch_one(connection, dividing, {"p_zero": 0})
        connection.rollback()
        with pytest.raises(sa.exc.ProgrammingError):
            fetch_one(connection, Compiled(unknown, connection.dialect), {})
        connection.rollback()
        assert tuple(fetch_one(connection, dividing, {"p_zero": 1})) == (1,)
        # the same text with a NULL: other parameter types, its own prepared statement
        assert tuple(fetch_one(connection, dividing, {"p_zero": None})) == (None,)
        connection.rollback()


def test_a_connection_lost_inside_a_transaction_is_invalidated(
    app_context: None, app: Flask
) -> None:
    with db.engine.connect() as connection:
        compiled = Compiled(STATEMENT, connection.dialect)
        assert fetch_one(connection, compiled, {"p_n": 1, "p_at": utcnow()})
        pid = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
        with db.engine.connect() as other:
            other.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            other.commit()
        with pytest.raises(sa.exc.OperationalError) as raised:
            fetch_one(connection, compiled, {"p_n": 1, "p_at": utcnow()})
        assert raised.value.connection_invalidated


def _ours_prepared(connection: sa.Connection) -> int:
    return connection.exec_driver_sql(
        "SELECT count(*) FROM pg_prepared_statements WHERE starts_with(name, '_lg_')"
    ).scalar_one()


def test_prepared_statements_outlive_a_rollback(app_context: None, app: Flask) -> None:
    """psycopg's own preparing is off (capture.base.db): it would deallocate every prepared
    statement of the connection on a rollback, ours with them, once it had prepared a query
    run five times."""
    with db.engine.connect() as connection:
        compiled = Compiled(STATEMENT, connection.dialect)
        fetch_one(connection, compiled, {"p_n": 1, "p_at": utcnow()})
        for _ in range(6):
            connection.exec_driver_sql("SELECT 1").scalar_one()
        connection.rollback()
        assert _ours_prepared(connection) == 1
        connection.rollback()


def test_statements_deallocated_under_us_are_prepared_again(app_context: None, app: Flask) -> None:
    """A statement that begins its transaction is sent again, prepared anew; one in the middle
    of a transaction fails like any statement, and the next transaction prepares it anew."""
    with db.engine.connect() as connection:
        compiled = Compiled(STATEMENT, connection.dialect)
        values = {"p_n": 1, "p_at": utcnow()}
        assert fetch_one(connection, compiled, values)[0] == 2
        connection.commit()
        connection.exec_driver_sql("DEALLOCATE ALL")
        connection.commit()
        assert fetch_one(connection, compiled, values)[0] == 2  # begins its transaction
        connection.exec_driver_sql("DEALLOCATE ALL")
        with pytest.raises(sa.exc.ProgrammingError):
            fetch_one(connection, compiled, values)  # mid-transaction
        connection.rollback()
        assert fetch_one(connection, compiled, values)[0] == 2
        assert _ours_prepared(connection) == 1
        connection.rollback()


def test_a_statement_can_carry_its_transactions_commit(app_context: None, app: Flask) -> None:
    """`commit=True`: the COMMIT goes with the statement; the connection's own commit() then
    has nothing to send. A statement that fails takes its COMMIT with it: nothing is kept."""
    db.session.execute(sa.text("CREATE TABLE IF NOT EXISTS wire_commit (n integer)"))
    db.session.commit()
    insert = sa.text("INSERT INTO wire_commit (n) VALUES (10 / :p_n) RETURNING n").bindparams(
        sa.bindparam("p_n", type_=sa.Integer())
    )
    count = "SELECT count(*) FROM wire_commit"
    try:
        with db.engine.connect() as connection, db.engine.connect() as other:
            compiled = Compiled(insert.columns(n=sa.Integer()), connection.dialect)
            assert tuple(fetch_one(connection, compiled, {"p_n": 2}, commit=True)) == (5,)
            assert other.exec_driver_sql(count).scalar_one() == 1  # committed already
            other.rollback()
            connection.commit()
            with pytest.raises(sa.exc.DataError):
                fetch_one(connection, compiled, {"p_n": 0}, commit=True)
            connection.rollback()
            assert other.exec_driver_sql(count).scalar_one() == 1
            other.rollback()
    finally:
        db.session.execute(sa.text("DROP TABLE wire_commit"))
        db.session.commit()


JSONB = sa.bindparam("p_doc", type_=JSONType)


@pytest.mark.parametrize(
    "document",
    [
        {"name": "Åse Ørsted", "tags": ["a", "b"], "n": 3, "x": 1.5, "none": None},
        {"huge": 2**70},  # beyond orjson's 64 bits: the standard library writes it
        {"lone": "\ud800"},  # not UTF-8: refused by both writers, so by PostgreSQL too
        {1: "int keys"},  # orjson refuses them; json.dumps writes them as strings
    ],
)
def test_jsonb_values_survive_whichever_writer_takes_them(
    app_context: None, app: Flask, document: dict[Any, Any]
) -> None:
    """The app's connections write JSONB with orjson (capture.base.db.dump_json); what
    orjson refuses goes through json.dumps, so the values stored are the standard library's."""
    statement = sa.select(JSONB)
    expected = json.loads(json.dumps(document))
    with autocommit(app) as connection:
        if "lone" in document:
            with pytest.raises(sa.exc.DataError):
                connection.execute(statement, {"p_doc": document})
            return
        stored = connection.execute(statement, {"p_doc": document}).scalar_one()
        driven = fetch_one(connection, Compiled(statement, connection.dialect), {"p_doc": document})
    assert stored == driven[0] == expected

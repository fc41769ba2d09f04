"""The database handle, the declarative base and the column types every model shares."""

from __future__ import annotations

import base64
import json
import logging
import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING, Any, TypeVar

import orjson
import psycopg
import sqlalchemy as sa
from flask import Flask
from flask.globals import _cv_app
from flask_sqlalchemy import SQLAlchemy
from psycopg import _queries as psycopg_queries
from psycopg.types.json import set_json_dumps, set_json_loads
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, registry

M = TypeVar("M", bound="Base")

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# JSONB on PostgreSQL (indexable, compact), plain JSON text elsewhere.
JSONType = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(sa.TypeDecorator[datetime]):
    """Timezone-aware UTC on every backend; SQLite would otherwise hand back naive values."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use capture.base.db.utcnow()")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    registry = registry(
        metadata=sa.MetaData(naming_convention=NAMING_CONVENTION),
        type_annotation_map={datetime: UTCDateTime, dict[str, Any]: JSONType},
    )


def app_context_id() -> int:
    """The session's scope: the app context, as Flask-SQLAlchemy's own scope function has it,
    read from Flask's context variable instead of through the `app_ctx` proxy. `db.session`
    asks for it on every use, about forty times a submission; through the proxy that was
    about 1 % of the request's CPU."""
    try:
        return id(_cv_app.get())
    except LookupError:
        raise RuntimeError("Working outside of application context.") from None


db = SQLAlchemy(model_class=Base, session_options={"scopefunc": app_context_id})
if TYPE_CHECKING:
    # To mypy `db.Model` is an attribute, not a class it can check subclasses of: models
    # derive from `Model`, which is `db.Model` at run time and our `Base` to the checker.
    Model = Base
else:
    Model = db.Model
log = logging.getLogger(__name__)


def discard_session() -> None:
    """Roll back the request's session without ever raising.

    Called where the database has just failed (it may be restarting): a rollback on a dead
    connection raises too, and out of an error handler or a teardown that exception would
    replace a clean 503 with a bare 500. The connection is invalidated instead, so the pool
    reconnects on the next checkout.
    """
    try:
        db.session.rollback()
    except sa.exc.SQLAlchemyError as error:
        log.warning("rollback failed, connection dropped: %s", type(error).__name__)
        try:
            db.session().invalidate()
        except sa.exc.SQLAlchemyError:  # pragma: no cover - closing a dead socket
            log.warning("invalidating the session failed too")


# psycopg turns `%(name)s` placeholders into `$1` once per statement text and keeps the result
# (an LRU of 128) only for texts up to 4,096 characters with up to 50 parameters; others are
# split with a regular expression on every execution. The download's one statement is about
# 12,000 characters with more parameters than that: about 9 ms of CPU per download, more than
# everything else it does. Statements here are built once and reused, so caching them all
# costs at most 128 entries. (Module settings of psycopg's; without them nothing changes.)
STATEMENT_CACHE_LIMITS = {"MAX_CACHED_STATEMENT_LENGTH": 65536, "MAX_CACHED_STATEMENT_PARAMS": 500}


def _cache_long_statements() -> None:
    for name, limit in STATEMENT_CACHE_LIMITS.items():
        if getattr(psycopg_queries, name, limit) < limit:
            setattr(psycopg_queries, name, limit)


def _prepare_nothing(dbapi_connection: Any, _record: Any) -> None:
    """psycopg prepares a statement on its fifth run and deallocates every prepared statement
    of the connection on each rollback (a read-only request ends in one), so its prepared
    statements hardly outlived a request that was not a write, and took ours
    (`capture.base.wire`, for the hot paths) with them. Off: only ours are prepared."""
    if hasattr(dbapi_connection, "prepare_threshold"):
        dbapi_connection.prepare_threshold = None


def dump_json(value: Any) -> bytes | str:
    """JSON for a JSONB parameter: orjson's, else the standard library's.

    A submission sends about ten JSON values (its fields, consents, answer, attribution...):
    `json.dumps` builds an encoder on every call, orjson does not, which is about 3 % of a
    submission's CPU. JSONB keeps values, not text, so the two writers' different spacing and
    escaping store the same thing. What orjson refuses (integers beyond 64 bits, keys that are
    not strings, lone surrogates) goes through `json.dumps` as before.
    """
    try:
        return orjson.dumps(value)
    except TypeError:  # orjson.JSONEncodeError is one
        return json.dumps(value)


def load_json(data: bytes | str) -> Any:
    """A JSONB result read by orjson; what it refuses (an integer beyond 64 bits) by `json`."""
    try:
        return orjson.loads(data)
    except ValueError:  # orjson.JSONDecodeError is one
        return json.loads(data)


def _fast_json(dbapi_connection: Any, _record: Any) -> None:
    """JSONB parameters of this connection written by `dump_json` (psycopg's adapters are
    per connection, so no other engine in the process is touched)."""
    if isinstance(dbapi_connection, psycopg.Connection):
        set_json_dumps(dump_json, dbapi_connection)
        set_json_loads(load_json, dbapi_connection)


def init_app(app: Flask) -> None:
    db.init_app(app)
    if str(app.config.get("SQLALCHEMY_DATABASE_URI", "")).startswith("postgres"):
        _cache_long_statements()
        on_connect(app, _prepare_nothing)
        on_connect(app, _fast_json)

    # Registered after Flask-SQLAlchemy's own teardown, so it runs first (teardowns run in
    # reverse): the session is released here without raising, and the extension's own
    # `session.remove()` finds nothing left to close.
    @app.teardown_appcontext
    def release_session(_exc: BaseException | None) -> None:
        if db.session.registry.has():
            discard_session()  # never raises, and leaves close() nothing to roll back
            db.session.remove()


def on_connect(app: Flask, listener: Callable[[Any, Any], None]) -> None:
    """Run `listener(dbapi_connection, record)` on each new connection of this app's engines.

    Attached to the app's own engines, not to the `Engine` class: importing a module never
    changes every engine in the process (other apps, other tests, other libraries).
    """
    with app.app_context():
        for engine in db.engines.values():
            sa.event.listen(engine, "connect", listener)


def new_public_id(prefix: str) -> str:
    """An opaque, random id such as `lead_3mb7...`: never a sequential database id."""
    raw = base64.b32encode(secrets.token_bytes(15)).decode().lower()
    return f"{prefix}_{raw}"


class Timestamped:
    """Creation and update times, set by callables so each row gets its own."""

    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


def render_migration_item(type_: str, obj: Any, autogen_context: Any) -> str | bool:
    """Write our column types into migrations as plain SQLAlchemy, so migrations never
    import application code."""
    if type_ != "type":
        return False
    if isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    if isinstance(obj, sa.JSON) and obj._variant_mapping:
        autogen_context.imports.add("from sqlalchemy.dialects import postgresql")
        return "sa.JSON().with_variant(postgresql.JSONB(), 'postgresql')"
    return False


def table_of(model: type[Any]) -> sa.Table:
    """A model's table, typed as the `Table` it is (declarative types `__table__` as any
    FromClause, which `insert()` and `update()` do not take)."""
    table = model.__table__
    if not isinstance(table, sa.Table):  # pragma: no cover - every model here maps a table
        raise TypeError(f"{model.__name__} is not mapped to a table")
    return table


@cache
def _column_attributes(model: type[Any]) -> frozenset[str]:
    return frozenset(prop.key for prop in sa.inspect(model).column_attrs)


@cache
def _manager(model: type[Any]) -> Any:
    return sa.inspect(model).class_manager


def fresh(model: type[M], **values: Any) -> M:
    """A new `model` row holding `values` (column attributes only), its values put straight
    into its dict as a loader does, without the attribute events of `model(**values)`: a row
    never loaded has no history to keep, and a flush inserts what its dict holds. On the
    submission path, made five times a request, those events cost more than the rest."""
    unknown = values.keys() - _column_attributes(model)
    if unknown:
        raise TypeError(f"{sorted(unknown)} are not column attributes of {model.__name__}")
    row: M = _manager(model).new_instance()
    row.__dict__.update(values)
    return row


def is_postgresql() -> bool:
    return db.engine.dialect.name == "postgresql"

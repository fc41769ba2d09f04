"""Per-process caches of what rarely changes (forms, partner origins, webhook endpoints).

Every write to a watched table bumps one counter, `config_versions.version`, in the database
itself: a trigger (PostgreSQL: one per statement; SQLite: one per row), so an edit through the
back office, the API, the CLI, another app node or plain SQL is never missed. A reader asks for
that counter once per transaction (one primary-key read of a one-row table) and keeps using what
it cached under the same value; any other value reloads. The edit's transaction commits the
counter with the edit, so the first request that starts after a form edit commits sees it.

Within a transaction that itself changes a watched row the memo is forgotten at the flush, so
its own later reads see its edit too.

A submission through the API does not spend a round trip on the check (`assuming`): it uses
what this process holds, under the newest version it has seen, and its claim statement reads
the counter in the same statement (`confirm`). Had it moved, the request is rolled back and
done again from the start (`SettledChanged`), so no answer is ever made from a stale form.
Whatever else such a transaction does is checked too: before anything that leaves the
database (a CAPTCHA's one-time answer), before an error answer, and before its commit
(`verify`, one query when nothing confirmed it yet).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Mapped, Session, SessionTransaction, mapped_column

from capture.base.context import this_app
from capture.base.db import Model, db, table_of
from capture.base.driver import compiled, fetch_one
from capture.base.personal import NotPersonal

T = TypeVar("T")

VERSION_MEMO = "leadgate.config_version"
OWN_EDITS = "leadgate.config_edited"
EXTENSION = "leadgate.settled"
ASSUMING = "leadgate.config_assuming"
ASSUMED = "leadgate.config_assumed"


class ConfigVersion(Model):
    """One row: bumped by triggers on every write to a watched table (see `watch`)."""

    __tablename__ = "config_versions"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    version: Mapped[int] = mapped_column(sa.BigInteger, default=0)

    __privacy__ = NotPersonal(keep=(), why="a counter")


BUMP = (
    "INSERT INTO config_versions (id, version) VALUES (1, 1) "
    "ON CONFLICT (id) DO UPDATE SET version = config_versions.version + 1"
)
POSTGRES_FUNCTION = f"""
CREATE OR REPLACE FUNCTION bump_config_version() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  {BUMP};
  RETURN NULL;
END
$$
"""


def postgres_trigger(table: str) -> str:
    return (
        f"CREATE TRIGGER {table}_config_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
        f"ON {table} FOR EACH STATEMENT EXECUTE FUNCTION bump_config_version()"
    )


def sqlite_triggers(table: str) -> list[str]:
    return [
        f"CREATE TRIGGER {table}_config_version_{op.lower()} AFTER {op} ON {table} "
        f"BEGIN {BUMP}; END"
        for op in ("INSERT", "UPDATE", "DELETE")
    ]


event.listen(
    ConfigVersion.__table__,
    "after_create",
    sa.DDL(POSTGRES_FUNCTION).execute_if(dialect="postgresql"),
)
WATCHED: set[str] = set()


def watch(model: type[Any]) -> None:
    """Create the triggers that bump the counter with `model`'s table (`create_all`; the
    migration 0012_speed writes the same statements)."""
    table = table_of(model)
    WATCHED.add(table.name)
    # The function lives with config_versions, which create_all makes first (no foreign keys
    # order it, so depend on it explicitly).
    table.add_is_dependent_on(table_of(ConfigVersion))
    event.listen(
        table,
        "after_create",
        sa.DDL(postgres_trigger(table.name)).execute_if(dialect="postgresql"),
    )
    for statement in sqlite_triggers(table.name):
        event.listen(table, "after_create", sa.DDL(statement).execute_if(dialect="sqlite"))


# Built once: a new select per call costs a walk of it for the compiled-statement cache key.
_VERSION_QUERY = sa.select(ConfigVersion.__table__.c.version).where(
    ConfigVersion.__table__.c.id == 1
)


def current_version() -> int:
    """The counter as this transaction sees it, read once per transaction (or assumed, see
    `assuming`)."""
    session = db.session()
    memo = session.info.get(VERSION_MEMO)
    if memo is None and session.info.get(ASSUMING):
        caches: Settled | None = this_app().extensions.get(EXTENSION)
        if caches is not None and caches.latest is not None:
            session.info[VERSION_MEMO] = session.info[ASSUMED] = caches.latest
            return caches.latest
    if memo is None:
        memo = session.info[VERSION_MEMO] = _read_version(session)
    return memo


def _read_version(session: Session) -> int:
    """The counter as a new statement of this transaction sees it. Core on the session's
    connection: no autoflush writes the caller's pending changes early."""
    connection = session.connection()
    if connection.dialect.name == "postgresql":  # straight through the driver
        statement = compiled("config_version", lambda: _VERSION_QUERY, connection.dialect)
        row = fetch_one(connection, statement, {})
        return int(row[0] if row else 0)
    return int(connection.scalar(_VERSION_QUERY) or 0)


class Settled:
    """One app's caches: name -> (version, value). Values must be immutable or copied out."""

    def __init__(self) -> None:
        self.values: dict[str, tuple[int, Any]] = {}
        self.lock = threading.Lock()
        self.latest: int | None = None  # the newest version read by this process


def settled(name: str, load: Callable[[], T]) -> T:
    """`load()`'s value, cached per app until any watched table changes."""
    if db.session().info.get(OWN_EDITS):
        # This transaction changed a watched row: what it reads may yet be rolled back.
        return load()
    caches: Settled = this_app().extensions.setdefault(EXTENSION, Settled())
    version = current_version()
    held = caches.values.get(name)
    if held is not None and held[0] == version:
        return held[1]
    value = load()  # read after the version: at least as new as it, never older
    with caches.lock:
        caches.values[name] = (version, value)
        if caches.latest is None or version > caches.latest:
            caches.latest = version
    return value


class SettledChanged(Exception):
    """A transaction used cached values under an assumed version, and the counter had moved:
    roll it back and do the request again."""


@contextmanager
def assuming() -> Iterator[None]:
    """Let this request use the caches under the newest version this process has seen,
    without reading the counter first (PostgreSQL, where the claim reads it in its own
    statement). Raises `SettledChanged` when the assumption was wrong; an error answer
    made meanwhile is checked before it leaves."""
    session = db.session()
    if session.get_bind().dialect.name != "postgresql":
        yield
        return
    session.info[ASSUMING] = True
    try:
        yield
    except SettledChanged:
        raise
    except IntegrityError as error:
        # A row of a form deleted meanwhile (its id no longer exists): the transaction is
        # aborted, so the counter is read in a new one.
        assumed = session.info.get(ASSUMED)
        if assumed is not None:
            session.rollback()
            if _read_version(session) != assumed:
                raise SettledChanged from error
        raise
    except SQLAlchemyError:
        raise
    except Exception:
        verify()  # a 404, 410 or 422 from a stale form must not be answered
        raise
    finally:
        session.info.pop(ASSUMING, None)


def confirm(actual: int) -> None:
    """The counter as a statement of this transaction read it: the end of an assumption."""
    session = db.session()
    assumed = session.info.pop(ASSUMED, None)
    if assumed is not None and assumed != actual:
        raise SettledChanged
    session.info[VERSION_MEMO] = actual


def verify() -> None:
    """Read the counter if this transaction assumed it and nothing confirmed it yet."""
    session = db.session()
    if ASSUMED in session.info:
        confirm(_read_version(session))


# Read in the claim's statement (capture.submissions.claim), beside what it writes.
VERSION_COLUMN = (
    sa.select(ConfigVersion.__table__.c.version)
    .where(ConfigVersion.__table__.c.id == 1)
    .scalar_subquery()
    .label("config_version")
)


@event.listens_for(Session, "before_commit")
def _verify_before_commit(session: Session) -> None:
    if ASSUMED in session.info:
        verify()


@event.listens_for(Session, "after_transaction_end")
def _forget_version(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        session.info.pop(VERSION_MEMO, None)
        session.info.pop(OWN_EDITS, None)
        session.info.pop(ASSUMED, None)


@event.listens_for(Session, "before_flush")
def _note_own_edits(session: Session, context: object, instances: object) -> None:
    for instance in (*session.new, *session.dirty, *session.deleted):
        if getattr(type(instance), "__tablename__", None) in WATCHED:
            session.info.pop(VERSION_MEMO, None)
            session.info[OWN_EDITS] = True
            return

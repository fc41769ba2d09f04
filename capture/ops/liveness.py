"""A pooled PostgreSQL connection's liveness, checked without a round trip to the server.

`pool_pre_ping` sends a query on every checkout: one round trip per request, the price of
noticing a restarted server before using a dead connection. An idle connection has nothing
to read, so if its socket is readable the server has said goodbye (a restart sends a FATAL
notice and closes it) and the pool takes a fresh one. A connection that died silently (a
network gone away) fails on its first statement instead: that request answers 503, and
SQLAlchemy, seeing the disconnect, discards every connection made before it.
"""

from __future__ import annotations

import select
from typing import Any

import sqlalchemy as sa
from flask import Flask
from sqlalchemy.exc import DisconnectionError

from capture.base.db import db


def server_said_goodbye(dbapi_connection: Any) -> bool:
    """True when an idle psycopg connection has something to read: a notice that it is over."""
    pgconn = getattr(dbapi_connection, "pgconn", None)
    if pgconn is None:  # SQLite and other drivers: nothing to check
        return False
    try:
        socket = pgconn.socket
    except Exception:  # psycopg raises OperationalError once the connection is closed
        return True
    try:
        if hasattr(select, "poll"):  # no FD_SETSIZE limit: a busy process may hold fd > 1023
            poller = select.poll()
            poller.register(socket, select.POLLIN)
            return bool(poller.poll(0))
        readable, _, _ = select.select([socket], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


def _check_on_checkout(dbapi_connection: Any, record: Any, proxy: Any) -> None:
    if server_said_goodbye(dbapi_connection):
        raise DisconnectionError("the server closed this connection while it was idle")


def init_app(app: Flask) -> None:
    """Check on every checkout from this app's pools (not from every pool in the process)."""
    with app.app_context():
        for engine in db.engines.values():
            sa.event.listen(engine, "checkout", _check_on_checkout)

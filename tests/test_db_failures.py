"""A connection that dies mid-request (PostgreSQL restarted, a backend killed) must end in the
contract's 503 or in the answer already made, never in an exception escaping Flask: the server
would send its own bare 500 instead.

The routes are added to this test's app only; the connection is killed with
`pg_terminate_backend`, exactly what a restart does to every open connection.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
import requests
import sqlalchemy as sa
from flask import Flask

from capture.base.db import db

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        not os.environ.get("TEST_DATABASE_URL", "").startswith("postgres"),
        reason="killing a server backend needs PostgreSQL: set TEST_DATABASE_URL",
    ),
]


def kill_own_backend() -> None:
    pid = db.session.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()
    with db.engine.connect() as other:
        other.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})


@pytest.fixture
def dying(app: Flask) -> Flask:
    @app.get("/api/v1/_test/dies-after-answer")
    def dies_after_answer() -> Any:
        kill_own_backend()  # the transaction stays open: teardown must roll back a dead link
        return {"answered": True}

    @app.get("/api/v1/_test/dies-mid-query")
    def dies_mid_query() -> Any:
        kill_own_backend()
        db.session.execute(sa.text("SELECT 1"))
        return {"answered": True}

    @app.get("/api/v1/_test/bug")
    def bug() -> Any:
        db.session.execute(sa.text("SELECT * FROM no_such_table"))
        return {"answered": True}

    return app


def test_a_connection_lost_before_teardown_keeps_the_answer(dying, live_server):
    response = requests.get(f"{live_server.url}/api/v1/_test/dies-after-answer", timeout=10)
    assert response.status_code == 200
    assert response.json() == {"answered": True}
    # The pool dropped the dead connection: the next request works.
    again = requests.get(f"{live_server.url}/api/v1/_test/dies-after-answer", timeout=10)
    assert again.status_code == 200


def test_a_connection_lost_mid_query_answers_503_in_the_contract_shape(dying, live_server):
    response = requests.get(f"{live_server.url}/api/v1/_test/dies-mid-query", timeout=10)
    assert response.status_code == 503
    assert response.headers["Retry-After"].isdigit()
    assert response.json()["error"]["code"] == "unavailable"
    assert "Traceback" not in response.text and "psycopg" not in response.text


def test_a_programming_error_is_a_500_not_an_outage(dying, live_server):
    """A 503 would send every client into retries for a bug that will not go away."""
    response = requests.get(f"{live_server.url}/api/v1/_test/bug", timeout=10)
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "internal_error"
    assert "no_such_table" not in response.text and "Retry-After" not in response.headers

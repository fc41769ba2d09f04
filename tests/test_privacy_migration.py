"""Migration 0009_privacy: plain SHA-256 suppression entries are dropped, their rows kept."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from capture.db import db
from wsgi import create_app


@pytest.fixture
def migrated_app(app_config: dict[str, Any], empty_database: str) -> Iterator[Flask]:
    manager = logging.root.manager
    disabled = {name for name, lg in manager.loggerDict.items() if getattr(lg, "disabled", False)}
    handlers, level = list(logging.root.handlers), logging.root.level
    app = create_app({**app_config, "SQLALCHEMY_DATABASE_URI": empty_database})
    yield app
    with app.app_context():
        db.engine.dispose()
    # Alembic's env.py disables every existing logger: put them back for later tests.
    for name, lg in manager.loggerDict.items():
        if isinstance(lg, logging.Logger):
            lg.disabled = name in disabled
    logging.root.handlers[:] = handlers
    logging.root.setLevel(level)


def test_plain_hashes_are_dropped_and_the_rows_stay_as_counts(migrated_app):
    runner = migrated_app.test_cli_runner()
    assert runner.invoke(args=["db", "upgrade", "0008"]).exit_code == 0
    plain = hashlib.sha256(b"ane.hansen@firma.dk").hexdigest()
    with migrated_app.app_context(), db.engine.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO suppressions (email_sha256, lead_public_id, erased_at)"
                " VALUES (:digest, 'lead_old', CURRENT_TIMESTAMP)"
            ),
            {"digest": plain},
        )
    upgraded = runner.invoke(args=["db", "upgrade", "0009_privacy"])
    assert upgraded.exit_code == 0, upgraded.output
    with migrated_app.app_context(), db.engine.connect() as connection:
        columns = {c["name"] for c in sa.inspect(connection).get_columns("suppressions")}
        rows = connection.execute(
            sa.text("SELECT lead_public_id, email_hmac FROM suppressions")
        ).all()
    assert "email_sha256" not in columns
    assert [tuple(row) for row in rows] == [("lead_old", None)]
    down = runner.invoke(args=["db", "downgrade", "0008"])
    assert down.exit_code == 0, down.output

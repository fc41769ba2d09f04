"""Migration 0009_privacy: plain SHA-256 suppression entries are dropped, their rows kept."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from capture.base.db import db
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
        _erased_lead_with_a_link(connection)
    upgraded = runner.invoke(args=["db", "upgrade", "0009_privacy"])
    assert upgraded.exit_code == 0, upgraded.output
    with migrated_app.app_context(), db.engine.connect() as connection:
        columns = {c["name"] for c in sa.inspect(connection).get_columns("suppressions")}
        rows = connection.execute(
            sa.text("SELECT lead_public_id, email_hmac FROM suppressions")
        ).all()
        grants = connection.execute(sa.text("SELECT revoked_by FROM download_grants")).all()
        downloads = connection.execute(sa.text("SELECT ip, user_agent FROM downloads")).all()
    assert "email_sha256" not in columns
    assert [tuple(row) for row in rows] == [("lead_old", None)]
    # People erased before: their links are revoked and their downloads anonymous now.
    assert [tuple(row) for row in grants] == [("erasure",)]
    assert [tuple(row) for row in downloads] == [(None, None)]
    down = runner.invoke(args=["db", "downgrade", "0008"])
    assert down.exit_code == 0, down.output


def _erased_lead_with_a_link(connection: sa.Connection) -> None:
    rows = {
        "leads": {
            "id": "1", "public_id": "'lead_old'", "email": "'erased-lead_old@erased.invalid'",
            "properties": "'{}'", "lifecycle_stage": "'lead'", "score": "0",
            "temperature": "'cold'", "source": "'inbound'", "first_touch": "'{}'",
            "last_touch": "'{}'", "last_activity_at": "CURRENT_TIMESTAMP",
            "engagement_score": "0", "fit_score": "0", "engagement_at": "CURRENT_TIMESTAMP",
            "erased_at": "CURRENT_TIMESTAMP", "created_at": "CURRENT_TIMESTAMP",
            "updated_at": "CURRENT_TIMESTAMP",
        },
        "magnets": {
            "id": "1", "public_id": "'mag_1'", "slug": "'guide'", "title": "'Guide'",
            "description": "''", "kind": "'ebook'", "language": "'en'", "status": "'published'",
            "link_lifetime_days": "7", "noindex": "false", "created_at": "CURRENT_TIMESTAMP",
            "updated_at": "CURRENT_TIMESTAMP",
        },
        "download_grants": {
            "id": "1", "public_id": "'dlg_1'", "lead_id": "1", "magnet_id": "1",
            "source": "'submission'", "language": "'en'", "created_at": "CURRENT_TIMESTAMP",
            "expires_at": "CURRENT_TIMESTAMP",
        },
        "downloads": {
            "public_id": "'dl_1'", "grant_id": "1", "lead_id": "1", "magnet_id": "1",
            "ip": "'203.0.113.77'", "user_agent": "'AneBrowser'",
            "created_at": "CURRENT_TIMESTAMP",
        },
    }  # fmt: skip
    for table, values in rows.items():
        names, literals = ", ".join(values), ", ".join(values.values())
        connection.execute(sa.text(f"INSERT INTO {table} ({names}) VALUES ({literals})"))

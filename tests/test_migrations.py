"""Migrations and models agree: `flask db upgrade` on an empty database, then `flask db check`."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from capture.base.db import db
from wsgi import create_app


@pytest.fixture
def kept_logging() -> Iterator[None]:
    """Alembic's env.py runs logging.config.fileConfig, which disables every logger that
    exists; put them back so later tests still see their log records."""
    manager = logging.root.manager
    disabled = {name for name, lg in manager.loggerDict.items() if getattr(lg, "disabled", False)}
    handlers, level = list(logging.root.handlers), logging.root.level
    yield
    for name, lg in manager.loggerDict.items():
        if isinstance(lg, logging.Logger):
            lg.disabled = name in disabled
    logging.root.handlers[:] = handlers
    logging.root.setLevel(level)


@pytest.fixture
def migrated_app(
    app_config: dict[str, Any], empty_database: str, kept_logging: None
) -> Iterator[Flask]:
    app = create_app({**app_config, "SQLALCHEMY_DATABASE_URI": empty_database})
    yield app
    with app.app_context():
        db.engine.dispose()


def table_names(app: Flask) -> set[str]:
    with app.app_context():
        return set(sa.inspect(db.engine).get_table_names())


def test_upgrade_then_check_finds_no_drift(migrated_app):
    runner = migrated_app.test_cli_runner()
    assert table_names(migrated_app) == set()

    upgrade = runner.invoke(args=["db", "upgrade"])
    assert upgrade.exit_code == 0, upgrade.output
    models = {table.name for table in db.metadata.sorted_tables}
    assert models <= table_names(migrated_app)

    check = runner.invoke(args=["db", "check"])
    assert check.exit_code == 0, check.output

    # The check can fail: a column the models do not have is drift.
    with migrated_app.app_context(), db.engine.begin() as connection:
        connection.execute(sa.text("ALTER TABLE leads ADD COLUMN stray INTEGER"))
    drift = runner.invoke(args=["db", "check"])
    assert drift.exit_code != 0


def test_migrations_go_down_and_up_again(migrated_app):
    runner = migrated_app.test_cli_runner()
    assert runner.invoke(args=["db", "upgrade"]).exit_code == 0
    down = runner.invoke(args=["db", "downgrade", "base"])
    assert down.exit_code == 0, down.output
    assert table_names(migrated_app) <= {"alembic_version"}
    assert runner.invoke(args=["db", "upgrade"]).exit_code == 0
    assert runner.invoke(args=["db", "check"]).exit_code == 0


def migrated_triggers(app: Flask, table: str) -> list[str]:
    """The triggers of `table` after `db upgrade` on PostgreSQL (skips on other databases)."""
    runner = app.test_cli_runner()
    assert runner.invoke(args=["db", "upgrade"]).exit_code == 0
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("the trigger is PostgreSQL's; set TEST_DATABASE_URL")
        triggers = db.session.scalars(
            sa.text(
                "SELECT tgname FROM pg_trigger"
                " WHERE tgrelid = CAST(:table AS regclass) AND NOT tgisinternal"
            ),
            {"table": table},
        ).all()
        db.session.rollback()
    return list(triggers)


def test_migrated_postgresql_guards_the_consent_ledger_as_create_all_does(migrated_app):
    """Triggers are outside `db check`'s view: the migrated database must carry the one the
    models create, or production would lack the guard the tests exercise."""
    assert migrated_triggers(migrated_app, "consent_records") == ["consent_records_append_only"]


def test_migrated_postgresql_forgets_a_deleted_leads_score_history(migrated_app):
    """score_changes lost its foreign key in 0022: the migrated database must carry the
    trigger create_all makes in its place, or a deleted lead would leave its history behind."""
    assert migrated_triggers(migrated_app, "leads") == ["leads_forget_score_changes"]


def test_migrated_postgresql_has_the_search_trigram_indexes(migrated_app):
    """`db check` compares an index's columns, not its kind: the migration must build the GIN
    trigram indexes the search relies on, not plain B-trees."""
    runner = migrated_app.test_cli_runner()
    assert runner.invoke(args=["db", "upgrade"]).exit_code == 0
    with migrated_app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("the trigram indexes are PostgreSQL's; set TEST_DATABASE_URL")
        schema = db.session.scalar(sa.text("SELECT current_schema()"))
        definitions = db.session.scalars(
            sa.text(
                "SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema()"
                " AND tablename = 'leads' AND indexname LIKE '%trgm' ORDER BY indexname"
            )
        ).all()
        db.session.rollback()
    assert definitions == [
        f"CREATE INDEX ix_leads_{column}_trgm ON {schema}.leads"
        f" USING gin ({column} public.gin_trgm_ops)"
        for column in ("company", "email", "first_name", "last_name")
    ]

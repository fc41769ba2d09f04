"""Production refuses unsafe settings at start, and no error answer ever shows code or SQL."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from helpers import ON_POSTGRES

from capture.base.config import UnsafeConfiguration
from capture.base.db import db
from wsgi import create_app

ROOT = Path(__file__).resolve().parent.parent
GOOD_KEY = "production-secret-key-0123456789abcdefghijkl"
POSTGRES = "postgresql+psycopg://leadgate@db.invalid:5432/leadgate"  # never connected to
LEAKS = ("Traceback", 'File "', ".py", "RuntimeError", "sqlalchemy", "psycopg", "sqlite3",
         "SELECT", "no_such_table", "secret_column")  # fmt: skip


@pytest.fixture
def production_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """The environment of a production start, with nothing left over from the developer's."""
    for name in ("SECRET_KEY", "FLASK_DEBUG", "LEADGATE_ALLOW_SQLITE", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LEADGATE_ENV", "production")
    monkeypatch.setenv("SUPPRESSION_KEY", "production-suppression-key-0123456789abcdef")
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://leads.example.com")
    monkeypatch.setenv("MAIL_URL", "smtp://mail.invalid:25")
    return monkeypatch


def test_production_starts_with_a_key_and_postgresql(production_env):
    app = create_app({"SECRET_KEY": GOOD_KEY, "SQLALCHEMY_DATABASE_URI": POSTGRES})
    assert app.config["LEADGATE_ENV"] == "production"
    assert app.config["SESSION_COOKIE_SECURE"] is True


def test_production_refuses_debug(production_env):
    with pytest.raises(UnsafeConfiguration, match="debug"):
        create_app({"SECRET_KEY": GOOD_KEY, "SQLALCHEMY_DATABASE_URI": POSTGRES, "DEBUG": True})
    production_env.setenv("FLASK_DEBUG", "1")
    with pytest.raises(UnsafeConfiguration, match="debug"):
        create_app({"SECRET_KEY": GOOD_KEY, "SQLALCHEMY_DATABASE_URI": POSTGRES})


@pytest.mark.parametrize("key", [None, "", "too-short-to-sign-anything", " " * 40])
def test_production_refuses_a_missing_or_short_secret_key(production_env, key):
    settings: dict[str, Any] = {"SQLALCHEMY_DATABASE_URI": POSTGRES}
    if key is not None:
        production_env.setenv("SECRET_KEY", key)
    with pytest.raises(UnsafeConfiguration, match="SECRET_KEY"):
        create_app(settings)


@pytest.mark.parametrize("key", [None, "", "too-short-to-key-anything"])
def test_production_refuses_a_missing_or_short_suppression_key(production_env, key):
    production_env.delenv("SUPPRESSION_KEY")
    if key is not None:
        production_env.setenv("SUPPRESSION_KEY", key)
    with pytest.raises(UnsafeConfiguration, match="SUPPRESSION_KEY"):
        create_app({"SECRET_KEY": GOOD_KEY, "SQLALCHEMY_DATABASE_URI": POSTGRES})


def test_production_refuses_sqlite_unless_allowed(production_env, tmp_path):
    sqlite = {"SECRET_KEY": GOOD_KEY, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db"}
    with pytest.raises(UnsafeConfiguration, match="LEADGATE_ALLOW_SQLITE"):
        create_app(sqlite)
    production_env.setenv("LEADGATE_ALLOW_SQLITE", "1")
    assert create_app(sqlite).config["ALLOW_SQLITE_IN_PRODUCTION"] is True


def test_production_refuses_the_default_sqlite_database(production_env, tmp_path):
    # No DATABASE_URL at all falls back to the SQLite file in instance/: refused, not run on.
    with pytest.raises(UnsafeConfiguration, match="LEADGATE_ALLOW_SQLITE"):
        create_app({"SECRET_KEY": GOOD_KEY})
    production_env.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/x.db")
    with pytest.raises(UnsafeConfiguration, match="LEADGATE_ALLOW_SQLITE"):
        create_app({"SECRET_KEY": GOOD_KEY})


@pytest.mark.parametrize("value", ["0", "no", "off", "false", ""])
def test_only_a_true_flag_allows_sqlite(production_env, tmp_path, value):
    production_env.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/x.db")
    production_env.setenv("LEADGATE_ALLOW_SQLITE", value)
    with pytest.raises(UnsafeConfiguration, match="LEADGATE_ALLOW_SQLITE"):
        create_app({"SECRET_KEY": GOOD_KEY})


def test_flask_debug_set_to_off_is_not_debug(production_env):
    production_env.setenv("FLASK_DEBUG", "0")
    app = create_app({"SECRET_KEY": GOOD_KEY, "SQLALCHEMY_DATABASE_URI": POSTGRES})
    assert not app.debug


def test_development_needs_none_of_it(monkeypatch, tmp_path):
    monkeypatch.setenv("LEADGATE_ENV", "development")
    monkeypatch.delenv("SECRET_KEY", raising=False)
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db", "DEBUG": True})
    assert len(app.config["SECRET_KEY"]) >= 32  # generated into instance/, never a fixed one


def _production_process_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "FLASK_DEBUG", "PORT"}}
    env.update(LEADGATE_ENV="production", DATABASE_URL=POSTGRES, SUPPRESSION_KEY=GOOD_KEY)
    env.update(extra)
    env.update(PUBLIC_BASE_URL="https://leads.example.com", MAIL_URL="smtp://mail.invalid:25")
    return env


def test_the_cli_refuses_to_start_without_a_secret_key():
    leadgate = Path(sys.executable).with_name("leadgate")
    done = subprocess.run(
        [str(leadgate), "routes"],
        env=_production_process_env(),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    assert "needs SECRET_KEY" in done.stderr.strip().splitlines()[-1]
    assert "Endpoint" not in done.stdout  # no route table: it never started


def test_the_cli_refuses_to_start_on_the_default_sqlite_database():
    env = _production_process_env(SECRET_KEY=GOOD_KEY)
    for name in ("DATABASE_URL", "LEADGATE_ALLOW_SQLITE"):
        env.pop(name, None)
    done = subprocess.run(
        [str(Path(sys.executable).with_name("leadgate")), "routes"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    assert "LEADGATE_ALLOW_SQLITE" in done.stderr.strip().splitlines()[-1]
    assert "Endpoint" not in done.stdout


def test_gunicorn_refuses_to_start_with_debug_on():
    done = subprocess.run(
        [sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py", "--bind", "127.0.0.1:0"],
        env=_production_process_env(
            SECRET_KEY=GOOD_KEY, FLASK_DEBUG="1", WEB_CONCURRENCY="1", GUNICORN_GRACEFUL_TIMEOUT="1"
        ),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    assert "refuses to run with debug on" in done.stderr


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    """Production as deployed: not TESTING, so errors go through the handlers users see."""
    return app_config | {
        "LEADGATE_ENV": "production",
        "SUPPRESSION_KEY": GOOD_KEY,
        "TESTING": False,
        "ALLOW_SQLITE_IN_PRODUCTION": True,
        "PASSWORD_HASH_PROFILE": "RFC_9106_LOW_MEMORY",  # CHEAPEST is refused in production
        "PUBLIC_BASE_URL": "https://leads.example.com",
        "ALLOW_CONSOLE_MAIL": True,
    }


@pytest.fixture
def failing_app(app: Flask) -> Flask:
    """Test-only routes that fail the ways code fails: an exception, and SQL the database
    refuses. Registered on this test's app only."""

    def crash() -> str:
        raise RuntimeError("SELECT secret_column FROM leads -- boom")

    def bad_sql() -> str:
        db.session.execute(sa.text("SELECT secret_column FROM no_such_table"))
        return "unreachable"

    app.add_url_rule("/api/v1/test-only/crash", "api_crash", crash)
    app.add_url_rule("/api/v1/test-only/sql", "api_sql", bad_sql)
    app.add_url_rule("/test-only/crash", "page_crash", crash)
    app.add_url_rule("/test-only/sql", "page_sql", bad_sql)
    return app


def test_a_crash_is_a_plain_500_without_code_or_sql(failing_app):
    client = failing_app.test_client()
    api = client.get("/api/v1/test-only/crash")
    page = client.get("/test-only/crash", headers={"Accept": "text/html"})
    assert api.status_code == page.status_code == 500
    assert api.get_json() == {
        "error": {"code": "internal_error", "message": "Something went wrong on our side."}
    }
    assert "text/html" in page.content_type
    for response in (api, page):
        text = response.get_data(as_text=True)
        assert not [leak for leak in LEAKS if leak in text]


def test_a_database_error_answers_in_the_contract_shape_without_sql(failing_app):
    client = failing_app.test_client()
    api = client.get("/api/v1/test-only/sql")
    page = client.get("/test-only/sql", headers={"Accept": "text/html"})
    # Both refuse the statement, never with a stack trace or the statement itself. PostgreSQL
    # calls a missing table a programming error (our bug: 500); SQLite calls it an
    # OperationalError, which the handler cannot tell from an outage (503).
    expected = 500 if ON_POSTGRES else 503
    assert api.status_code == expected and page.status_code == expected
    assert set(api.get_json()["error"]) == {"code", "message"}
    for response in (api, page):
        text = response.get_data(as_text=True)
        assert not [leak for leak in LEAKS if leak in text]

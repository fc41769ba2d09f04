"""`python -m bench.profile --statements`: the SQL each hot path sends, counted on PostgreSQL.

Runs the app in-process (the test client, no server) on a database made for the run and
migrated like production, warms it with one request of each kind, then records every statement
the engine sends for one more of each: a fresh submission, a known e-mail submitting again, a
replay with the same Idempotency-Key, and a download link. BEGIN and COMMIT are counted too
(they are round trips). The figures do not depend on the machine's load, unlike req/s.
"""

from __future__ import annotations

import secrets
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
import yaml
from flask import Flask

from bench.database import ROOT, BenchDatabase
from bench.submissions import FORM
from capture.base.db import db
from capture.forms.definition import parse_definition
from capture.forms.store import save_spec
from magnets.demo import guide_pdf
from wsgi import create_app

ORIGIN = "https://www.partner.example"
GATED = "bench-statements-guide"


@contextmanager
def recording(app: Flask) -> Iterator[list[str]]:
    """Every statement the app's engine sends while the block runs, BEGIN and COMMIT too."""
    seen: list[str] = []
    with app.app_context():
        engine = db.engine

    def statement(conn: Any, cursor: Any, text: str, *args: Any) -> None:
        seen.append(" ".join(text.split()))

    def begin(conn: Any) -> None:
        seen.append("BEGIN")

    def commit(conn: Any) -> None:
        if conn.get_execution_options().get("isolation_level") == "AUTOCOMMIT":
            # Nothing was sent for BEGIN or COMMIT: each statement committed on its own.
            del seen[len(seen) - 1 - seen[::-1].index("BEGIN")]
            return
        seen.append("COMMIT")

    events: list[tuple[Any, str, Callable[..., None]]] = [
        (engine, "before_cursor_execute", statement),
        (engine, "begin", begin),
        (engine, "commit", commit),
    ]
    for target, name, listener in events:
        sa.event.listen(target, name, listener)
    try:
        yield seen
    finally:
        for target, name, listener in events:
            sa.event.remove(target, name, listener)


def _body(client: Any, email: str, slug: str = FORM) -> dict[str, Any]:
    token = client.get(f"/api/v1/forms/{slug}", headers={"Origin": ORIGIN}).get_json()["token"]
    return {
        "fields": {"email": email, "first_name": "Åse", "company": "Firma ApS"},
        "consents": {"processing": True, "marketing": True},
        "context": {"page_url": f"{ORIGIN}/guide", "utm_source": "linkedin"},
        "token": token,
    }


def _post(client: Any, body: dict[str, Any], key: str, slug: str = FORM) -> Any:
    headers = {"Origin": ORIGIN, "Idempotency-Key": key}
    answer = client.post(f"/api/v1/forms/{slug}/submissions", json=body, headers=headers)
    if answer.status_code != 201:
        raise RuntimeError(f"submission answered {answer.status_code}: {answer.get_data()!r}")
    return answer


def _summary(name: str, seen: list[str]) -> str:
    kinds = [s.split(" ", 1)[0].upper() for s in seen]
    counts = {kind: kinds.count(kind) for kind in dict.fromkeys(kinds)}
    head = f"{name}: {len(seen)} round trips ({', '.join(f'{n} {k}' for k, n in counts.items())})"
    # psycopg caches its parse of a statement up to 4,096 characters; longer ones cost a
    # regular-expression pass over the text each time (see capture.base.db).
    return "\n".join([head, *(f"    {len(s):5} chars  {s[:120]}" for s in seen)])


def run(database_url: str | None = None) -> str:
    database = BenchDatabase(database_url)
    env = {
        "DATABASE_URL": database.url_string,
        "SECRET_KEY": secrets.token_urlsafe(48),
        "SUPPRESSION_KEY": secrets.token_urlsafe(48),
        "PATH": "/usr/bin:/bin",
    }
    try:
        database.create(env)
        with tempfile.TemporaryDirectory() as storage:
            return _measure(database, env, Path(storage))
    finally:
        database.drop()


def _measure(database: BenchDatabase, env: dict[str, str], storage: Path) -> str:
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": database.url_string,
            "SECRET_KEY": env["SECRET_KEY"],
            "SUPPRESSION_KEY": env["SUPPRESSION_KEY"],
            "STORAGE_URL": storage.as_uri(),
            "FORM_MIN_FILL_SECONDS": 0,
            "RATELIMIT_ENABLED": False,
            "PUBLIC_BASE_URL": "https://leads.bench.example",
            "MAIL_URL": "console://",
        }
    )
    _gated_form(app, storage)
    client = app.test_client()
    # Warm: caches, compiled statements, the connection pool.
    _post(client, _body(client, "warm@bench.example"), "warm")
    _post(client, _body(client, "warm@bench.example"), "warm2")
    gated = _post(client, _body(client, "warm-dl@bench.example", GATED), "warm-dl", GATED)
    path = urlsplit(gated.get_json()["download_url"]).path
    client.get(path)
    report = []
    cases = [
        ("submission, fresh e-mail", "fresh@bench.example", "fresh"),
        ("submission, known e-mail", "fresh@bench.example", "again"),
    ]
    for name, email, key in cases:
        body = _body(client, email)
        with recording(app) as seen:
            _post(client, body, key)
        report.append(_summary(name, seen))
    with recording(app) as seen:
        _post(client, body, key)  # the last one again: a replay
    report.append(_summary("submission, replayed Idempotency-Key", seen))
    with recording(app) as seen:
        answer = client.get(path)
    if answer.status_code not in (200, 302):
        raise RuntimeError(f"the download answered {answer.status_code}")
    report.append(_summary("download /d/<token>", seen))
    with app.app_context():
        db.engine.dispose()
    return "\n\n".join(report)


def _gated_form(app: Flask, storage: Path) -> None:
    """A published magnet in file storage, gated by a copy of the benchmark's form."""
    pdf = storage / "guide.pdf"
    pdf.write_bytes(guide_pdf())
    upload = ["magnets", "upload", str(pdf), "--title", "The guide", "--kind", "ebook"]
    result = app.test_cli_runner().invoke(args=[*upload, "--slug", "bench-guide", "--publish"])
    if result.exit_code != 0:
        raise RuntimeError(f"magnets upload failed: {result.output}")
    document = yaml.safe_load((ROOT / "bench" / "form.yaml").read_text(encoding="utf-8"))
    document.update(slug=GATED, magnet="bench-guide")
    with app.app_context():
        save_spec(parse_definition(document))
        db.session.commit()

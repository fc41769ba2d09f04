"""`python -m bench.profile --statements`: the SQL each hot path sends, counted on PostgreSQL.

Runs the app in-process (the test client, no server) on a database made for the run and
migrated like production, warms it with one request of each kind, then records every statement
the engine sends for one more of each: a fresh submission, a known e-mail submitting again, a
replay with the same Idempotency-Key, and a download link. BEGIN and COMMIT are listed too.
Listening to the engine's statements sends every statement through SQLAlchemy (so the
listener sees it), where BEGIN is a round trip of its own; the same requests are then made
again on a second app whose connections go through a relay that counts the round trips on
the wire (`tests/relay.py`), with nothing listening: there a transaction's BEGIN travels with
its first statement (`capture/base/wire.py`). The figures do not depend on the machine's load,
unlike req/s.
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
from tests.relay import CountingRelay
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


def _summary(name: str, seen: list[str], wire: int) -> str:
    kinds = [s.split(" ", 1)[0].upper() for s in seen]
    counts = {kind: kinds.count(kind) for kind in dict.fromkeys(kinds)}
    listed = ", ".join(f"{n} {k}" for k, n in counts.items())
    head = f"{name}: {wire} round trips on the wire; {len(seen)} statements ({listed})"
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
    config = {
        "SQLALCHEMY_DATABASE_URI": database.url_string,
        "SECRET_KEY": env["SECRET_KEY"],
        "SUPPRESSION_KEY": env["SUPPRESSION_KEY"],
        "STORAGE_URL": storage.as_uri(),
        "FORM_MIN_FILL_SECONDS": 0,
        "RATELIMIT_ENABLED": False,
        "PUBLIC_BASE_URL": "https://leads.bench.example",
        "MAIL_URL": "console://",
    }
    app = create_app(config)
    _gated_form(app, storage)
    url = sa.make_url(database.url_string)
    relay = CountingRelay(url.host or "127.0.0.1", url.port or 5432)
    relayed = create_app({**config, "SQLALCHEMY_DATABASE_URI": url.set(port=relay.port)})
    try:
        listed = _cases(app, "listed", lambda: recording(app))
        counted = _cases(relayed, "counted", lambda: counting(relay))
    finally:
        relay.close()
        for each in (app, relayed):
            with each.app_context():
                db.engine.dispose()
    return "\n\n".join(
        _summary(name, seen, len(wire))
        for (name, seen), (_name, wire) in zip(listed, counted, strict=True)
    )


@contextmanager
def counting(relay: CountingRelay) -> Iterator[list[str]]:
    """One entry per round trip the relay saw while the block ran."""
    seen: list[str] = []
    before = relay.round_trips
    yield seen
    seen.extend(["round trip"] * (relay.round_trips - before))


def _cases(app: Flask, tag: str, watch: Callable[[], Any]) -> list[tuple[str, list[str]]]:
    """Each hot path once, after a warm-up, with what `watch()` saw of it."""
    client = app.test_client()
    # Warm: caches, compiled statements, the connection pool, and past psycopg's threshold
    # for preparing a statement (its fifth run), which costs a round trip once.
    for n in range(6):
        body = _body(client, f"warm{n}-{tag}@bench.example")
        _post(client, body, f"warm{n}-{tag}")
        _post(client, body, f"warm{n}-{tag}")  # a replay
        _post(client, _body(client, f"warm{n}-{tag}@bench.example"), f"again{n}-{tag}")
        warm = _body(client, f"warm{n}-dl-{tag}@bench.example", GATED)
        gated = _post(client, warm, f"warm{n}-dl-{tag}", GATED)
        path = urlsplit(gated.get_json()["download_url"]).path
        client.get(path)
    report = []
    email = f"fresh-{tag}@bench.example"
    keys = [
        ("submission, fresh e-mail", f"fresh-{tag}"),
        ("submission, known e-mail", f"again-{tag}"),
    ]
    for name, key in keys:
        body = _body(client, email)
        with watch() as seen:
            _post(client, body, key)
        report.append((name, seen))
    with watch() as seen:
        _post(client, body, key)  # the last one again: a replay
    report.append(("submission, replayed Idempotency-Key", seen))
    with watch() as seen:
        answer = client.get(path)
    if answer.status_code not in (200, 302):
        raise RuntimeError(f"the download answered {answer.status_code}")
    report.append(("download /d/<token>", seen))
    return report


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

"""Shared fixtures: an app on a fresh database per test, a live HTTP server, form helpers.

The database is SQLite (a file per test) by default, PostgreSQL when TEST_DATABASE_URL is set.
On PostgreSQL each test run works in its own schema, so parallel runs never meet.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import io
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from flask import Flask, g
from flask.testing import FlaskClient, FlaskCliRunner
from moto.server import ThreadedMotoServer
from sites import Site
from werkzeug.serving import BaseWSGIServer, make_server

from capture import embed
from capture.accounts import Role, create_user
from capture.api.token import Scope, create_token
from capture.db import db
from capture.demo import DEMO_FORMS
from capture.forms.definition import parse_definition
from capture.forms.store import FormDefinition, save_spec
from capture.leads.consent import erasing
from magnets.demo import guide_pdf
from magnets.filetypes import Purpose
from magnets.magnet import Magnet
from magnets.uploads import receive, store_file
from wsgi import create_app

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "")
ON_POSTGRES = TEST_DATABASE_URL.startswith("postgres")


def _postgres_url(url: str) -> str:
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


@pytest.fixture(scope="session")
def postgres_schema() -> Iterator[str | None]:
    """A private schema for this run; dropped at the end."""
    if not ON_POSTGRES:
        yield None
        return
    schema = f"t_{secrets.token_hex(6)}"
    engine = sa.create_engine(_postgres_url(TEST_DATABASE_URL))
    with engine.begin() as connection:
        connection.execute(sa.text(f"CREATE SCHEMA {schema}"))
    yield schema
    with engine.begin() as connection:
        connection.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
    engine.dispose()


@pytest.fixture
def database_url(tmp_path: Any, postgres_schema: str | None) -> str:
    if postgres_schema:
        sep = "&" if "?" in TEST_DATABASE_URL else "?"
        return f"{_postgres_url(TEST_DATABASE_URL)}{sep}options=-csearch_path%3D{postgres_schema}"
    return f"sqlite:///{tmp_path / 'test.sqlite3'}"


@pytest.fixture
def empty_database(tmp_path: Any) -> Iterator[str]:
    """The URL of a database without any table: a new SQLite file, or a new PostgreSQL schema
    (for migrations, which must start from nothing)."""
    if not ON_POSTGRES:
        yield f"sqlite:///{tmp_path / 'empty.sqlite3'}"
        return
    schema = f"e_{secrets.token_hex(6)}"
    engine = sa.create_engine(_postgres_url(TEST_DATABASE_URL))
    with engine.begin() as connection:
        connection.execute(sa.text(f"CREATE SCHEMA {schema}"))
    sep = "&" if "?" in TEST_DATABASE_URL else "?"
    yield f"{_postgres_url(TEST_DATABASE_URL)}{sep}options=-csearch_path%3D{schema}"
    with engine.begin() as connection:
        connection.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
    engine.dispose()


_schema_ready: set[str] = set()


@pytest.fixture
def app_config(database_url: str, tmp_path: Any, request: pytest.FixtureRequest) -> dict[str, Any]:
    """Override in a test module to change settings before the app is built, or mark one test
    with `@pytest.mark.app_config(SETTING=value)`."""
    marker = request.node.get_closest_marker("app_config")
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key-0123456789abcdefghijklmnop",
        "SUPPRESSION_KEY": "test-suppression-key-0123456789abcdefghij",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "STORAGE_URL": (tmp_path / "storage").as_uri(),
        "MAIL_URL": "console://",
        "RATELIMIT_ENABLED": False,
        "FORM_MIN_FILL_SECONDS": 0,
        "PUBLIC_BASE_URL": None,
        "PASSWORD_HASH_PROFILE": "CHEAPEST",  # argon2id still, at test speed
        **(marker.kwargs if marker else {}),
    }


def empty_postgres_tables() -> None:
    """Every table emptied and its ids restarting at 1, as TRUNCATE ... RESTART IDENTITY would,
    at a tenth of its cost on tables this small (TRUNCATE makes new files for each table and
    index: ~100 ms a test). The consent ledger's trigger lets only erasure delete: this is one."""
    session = db.session
    with erasing(session()):
        for table in reversed(db.metadata.sorted_tables):
            session.execute(table.delete())
    sequences = session.scalars(
        sa.text(
            "SELECT quote_ident(sequencename) FROM pg_sequences WHERE schemaname = current_schema()"
        )
    ).all()
    if sequences:
        restarts = ", ".join(f"setval('{name}', 1, false)" for name in sequences)
        session.execute(sa.text(f"SELECT {restarts}"))
    session.commit()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An SQLite database with every table, made once per run: copying it into each test's
    file costs well under a millisecond, `create_all` about 170 ms (two minutes a run)."""
    path = tmp_path_factory.mktemp("schema") / "template.sqlite3"
    engine = sa.create_engine(f"sqlite:///{path}")
    db.metadata.create_all(engine)
    engine.dispose()
    return path


@pytest.fixture
def app(app_config: dict[str, Any], database_url: str, sqlite_template: Path) -> Iterator[Flask]:
    url = app_config["SQLALCHEMY_DATABASE_URI"]
    copied = url.startswith("sqlite:///") and not os.path.exists(url.removeprefix("sqlite:///"))
    if copied:
        shutil.copyfile(sqlite_template, url.removeprefix("sqlite:///"))
    app = create_app(app_config)

    @app.teardown_request
    def fresh_g(error: BaseException | None) -> None:
        # The app context below stays open, so requests would share `g` (the logged-in user,
        # the language, the CSP nonce); in production each request starts with a new one.
        for name in list(g):
            g.pop(name)

    with app.app_context():
        if copied:
            pass
        elif database_url.startswith("sqlite") or database_url not in _schema_ready:
            db.create_all()
            _schema_ready.add(database_url)
        else:
            empty_postgres_tables()
        yield app
        db.session.remove()
        if ON_POSTGRES:
            db.engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()


@pytest.fixture
def make_form(app: Flask) -> Callable[..., FormDefinition]:
    """Save a form from a definition document; unnamed keys default to a newsletter form."""

    def make(**document: Any) -> FormDefinition:
        base = {
            "slug": "test-form",
            "name": "Test form",
            "conversion": "newsletter_signup",
            "language": "en",
            "fields": [{"name": "email", "type": "email", "required": True}],
            "consents": [
                {
                    "purpose": "processing",
                    "required": True,
                    "text": {"en": "We process it.", "da": "Vi behandler det."},
                },
                {"purpose": "marketing", "required": False, "text": {"en": "Send me news."}},
            ],
        }
        base.update(document)
        form, _ = save_spec(parse_definition(base))
        db.session.commit()
        return form

    return make


@pytest.fixture
def make_magnet(app: Flask) -> Callable[..., Magnet]:
    """A magnet with a file stored through the real upload path; published unless told."""

    def make(
        data: bytes | None = None,
        filename: str = "guide.pdf",
        publish: bool = True,
        **fields: Any,
    ) -> Magnet:
        values = {"slug": "guide", "title": "The guide", "kind": "ebook", **fields}
        magnet = Magnet(**values)
        db.session.add(magnet)
        db.session.flush()
        with (
            app.test_request_context(),
            receive(io.BytesIO(data or guide_pdf()), filename, Purpose.MAGNET) as received,
        ):
            store_file(magnet, received, uploaded_by="test")
        if publish:
            magnet.publish()
        db.session.commit()
        return magnet

    return make


@pytest.fixture
def demo_forms(app: Flask) -> dict[str, FormDefinition]:
    forms = {}
    for document in DEMO_FORMS:
        form, _ = save_spec(parse_definition(document))
        forms[form.slug] = form
    db.session.commit()
    return forms


@pytest.fixture
def submit(client: FlaskClient) -> Callable[..., Any]:
    """POST a JSON submission the way the embed does: fetch the token, then send."""

    def send(
        slug: str,
        fields: dict[str, Any],
        consents: dict[str, Any] | None = None,
        context: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        token: str | None = None,
    ) -> Any:
        if token is None:
            token = client.get(f"/api/v1/forms/{slug}").get_json()["token"]
        body = {
            "fields": fields,
            "consents": consents if consents is not None else {"processing": True},
            "context": context or {},
            "token": token,
        }
        return client.post(f"/api/v1/forms/{slug}/submissions", json=body, headers=headers or {})

    return send


class LiveServer:
    def __init__(self, app: Flask, host: str = "127.0.0.1"):
        self.app = app
        self.server: BaseWSGIServer = make_server(host, 0, app, threaded=True)
        self.url = f"http://{host}:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.thread.join(timeout=5)


@pytest.fixture
def live_server(app: Flask) -> Iterator[LiveServer]:
    """The app over real HTTP on a free loopback port, many requests at once."""
    with LiveServer(app) as server:
        yield server


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class MotoS3:
    """moto's S3 in server mode on a loopback port; stop() and start() again for an outage.

    Objects outlive a restart (moto keeps them in this process), as they would on real S3.
    """

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server: ThreadedMotoServer | None = None
        self.client = boto3.client("s3", endpoint_url=self.url, region_name="us-east-1")

    def start(self) -> None:
        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self.server.start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None

    @contextmanager
    def outage(self) -> Iterator[None]:
        """S3 is unreachable inside the block, and back afterwards even if the test fails."""
        self.stop()
        try:
            yield
        finally:
            self.start()

    def make_bucket(self) -> str:
        name = f"leadgate-{secrets.token_hex(6)}"
        self.client.create_bucket(Bucket=name)
        return name

    def settings(self) -> dict[str, str]:
        """App settings that store magnets in a new bucket here (merge into `app_config`)."""
        return {"STORAGE_URL": f"s3://{self.make_bucket()}/magnets", "S3_ENDPOINT_URL": self.url}

    def keys(self, bucket: str) -> list[str]:
        listing = self.client.list_objects_v2(Bucket=bucket)
        return [item["Key"] for item in listing.get("Contents", [])]


@pytest.fixture(scope="session")
def s3_server() -> Iterator[MotoS3]:
    """A moto S3 server for the session (tests use their own buckets); boto3, ours and the
    app's, reaches it with dummy credentials. Use `with s3_server.outage():` to stop it."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        }.items():
            patch.setenv(name, value)
        for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_ENDPOINT_URL"):
            patch.delenv(name, raising=False)
        server = MotoS3()
        server.start()
        yield server
        server.stop()


class SMTPServer:
    """A real SMTP server (aiosmtpd) on loopback that keeps what it receives.

    `stop()` and `start()` again on the same port simulate an outage of the mail relay.
    """

    def __init__(self, **options: Any) -> None:
        self.options = options  # for aiosmtpd's Controller: authenticator, auth_required, ...
        self.messages: list[email.message.EmailMessage] = []
        self.refused: set[str] = set()  # recipients answered with a permanent 550
        self.delay = 0.0  # seconds to hold each message, to make concurrent senders overlap
        self.receiving = threading.Event()  # set when a message's DATA starts arriving
        self.lock = threading.Lock()
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.controller: Controller | None = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address.lower() in self.refused:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.receiving.set()
        if self.delay:
            await asyncio.sleep(self.delay)
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.lock:
            self.messages.append(message)  # type: ignore[arg-type]
        return "250 Message accepted for delivery"

    def start(self) -> None:
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port, **self.options)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def smtp_server() -> Iterator[SMTPServer]:
    server = SMTPServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def partner_site() -> Iterator[Site]:
    """A partner's page on `localhost` (the app runs on 127.0.0.1): another origin."""
    site = Site("localhost")
    yield site
    site.close()


@pytest.fixture
def api_token(app: Flask) -> Callable[[str], dict[str, str]]:
    """Headers with a fresh bearer token of the given scope (`read` or `write`)."""

    def make(scope: str = "write") -> dict[str, str]:
        _row, secret = create_token(f"test {scope}", Scope(scope))
        db.session.commit()
        return {"Authorization": f"Bearer {secret}"}

    return make


@pytest.fixture(scope="session")
def built_embed() -> None:
    """The minified embed script as `make embed` leaves it, rebuilt if missing or stale."""
    if not embed.BUILT.exists() or embed.BUILT.stat().st_mtime < embed.SOURCE.stat().st_mtime:
        subprocess.run([sys.executable, str(embed.SOURCE.parent / "build.py")], check=True)


@pytest.fixture
def rows(app: Flask) -> Callable[..., list[Any]]:
    """Rows of a model, fresh from the database (nothing stale from earlier requests)."""

    def fetch(model: Any, *where: Any) -> list[Any]:
        db.session.expire_all()
        return list(db.session.scalars(sa.select(model).where(*where).order_by(model.id)))

    return fetch


# The contract's error code for each status the capture core answers with.
ERROR_CODES = {
    400: "bad_request",
    403: "origin_not_allowed",
    404: "form_not_found",
    409: "idempotency_conflict",
    410: "form_closed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_failed",
    429: "rate_limited",
    503: "unavailable",
}


@pytest.fixture
def contract_error() -> Callable[..., dict[str, Any]]:
    """Check an answer is exactly the contract's error shape with this status (and code, by
    default the contract's for the status); returns the `error` object."""

    def check(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
        assert response.status_code == status, response.get_data(as_text=True)[:500]
        assert response.mimetype == "application/json"
        body = response.get_json()
        assert set(body) == {"error"}
        assert set(body["error"]) <= {"code", "message", "fields"}
        assert body["error"]["code"] == (code or ERROR_CODES[status])
        assert isinstance(body["error"]["message"], str) and body["error"]["message"]
        return body["error"]

    return check


STAFF_PASSWORD = "correct horse battery staple"

CHROMIUM = "/usr/bin/chromium"
# How every browser test launches Debian's Chromium: headless, quiet, no background traffic.
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)


@contextmanager
def chromium(*extra_args: str) -> Iterator[Any]:
    """A launched headless Chromium (Playwright's sync API) with `CHROMIUM_ARGS` plus
    `extra_args`; skips the test when Chromium is missing, fails instead when
    LEADGATE_REQUIRE_BROWSER=1 says browser tests must run."""
    if not os.path.exists(CHROMIUM):
        reason = f"browser tests need Debian's Chromium at {CHROMIUM} (apt-get install chromium)"
        if os.environ.get("LEADGATE_REQUIRE_BROWSER") == "1":
            pytest.fail(f"LEADGATE_REQUIRE_BROWSER=1 but {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, *extra_args]
        )
        try:
            yield browser
        finally:
            browser.close()


def csrf_token_in(html: str) -> str:
    """The CSRF token of the first form on a page."""
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html) or re.search(
        r'type="hidden" name="csrf_token" value="([^"]+)"', html
    )
    assert match, "no CSRF token on the page"
    return match.group(1)


class StaffClient(FlaskClient):
    """A client that forgets the user Flask-Login cached in `g`, so several clients can take
    turns inside the test's one app context without seeing each other's login (or the CSRF
    token Flask-WTF caches there)."""

    def open(self, *args: Any, **kwargs: Any) -> Any:
        g.pop("_login_user", None)
        g.pop("csrf_token", None)
        return super().open(*args, **kwargs)


@pytest.fixture
def staff(app: Flask) -> Callable[[str | None], FlaskClient]:
    """A test client logged in as a new back-office user with `role` (None: anonymous)."""

    def sign_in(role: str | None) -> FlaskClient:
        client = StaffClient(app, app.response_class, use_cookies=True)
        if role is None:
            return client
        email = f"{role}-{secrets.token_hex(4)}@firma.dk"
        create_user(email, Role(role), STAFF_PASSWORD)
        db.session.commit()
        token = csrf_token_in(client.get("/admin/login").get_data(as_text=True))
        answer = client.post(
            "/admin/login", data={"email": email, "password": STAFF_PASSWORD, "csrf_token": token}
        )
        assert answer.status_code == 303
        return client

    return sign_in

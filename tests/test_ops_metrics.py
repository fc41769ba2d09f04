"""Prometheus metrics on /metrics: behind a token, counting what really happened."""

from __future__ import annotations

import json
import os
import signal
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
from helpers import free_port
from processes import GunicornServer
from prometheus_client.parser import text_string_to_metric_families

from capture.base.config import UnsafeConfiguration
from capture.base.db import db
from capture.forms.definition import parse_definition
from capture.forms.store import save_spec
from capture.ops.worker import drain
from wsgi import create_app

TOKEN = "metrics-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
with_token = pytest.mark.app_config(METRICS_TOKEN=TOKEN)
FORM = {
    "name": "News",
    "conversion": "newsletter_signup",
    "language": "en",
    "fields": [{"name": "email", "type": "email", "required": True}],
    "consents": [{"purpose": "processing", "required": True, "text": {"en": "We process it."}}],
}


def scrape(client: Any) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a scrape, by name and labels."""
    response = client.get("/metrics", headers=AUTH)
    assert response.status_code == 200, response.data
    assert response.mimetype == "text/plain"
    assert response.headers["Cache-Control"] == "no-store"
    samples = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def submissions(samples: dict, form: str, kind: str) -> float:
    return samples.get(("leadgate_submissions_total", (("class", kind), ("form", form))), 0.0)


def test_without_a_token_configured_there_is_no_endpoint(client):
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", headers=AUTH).status_code == 404


@with_token
@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", "Bearer wrong-token", f"Basic {TOKEN}", f"Bearer {TOKEN}x", TOKEN],
)
def test_a_wrong_token_is_refused_in_the_contract_shape(client, contract_error, authorization):
    headers = {} if authorization is None else {"Authorization": authorization}
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    contract_error(response, 401, "unauthorized")
    assert b"leadgate_" not in response.data


@with_token
def test_submissions_are_counted_by_form_and_class(app, client, make_form, submit):
    make_form(slug="news", conversion="newsletter_signup")
    make_form(slug="demo", conversion="demo_request")
    assert submissions(scrape(client), "news", "MQL") == 0

    assert submit("news", {"email": "ane@firma.dk"}).status_code == 201
    assert submit("news", {"email": "bo@firma.dk"}).status_code == 201
    assert submit("demo", {"email": "cai@firma.dk"}).status_code == 201
    # Caught by the honeypot: a success-looking answer, counted as quarantined.
    held = submit("news", {"email": "bot@spam.example", app.config["HONEYPOT_FIELD"]: "x"})
    assert held.status_code == 201
    # Not recorded, so not counted: an invalid one, and a replay of an accepted one.
    assert submit("news", {"email": "not an address"}).status_code == 422
    key = {"Idempotency-Key": "replay-1"}
    token = client.get("/api/v1/forms/demo").get_json()["token"]
    assert submit("demo", {"email": "dora@firma.dk"}, headers=key, token=token).status_code == 201
    replay = submit("demo", {"email": "dora@firma.dk"}, headers=key, token=token)
    assert replay.headers["Idempotent-Replayed"] == "true"

    samples = scrape(client)
    assert submissions(samples, "news", "MQL") == 2
    assert submissions(samples, "demo", "SQL") == 2
    assert submissions(samples, "news", "quarantined") == 1
    assert submissions(samples, "news", "SQL") == 0
    assert samples[("leadgate_http_errors_total", (("status_class", "4xx"),))] == 1


@with_token
def test_hosted_page_submissions_are_counted_too(app, client, make_form):
    make_form(slug="news")
    page = client.get("/f/news")
    token = page.get_data(as_text=True).split('name="token"', 1)[1].split('value="', 1)[1]
    token = token.split('"', 1)[0]
    answer = client.post(
        "/f/news", data={"email": "ane@firma.dk", "consent_processing": "y", "token": token}
    )
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert submissions(scrape(client), "news", "MQL") == 1


@with_token
def test_outbox_gauges(app_context, app, client, make_form, submit):
    samples = scrape(client)
    assert samples[("leadgate_outbox_pending", ())] == 0
    assert samples[("leadgate_outbox_lag_seconds", ())] == 0

    make_form(slug="doi", double_opt_in=True)
    consents = {"processing": True, "marketing": True}
    assert submit("doi", {"email": "ane@firma.dk"}, consents=consents).status_code == 201
    samples = scrape(client)
    assert samples[("leadgate_outbox_pending", ())] == 1
    assert samples[("leadgate_outbox_lag_seconds", ())] >= 0

    assert drain().sent == 1
    samples = scrape(client)
    assert samples[("leadgate_outbox_pending", ())] == 0
    assert samples[("leadgate_outbox_lag_seconds", ())] == 0


@with_token
def test_downloads_are_counted_by_magnet(app, client, make_form, make_magnet, submit):
    make_magnet(slug="guide")
    make_form(slug="ebook", conversion="ebook_download", magnet="guide")
    answer = submit("ebook", {"email": "ane@firma.dk"})
    assert answer.status_code == 201
    url = answer.get_json()["download_url"]
    path = url.split("://", 1)[1].split("/", 1)[1]

    for method in ("HEAD", "GET", "GET"):  # a link preview (HEAD) is not a download
        with client.open(f"/{path}", method=method) as response:
            assert response.status_code == 200
    assert client.get("/d/not-a-token").status_code == 404
    samples = scrape(client)
    assert samples[("leadgate_downloads_total", (("magnet", "guide"),))] == 2
    assert submissions(samples, "ebook", "MQL") == 1


def test_server_errors_are_counted_and_a_scrape_survives_a_database_outage(tmp_path):
    """The database is down: /readyz answers 503; /metrics still answers, without gauges."""
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test-secret-key-0123456789abcdefghijklmnop",
            "SQLALCHEMY_DATABASE_URI": f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/x",
            "STORAGE_URL": (tmp_path / "storage").as_uri(),
            "METRICS_TOKEN": TOKEN,
        }
    )
    client = app.test_client()
    assert client.get("/readyz").status_code == 503
    assert client.get("/readyz").status_code == 503
    samples = scrape(client)
    assert samples[("leadgate_http_errors_total", (("status_class", "5xx"),))] == 2
    assert ("leadgate_outbox_pending", ()) not in samples


def test_production_refuses_a_short_metrics_token(monkeypatch):
    monkeypatch.setenv("LEADGATE_ENV", "production")
    monkeypatch.setenv("SUPPRESSION_KEY", "production-suppression-key-0123456789abcdef")
    settings = {
        "SECRET_KEY": "production-secret-key-0123456789abcdefghijkl",
        "SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://leadgate@db.invalid:5432/leadgate",
        "PUBLIC_BASE_URL": "https://leads.example.com",
        "MAIL_URL": "smtp://mail.invalid:25",
    }
    with pytest.raises(UnsafeConfiguration, match="METRICS_TOKEN"):
        create_app({**settings, "METRICS_TOKEN": "short"})
    app = create_app({**settings, "METRICS_TOKEN": TOKEN})
    assert app.config["LOG_FORMAT"] == "json"  # production's default


@pytest.mark.slow
def test_gunicorn_workers_add_up_and_log_json_once_per_request(tmp_path):
    """Several workers, one sum: whichever worker answers a scrape, it sees every submission."""
    database = f"sqlite:///{tmp_path / 'leadgate.sqlite3'}"
    secret = "gunicorn-secret-key-0123456789abcdefghijkl"
    app = create_app({"SQLALCHEMY_DATABASE_URI": database, "SECRET_KEY": secret})
    with app.app_context():
        db.create_all()
        save_spec(parse_definition({**FORM, "slug": "news"}))
        db.session.commit()
        db.engine.dispose()
    directory = tmp_path / "prometheus"
    directory.mkdir()
    stale = directory / "counter_999999.db"
    stale.write_bytes(b"left over from an earlier run")
    server = GunicornServer(
        {
            "DATABASE_URL": database,
            "SECRET_KEY": secret,
            "LOG_FORMAT": "json",
            "METRICS_TOKEN": TOKEN,
            "PROMETHEUS_MULTIPROC_DIR": str(directory),
            "LEADGATE_FORM_MIN_FILL_SECONDS": "0",
            "RATELIMIT_ENABLED": "0",
            "WEB_CONCURRENCY": "2",
        },
        log=tmp_path / "gunicorn.log",
    )
    try:
        server.start()
        assert not stale.exists()
        total = 0
        # Concurrent posts, so the second worker takes some while the first is busy; until
        # both have counted (each worker writes its own counter file, named by its pid).
        with ThreadPoolExecutor(4) as pool:
            while total < 48 and len(list(directory.glob("counter_*.db"))) < 2:
                statuses = list(pool.map(lambda n: post(server.url, n), range(total, total + 8)))
                assert statuses == [201] * 8
                total += 8
        assert len(list(directory.glob("counter_*.db"))) >= 2
        for _ in range(6):  # each scrape is answered by whichever worker accepts it
            assert remote_submissions(server.url) == total
        # A worker dies and is replaced: what it counted stays counted.
        os.kill(server.workers()[0], signal.SIGKILL)
        for _ in range(6):
            assert remote_submissions(server.url) == total
    finally:
        server.stop()
    lines = [line for line in server.log.read_text().splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # gunicorn's own lines are JSON too
    access = [r for r in records if r.get("logger") == "leadgate.access"]
    posts = [r for r in access if r["method"] == "POST"]
    assert len(posts) == total and all(r["request_id"] for r in posts)
    assert any(r.get("logger") == "gunicorn.error" for r in records)
    assert "person0@firma.dk" not in server.log.read_text()


def post(url: str, number: int) -> int:
    with requests.Session() as session:
        token = session.get(f"{url}/api/v1/forms/news", timeout=30).json()["token"]
        body = {
            "fields": {"email": f"person{number}@firma.dk"},
            "consents": {"processing": True},
            "token": token,
        }
        return session.post(
            f"{url}/api/v1/forms/news/submissions", json=body, timeout=30
        ).status_code


def remote_submissions(url: str) -> float:
    response = requests.get(f"{url}/metrics", headers=AUTH, timeout=30)
    assert response.status_code == 200, response.text
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            if sample.name == "leadgate_submissions_total" and sample.labels["form"] == "news":
                return sample.value
    return 0.0

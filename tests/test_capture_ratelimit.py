"""Rate limits on submissions: per address, per form, for the site, shared through Redis."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import requests
import sqlalchemy as sa
from helpers import free_port

from capture.base.db import db
from capture.leads.lead import Lead
from wsgi import create_app

ROOT = Path(__file__).resolve().parent.parent
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
PARTNER = "https://www.partner.example"


def redis_or_skip() -> str:
    """The test Redis (db 15), or a skip; a failure when CI says the services must be there."""
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        if os.environ.get("LEADGATE_REQUIRE_SERVICES") == "1":
            pytest.fail(f"Redis at {REDIS_URL} is required (LEADGATE_REQUIRE_SERVICES=1): {exc}")
        pytest.skip(f"no Redis at {REDIS_URL}: {exc}")
    return REDIS_URL


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    return {
        **app_config,
        "RATELIMIT_ENABLED": True,
        "RATELIMIT_STORAGE_URI": "memory://",
        "RATELIMIT_SUBMIT": "3/hour",
        "RATELIMIT_SUBMIT_FORM": "5/hour",
        "RATELIMIT_SUBMIT_GLOBAL": "7/hour",
    }


@pytest.fixture
def forms(make_form):
    return make_form(slug="guide", allowed_origins=[PARTNER]), make_form(slug="other")


def post(client, slug: str, address: str, email: str, **headers: str):
    token = client.get(f"/api/v1/forms/{slug}").get_json()["token"]
    body = {"fields": {"email": email}, "consents": {"processing": True}, "token": token}
    return client.post(
        f"/api/v1/forms/{slug}/submissions",
        json=body,
        headers=headers,
        environ_base={"REMOTE_ADDR": address},
    )


def assert_rate_limited(response) -> None:
    assert response.status_code == 429
    assert response.get_json()["error"]["code"] == "rate_limited"
    assert int(response.headers["Retry-After"]) > 0


def test_per_address_limit_is_shared_by_the_api_and_the_hosted_page(client, forms):
    for n in range(2):
        assert post(client, "guide", "10.0.0.1", f"a{n}@b.dk").status_code == 201
    page = client.get("/f/other").get_data(as_text=True)
    token = page.split('name="token" type="hidden" value="')[1].split('"')[0]
    hosted = client.post(
        "/f/other",
        data={"email": "c@d.dk", "consent_processing": "y", "token": token},
        environ_base={"REMOTE_ADDR": "10.0.0.1"},
    )
    assert hosted.status_code == 200
    refused = post(client, "guide", "10.0.0.1", "e@f.dk", Origin=PARTNER)
    assert_rate_limited(refused)
    # The embed on the partner's page can read the answer and its Retry-After.
    assert refused.headers["Access-Control-Allow-Origin"] == PARTNER
    assert "Retry-After" in refused.headers["Access-Control-Expose-Headers"]
    assert post(client, "guide", "10.0.0.2", "g@h.dk").status_code == 201


def test_per_form_and_site_limits(app_context, client, forms):
    statuses = [post(client, "guide", f"10.1.0.{n}", f"x{n}@b.dk").status_code for n in range(6)]
    assert statuses == [201] * 5 + [429]
    assert post(client, "other", "10.1.1.1", "y1@b.dk").status_code == 201
    assert post(client, "other", "10.1.1.2", "y2@b.dk").status_code == 201
    assert_rate_limited(post(client, "other", "10.1.1.3", "y3@b.dk"))  # 7 for the whole site
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Lead)) == 7


def test_limits_count_in_redis_when_configured(app, forms):
    """With RATELIMIT_STORAGE_URI on Redis the counters live there, under our prefix."""
    url = redis_or_skip()
    prefix = f"test-{secrets.token_hex(4)}"
    config = {**app.config, "RATELIMIT_STORAGE_URI": url}
    config["RATELIMIT_STORAGE_OPTIONS"] = {"key_prefix": prefix}
    redis_app = create_app(config)
    try:
        nodes = redis_app.test_client()
        statuses = [post(nodes, "guide", "10.2.0.1", f"r{n}@b.dk").status_code for n in range(4)]
    finally:
        with redis_app.app_context():
            db.engine.dispose()  # its own pool: close it, or PostgreSQL connections leak
    assert statuses == [201, 201, 201, 429]
    store = redis.Redis.from_url(url)
    keys = store.keys(f"{prefix}*")
    try:
        assert any(b"submit-address" in key and b"10.2.0.1" in key for key in keys)
    finally:
        if keys:
            store.delete(*keys)
        store.close()


@pytest.fixture
def two_servers(database_url: str, forms) -> Iterator[list[str]]:
    """Two gunicorn processes on one database and one Redis, as two app nodes would run."""
    redis_url = redis_or_skip()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SECRET_KEY": "two-servers-secret-0123456789abcdefghij",
        "RATELIMIT_STORAGE_URI": redis_url,
        "RATELIMIT_KEY_PREFIX": f"test-{secrets.token_hex(4)}",  # runs share db 15
        "RATELIMIT_SUBMIT": "20/day",
        "LEADGATE_FORM_MIN_FILL_SECONDS": "0",
    }
    servers, urls = [], []
    for _ in range(2):
        port = free_port()
        command = [sys.executable, "-m", "gunicorn", "-w", "1", "-b", f"127.0.0.1:{port}"]
        servers.append(
            subprocess.Popen(
                [*command, "--log-level", "warning", "wsgi:create_app()"],
                cwd=ROOT,
                env=env,
            )
        )
        urls.append(f"http://127.0.0.1:{port}")
    try:
        deadline = time.monotonic() + 60
        for url in urls:
            while True:
                try:
                    requests.get(f"{url}/healthz", timeout=5)
                    break
                except requests.RequestException:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)
        yield urls
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            server.wait(timeout=10)


def test_burst_of_200_from_one_address_is_limited_across_two_processes(app_context, two_servers):
    sessions = [requests.Session(), requests.Session()]
    token = sessions[0].get(f"{two_servers[0]}/api/v1/forms/guide").json()["token"]
    answers = []
    for n in range(200):
        body = {"fields": {"email": f"burst{n}@b.dk"}, "consents": {"processing": True}}
        server = n % 2
        response = sessions[server].post(
            f"{two_servers[server]}/api/v1/forms/guide/submissions",
            json={**body, "token": token},
            timeout=10,
        )
        answers.append((server, response))
    accepted = [r for _, r in answers if r.status_code == 201]
    limited = [(s, r) for s, r in answers if r.status_code == 429]
    print(f"burst: {len(accepted)} accepted, {len(limited)} limited of {len(answers)}")
    assert len(accepted) == 20 and len(limited) == 180
    assert {r.status_code for _, r in answers} == {201, 429}
    assert [r.status_code for _, r in answers[:20]] == [201] * 20  # limited only after it
    assert {s for s, _ in limited} == {0, 1}  # both processes refused: one shared count
    for _, response in limited:
        assert response.json()["error"]["code"] == "rate_limited"
        assert int(response.headers["Retry-After"]) > 0
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Lead)) == 20

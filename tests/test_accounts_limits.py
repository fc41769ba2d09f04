"""Failed logins are rate-limited per account and per address: 429 with Retry-After."""

from __future__ import annotations

import pytest
from helpers import STAFF_PASSWORD, csrf_token_in, log_in

from capture.accounts import Role, create_user
from capture.base.db import db


@pytest.fixture
def app_config(app_config):
    return {
        **app_config,
        "RATELIMIT_ENABLED": True,
        "RATELIMIT_LOGIN": "6/minute",
        "RATELIMIT_LOGIN_ACCOUNT": "3/minute",
    }


@pytest.fixture
def users(app):
    for name in ("ane", "bo"):
        create_user(f"{name}@firma.dk", Role.MARKETER, STAFF_PASSWORD)
    db.session.commit()


def test_per_account_limit_then_429_page(app_context, client, users):
    for _ in range(3):
        assert log_in(client, "ane@firma.dk", "wrong but long password").status_code == 200
    blocked = log_in(client, "ane@firma.dk", STAFF_PASSWORD)  # even the right password now waits
    assert blocked.status_code == 429
    assert int(blocked.headers["Retry-After"]) > 0
    assert "Too many login attempts" in blocked.get_data(as_text=True)
    # Another account from the same address is still allowed in.
    assert log_in(client, "bo@firma.dk", STAFF_PASSWORD).status_code == 303


def test_per_address_limit_covers_many_accounts(app_context, client, users):
    page = client.get("/admin/login").get_data(as_text=True)
    token = csrf_token_in(page)
    statuses = []
    for n in range(7):
        response = client.post(
            "/admin/login",
            data={"email": f"guess{n}@firma.dk", "password": "x" * 12, "csrf_token": token},
        )
        statuses.append(response.status_code)
    assert statuses[:6] == [200] * 6
    assert statuses[6] == 429


def test_successful_logins_do_not_count(app_context, client, users):
    for _ in range(5):
        assert log_in(client, "ane@firma.dk", STAFF_PASSWORD).status_code == 303
        client.post(
            "/admin/logout",
            data={"csrf_token": csrf_token_in(client.get("/admin/").get_data(as_text=True))},
        )

"""The login limit counts before the password is checked, atomically, on the account found:
spelling the address differently, changing client address or sending guesses in parallel does
not buy more guesses."""

from __future__ import annotations

import os
import secrets
import threading
from collections import Counter
from typing import Any

import pytest
import redis
import requests
from helpers import STAFF_PASSWORD, csrf_token_in, log_in

from capture.accounts import Role, create_user
from capture.base.db import db

PASSWORD = STAFF_PASSWORD
WRONG = "wrong but long password"
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/3")
# The same account however typed: case, a full-width letter, a variation selector.
SPELLINGS = ["Sales@Example.com", "sales@\uff45xample.com", "sales@example.com\ufe0f"]


def redis_or_skip() -> str:
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        if os.environ.get("LEADGATE_REQUIRE_SERVICES") == "1":
            pytest.fail(f"Redis at {REDIS_URL} is required (LEADGATE_REQUIRE_SERVICES=1): {exc}")
        pytest.skip(f"no Redis at {REDIS_URL}: {exc}")
    return REDIS_URL


@pytest.fixture(params=["memory", "redis"])
def app_config(request: pytest.FixtureRequest, app_config: dict[str, Any]) -> dict[str, Any]:
    storage = "memory://" if request.param == "memory" else redis_or_skip()
    return {
        **app_config,
        "RATELIMIT_ENABLED": True,
        "RATELIMIT_STORAGE_URI": storage,
        "RATELIMIT_KEY_PREFIX": "test-" + secrets.token_hex(6),  # counters of this test only
        "RATELIMIT_LOGIN": "6/minute",
        "RATELIMIT_LOGIN_ACCOUNT": "3/minute",
        **(marker.kwargs if (marker := request.node.get_closest_marker("app_config")) else {}),
    }


@pytest.fixture
def sales(app: Any) -> None:
    create_user("sales@example.com", Role.SALES, PASSWORD)
    create_user("other@example.com", Role.SALES, PASSWORD)
    db.session.commit()


def attempt(client: Any, email: str, password: str, address: str) -> Any:
    return log_in(client, email, password, environ_base={"REMOTE_ADDR": address})


def test_the_account_limit_holds_however_the_address_is_typed_and_from_wherever(
    app_context: None, client: Any, sales: None
) -> None:
    for n, spelling in enumerate(SPELLINGS, start=1):
        assert attempt(client, spelling, WRONG, f"203.0.113.{n}").status_code == 200
    # Every spelling, from yet another address each, with the right password: refused unchecked.
    for n, spelling in enumerate(["sales@example.com", *SPELLINGS], start=10):
        refused = attempt(client, spelling, PASSWORD, f"198.51.100.{n}")
        assert refused.status_code == 429, spelling
        assert int(refused.headers["Retry-After"]) > 0
    # The limit is the account's: another account is not held up.
    assert attempt(client, "other@example.com", PASSWORD, "198.51.100.99").status_code == 303


def test_unknown_addresses_are_counted_normalised_too(
    app_context: None, client: Any, sales: None
) -> None:
    for n, spelling in enumerate(
        ["nobody@example.com", "Nobody@\uff45xample.com", "NOBODY@EXAMPLE.COM"]
    ):
        assert attempt(client, spelling, WRONG, f"203.0.113.{n}").status_code == 200
    assert attempt(client, "nobody@example.com", WRONG, "203.0.113.50").status_code == 429


def test_a_successful_login_gives_its_attempt_back(
    app_context: None, client: Any, sales: None
) -> None:
    for _ in range(2):
        assert attempt(client, "sales@example.com", WRONG, "203.0.113.1").status_code == 200
    for _ in range(4):  # more than the limit: successes do not use it up
        assert attempt(client, "sales@example.com", PASSWORD, "203.0.113.1").status_code == 303
        client.delete_cookie("session")
    assert attempt(client, "sales@example.com", WRONG, "203.0.113.1").status_code == 200
    assert attempt(client, "sales@example.com", PASSWORD, "203.0.113.1").status_code == 429


def parallel_guesses(url: str, emails: list[str]) -> Counter[int]:
    """One thread per e-mail address: each loads the form, then all post a wrong password at
    the same moment."""
    ready = threading.Barrier(len(emails))
    statuses: list[int] = []

    def guess(email: str) -> None:
        with requests.Session() as browser:
            token = csrf_token_in(browser.get(f"{url}/admin/login", timeout=30).text)
            data = {"email": email, "password": WRONG, "csrf_token": token}
            ready.wait(timeout=60)
            statuses.append(browser.post(f"{url}/admin/login", data=data, timeout=60).status_code)

    threads = [threading.Thread(target=guess, args=(email,)) for email in emails]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return Counter(statuses)


@pytest.mark.app_config(RATELIMIT_LOGIN="1000/minute")
def test_parallel_guesses_at_one_account_check_no_more_passwords_than_the_limit(
    app_context: None, live_server: Any, sales: None
) -> None:
    emails = [SPELLINGS[n % len(SPELLINGS)] for n in range(25)]
    assert parallel_guesses(live_server.url, emails) == Counter({200: 3, 429: 22})


def test_parallel_guesses_from_one_address_check_no_more_passwords_than_its_limit(
    app_context: None, live_server: Any, sales: None
) -> None:
    emails = [f"guess{n}@example.com" for n in range(25)]
    assert parallel_guesses(live_server.url, emails) == Counter({200: 6, 429: 19})


@pytest.mark.app_config(RATELIMIT_STORAGE_URI="redis://127.0.0.1:1/0")  # nothing listens there
def test_with_the_shared_storage_down_the_limit_is_kept_in_the_process(
    app_context: None, client: Any, sales: None
) -> None:
    for n in range(3):
        assert attempt(client, "sales@example.com", WRONG, f"203.0.113.{n}").status_code == 200
    assert attempt(client, "sales@example.com", PASSWORD, "203.0.113.9").status_code == 429
    assert attempt(client, "other@example.com", PASSWORD, "203.0.113.9").status_code == 303

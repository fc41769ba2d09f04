"""Plain helper functions and constants for tests: `from helpers import ...`.

Fixtures live in tests/fixtures/ (loaded as plugins by tests/conftest.py); what a test calls
directly lives here. A helper that uses the database opens an app context for its own work only.
"""

from __future__ import annotations

import os
import re
import socket
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import requests
import sqlalchemy as sa
from flask import Flask

from capture.base.db import db, utcnow
from magnets.grants import DownloadGrant

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "")
ON_POSTGRES = TEST_DATABASE_URL.startswith("postgres")

# The password of every back-office user the tests make (long enough for the policy).
STAFF_PASSWORD = "correct horse battery staple"


def free_port() -> int:
    """A loopback port nobody listens on now, for a server that must know its port before it
    starts (a subprocess, or one that restarts on the same port for an outage)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def csrf_token_in(html: str) -> str:
    """The CSRF token of the first form on a page."""
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html) or re.search(
        r'type="hidden" name="csrf_token" value="([^"]+)"', html
    )
    assert match, "no CSRF token on the page"
    return match.group(1)


def log_in(
    client: Any,
    email: str,
    password: str = STAFF_PASSWORD,
    next_url: str | None = None,
    base_url: str = "",
    environ_base: dict[str, str] | None = None,
) -> Any:
    """Log in through the back office's login form, as a person would: fetch the page for its
    CSRF token, then post. `client` is a Flask test client, or a `requests.Session` with the
    server's `base_url`. Returns the answer to the POST (303 on success), not following it.
    `environ_base` (test client only) sets both requests' WSGI environ, e.g. REMOTE_ADDR."""
    over_http = isinstance(client, requests.Session)
    options: dict[str, Any] = {"timeout": 30} if over_http else {}
    if environ_base is not None:
        options["environ_base"] = environ_base
    path = "/admin/login" + (f"?next={next_url}" if next_url else "")
    page = client.get(base_url + path, **options)
    data = {"email": email, "password": password, "csrf_token": csrf_token_in(page.text)}
    if next_url is not None:
        data["next"] = next_url
    if over_http:
        options["allow_redirects"] = False
    return client.post(f"{base_url}/admin/login", data=data, **options)


def expired_link(app: Flask, make_magnet: Any, make_form: Any, submit: Any) -> str:
    """A download link of a magnet form, expired a minute ago."""
    make_magnet(title="Guiden")
    fields = [{"name": "email", "type": "email"}, {"name": "first_name", "type": "text"}]
    make_form(slug="get-it", magnet="guide", fields=fields)
    url = submit("get-it", {"email": "ane@firma.dk", "first_name": "Ane"}).get_json()
    with app.app_context():
        grant = db.session.scalar(sa.select(DownloadGrant))
        assert grant is not None
        grant.expires_at = utcnow() - timedelta(minutes=1)
        db.session.commit()
    return url["download_url"]


def renew_token(client: Any, url: str) -> str:
    """The token of the "send me a fresh link" form on an expired link's page."""
    page = client.get(urlsplit(url).path)
    assert page.status_code == 410
    match = re.search(r'name="token" value="([^"]+)"', page.get_data(as_text=True))
    assert match, "no renewal form on the page"
    return match.group(1)


def withdraw_on_preference_page(client: Any, path: str, purpose: str) -> Any:
    """Press the preference page's (`/u/<token>`) withdraw button for `purpose`, as a person
    does: the form's own hidden fields, posted from the page itself."""
    from bs4 import BeautifulSoup

    page = BeautifulSoup(client.get(path).get_data(as_text=True), "html.parser")
    field = page.find("input", attrs={"name": "purpose", "value": purpose})
    assert field is not None, f"the page offers no choice about {purpose}"
    form = field.find_parent("form")
    data = {i["name"]: i.get("value", "") for i in form.find_all("input") if i.get("name")}
    assert data["action"] == "withdraw"
    return client.post(form["action"], data=data, headers={"Sec-Fetch-Site": "same-origin"})

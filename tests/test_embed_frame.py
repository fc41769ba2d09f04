"""The iframe mode's headers: framing only by the form's allowed origins, 'none' elsewhere."""

from __future__ import annotations

import json
from html import unescape

import pytest

PARTNER = "https://www.partner.example"


@pytest.fixture
def form(make_form):
    return make_form(slug="guide", allowed_origins=[PARTNER])


def directive(response, name: str) -> str:
    policy = response.headers["Content-Security-Policy"]
    return next(p.strip() for p in policy.split(";") if p.strip().startswith(name))


def test_embedded_page_may_be_framed_by_allowed_origins_only(client, form):
    response = client.get("/f/guide?embed=1")
    assert response.status_code == 200
    assert directive(response, "frame-ancestors") == f"frame-ancestors 'self' {PARTNER}"
    assert "X-Frame-Options" not in response.headers
    html = response.get_data(as_text=True)
    assert '<body class="embedded">' in html
    origins = html.split('data-origins="')[1].split('"')[0]
    assert json.loads(unescape(origins)) == [PARTNER]


@pytest.mark.parametrize("path", ["/f/guide", "/api/v1/forms/guide", "/healthz"])
def test_other_pages_refuse_framing(client, form, path):
    response = client.get(path)
    assert directive(response, "frame-ancestors") == "frame-ancestors 'none'"
    assert response.headers["X-Frame-Options"] == "DENY"


def test_form_without_allowed_origins_cannot_be_framed(client, make_form):
    make_form(slug="private")
    response = client.get("/f/private?embed=1")
    assert directive(response, "frame-ancestors") == "frame-ancestors 'none'"


def test_hosted_post_from_a_foreign_page_is_refused(client, form):
    page = client.get("/f/guide").get_data(as_text=True)
    token = page.split('name="token" type="hidden" value="')[1].split('"')[0]
    data = {"email": "ane@firma.dk", "consent_processing": "y", "token": token}
    refused = client.post("/f/guide", data=data, headers={"Origin": "https://evil.example"})
    assert refused.status_code == 403
    framed = client.post("/f/guide?embed=1", data=data, headers={"Origin": "http://localhost"})
    assert framed.status_code == 200  # the framed form posts to itself: our own origin
    assert (
        "frame-ancestors 'self' https://www.partner.example"
        in framed.headers["Content-Security-Policy"]
    )

"""The embed's server side: /embed.js, the cacheable definition, CORS, tokens, idempotency."""

from __future__ import annotations

import gzip
import json

import pytest
import sqlalchemy as sa

from capture.base.db import db
from capture.leads.lead import Lead
from capture.submissions.submission import Submission
from capture.web import embed
from capture.web.tokens import Purpose, sign

PARTNER = "https://www.partner.example"
STRANGER = "https://evil.example"


@pytest.fixture
def form(make_form):
    return make_form(slug="guide", allowed_origins=[PARTNER])


def count(model) -> int:
    db.session.expire_all()
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def body(client, slug="guide", email="ane@firma.dk", **extra):
    token = client.get(f"/api/v1/forms/{slug}").get_json()["token"]
    return {
        "fields": {"email": email},
        "consents": {"processing": True},
        "context": {"page_url": f"{PARTNER}/guide"},
        "token": token,
        **extra,
    }


# /embed.js


def test_embed_script_is_the_minified_build_with_cache_headers(client, built_embed):
    response = client.get("/embed.js", headers={"Accept-Encoding": "identity"})
    assert response.status_code == 200
    assert response.mimetype == "application/javascript"
    assert response.data == embed.BUILT.read_bytes()
    assert len(response.data) < len(embed.SOURCE.read_bytes()) / 2
    assert len(gzip.compress(response.data, 9)) <= 3000
    assert response.headers["Cross-Origin-Resource-Policy"] == "cross-origin"
    assert response.headers["Cache-Control"] == embed.SHORT_CACHE
    assert "Set-Cookie" not in response.headers
    etag = response.headers["ETag"]
    again = client.get("/embed.js", headers={"If-None-Match": etag, "Accept-Encoding": "identity"})
    assert again.status_code == 304


def test_versioned_embed_url_is_immutable_and_a_wrong_version_is_not(app, client, built_embed):
    with app.test_request_context():
        url = embed.embed_script_url()
    version = url.split("v=")[1]
    pinned = client.get(f"/embed.js?v={version}")
    assert pinned.headers["Cache-Control"] == embed.IMMUTABLE
    stale = client.get("/embed.js?v=000000000000")
    assert stale.headers["Cache-Control"] == embed.SHORT_CACHE


def test_embed_script_is_sent_gzipped_when_asked(client, built_embed):
    response = client.get("/embed.js", headers={"Accept-Encoding": "gzip, br"})
    assert response.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in response.headers["Vary"]
    assert gzip.decompress(response.data) == embed.BUILT.read_bytes()


@pytest.mark.parametrize("accepted", ["gzip;q=0, br", "identity", "*;q=0"])
def test_embed_script_is_not_gzipped_when_gzip_is_refused(client, built_embed, accepted):
    response = client.get("/embed.js", headers={"Accept-Encoding": accepted})
    assert "Content-Encoding" not in response.headers
    assert response.data == embed.BUILT.read_bytes()


# The definition


def test_definition_is_public_cacheable_and_revalidated(client, form):
    response = client.get("/api/v1/forms/guide?lang=da", headers={"Origin": STRANGER})
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert response.headers["Cache-Control"] == "public, no-cache"
    document = response.get_json()
    assert document["language"] == "da"
    assert document["consents"][0]["text"] == "Vi behandler det."
    assert document["token"] and document["token_ttl"] > 0
    assert document["fields"][0]["autocomplete"] == "email"
    assert "allowed_origins" not in document and "captcha" in document
    etag = response.headers["ETag"]
    again = client.get("/api/v1/forms/guide?lang=da", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.headers["Access-Control-Allow-Origin"] == "*"
    english = client.get("/api/v1/forms/guide?lang=en", headers={"If-None-Match": etag})
    assert english.status_code == 200  # another language is another document


def test_unknown_form_is_a_readable_404(client):
    response = client.get("/api/v1/forms/nope", headers={"Origin": STRANGER})
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "form_not_found"
    assert response.headers["Access-Control-Allow-Origin"] == "*"


# Cross-origin rules


def test_preflight_is_answered_for_allowed_origins_only(client, form):
    allowed = client.options(
        "/api/v1/forms/guide/submissions",
        headers={"Origin": PARTNER, "Access-Control-Request-Method": "POST"},
    )
    assert allowed.headers["Access-Control-Allow-Origin"] == PARTNER
    assert "POST" in allowed.headers["Access-Control-Allow-Methods"]
    assert "Idempotency-Key" in allowed.headers["Access-Control-Allow-Headers"]
    refused = client.options(
        "/api/v1/forms/guide/submissions",
        headers={"Origin": STRANGER, "Access-Control-Request-Method": "POST"},
    )
    assert "Access-Control-Allow-Origin" not in refused.headers
    assert "Access-Control-Allow-Methods" not in refused.headers


def test_submission_from_allowed_origin_echoes_it_and_sets_no_cookie(app_context, client, form):
    response = client.post(
        "/api/v1/forms/guide/submissions", json=body(client), headers={"Origin": PARTNER}
    )
    assert response.status_code == 201
    assert response.headers["Access-Control-Allow-Origin"] == PARTNER
    assert "Origin" in response.headers["Vary"]
    assert "Set-Cookie" not in response.headers
    assert count(Lead) == 1


def test_submission_from_another_origin_is_refused_readably(app_context, client, form):
    response = client.post(
        "/api/v1/forms/guide/submissions", json=body(client), headers={"Origin": STRANGER}
    )
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "origin_not_allowed"
    # Readable by the embed on that page, so it can say why; never the origin echoed.
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert count(Lead) == 0 and count(Submission) == 0


def test_the_refusal_speaks_the_forms_language(client, make_form):
    make_form(slug="dansk", language="da", allowed_origins=[PARTNER])
    response = client.post(
        "/api/v1/forms/dansk/submissions",
        json=body(client, slug="dansk"),
        headers={"Origin": STRANGER},
    )
    assert response.status_code == 403
    assert response.get_json()["error"]["message"] == (
        "Denne formular kan ikke sendes fra dette website."
    )


@pytest.mark.parametrize("origin", ["null", "file://", "https://", "not an origin"])
def test_an_opaque_or_unreadable_origin_is_not_taken_for_no_origin(
    app_context, client, form, origin
):
    """`Origin: null` comes from e.g. a sandboxed iframe on any site: refused like a stranger."""
    response = client.post(
        "/api/v1/forms/guide/submissions",
        json=body(client),
        headers={"Origin": origin, "Sec-Fetch-Site": "cross-site"},
    )
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "origin_not_allowed"
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert count(Lead) == 0 and count(Submission) == 0
    preflight = client.options(
        "/api/v1/forms/guide/submissions",
        headers={"Origin": origin, "Access-Control-Request-Method": "POST"},
    )
    assert "Access-Control-Allow-Origin" not in preflight.headers


def test_no_origin_at_all_is_a_server_to_server_post(app_context, client, form):
    response = client.post("/api/v1/forms/guide/submissions", json=body(client))
    assert response.status_code == 201
    assert count(Lead) == 1


def test_validation_errors_reach_the_allowed_origin(client, form):
    response = client.post(
        "/api/v1/forms/guide/submissions",
        json=body(client, email="not-an-address"),
        headers={"Origin": PARTNER},
    )
    assert response.status_code == 422
    assert response.headers["Access-Control-Allow-Origin"] == PARTNER
    assert "email" in response.get_json()["error"]["fields"]


def test_text_plain_json_with_key_in_body_is_idempotent(app_context, client, form):
    """The embed's way: a simple request (no preflight) carrying its key in the body."""
    payload = json.dumps(body(client, idempotency_key="attempt-chain-1"))
    headers = {"Origin": PARTNER, "Content-Type": "text/plain;charset=UTF-8"}
    first = client.post("/api/v1/forms/guide/submissions", data=payload, headers=headers)
    second = client.post("/api/v1/forms/guide/submissions", data=payload, headers=headers)
    assert first.status_code == 201 and second.status_code == 201
    assert second.headers["Idempotent-Replayed"] == "true"
    assert first.get_json() == second.get_json()
    assert count(Lead) == 1 and count(Submission) == 1
    other = json.loads(payload)
    other["fields"]["email"] = "someone@else.dk"
    conflict = client.post(
        "/api/v1/forms/guide/submissions", data=json.dumps(other), headers=headers
    )
    assert conflict.status_code == 409


def test_bad_idempotency_key_in_body_is_a_400(client, form):
    response = client.post(
        "/api/v1/forms/guide/submissions", json=body(client, idempotency_key=["x"])
    )
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "bad_request"


# The form token


@pytest.mark.parametrize(
    "token",
    [
        lambda: sign(Purpose.DOWNLOAD, {"f": "guide"}),  # another purpose
        lambda: sign(Purpose.FORM, {"f": "other-form"}),  # another form
        lambda: sign(Purpose.FORM, {"f": "guide"})[:-2] + "xx",  # tampered
    ],
)
def test_forged_tokens_are_quarantined(app_context, client, form, token):
    payload = body(client)
    payload["token"] = token()
    response = client.post("/api/v1/forms/guide/submissions", json=payload)
    assert response.status_code == 201  # success-looking, as the contract says
    assert count(Lead) == 0
    assert db.session.scalar(sa.select(Submission.spam_reason)) == "bad_token"


def test_expired_token_is_quarantined(app_context, app, client, form):
    payload = body(client)
    app.config["FORM_TOKEN_MAX_AGE"] = -1
    response = client.post("/api/v1/forms/guide/submissions", json=payload)
    assert response.status_code == 201
    assert db.session.scalar(sa.select(Submission.spam_reason)) == "expired_token"
    assert count(Lead) == 0

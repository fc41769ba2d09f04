"""Bearer tokens: the CLI, hashing, revocation, and the scope matrix over every API route."""

import pytest
import sqlalchemy as sa

from capture.api.token import ApiToken, hash_token
from capture.base.db import db

PUBLIC = {
    "/api/v1/forms/<slug>",
    "/api/v1/forms/<slug>/submissions",
    "/api/v1/openapi.json",
    "/api/v1/beacons/<slug>",
    "/api/v1/activity",  # track.js: a signed tracking token, not a bearer token
    "/api/v1/activity/withdrawal",
}
FORM = {
    "name": "Another form",
    "conversion": "contact_request",
    "fields": [{"name": "email", "type": "email", "required": True}],
    "consents": [{"purpose": "processing", "required": True, "text": {"en": "We process it."}}],
}
# (method, rule) -> (url template, JSON body, status with a write token)
CALLS = {
    ("GET", "/api/v1/leads"): ("/api/v1/leads", None, 200),
    ("GET", "/api/v1/leads/<lead_id>"): ("/api/v1/leads/{lead}", None, 200),
    ("GET", "/api/v1/leads/<lead_id>/export"): ("/api/v1/leads/{lead}/export", None, 200),
    ("POST", "/api/v1/leads/<lead_id>/stage"): (
        "/api/v1/leads/{lead}/stage",
        {"to": "sal", "reason": "accepted by sales"},
        200,
    ),
    ("DELETE", "/api/v1/leads/<lead_id>"): ("/api/v1/leads/{lead}", None, 200),
    ("POST", "/api/v1/events"): (
        "/api/v1/events",
        {"email": "ny@firma.dk", "kind": "phone_call"},
        201,
    ),
    ("GET", "/api/v1/forms"): ("/api/v1/forms", None, 200),
    ("GET", "/api/v1/analytics"): ("/api/v1/analytics", None, 200),
    ("GET", "/api/v1/forms/<slug>/definition"): ("/api/v1/forms/test-form/definition", None, 200),
    ("PUT", "/api/v1/forms/<slug>/definition"): ("/api/v1/forms/another/definition", FORM, 201),
    ("GET", "/api/v1/scoring/rules"): ("/api/v1/scoring/rules", None, 200),
    ("PUT", "/api/v1/scoring/rules"): ("/api/v1/scoring/rules", {"thresholds": {"sql": 90}}, 200),
    ("POST", "/api/v1/scoring/rules/preview"): (
        "/api/v1/scoring/rules/preview",
        {"thresholds": {"sql": 90}},
        200,
    ),
    ("GET", "/api/v1/conversion-kinds"): ("/api/v1/conversion-kinds", None, 200),
    ("POST", "/api/v1/conversion-kinds"): (
        "/api/v1/conversion-kinds",
        {"kind": "fair_visit", "classification": "MQL", "points": 5, "label": {"en": "Fair"}},
        201,
    ),
    ("GET", "/api/v1/routing/rules"): ("/api/v1/routing/rules", None, 200),
    ("PUT", "/api/v1/routing/rules"): ("/api/v1/routing/rules", {"rules": []}, 200),
}


@pytest.fixture
def lead(make_form, submit):
    make_form()
    return submit("test-form", {"email": "ane@firma.dk"}).get_json()["lead"]


def test_every_authenticated_route_is_in_the_matrix(app):
    routes = {
        (method, rule.rule)
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1") and rule.rule not in PUBLIC
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert routes == set(CALLS)


@pytest.mark.parametrize("who", ["anonymous", "read", "write"])
@pytest.mark.parametrize("call", sorted(CALLS), ids=lambda c: f"{c[0]} {c[1]}")
def test_scope_matrix(client, api_token, lead, who, call):
    template, body, ok = CALLS[call]
    headers = {} if who == "anonymous" else api_token(who)
    response = client.open(template.format(lead=lead), method=call[0], json=body, headers=headers)
    error = (response.get_json() or {}).get("error", {})
    if who == "anonymous":
        assert response.status_code == 401
        assert error["code"] == "unauthorized"
        assert response.headers["WWW-Authenticate"] == "Bearer"
    elif who == "read" and call[0] != "GET":
        assert response.status_code == 403
        assert error["code"] == "forbidden"
    else:
        assert response.status_code == ok, response.get_json()


def test_tokens_create_prints_the_token_once_and_stores_only_its_hash(app_context, runner, client):
    result = runner.invoke(args=["tokens", "create", "CRM sync", "--scope", "write"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 1 and lines[0].startswith("lgt_")
    secret = lines[0]
    row = db.session.scalar(sa.select(ApiToken))
    assert (row.name, row.scope) == ("CRM sync", "write")
    assert row.token_hash == hash_token(secret)
    assert secret not in repr([getattr(row, c.key) for c in ApiToken.__table__.c])
    assert secret.startswith(row.prefix) and len(row.prefix) < len(secret) // 3
    assert row.last_used_at is None
    assert (
        client.get("/api/v1/leads", headers={"Authorization": f"Bearer {secret}"}).status_code
        == 200
    )
    db.session.expire_all()
    assert db.session.scalar(sa.select(ApiToken)).last_used_at is not None


def test_revoked_wrong_and_malformed_tokens_are_refused(app_context, runner, client, api_token):
    headers = api_token("read")
    row = db.session.scalar(sa.select(ApiToken))
    assert runner.invoke(args=["tokens", "revoke", row.public_id]).exit_code == 0
    assert client.get("/api/v1/leads", headers=headers).status_code == 401
    for value in ["Bearer", "Bearer lgt_nothing", "Basic abc", "lgt_x", "Bearer " + "x" * 5000]:
        response = client.get("/api/v1/leads", headers={"Authorization": value})
        assert response.status_code == 401, value
        assert response.get_json()["error"]["code"] == "unauthorized"
    listing = runner.invoke(args=["tokens", "list"])
    assert "revoked" in listing.output


def test_default_scope_is_read(runner, client):
    secret = runner.invoke(args=["tokens", "create", "reporting"]).stdout.strip()
    response = client.post(
        "/api/v1/events",
        json={"email": "a@b.dk", "kind": "phone_call"},
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert response.status_code == 403


def test_public_routes_need_no_token(client, make_form):
    make_form()
    assert client.get("/api/v1/forms/test-form").status_code == 200
    assert client.get("/api/v1/openapi.json").status_code == 200

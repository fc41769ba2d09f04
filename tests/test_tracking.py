"""Tracking on the customer's site: the consent, the token, `POST /api/v1/activity`, page rules,
withdrawal (the /u/ preference page, the script's stop call) and the script as served.

The browser's side (a partner page in Chromium, its network log and localStorage) is in
test_tracking_browser.py.
"""

from __future__ import annotations

import gzip
import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa
from helpers import withdraw_on_preference_page

from capture.base.db import db
from capture.delivery.optin.unsubscribe import unsubscribe_url
from capture.forms.definition import parse_definition
from capture.forms.spec import TRACKING_TEXT, DefinitionError
from capture.leads.consent import ConsentRecord
from capture.leads.lead import Lead
from capture.leads.scoring import ScoreChange, ScoringRulesError, parse_rules
from capture.tracking import script
from capture.tracking.token import tracked_url

PARTNER = "https://www.partner.example"
CONSENTS = [
    {"purpose": "processing", "required": True, "text": {"en": "We process it."}},
    {"purpose": "tracking", "required": False},
]


@pytest.fixture
def tracked_form(make_form: Any) -> Any:
    return make_form(slug="guide", allowed_origins=[PARTNER], consents=CONSENTS, language="da")


def _submit(submit: Any, email: str, tracking: bool) -> dict[str, Any]:
    answer = submit(
        "guide",
        {"email": email},
        {"processing": True, "tracking": tracking},
        headers={"Origin": PARTNER},
    )
    assert answer.status_code == 201, answer.get_data(as_text=True)
    return answer.get_json()


def _view(client: Any, token: str, path: str = "/pricing", origin: str = PARTNER) -> Any:
    return client.post(
        "/api/v1/activity",
        data=json.dumps({"token": token, "url": f"{origin}{path}?email=ane@firma.dk"}),
        content_type="text/plain",
        headers={"Origin": origin},
    )


def _scores(email: str) -> list[ScoreChange]:
    db.session.expire_all()
    lead = db.session.scalar(sa.select(Lead).where(Lead.email == email))
    return list(
        db.session.scalars(
            sa.select(ScoreChange).where(ScoreChange.lead_id == lead.id).order_by(ScoreChange.id)
        )
    )


def test_tracking_is_a_consent_of_its_own_with_standard_text_never_required():
    spec = parse_definition(
        {"slug": "a", "name": "A", "conversion": "newsletter_signup", "consents": CONSENTS}
    )
    tracking = spec.consents[1]
    assert tracking.purpose == "tracking" and not tracking.required
    assert tracking.text == TRACKING_TEXT and set(TRACKING_TEXT) == {"da", "sv", "en"}
    required = [CONSENTS[0], {**CONSENTS[1], "required": True}]
    with pytest.raises(DefinitionError, match="tracking consent cannot be required"):
        parse_definition(
            {"slug": "a", "name": "A", "conversion": "newsletter_signup", "consents": required}
        )


def test_the_public_definition_offers_the_box_in_the_visitors_language(client, tracked_form):
    consents = client.get("/api/v1/forms/guide?lang=sv").get_json()["consents"]
    assert consents[1] == {"purpose": "tracking", "required": False, "text": TRACKING_TEXT["sv"]}


def test_a_token_only_with_tracking_consent_and_it_is_on_the_ledger(
    app_context, submit, tracked_form
):
    without = _submit(submit, "nej@firma.dk", tracking=False)
    assert "tracking_token" not in without
    with_consent = _submit(submit, "ja@firma.dk", tracking=True)
    assert with_consent["tracking_token"]
    lead = db.session.scalar(sa.select(Lead).where(Lead.email == "ja@firma.dk"))
    [record] = db.session.scalars(
        sa.select(ConsentRecord).where(
            ConsentRecord.lead_id == lead.id, ConsentRecord.purpose == "tracking"
        )
    )
    assert (record.status, record.method, record.text) == (
        "granted",
        "checkbox",
        TRACKING_TEXT["da"],
    )
    assert record.origin == PARTNER


def test_a_pricing_view_scores_15_with_its_reason_and_page_views_cap_at_10_a_day(
    app_context, client, submit, tracked_form
):
    token = _submit(submit, "ane@firma.dk", tracking=True)["tracking_token"]
    before = _scores("ane@firma.dk")[-1].after

    answer = _view(client, token, "/pricing/enterprise")
    assert answer.status_code == 202
    assert answer.get_json() == {"activity": "pricing_page_view"}
    assert answer.headers["Access-Control-Allow-Origin"] == PARTNER
    pricing = _scores("ane@firma.dk")[-1]
    assert (pricing.rule, pricing.after - pricing.before) == ("activity: pricing_page_view", 15)
    assert pricing.before == before
    # The path and the site; never the query string, where addresses end up.
    assert pricing.event == "page view /pricing/enterprise on www.partner.example"

    for _ in range(11):
        assert _view(client, token, "/blog/lead-scoring").get_json() == {"activity": "blog_view"}
    for _ in range(11):
        assert _view(client, token, "/about").get_json() == {"activity": "page_view"}
    views = [c for c in _scores("ane@firma.dk") if c.rule == "activity: page_view"]
    assert [c.after - c.before for c in views] == [5] * 10 + [0]
    assert views[-1].reason == "page_view: at most 10 per day"


def test_refusals_in_the_contract_shape(app_context, client, submit, tracked_form, contract_error):
    token = _submit(submit, "ane@firma.dk", tracking=True)["tracking_token"]
    stranger = _view(client, token, origin="https://evil.example")
    assert contract_error(stranger, 403, "origin_not_allowed")
    assert stranger.headers["Access-Control-Allow-Origin"] == "*"  # the script reads it
    forged = _view(client, token[:-3] + "abc")
    assert contract_error(forged, 403, "invalid_token")
    # Another page's address than the page's own origin.
    claimed = client.post(
        "/api/v1/activity",
        json={"token": token, "url": "https://other.example/pricing"},
        headers={"Origin": PARTNER},
    )
    assert contract_error(claimed, 422)["fields"]["url"]
    assert contract_error(client.post("/api/v1/activity", data="{", content_type="text/plain"), 400)
    assert contract_error(client.post("/api/v1/activity", json={"url": 5}), 422)
    assert contract_error(client.post("/api/v1/activity", data=b"x", content_type="image/png"), 415)
    other_form_token = issue_token_for_other_purpose(client)
    assert contract_error(_view(client, other_form_token), 403, "invalid_token")
    assert [c.rule for c in _scores("ane@firma.dk")].count("activity: pricing_page_view") == 0


def issue_token_for_other_purpose(client: Any) -> str:
    """A form token: signed by us, for another purpose."""
    return client.get("/api/v1/forms/guide").get_json()["token"]


def test_withdrawal_on_the_preference_page_stops_the_token(
    app, app_context, client, submit, tracked_form, contract_error
):
    body = _submit(submit, "ane@firma.dk", tracking=True)
    token = body["tracking_token"]
    with app.test_request_context():
        path = unsubscribe_url(body["lead"]).removeprefix("http://localhost")
    page = client.get(path).get_data(as_text=True)
    assert "Stop following my visits to the website" in page

    done = withdraw_on_preference_page(client, path, "tracking")
    assert done.status_code == 303
    stopped = _view(client, token)
    assert contract_error(stopped, 410, "tracking_stopped")
    assert stopped.headers["Access-Control-Allow-Origin"] == "*"
    records = db.session.scalars(
        sa.select(ConsentRecord)
        .where(ConsentRecord.purpose == "tracking")
        .order_by(ConsentRecord.id)
    ).all()
    assert [(r.status, r.method) for r in records] == [
        ("granted", "checkbox"),
        ("withdrawn", "preference_page"),
    ]
    # The page now offers the consent again (the withdrawal stays in its history).
    again_offered = client.get(path).get_data(as_text=True)
    assert 'name="purpose" value="tracking"' in again_offered
    assert 'name="action" value="grant"' in again_offered

    # Ticking the box again on a later visit grants it again, with a new token.
    again = _submit(submit, "ane@firma.dk", tracking=True)["tracking_token"]
    assert _view(client, again).status_code == 202


def test_stop_on_the_page_records_the_withdrawal(
    app_context, client, submit, tracked_form, contract_error
):
    token = _submit(submit, "ane@firma.dk", tracking=True)["tracking_token"]
    answer = client.post(
        "/api/v1/activity/withdrawal",
        data=json.dumps({"token": token}),
        content_type="text/plain",
        headers={"Origin": PARTNER, "Referer": f"{PARTNER}/privacy"},
    )
    assert answer.status_code == 200 and answer.get_json() == {"tracking": "withdrawn"}
    record = db.session.scalars(
        sa.select(ConsentRecord).order_by(ConsentRecord.id.desc()).limit(1)
    ).one()
    assert (record.purpose, record.status, record.method, record.channel) == (
        "tracking",
        "withdrawn",
        "page",
        "embed",
    )
    assert record.language == "da" and record.text == "Stop med at følge mine besøg på websitet"
    assert (record.origin, record.page_url) == (PARTNER, f"{PARTNER}/privacy")
    assert contract_error(_view(client, token), 410, "tracking_stopped")


def test_an_erased_persons_token_is_gone(
    app_context, client, submit, tracked_form, api_token, contract_error
):
    body = _submit(submit, "ane@firma.dk", tracking=True)
    assert client.delete(f"/api/v1/leads/{body['lead']}", headers=api_token()).status_code == 200
    assert contract_error(_view(client, body["tracking_token"]), 410, "tracking_stopped")


def test_e_mail_links_carry_a_token_only_with_consent(
    app, app_context, client, submit, tracked_form
):
    _submit(submit, "ja@firma.dk", tracking=True)
    _submit(submit, "nej@firma.dk", tracking=False)
    with app.test_request_context():
        yes = db.session.scalar(sa.select(Lead).where(Lead.email == "ja@firma.dk"))
        no = db.session.scalar(sa.select(Lead).where(Lead.email == "nej@firma.dk"))
        link = tracked_url(f"{PARTNER}/pricing?utm_source=mail", yes, "da")
        assert tracked_url(f"{PARTNER}/pricing", no) == f"{PARTNER}/pricing"
    query = parse_qs(urlsplit(link).query)
    assert query["utm_source"] == ["mail"]
    assert _view(client, query["lg_t"][0]).status_code == 202


def test_page_rules_pick_the_most_specific_pattern_and_are_checked():
    rules = parse_rules({"page_rules": {"/pricing/free*": "page_view", "/careers*": None}})
    pages = rules.pages
    assert pages.activity("/pricing") == "pricing_page_view"
    assert pages.activity("/Pricing/Free-trial") == "page_view"
    assert pages.activity("/contact-us") == "contact_page_view"
    assert pages.activity("/careers") == "page_view"  # null: no pattern, the default applies
    assert parse_rules({"page_rules": {"default": None}}).pages.activity("/about") is None
    with pytest.raises(ScoringRulesError) as error:
        parse_rules({"page_rules": {"pricing": "page_view", "/x": "pricing_view"}})
    assert error.value.problems == [
        "page_rules.pricing: a path pattern starting with / (like /pricing*) or default",
        "page_rules./x: unknown activity 'pricing_view' (see activities)",
    ]


def test_the_script_is_served_versioned_and_within_its_budget(client):
    plain = client.get("/track.js", headers={"Accept-Encoding": "identity"})
    assert plain.status_code == 200 and plain.mimetype == "application/javascript"
    assert plain.headers["Cache-Control"] == "public, max-age=300, must-revalidate"
    assert plain.data == script.BUILT.read_bytes()
    assert len(gzip.compress(plain.data, 9)) <= 1000
    with client.application.app_context(), client.application.test_request_context():
        versioned = script.track_script_url()
    pinned = client.get(
        versioned.removeprefix("http://localhost"), headers={"Accept-Encoding": "gzip"}
    )
    assert pinned.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert pinned.headers["Content-Encoding"] == "gzip"
    assert (
        client.get("/track.js", headers={"If-None-Match": plain.headers["ETag"]}).status_code == 304
    )


def test_preflight_for_json_posts(client):
    answer = client.options("/api/v1/activity", headers={"Origin": PARTNER})
    assert answer.status_code == 204
    assert answer.headers["Access-Control-Allow-Origin"] == PARTNER


@pytest.mark.app_config(RATELIMIT_ENABLED=True, RATELIMIT_ACTIVITY="3/minute")
def test_page_views_are_rate_limited_per_address(
    app_context, client, submit, tracked_form, contract_error
):
    token = _submit(submit, "ane@firma.dk", tracking=True)["tracking_token"]
    assert [_view(client, token, "/about").status_code for _ in range(3)] == [202] * 3
    limited = _view(client, token, "/about")
    contract_error(limited, 429, "rate_limited")
    assert int(limited.headers["Retry-After"]) > 0
    assert limited.headers["Access-Control-Allow-Origin"] == "*"

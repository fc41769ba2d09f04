"""The submission API end to end: the lifecycle, every error code, CORS, spam, idempotency,
mass assignment and the cleaning of values, on whichever database the run uses."""

from __future__ import annotations

import json
import socket
from typing import Any

import pytest

from capture.base.config import InvalidConfiguration
from capture.base.db import db
from capture.base.lifecycle import Stage
from capture.leads.consent import ConsentRecord
from capture.leads.conversion import ConversionEvent
from capture.leads.lead import Lead, StageChange, move_stage
from capture.leads.scoring import conversion_points, parse_rules
from capture.submissions.submission import Submission
from wsgi import create_app

PARTNER = "https://www.partner.example"


def body_for(client: Any, slug: str, fields: dict[str, Any], **extra: Any) -> dict[str, Any]:
    token = client.get(f"/api/v1/forms/{slug}").get_json()["token"]
    return {"fields": fields, "consents": {"processing": True}, "token": token, **extra}


def post(client: Any, slug: str, body: Any, **kwargs: Any) -> Any:
    return client.post(f"/api/v1/forms/{slug}/submissions", json=body, **kwargs)


# --- the lifecycle -------------------------------------------------------------------------


def test_newsletter_makes_an_mql_contact_an_sql_and_nothing_moves_back(
    app_context, demo_forms, submit, rows
):
    first = submit("newsletter", {"email": "ane@firma.dk", "first_name": "Ane"})
    assert first.status_code == 201
    answer = first.get_json()
    assert answer["conversion"] == {"kind": "newsletter_signup", "classification": "MQL"}
    assert answer["lifecycle_stage"] == "mql"
    assert answer["lead"].startswith("lead_") and answer["submission"].startswith("sub_")
    assert answer["message"] == "Tak for din tilmelding!"

    second = submit("contact", {"email": "ane@firma.dk", "first_name": "Ane", "company": "Firma"})
    assert second.status_code == 201
    assert second.get_json()["conversion"] == {"kind": "contact_request", "classification": "SQL"}
    assert second.get_json()["lifecycle_stage"] == "sql"
    assert second.get_json()["lead"] == answer["lead"]

    again = submit("newsletter", {"email": "ane@firma.dk"})
    assert again.status_code == 201
    assert again.get_json()["conversion"]["classification"] == "MQL"
    assert again.get_json()["lifecycle_stage"] == "sql"

    [lead] = rows(Lead)
    assert (lead.public_id, lead.lifecycle_stage) == (answer["lead"], "sql")
    events = rows(ConversionEvent)
    assert [(e.kind, e.classification, e.lead_id) for e in events] == [
        ("newsletter_signup", "MQL", lead.id),
        ("contact_request", "SQL", lead.id),
        ("newsletter_signup", "MQL", lead.id),
    ]
    submissions = rows(Submission)
    assert [e.submission_id for e in events] == [s.id for s in submissions]
    changes = rows(StageChange)
    assert [(c.from_stage, c.to_stage, c.conversion_id) for c in changes] == [
        ("lead", "mql", events[0].id),
        ("mql", "sql", events[1].id),
    ]
    assert all(c.actor == "system:classification" and c.reason for c in changes)
    assert "contact_request" in changes[1].reason


def test_a_disqualified_lead_is_never_moved_automatically(app_context, demo_forms, submit, rows):
    assert submit("newsletter", {"email": "ole@firma.dk"}).status_code == 201
    [lead] = rows(Lead)
    move_stage(lead, Stage.DISQUALIFIED, reason="competitor", actor="user:sales@firma.dk")
    db.session.commit()

    response = submit("contact", {"email": "ole@firma.dk", "first_name": "Ole", "company": "F"})
    assert response.status_code == 201
    assert response.get_json()["lifecycle_stage"] == "disqualified"
    [lead] = rows(Lead)
    assert lead.lifecycle_stage == "disqualified"
    assert [e.classification for e in rows(ConversionEvent)] == ["MQL", "SQL"]
    assert [(c.from_stage, c.to_stage) for c in rows(StageChange)] == [
        ("lead", "mql"),
        ("mql", "disqualified"),
    ]


def test_conversion_classes_are_remapped_from_the_environment(
    app_context, monkeypatch, app, app_config, demo_forms, rows
):
    monkeypatch.setenv("LEADGATE_CONVERSION_CLASSES", "newsletter_signup=SQL, contact_request=MQL")
    remapped = create_app(app_config)
    try:
        client = remapped.test_client()
        token = client.get("/api/v1/forms/newsletter").get_json()["token"]
        body = {"fields": {"email": "kim@firma.dk"}, "consents": {"processing": True}}
        response = post(client, "newsletter", {**body, "token": token})
        assert response.status_code == 201
        assert response.get_json()["conversion"] == {
            "kind": "newsletter_signup",
            "classification": "SQL",
        }
        assert response.get_json()["lifecycle_stage"] == "sql"
    finally:
        with remapped.app_context():
            db.engine.dispose()
    [event] = rows(ConversionEvent)
    assert event.classification == "SQL"
    assert [c.to_stage for c in rows(StageChange)] == ["sql"]


@pytest.mark.parametrize("setting", ["newsletter=SQL", "video_view=HOT", "video_view"])
def test_a_bad_remapping_stops_the_start_not_every_submission(monkeypatch, app_config, setting):
    monkeypatch.setenv("LEADGATE_CONVERSION_CLASSES", setting)
    with pytest.raises(InvalidConfiguration, match="LEADGATE_CONVERSION_CLASSES"):
        create_app(app_config)


# --- error codes ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        b"{",
        b"",
        b"[]",
        b'"fields"',
        b"null",
        b'{"fields": "ane@firma.dk"}',
        b'{"fields": ["ane@firma.dk"]}',
        b'{"consents": true}',
        b'{"context": 1}',
        b'{"fields": {"email": "\xff\xfe"}}',
        b"\xef\xbb\xbf{}",
        b"[" * 5000 + b"]" * 5000,
    ],
)
def test_a_malformed_body_is_400(client, demo_forms, data, rows, contract_error):
    response = client.post(
        "/api/v1/forms/newsletter/submissions", data=data, content_type="application/json"
    )
    contract_error(response, 400)
    assert rows(Submission) == []


@pytest.mark.parametrize("key", ["", "   ", "x" * 256, "nøgle", "a\tb"])
def test_a_bad_idempotency_key_is_400(client, demo_forms, key, rows, contract_error):
    body = body_for(client, "newsletter", {"email": "ane@firma.dk"})
    response = post(client, "newsletter", body, headers={"Idempotency-Key": key})
    contract_error(response, 400)
    assert rows(Submission) == []


def test_a_post_from_another_site_is_403(client, make_form, rows, contract_error):
    make_form(allowed_origins=[PARTNER])
    body = body_for(client, "test-form", {"email": "ane@firma.dk"})
    response = post(client, "test-form", body, headers={"Origin": "https://evil.example"})
    contract_error(response, 403)
    # The refused origin is never echoed; the error is readable by any page ("*", no
    # credentials) so the embed can explain the 403 (a documented choice, see docs/embedding.md).
    assert response.headers.get("Access-Control-Allow-Origin") in (None, "*")
    assert "Access-Control-Allow-Credentials" not in response.headers
    assert rows(Submission) == [] and rows(Lead) == []
    assert post(client, "test-form", body, headers={"Origin": PARTNER}).status_code == 201


def test_an_unknown_form_is_404(client, demo_forms, contract_error):
    contract_error(client.get("/api/v1/forms/no-such-form"), 404)
    contract_error(post(client, "no-such-form", {"fields": {"email": "ane@firma.dk"}}), 404)


def test_a_closed_form_is_410(client, make_form, rows, contract_error):
    make_form(status="closed")
    contract_error(client.get("/api/v1/forms/test-form"), 410)
    token = client.get("/f/test-form")  # the page says so too
    assert token.status_code == 410
    response = post(client, "test-form", {"fields": {"email": "ane@firma.dk"}})
    contract_error(response, 410)
    assert rows(Submission) == []


def test_a_body_over_the_limit_is_413(client, demo_forms, rows, contract_error):
    body = body_for(client, "newsletter", {"email": "ane@firma.dk", "first_name": "x" * 70_000})
    contract_error(post(client, "newsletter", body), 413)
    parts = {f"f{i}": "x" for i in range(300)}
    response = client.post(
        "/api/v1/forms/newsletter/submissions", data=parts, content_type="multipart/form-data"
    )
    contract_error(response, 413)
    assert rows(Submission) == []


# text/plain is JSON: the embed posts it that way to avoid a CORS preflight.
@pytest.mark.parametrize("content_type", ["application/xml", "", "image/png", "text/html"])
def test_a_body_that_is_not_json_or_a_form_post_is_415(
    client, demo_forms, content_type, contract_error
):
    body = json.dumps(body_for(client, "newsletter", {"email": "ane@firma.dk"}))
    response = client.post(
        "/api/v1/forms/newsletter/submissions", data=body, headers={"Content-Type": content_type}
    )
    contract_error(response, 415)


def test_invalid_values_are_422_with_every_field_named(client, demo_forms, rows, contract_error):
    body = body_for(client, "contact", {"email": "not-an-e-mail", "budget": "a million"})
    body["consents"] = {}
    error = contract_error(post(client, "contact", body), 422)
    assert error["fields"] == {
        "email": ["Enter a valid e-mail address."],
        "first_name": ["This field is required."],
        "company": ["This field is required."],
        "budget": ["Choose one of the options."],
        "consents.processing": ["You must accept this to send the form."],
    }
    assert rows(Submission) == [] and rows(Lead) == []


def test_the_form_post_encoding_works_on_the_api(app_context, client, demo_forms, rows):
    token = client.get("/api/v1/forms/newsletter").get_json()["token"]
    response = client.post(
        "/api/v1/forms/newsletter/submissions",
        data={
            "email": "ane@firma.dk",
            "first_name": "Ane",
            "consent_processing": "y",
            "utm_source": "linkedin",
            "token": token,
        },
    )
    assert response.status_code == 201, response.get_json()
    [submission] = rows(Submission)
    assert submission.fields == {"email": "ane@firma.dk", "first_name": "Ane"}
    assert submission.context == {"utm_source": "linkedin"}
    assert submission.consents == {"processing": True}


def test_a_database_outage_is_503_with_retry_after(app_config, contract_error):
    with socket.socket() as probe:  # a loopback port where nothing listens
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    down = create_app(
        {
            **app_config,
            "SQLALCHEMY_DATABASE_URI": f"postgresql+psycopg://x@127.0.0.1:{port}/x",
            "PROPAGATE_EXCEPTIONS": False,
        }
    )
    client = down.test_client()
    headers = {"Origin": PARTNER}
    for response in (
        client.get("/api/v1/forms/newsletter", headers=headers),
        client.post("/api/v1/forms/newsletter/submissions", json={}, headers=headers),
    ):
        contract_error(response, 503, "unavailable")
        assert response.headers["Retry-After"].isdigit()
    page = client.post("/f/newsletter", data={"email": "ane@firma.dk"})
    assert page.status_code == 503 and page.headers["Retry-After"].isdigit()
    assert "Traceback" not in page.get_data(as_text=True)


@pytest.mark.app_config(
    SQLALCHEMY_ENGINE_OPTIONS={"pool_size": 1, "max_overflow": 0, "pool_timeout": 0.2}
)
def test_no_free_database_connection_is_503_with_retry_after(
    app_context, app, client, demo_forms, contract_error
):
    body = body_for(client, "newsletter", {"email": "ane@firma.dk"})
    db.session.remove()
    with db.engine.connect():  # the only connection there is, busy elsewhere
        response = post(client, "newsletter", body)
        contract_error(response, 503, "unavailable")
        assert response.headers["Retry-After"].isdigit()
        page = client.get("/f/newsletter")
        assert page.status_code == 503 and page.headers["Retry-After"].isdigit()
    db.session.remove()
    assert post(client, "newsletter", body).status_code == 201


# --- CORS ----------------------------------------------------------------------------------


def test_preflight_echoes_an_allowed_origin_only(client, make_form):
    make_form(allowed_origins=[PARTNER, "http://localhost:8080"])
    asked = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type",
    }
    for path in ("/api/v1/forms/test-form/submissions", "/api/v1/forms/test-form"):
        allowed = client.options(path, headers={"Origin": PARTNER, **asked})
        assert allowed.status_code == 204
        assert allowed.headers["Access-Control-Allow-Origin"] == PARTNER
        assert "POST" in allowed.headers["Access-Control-Allow-Methods"]
        allowed_headers = allowed.headers["Access-Control-Allow-Headers"].lower()
        assert "content-type" in allowed_headers and "idempotency-key" in allowed_headers
        assert "Origin" in allowed.headers["Vary"]
        assert "Access-Control-Allow-Credentials" not in allowed.headers

        for origin in ("https://evil.example", "https://www.partner.example.evil.example", "null"):
            refused = client.options(path, headers={"Origin": origin, **asked})
            assert "Access-Control-Allow-Origin" not in refused.headers
            assert "Access-Control-Allow-Methods" not in refused.headers
    local = client.options(
        "/api/v1/forms/test-form/submissions", headers={"Origin": "http://localhost:8080"}
    )
    assert local.headers["Access-Control-Allow-Origin"] == "http://localhost:8080"
    unknown = client.options("/api/v1/forms/nope/submissions", headers={"Origin": PARTNER})
    assert "Access-Control-Allow-Origin" not in unknown.headers


def test_answers_to_an_allowed_origin_carry_cors_even_when_they_are_errors(
    app_context, client, make_form, rows, contract_error
):
    make_form(allowed_origins=[PARTNER])
    body = body_for(client, "test-form", {"email": "ane@firma.dk"})
    created = post(client, "test-form", body, headers={"Origin": PARTNER})
    assert created.status_code == 201
    assert created.headers["Access-Control-Allow-Origin"] == PARTNER
    assert "Idempotent-Replayed" in created.headers["Access-Control-Expose-Headers"]
    invalid = post(client, "test-form", {**body, "fields": {}}, headers={"Origin": PARTNER})
    contract_error(invalid, 422)
    assert invalid.headers["Access-Control-Allow-Origin"] == PARTNER
    [submission] = rows(Submission)
    assert (submission.channel, submission.origin) == ("embed", PARTNER)


# --- spam ----------------------------------------------------------------------------------


def assert_quarantined(rows: Any, response: Any, reason: str) -> None:
    assert response.status_code == 201, response.get_data(as_text=True)
    answer = response.get_json()
    assert answer["submission"].startswith("sub_") and answer["lead"].startswith("lead_")
    assert answer["lifecycle_stage"] == "mql" and answer["message"]
    [submission] = rows(Submission)
    assert (submission.status, submission.spam_reason) == ("quarantined", reason)
    assert submission.public_id == answer["submission"]
    assert submission.lead_id is None
    assert rows(Lead) == [] and rows(ConversionEvent) == [] and rows(ConsentRecord) == []


def test_a_filled_honeypot_is_quarantined(app_context, client, demo_forms, rows):
    body = body_for(client, "newsletter", {"email": "bot@spam.example", "homepage_url": "x"})
    assert_quarantined(rows, post(client, "newsletter", body), "honeypot")
    [submission] = rows(Submission)
    assert submission.fields == {"email": "bot@spam.example"}


@pytest.mark.app_config(FORM_MIN_FILL_SECONDS=60)
def test_a_form_sent_faster_than_a_person_can_is_quarantined(app_context, client, demo_forms, rows):
    body = body_for(client, "newsletter", {"email": "bot@spam.example"})
    assert_quarantined(rows, post(client, "newsletter", body), "too_fast")


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        (None, "missing_token"),
        ("", "missing_token"),
        (42, "missing_token"),
        ("tampered", "bad_token"),
        ("other-form", "bad_token"),
        ("not-a-token", "bad_token"),
        ("\ud800", "bad_token"),
        ("æøå", "bad_token"),
    ],
)
def test_a_missing_or_forged_token_is_quarantined(
    app_context, client, demo_forms, token, reason, rows
):
    body = body_for(client, "newsletter", {"email": "bot@spam.example"})
    if token == "tampered":
        token = body["token"][:-3] + ("AAA" if body["token"][-3:] != "AAA" else "BBB")
    elif token == "other-form":
        token = client.get("/api/v1/forms/contact").get_json()["token"]
    body["token"] = token
    assert_quarantined(rows, post(client, "newsletter", body), reason)


# --- idempotency ---------------------------------------------------------------------------


def test_the_same_key_replays_the_first_answer_and_records_nothing_new(
    client, demo_forms, rows, contract_error
):
    body = body_for(client, "newsletter", {"email": "ane@firma.dk"})
    first = post(client, "newsletter", body, headers={"Idempotency-Key": "k-1"})
    assert first.status_code == 201
    assert "Idempotent-Replayed" not in first.headers
    replay = post(client, "newsletter", body, headers={"Idempotency-Key": "k-1"})
    assert replay.status_code == 201
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.get_data() == first.get_data()
    assert len(rows(Submission)) == 1 and len(rows(ConversionEvent)) == 1

    changed = {**body, "fields": {"email": "ane@firma.dk", "first_name": "Ane"}}
    contract_error(post(client, "newsletter", changed, headers={"Idempotency-Key": "k-1"}), 409)
    assert len(rows(Submission)) == 1

    other_form = body_for(client, "contact", {"email": "a@b.dk", "first_name": "A", "company": "B"})
    assert (
        post(client, "contact", other_form, headers={"Idempotency-Key": "k-1"}).status_code == 201
    )
    assert len(rows(Submission)) == 2


def test_a_quarantined_answer_is_replayed_too(client, demo_forms, rows):
    body = body_for(client, "newsletter", {"email": "bot@spam.example", "homepage_url": "x"})
    first = post(client, "newsletter", body, headers={"Idempotency-Key": "spam-1"})
    replay = post(client, "newsletter", body, headers={"Idempotency-Key": "spam-1"})
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.get_data() == first.get_data()
    assert len(rows(Submission)) == 1


# --- mass assignment -----------------------------------------------------------------------

EXTRAS = {
    "is_admin": "true",
    "lifecycle_stage": "customer",
    "score": "1000",
    "partner": "evil-partner",
    "properties": "x",
    "public_id": "lead_forged",
    "notes": "undeclared-marker",
    "last_name": "undeclared-last-name",
}


def assert_only_declared_fields_stored(rows: Any) -> None:
    [submission] = rows(Submission)
    assert submission.fields == {"email": "ane@firma.dk", "first_name": "Ane"}
    [lead] = rows(Lead)
    assert lead.public_id != "lead_forged"
    # The score is what a newsletter signup earns, not the forged 1000.
    signup = conversion_points(parse_rules(), "newsletter_signup")
    assert (lead.lifecycle_stage, lead.score, lead.partner) == ("mql", signup, None)
    assert lead.properties == {}
    assert lead.last_name is None
    stored = json.dumps(
        [submission.fields, submission.context, submission.response, lead.properties],
        default=str,
    )
    for marker in ("undeclared", "evil-partner", "is_admin", "1000"):
        assert marker not in stored


def test_undeclared_json_fields_never_reach_the_database(app_context, client, demo_forms, rows):
    body = body_for(client, "newsletter", {"email": "ane@firma.dk", "first_name": "Ane", **EXTRAS})
    body["context"] = {"utm_source": "x", "lead": "lead_forged", "is_admin": True}
    body["lead"] = {"lifecycle_stage": "customer"}
    response = post(client, "newsletter", body)
    assert response.status_code == 201
    assert "undeclared" not in response.get_data(as_text=True)
    assert "customer" not in response.get_data(as_text=True)
    assert_only_declared_fields_stored(rows)
    [submission] = rows(Submission)
    assert submission.context == {"utm_source": "x"}


@pytest.mark.parametrize("path", ["/api/v1/forms/newsletter/submissions", "/f/newsletter"])
def test_undeclared_form_post_fields_never_reach_the_database(
    app_context, client, demo_forms, path, rows
):
    token = client.get("/api/v1/forms/newsletter").get_json()["token"]
    data = {"email": "ane@firma.dk", "first_name": "Ane", "consent_processing": "y", **EXTRAS}
    response = client.post(path, data={**data, "token": token})
    assert response.status_code == (201 if path.startswith("/api/") else 200)
    assert "undeclared" not in response.get_data(as_text=True)
    assert_only_declared_fields_stored(rows)


# --- values --------------------------------------------------------------------------------


def test_one_person_is_one_lead_however_the_address_is_typed(
    app_context, client, demo_forms, submit, rows
):
    for email in ("Ane@Firma.DK", "ane@firma.dk", "  ANE@FIRMA.dk "):
        assert submit("newsletter", {"email": email}).status_code == 201
    [lead] = rows(Lead)
    assert lead.email == "ane@firma.dk"
    assert {s.lead_id for s in rows(Submission)} == {lead.id}


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("12 34 56 78", "+4512345678"),
        ("12345678", "+4512345678"),
        ("+45 12 34 56 78", "+4512345678"),
        ("0046 70 123 45 67", "+46701234567"),
        ("+46 70-123 45 67", "+46701234567"),
    ],
)
def test_phone_numbers_are_stored_as_e164(app_context, make_form, submit, typed, stored, rows):
    make_form(language="da", fields=[{"name": "phone", "type": "tel", "required": True}])
    response = submit("test-form", {"email": "ane@firma.dk", "phone": typed})
    assert response.status_code == 201, response.get_json()
    [lead] = rows(Lead)
    assert lead.phone == stored
    assert rows(Submission)[0].fields["phone"] == stored


@pytest.mark.parametrize("typed", ["123", "not a number", "+45 1", "1" * 41])
def test_a_phone_number_that_is_no_number_is_refused(make_form, submit, typed, contract_error):
    make_form(language="da", fields=[{"name": "phone", "type": "tel"}])
    error = contract_error(submit("test-form", {"email": "ane@firma.dk", "phone": typed}), 422)
    assert list(error["fields"]) == ["phone"]


def test_select_options_are_enforced(app_context, demo_forms, submit, rows, contract_error):
    fields = {"email": "ane@firma.dk", "first_name": "Ane"}
    for value in ("1000", "1-100", "1-10; DROP TABLE leads", ["1-10"], {"value": "1-10"}):
        response = submit("ebook-lead-scoring", {**fields, "company_size": value})
        assert list(contract_error(response, 422)["fields"]) == ["company_size"]
    assert rows(Lead) == []
    assert submit("ebook-lead-scoring", {**fields, "company_size": "1-10"}).status_code == 201
    assert rows(Lead)[0].company_size == "1-10"


def test_lengths_are_enforced(app_context, make_form, submit, rows, contract_error):
    make_form(
        fields=[
            {"name": "first_name", "type": "text"},
            {"name": "nickname", "type": "text", "max_length": 10},
            {"name": "website", "type": "url"},
            {"name": "message", "type": "textarea"},
        ]
    )
    too_long = {
        "first_name": "x" * 301,
        "nickname": "x" * 11,
        "website": "www." + "x" * 2040 + ".dk",  # becomes longer still with "https://"
        "message": "x" * 5001,
    }
    for name, value in too_long.items():
        error = contract_error(submit("test-form", {"email": "ane@firma.dk", name: value}), 422)
        assert error["fields"] == {name: [f"Use at most {len(value) - 1} characters."]} or (
            name == "website" and list(error["fields"]) == ["website"]
        )
    longest = {
        "first_name": "x" * 300,
        "nickname": "x" * 10,
        "website": "https://" + "x" * 2037 + ".dk",
        "message": "x" * 5000,
    }
    assert submit("test-form", {"email": "ane@firma.dk", **longest}).status_code == 201
    [lead] = rows(Lead)
    assert (lead.first_name, lead.website, lead.message) == (
        longest["first_name"],
        longest["website"],
        longest["message"],
    )
    assert lead.properties == {"nickname": "x" * 10}


def test_text_is_trimmed_normalised_and_free_of_control_characters(
    app_context, make_form, submit, rows, contract_error
):
    make_form(fields=[{"name": "first_name", "type": "text"}, {"name": "city", "type": "text"}])
    response = submit("test-form", {"email": "ane@firma.dk", "first_name": "  Ane\u0301 "})
    assert response.status_code == 201
    assert rows(Lead)[0].first_name == "An\u00e9"
    for bad in ("Ane\x00", "Ane\x07", "two\nlines", "\ud83d"):
        error = contract_error(submit("test-form", {"email": "ane@firma.dk", "city": bad}), 422)
        assert list(error["fields"]) == ["city"]

"""Abuse protection: honeypot, fill time, body size, CAPTCHA, disposable addresses, quarantine."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest
import sqlalchemy as sa

from capture.base.db import db
from capture.leads.consent import ConsentRecord
from capture.leads.conversion import ConversionEvent
from capture.leads.lead import Lead
from capture.submissions.submission import Submission

GOOD_ANSWER = "widget-said-human"


def count(model) -> int:
    db.session.expire_all()
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def only_submission() -> Submission:
    db.session.expire_all()
    return db.session.scalars(sa.select(Submission)).one()


@pytest.fixture
def form(make_form):
    return make_form(slug="guide")


class VerifyEndpoint:
    """A stand-in for a CAPTCHA provider's siteverify, on loopback; records what it was sent."""

    def __init__(self) -> None:
        received = self.received = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                received.append(form)
                ok = form.get("secret") == "s3cret" and form.get("response") == GOOD_ANSWER
                data = json.dumps({"success": ok}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/siteverify"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def captcha(app) -> Iterator[VerifyEndpoint]:
    endpoint = VerifyEndpoint()
    app.config.update(
        CAPTCHA_PROVIDER="turnstile",
        CAPTCHA_SITE_KEY="site-key-1",
        CAPTCHA_SECRET="s3cret",
        CAPTCHA_VERIFY_URL=endpoint.url,
    )
    yield endpoint
    endpoint.close()


# Honeypot, fill time, size


def test_honeypot_is_quarantined_with_a_success_looking_answer(app_context, app, form, submit):
    response = submit("guide", {"email": "bot@spam.example", app.config["HONEYPOT_FIELD"]: "x"})
    assert response.status_code == 201
    assert response.get_json()["lead"].startswith("lead_")
    assert only_submission().spam_reason == "honeypot"
    assert count(Lead) == 0


def test_too_fast_is_quarantined(app_context, app, form, submit):
    app.config["FORM_MIN_FILL_SECONDS"] = 60
    assert submit("guide", {"email": "quick@bot.example"}).status_code == 201
    assert only_submission().spam_reason == "too_fast"
    assert count(Lead) == 0


def test_oversized_body_is_a_413(app_context, app, client, form):
    big = {"fields": {"email": "a@b.dk", "message": "x" * (app.config["MAX_CONTENT_LENGTH"] + 1)}}
    response = client.post("/api/v1/forms/guide/submissions", json=big)
    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "payload_too_large"
    assert count(Submission) == 0


# CAPTCHA


def test_captcha_off_by_default(client, form):
    assert client.get("/api/v1/forms/guide").get_json()["captcha"] is None


def test_captcha_passed_makes_a_lead(app_context, client, form, submit, captcha):
    definition = client.get("/api/v1/forms/guide").get_json()
    assert definition["captcha"]["site_key"] == "site-key-1"
    assert definition["captcha"]["global"] == "turnstile"
    token = definition["token"]
    body = {"fields": {"email": "ane@firma.dk"}, "consents": {"processing": True}}
    response = client.post(
        "/api/v1/forms/guide/submissions", json={**body, "token": token, "captcha": GOOD_ANSWER}
    )
    assert response.status_code == 201
    assert count(Lead) == 1
    assert captcha.received == [
        {"secret": "s3cret", "response": GOOD_ANSWER, "remoteip": "127.0.0.1"}
    ]


@pytest.mark.parametrize(
    ("answer", "reason"), [("robot", "captcha_failed"), (None, "captcha_missing")]
)
def test_captcha_failed_or_missing_is_quarantined(
    app_context, client, form, captcha, answer, reason
):
    token = client.get("/api/v1/forms/guide").get_json()["token"]
    body = {"fields": {"email": "x@y.dk"}, "consents": {"processing": True}, "token": token}
    response = client.post("/api/v1/forms/guide/submissions", json={**body, "captcha": answer})
    assert response.status_code == 201
    assert only_submission().spam_reason == reason
    assert count(Lead) == 0


def test_unreachable_captcha_provider_quarantines_instead_of_losing(
    app_context, client, form, captcha
):
    captcha.close()
    token = client.get("/api/v1/forms/guide").get_json()["token"]
    body = {"fields": {"email": "x@y.dk"}, "consents": {"processing": True}, "token": token}
    response = client.post("/api/v1/forms/guide/submissions", json={**body, "captcha": GOOD_ANSWER})
    assert response.status_code == 201
    assert only_submission().spam_reason == "captcha_unverified"
    assert count(Lead) == 0


def test_invalid_fields_do_not_spend_the_captcha_answer(client, form, captcha):
    token = client.get("/api/v1/forms/guide").get_json()["token"]
    body = {"fields": {"email": "nope"}, "consents": {"processing": True}, "token": token}
    response = client.post("/api/v1/forms/guide/submissions", json={**body, "captcha": GOOD_ANSWER})
    assert response.status_code == 422
    assert captcha.received == []


def test_hosted_page_shows_the_widget_and_posts_its_answer(app_context, client, form, captcha):
    page = client.get("/f/guide")
    html = page.get_data(as_text=True)
    assert 'class="cf-turnstile" data-sitekey="site-key-1"' in html
    assert "https://challenges.cloudflare.com" in page.headers["Content-Security-Policy"]
    token = html.split('name="token" type="hidden" value="')[1].split('"')[0]
    response = client.post(
        "/f/guide",
        data={
            "email": "ane@firma.dk",
            "consent_processing": "y",
            "token": token,
            "cf-turnstile-response": GOOD_ANSWER,
        },
    )
    assert response.status_code == 200
    assert count(Lead) == 1
    assert captcha.received[0]["response"] == GOOD_ANSWER


# Disposable addresses


def test_disposable_addresses_allowed_by_default(form, submit):
    assert submit("guide", {"email": "me@mailinator.com"}).status_code == 201


def test_disposable_addresses_refused_when_switched_on(app_context, app, form, submit):
    app.config["BLOCK_DISPOSABLE_EMAILS"] = True
    for email in ("me@mailinator.com", "me@x.mailinator.com"):
        response = submit("guide", {"email": email})
        assert response.status_code == 422
        assert "email" in response.get_json()["error"]["fields"]
    assert submit("guide", {"email": "ane@firma.dk"}).status_code == 201
    assert count(Lead) == 1


# Quarantine


def test_quarantine_list_and_release_create_the_lead_as_if_accepted(
    app_context, app, runner, form, submit
):
    submit(
        "guide",
        {"email": "Real@Person.dk", app.config["HONEYPOT_FIELD"]: "autofilled"},
        consents={"processing": True, "marketing": True},
        context={"utm_source": "news"},
    )
    submission = only_submission()
    listing = runner.invoke(args=["quarantine", "list"])
    assert listing.exit_code == 0
    assert listing.stdout.split("\t")[0] == submission.public_id
    assert "honeypot\treal@person.dk" in listing.stdout

    result = runner.invoke(args=["quarantine", "release", submission.public_id])
    assert result.exit_code == 0, result.output
    lead = db.session.scalars(sa.select(Lead)).one()
    assert result.stdout.strip() == f"{submission.public_id} released: lead {lead.public_id}"
    assert lead.lifecycle_stage == "mql" and lead.first_touch["utm_source"] == "news"
    released = only_submission()
    assert released.status == "released" and released.lead_id == lead.id
    assert released.response["lead"] == lead.public_id
    assert count(ConversionEvent) == 1
    purposes = db.session.scalars(sa.select(ConsentRecord.purpose)).all()
    assert sorted(purposes) == ["marketing", "processing"]
    assert runner.invoke(args=["quarantine", "list"]).stdout == ""

    again = runner.invoke(args=["quarantine", "release", submission.public_id])
    assert again.exit_code == 1 and "released, not quarantined" in again.stderr


def test_release_refuses_what_cannot_be_a_lead(app_context, app, runner, form, submit):
    submit("guide", {"email": "a@b.dk", app.config["HONEYPOT_FIELD"]: "x"}, consents={})
    submission = only_submission()
    result = runner.invoke(args=["quarantine", "release", submission.public_id])
    assert result.exit_code == 1
    assert "consents.processing" in result.stderr
    assert count(Lead) == 0 and only_submission().status == "quarantined"


def test_discard(app_context, app, runner, form, submit):
    submit("guide", {"email": "a@b.dk", app.config["HONEYPOT_FIELD"]: "x"})
    public_id = only_submission().public_id
    result = runner.invoke(args=["quarantine", "discard", public_id])
    assert result.exit_code == 0 and result.stdout.strip() == f"{public_id} discarded"
    assert only_submission().status == "discarded" and count(Lead) == 0
    unknown = runner.invoke(args=["quarantine", "discard", "sub_unknown"])
    assert unknown.exit_code == 1 and "no submission" in unknown.stderr

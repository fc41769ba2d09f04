"""Double opt-in and unsubscribe, through real HTTP and a real SMTP server."""

from __future__ import annotations

import re
import threading
import time

import pytest
import requests
import sqlalchemy as sa
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from capture.base.db import db
from capture.delivery.optin import (
    delivery_held,
    may_send_marketing,
    unsubscribe_url,
)
from capture.delivery.outbox import OutboxMessage, enqueue, enqueue_email
from capture.extension_points import optin_confirmed, outbox_senders, submission_accepted
from capture.leads.consent import ConsentRecord
from capture.leads.lead import Lead
from capture.ops.worker import drain
from capture.submissions.submission import Submission
from capture.web.tokens import Purpose, sign

DOI = {"processing": True, "marketing": True}
LINK = re.compile(r"https?://\S+/c/[\w.-]+\S*")


@pytest.fixture
def app_config(app_config, smtp_server):
    return {**app_config, "MAIL_URL": smtp_server.url}


@pytest.fixture
def hooks(app):
    """Record what other packages' hooks would see: the held flag, and confirmations."""
    seen: dict[str, list] = {"held": [], "confirmed": [], "notes": []}
    submission_accepted.connect(app, lambda accepted: seen["held"].append(delivery_held(accepted)))

    def deliver_after_confirmation(confirmed):
        seen["confirmed"].append((confirmed.submission.public_id, confirmed.lead.email))
        enqueue("note", {"deliver_to": confirmed.lead.email})  # as magnets queue downloads

    optin_confirmed.connect(app, deliver_after_confirmation)
    outbox_senders.register(app, "note", lambda delivery: seen["notes"].append(delivery.payload))
    return seen


def ledger(email):
    db.session.expire_all()
    lead = db.session.scalar(sa.select(Lead).where(Lead.email == email))
    return db.session.scalars(
        sa.select(ConsentRecord).where(ConsentRecord.lead_id == lead.id).order_by(ConsentRecord.id)
    ).all()


def post_over_http(server, slug, fields, consents, lang=None):
    query = f"?lang={lang}" if lang else ""
    token = requests.get(f"{server.url}/api/v1/forms/{slug}{query}", timeout=10).json()["token"]
    return requests.post(
        f"{server.url}/api/v1/forms/{slug}/submissions{query}",
        json={"fields": fields, "consents": consents, "token": token},
        timeout=10,
    )


def test_double_opt_in_end_to_end(app_context, app, make_form, live_server, smtp_server, hooks):
    app.config["PUBLIC_BASE_URL"] = live_server.url
    make_form(slug="doi", double_opt_in=True)

    response = post_over_http(live_server, "doi", {"email": "ane@firma.dk"}, DOI, lang="da")
    assert response.status_code == 201
    body = response.json()
    assert body["confirmation_required"] is True and body["download_url"] is None
    assert hooks["held"] == [True]

    statuses = [(r.purpose, r.status) for r in ledger("ane@firma.dk")]
    assert statuses == [("processing", "granted"), ("marketing", "pending")]

    assert drain().sent == 1
    [message] = smtp_server.messages  # the confirmation is the only e-mail before the click
    assert str(message["To"]) == "ane@firma.dk"
    assert str(message["Subject"]) == "Bekræft venligst din e-mailadresse"  # asked in Danish
    # No advertising, but like every e-mail to a lead it can be unsubscribed in one click.
    unsubscribe = str(message["List-Unsubscribe"])
    assert unsubscribe.startswith(f"<{live_server.url}/u/") and unsubscribe.endswith("lang=da>")
    assert str(message["List-Unsubscribe-Post"]) == "List-Unsubscribe=One-Click"
    assert str(message["Auto-Submitted"]) == "auto-generated"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "Send me news" not in text
    assert f"Afmeld eller ændr dine samtykker: {unsubscribe[1:-1]}" in text
    [link] = LINK.findall(text)
    assert link.startswith(live_server.url + "/c/") and "lang=da" in link
    assert link.replace("&", "&amp;") in html
    assert hooks["confirmed"] == [] and hooks["notes"] == []

    page = requests.get(link, timeout=10)
    assert page.status_code == 200
    assert "Din e-mailadresse er bekræftet." in page.text
    assert '<html lang="da">' in page.text
    assert page.headers["Cache-Control"] == "no-store"
    assert page.headers["Referrer-Policy"] == "no-referrer"

    records = ledger("ane@firma.dk")
    assert [(r.purpose, r.status) for r in records] == [
        ("processing", "granted"),
        ("marketing", "pending"),
        ("marketing", "confirmed"),
    ]
    pending, confirmed = records[1], records[2]
    assert confirmed.method == "double_opt_in" and confirmed.channel == "email"
    assert confirmed.confirmed_at is not None and confirmed.text == pending.text
    assert confirmed.text_hash == pending.text_hash and confirmed.form_version == 1
    assert confirmed.ip == "127.0.0.1" and confirmed.user_agent.startswith("python-requests")
    submission = db.session.scalar(
        sa.select(Submission).where(Submission.public_id == body["submission"])
    )
    assert submission.confirmed_at == confirmed.confirmed_at
    assert hooks["confirmed"] == [(body["submission"], "ane@firma.dk")]

    assert drain().sent == 1  # queued by optin_confirmed's receiver, in the same transaction
    assert hooks["notes"] == [{"deliver_to": "ane@firma.dk"}]

    again = requests.get(link, timeout=10)
    assert again.status_code == 200 and "allerede bekræftet" in again.text
    assert len(ledger("ane@firma.dk")) == 3
    assert len(hooks["confirmed"]) == 1


def test_simultaneous_clicks_confirm_once(app_context, app, make_form, live_server, hooks, submit):
    make_form(slug="doi", double_opt_in=True)
    sub_id = submit("doi", {"email": "bo@firma.dk"}, DOI).get_json()["submission"]
    with app.test_request_context():
        path = "/c/" + sign(Purpose.CONFIRM, sub_id)
    answers: list[str] = []
    start = threading.Barrier(4)

    def click() -> None:
        start.wait()
        answers.append(requests.get(live_server.url + path, timeout=30).text)

    threads = [threading.Thread(target=click) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(answers) == 4
    assert sum("Your e-mail address is confirmed." in a for a in answers) == 1
    assert sum("already confirmed" in a for a in answers) == 3
    assert [r.status for r in ledger("bo@firma.dk")].count("confirmed") == 1
    assert len(hooks["confirmed"]) == 1


def test_form_without_double_opt_in_sends_no_confirmation(
    app_context, app, make_form, submit, hooks
):
    make_form(slug="plain")
    body = submit("plain", {"email": "cy@firma.dk"}, DOI).get_json()
    assert body["confirmation_required"] is False
    assert hooks["held"] == [False]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) == 0
    assert [r.status for r in ledger("cy@firma.dk")] == ["granted", "granted"]


def test_one_confirmation_e_mail_per_submission_even_on_replay(
    app_context, app, client, make_form, submit
):
    make_form(slug="doi", double_opt_in=True)
    headers = {"Idempotency-Key": "same-request"}
    # A retry resends the same body, token included (a fresh token is a different request).
    token = client.get("/api/v1/forms/doi").get_json()["token"]
    first = submit("doi", {"email": "di@firma.dk"}, DOI, headers=headers, token=token)
    replay = submit("doi", {"email": "di@firma.dk"}, DOI, headers=headers, token=token)
    assert replay.headers.get("Idempotent-Replayed") == "true"
    assert first.get_json() == replay.get_json()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) == 1


def expired_token(app, payload):
    class EightDaysAgo(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - 8 * 24 * 3600

    serializer = URLSafeTimedSerializer(
        app.config["SECRET_KEY"], salt="leadgate.confirm", signer=EightDaysAgo
    )
    return serializer.dumps(payload)


def test_bad_confirmation_links(app_context, app, client, make_form, submit, hooks):
    make_form(slug="doi", double_opt_in=True)
    sub_id = submit("doi", {"email": "ea@firma.dk"}, DOI).get_json()["submission"]
    with app.test_request_context():
        good = sign(Purpose.CONFIRM, sub_id)
        other_purpose = sign(Purpose.DOWNLOAD, sub_id)
        unknown = sign(Purpose.CONFIRM, "sub_doesnotexist")

    assert client.get("/c/not-a-token").status_code == 404
    assert client.get("/c/" + good[:-2] + "xx").status_code == 404  # tampered
    assert client.get("/c/" + other_purpose).status_code == 404
    assert client.get("/c/" + unknown).status_code == 404
    expired = client.get("/c/" + expired_token(app, sub_id))
    assert expired.status_code == 410
    assert "expired" in expired.get_data(as_text=True)
    assert hooks["confirmed"] == []
    assert [r.status for r in ledger("ea@firma.dk")] == ["granted", "pending"]
    assert client.get("/c/" + good).status_code == 200


def test_unsubscribe_one_click_and_page(app_context, app, client, demo_forms, submit, smtp_server):
    body = submit("newsletter", {"email": "fa@firma.dk"}, DOI).get_json()
    lead_id = body["lead"]
    with app.test_request_context():
        url = unsubscribe_url(lead_id)
        enqueue_email("fa@firma.dk", "confirm", "en", {"confirm_url": "x"}, unsubscribe_url=url)
        db.session.commit()
    lead = db.session.scalar(sa.select(Lead).where(Lead.public_id == lead_id))
    assert may_send_marketing(lead.id)

    assert drain().sent == 1
    [message] = smtp_server.messages
    assert str(message["List-Unsubscribe"]) == f"<{url}>"
    assert str(message["List-Unsubscribe-Post"]) == "List-Unsubscribe=One-Click"
    assert url in message.get_body(("plain",)).get_content()
    path = url.removeprefix("http://localhost")

    page = client.get(path)  # a mail scanner following the link changes nothing
    assert page.status_code == 200
    assert "f*@firma.dk" in page.get_data(as_text=True)
    assert [r.status for r in ledger("fa@firma.dk")] == ["granted", "granted"]

    # RFC 8058: the mail client posts this body, with no session and no CSRF token.
    one_click = client.post(path, data={"List-Unsubscribe": "One-Click"})
    assert one_click.status_code == 200
    assert "You will not receive newsletters or offers" in one_click.get_data(as_text=True)
    records = ledger("fa@firma.dk")
    assert [(r.purpose, r.status) for r in records][-1] == ("marketing", "withdrawn")
    assert records[-1].method == "unsubscribe_link" and records[-1].channel == "email"
    assert not may_send_marketing(lead.id)

    assert "already unsubscribed" in client.post(path).get_data(as_text=True)
    assert "Withdrawn" in client.get(path).get_data(as_text=True)  # the preference page
    assert len(ledger("fa@firma.dk")) == 3


def test_bad_unsubscribe_links(app_context, app, client, demo_forms, submit):
    lead_id = submit("newsletter", {"email": "ga@firma.dk"}, DOI).get_json()["lead"]
    with app.test_request_context():
        wrong_purpose = sign(Purpose.CONFIRM, lead_id)
    assert client.get("/u/nonsense").status_code == 404
    assert client.post("/u/" + wrong_purpose).status_code == 404
    assert [r.status for r in ledger("ga@firma.dk")] == ["granted", "granted"]


def test_confirming_after_unsubscribing_does_not_grant_marketing(
    app_context, app, client, make_form, submit, hooks
):
    make_form(slug="doi", double_opt_in=True)
    body = submit("doi", {"email": "ha@firma.dk"}, DOI).get_json()
    with app.test_request_context():
        unsubscribe = unsubscribe_url(body["lead"]).removeprefix("http://localhost")
        confirm = "/c/" + sign(Purpose.CONFIRM, body["submission"])
    assert client.post(unsubscribe).status_code == 200
    assert client.get(confirm).status_code == 200
    assert [r.status for r in ledger("ha@firma.dk")] == ["granted", "pending", "withdrawn"]
    assert len(hooks["confirmed"]) == 1  # the address is confirmed; delivery may go ahead

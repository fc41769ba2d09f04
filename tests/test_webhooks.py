"""Webhooks end to end: a real HTTP receiver on loopback verifies every delivery's signature.

Loopback is allowed here by WEBHOOK_ALLOW_PRIVATE_TARGETS=1; the SSRF tests switch it off
again and check that the receiver never sees a connection.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from fixtures.services import Receiver
from helpers import STAFF_PASSWORD, csrf_token_in, log_in
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from capture.accounts import Role, create_user
from capture.base.db import db, utcnow
from capture.base.lifecycle import Stage
from capture.delivery.outbox import OutboxMessage, OutboxStatus
from capture.delivery.webhooks.address import refusal
from capture.delivery.webhooks.endpoint import WebhookEndpoint, create_endpoint, subscribed
from capture.leads.lead import Lead, move_stage
from capture.ops.worker import drain

SECRET_LINE = re.compile(r"^whsec_[A-Za-z0-9+/=]+$", re.MULTILINE)


@pytest.fixture
def app_config(app_config, smtp_server):
    return {**app_config, "WEBHOOK_ALLOW_PRIVATE_TARGETS": True, "MAIL_URL": smtp_server.url}


@pytest.fixture
def endpoint(app, runner, receiver):
    """An endpoint added the way users do it, with the secret read from the CLI's output.

    It takes the lead and conversion events these tests count; `consent.changed` (one per
    consent given on a form) is tested in test_consent_state.py."""
    events = ("lead.created", "conversion.recorded", "lead.stage_changed", "lead.erased")
    choice = [arg for event in events for arg in ("--event", event)]
    result = runner.invoke(args=["webhooks", "add", receiver.url, *choice])
    assert result.exit_code == 0, result.output
    secrets = SECRET_LINE.findall(result.stdout)
    assert len(secrets) == 1
    row = db.session.scalar(sa.select(WebhookEndpoint).where(WebhookEndpoint.url == receiver.url))
    assert row.secret == secrets[0]
    return row


@pytest.fixture
def sql_form(make_form):
    return make_form(
        slug="contact",
        conversion="contact_request",
        fields=[
            {"name": "email", "type": "email", "required": True},
            {"name": "first_name", "type": "text"},
        ],
    )


def webhook_rows() -> list[OutboxMessage]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            sa.select(OutboxMessage)
            .where(OutboxMessage.kind == "webhook")
            .order_by(OutboxMessage.id)
        )
    )


def test_a_contact_request_sends_three_signed_events_with_the_sql_handoff(
    app_context, app, endpoint, receiver, sql_form, submit
):
    response = submit("contact", {"email": "ane@firma.dk", "first_name": "Ane"})
    assert response.status_code == 201
    assert len(webhook_rows()) == 3  # queued in the submission's transaction

    assert drain().sent == 3
    delivered = receiver.delivered(endpoint.secret)
    by_type = {event["type"]: event for _, event in delivered}
    assert set(by_type) == {"lead.created", "conversion.recorded", "lead.stage_changed"}
    assert len({webhook_id for webhook_id, _ in delivered}) == 3
    for headers in (r["headers"] for r in receiver.requests):
        assert headers["content-type"] == "application/json"
        assert headers["webhook-signature"].startswith("v1,")

    lead = db.session.scalar(sa.select(Lead).where(Lead.email == "ane@firma.dk"))
    assert by_type["lead.created"]["data"]["lead"]["id"] == lead.public_id
    assert by_type["lead.created"]["data"]["lead"]["first_name"] == "Ane"
    conversion = by_type["conversion.recorded"]["data"]["conversion"]
    assert conversion["kind"] == "contact_request" and conversion["classification"] == "SQL"

    handoff = by_type["lead.stage_changed"]["data"]
    assert (handoff["from"], handoff["to"], handoff["handoff"]) == ("lead", "sql", "sql")
    assert "contact_request" in handoff["reason"]
    assert handoff["qualifying_event"]["id"] == conversion["id"]
    assert handoff["qualifying_event"]["kind"] == "contact_request"
    assert handoff["lead"]["lifecycle_stage"] == "sql"


def test_a_tampered_body_fails_verification(app_context, app, endpoint, receiver, sql_form, submit):
    submit("contact", {"email": "ane@firma.dk"})
    drain()
    request = receiver.requests[0]
    forged = request["body"].replace(b"ane@firma.dk", b"eve@evil.example")
    with pytest.raises(WebhookVerificationError):
        Webhook(endpoint.secret).verify(forged, request["headers"])


def test_failures_are_retried_and_arrive_with_their_original_webhook_id(
    app_context, app, endpoint, receiver, sql_form, submit
):
    receiver.status = 500
    submit("contact", {"email": "ane@firma.dk"})
    first = drain()
    assert (first.sent, first.retrying) == (0, 3)
    first_ids = {r["headers"]["webhook-id"] for r in receiver.requests}
    assert len(first_ids) == 3

    later = drain(now=utcnow() + timedelta(hours=2))
    assert later.retrying == 3
    assert {r["headers"]["webhook-id"] for r in receiver.requests} == first_ids
    rows = webhook_rows()
    assert all(row.attempts == 2 and "HTTP 500" in row.last_error for row in rows)

    receiver.status = 200
    recovered = drain(now=utcnow() + timedelta(hours=6))
    assert recovered.sent == 3
    delivered = receiver.delivered(endpoint.secret)
    assert sorted(webhook_id for webhook_id, _ in delivered) == sorted(first_ids)
    assert all(row.status == OutboxStatus.SENT.value for row in webhook_rows())
    assert drain(now=utcnow() + timedelta(days=2)).handled == 0  # nothing sent twice


def test_each_endpoint_retries_on_its_own(app_context, app, endpoint, receiver, sql_form, submit):
    healthy = Receiver()
    try:
        other = create_endpoint(healthy.url, ["lead.created"])
        db.session.commit()
        receiver.status = 503
        submit("contact", {"email": "ane@firma.dk"})
        result = drain()
        assert (result.sent, result.retrying) == (1, 3)
        [(webhook_id, event)] = healthy.delivered(other.secret)
        assert event["type"] == "lead.created"
        failed_ids = [r["headers"]["webhook-id"] for r in receiver.requests]
        assert webhook_id in failed_ids  # one event, one id, whichever endpoint gets it
    finally:
        healthy.close()


def test_410_gone_disables_the_endpoint(app_context, app, endpoint, receiver, sql_form, submit):
    receiver.status = 410
    submit("contact", {"email": "ane@firma.dk"})
    result = drain()
    assert result.dead == 3
    assert len(receiver.requests) == 1  # disabled at the first 410: the rest are not sent
    db.session.refresh(endpoint)
    assert endpoint.active is False and "410" in endpoint.disabled_reason
    assert all(row.status == OutboxStatus.DEAD.value for row in webhook_rows())

    submit("contact", {"email": "bo@firma.dk"})
    assert len(webhook_rows()) == 3  # a disabled endpoint gets no new events


def test_a_redirect_is_not_followed(app_context, app, endpoint, receiver, sql_form, submit):
    target = Receiver()
    try:
        receiver.status = 307
        receiver.location = target.url
        submit("contact", {"email": "ane@firma.dk"})
        result = drain()
        assert result.retrying == 3 and result.sent == 0
        assert target.requests == []
        assert all("redirect" in row.last_error for row in webhook_rows())
    finally:
        target.close()


@pytest.mark.parametrize(
    ("host", "reason"),
    [("127.0.0.1", "loopback"), ("10.0.0.1", "private"), ("169.254.169.254", "link-local")],
)
def test_private_addresses_are_refused_at_connect_time(
    app_context, app, receiver, sql_form, submit, host, reason
):
    url = receiver.url.replace("127.0.0.1", host)
    create_endpoint(url)  # saved while allowed, as if it had been set up for local testing
    db.session.commit()
    app.config["WEBHOOK_ALLOW_PRIVATE_TARGETS"] = False

    submit("contact", {"email": "ane@firma.dk"})
    result = drain()
    assert result.dead == 4 and result.sent == 0  # and consent.changed (processing)
    assert receiver.requests == []
    for row in webhook_rows():
        assert reason in row.last_error and "not connecting" in row.last_error


def test_a_host_name_resolving_to_loopback_is_refused_at_connect_time(
    app_context, app, runner, receiver, sql_form, submit
):
    app.config["WEBHOOK_ALLOW_PRIVATE_TARGETS"] = False
    literal = runner.invoke(args=["webhooks", "add", receiver.url])
    assert literal.exit_code == 1 and "loopback" in literal.output  # a literal IP: at save
    named = receiver.url.replace("127.0.0.1", "localhost")
    added = runner.invoke(args=["webhooks", "add", named])  # a name passes the save check...
    assert added.exit_code == 0, added.output

    submit("contact", {"email": "ane@firma.dk"})
    assert drain().dead == 4  # ...and is refused when its address is known (4 events)
    assert receiver.requests == []
    assert all("localhost resolves to" in row.last_error for row in webhook_rows())


@pytest.mark.parametrize(
    ("address", "refused"),
    [
        ("127.0.0.1", True),
        ("10.0.0.1", True),
        ("172.16.5.4", True),
        ("192.168.1.1", True),
        ("169.254.169.254", True),
        ("100.100.100.200", True),  # shared address space (Alibaba's metadata)
        ("0.0.0.0", True),
        ("::1", True),
        ("::ffff:127.0.0.1", True),
        ("fd00:ec2::254", True),  # AWS metadata over IPv6
        ("fe80::1", True),
        ("224.0.0.1", True),
        ("93.184.215.14", False),
        ("2606:4700:4700::1111", False),
    ],
)
def test_address_policy(address, refused):
    assert (refusal(ipaddress.ip_address(address)) is not None) is refused


def test_an_api_stage_change_is_an_event_too(
    app_context, app, endpoint, receiver, make_form, submit, api_token
):
    make_form(slug="news")
    submit("news", {"email": "ane@firma.dk"})
    lead = db.session.scalar(sa.select(Lead).where(Lead.email == "ane@firma.dk"))
    response = app.test_client().post(
        f"/api/v1/leads/{lead.public_id}/stage",
        json={"to": "sql", "reason": "Asked for a quote on the phone"},
        headers=api_token("write"),
    )
    assert response.status_code == 200, response.get_json()
    drain()
    changes = [
        event["data"]
        for _, event in receiver.delivered(endpoint.secret)
        if event["type"] == "lead.stage_changed"
    ]
    handoff = next(change for change in changes if change["to"] == "sql")
    assert handoff["reason"] == "Asked for a quote on the phone"
    assert handoff["handoff"] == "sql" and handoff["qualifying_event"] is None
    assert handoff["actor"]


def test_erasure_sends_lead_erased_and_drops_queued_personal_data(
    app_context, app, endpoint, receiver, sql_form, submit, api_token
):
    receiver.status = 500
    submit("contact", {"email": "ane@firma.dk"})
    drain()
    lead = db.session.scalar(sa.select(Lead).where(Lead.email == "ane@firma.dk"))
    response = app.test_client().delete(
        f"/api/v1/leads/{lead.public_id}", headers=api_token("write")
    )
    assert response.status_code == 200, response.get_json()
    rows = webhook_rows()
    for row in rows[:3]:
        assert row.status == OutboxStatus.DEAD.value
        assert "ane@firma.dk" not in json.dumps(row.payload)

    receiver.status = 200
    drain(now=utcnow() + timedelta(hours=1))
    [(_, event)] = receiver.delivered(endpoint.secret)
    assert event["type"] == "lead.erased"
    assert event["data"]["lead"] == {"id": lead.public_id}


def test_sql_handoff_emails_sales_users(app_context, app, sql_form, submit, smtp_server):
    create_user("sales@firma.dk", Role.SALES, STAFF_PASSWORD)
    create_user("marketing@firma.dk", Role.MARKETER, STAFF_PASSWORD)
    db.session.commit()
    submit("contact", {"email": "kunde@kunde.dk", "first_name": "Kim <b>K</b>"})
    drain()
    [message] = smtp_server.messages
    assert message["To"] == "sales@firma.dk"
    assert "Kim <b>K</b>" in message["Subject"]
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "contact_request conversion" in text  # the reason
    assert "Qualifying event: contact_request" in text
    assert "Kim &lt;b&gt;K&lt;/b&gt;" in html and "<b>K</b>" not in html


def test_newsletter_signups_do_not_email_sales(app_context, app, make_form, submit, smtp_server):
    create_user("sales@firma.dk", Role.SALES, STAFF_PASSWORD)
    db.session.commit()
    make_form(slug="news")
    submit("news", {"email": "ane@firma.dk"})
    drain()
    assert smtp_server.messages == []


def test_cli_list(app_context, app, runner, endpoint):
    result = runner.invoke(args=["webhooks", "list"])
    assert result.exit_code == 0
    assert endpoint.public_id in result.output and endpoint.url in result.output
    assert endpoint.secret not in result.output


def test_cli_rejects_unknown_events_and_bad_urls(app, runner):
    unknown = runner.invoke(args=["webhooks", "add", "https://crm.example/h", "--event", "x"])
    assert unknown.exit_code == 2 and "lead.created" in unknown.output
    bad = runner.invoke(args=["webhooks", "add", "ftp://crm.example/h"])
    assert bad.exit_code == 1 and "http" in bad.output


@pytest.fixture
def admin_client(app):
    create_user("admin@firma.dk", Role.ADMIN, STAFF_PASSWORD)
    create_user("marketer@firma.dk", Role.MARKETER, STAFF_PASSWORD)
    db.session.commit()
    client = app.test_client()
    assert log_in(client, "admin@firma.dk", STAFF_PASSWORD).status_code == 303
    return client


def test_back_office_add_shows_the_secret_once(app_context, app, admin_client, receiver):
    page = admin_client.get("/admin/webhooks/").get_data(as_text=True)
    response = admin_client.post(
        "/admin/webhooks/",
        data={"url": receiver.url, "events": ["lead.created"], "csrf_token": csrf_token_in(page)},
    )
    assert response.status_code == 200
    secret = re.search(r"whsec_[A-Za-z0-9+/=]+", response.get_data(as_text=True)).group(0)
    endpoint = db.session.scalar(sa.select(WebhookEndpoint))
    assert endpoint.secret == secret and endpoint.events == ["lead.created"]
    assert response.headers["Cache-Control"] == "no-store"
    assert secret not in admin_client.get("/admin/webhooks/").get_data(as_text=True)
    log = admin_client.get(f"/admin/webhooks/{endpoint.public_id}").get_data(as_text=True)
    assert secret not in log

    refused = admin_client.post(
        "/admin/webhooks/", data={"url": "javascript:alert(1)", "csrf_token": csrf_token_in(page)}
    )
    assert refused.status_code == 400
    assert admin_client.post("/admin/webhooks/", data={"url": receiver.url}).status_code == 400


def test_back_office_disable_enable_log_and_resend(
    app_context, app, admin_client, endpoint, receiver, sql_form, submit
):
    token = csrf_token_in(admin_client.get("/admin/webhooks/").get_data(as_text=True))
    receiver.status = 410
    submit("contact", {"email": "ane@firma.dk"})
    drain()
    db.session.refresh(endpoint)
    assert not endpoint.active

    log = admin_client.get(f"/admin/webhooks/{endpoint.public_id}").get_data(as_text=True)
    assert "410" in log and "dead" in log
    dead = webhook_rows()[0]
    resend_url = f"/admin/webhooks/{endpoint.public_id}/deliveries/{dead.public_id}/resend"
    refused = admin_client.post(resend_url, data={"csrf_token": token}, follow_redirects=True)
    assert "enable it first" in refused.get_data(as_text=True)
    assert len(webhook_rows()) == 3

    enabled = admin_client.post(
        f"/admin/webhooks/{endpoint.public_id}/enable", data={"csrf_token": token}
    )
    assert enabled.status_code == 303
    receiver.status = 200
    done = admin_client.post(resend_url, data={"csrf_token": token}, follow_redirects=True)
    assert dead.payload["webhook_id"] in done.get_data(as_text=True)
    assert drain().sent == 1
    [(webhook_id, event)] = receiver.delivered(endpoint.secret)
    assert webhook_id == dead.payload["webhook_id"]  # re-sent with its original id
    assert event == dead.payload["event"]

    disabled = admin_client.post(
        f"/admin/webhooks/{endpoint.public_id}/disable", data={"csrf_token": token}
    )
    assert disabled.status_code == 303
    db.session.refresh(endpoint)
    assert not endpoint.active
    no_token = admin_client.post(f"/admin/webhooks/{endpoint.public_id}/enable", data={})
    assert no_token.status_code == 400


def test_webhooks_back_office_is_for_admins_only(app_context, app, endpoint):
    # One client: the fixture's app context keeps Flask-Login's user in `g` across requests.
    create_user("marketer@firma.dk", Role.MARKETER, STAFF_PASSWORD)
    db.session.commit()
    client = app.test_client()
    assert client.get("/admin/webhooks/").status_code == 302
    assert log_in(client, "marketer@firma.dk", STAFF_PASSWORD).status_code == 303
    assert client.get("/admin/webhooks/").status_code == 403
    assert client.get(f"/admin/webhooks/{endpoint.public_id}").status_code == 403


def test_undeclared_fields_never_reach_a_webhook(
    app_context, app, endpoint, receiver, sql_form, submit
):
    fields = {"email": "ane@firma.dk", "is_admin": "yes-please", "discount": "100%"}
    assert submit("contact", fields).status_code == 201
    drain()
    bodies = b"".join(r["body"] for r in receiver.requests)
    assert len(receiver.requests) == 3
    assert b"is_admin" not in bodies and b"yes-please" not in bodies and b"discount" not in bodies


def test_any_stage_move_is_an_event(app_context, app, endpoint, receiver, make_form, submit):
    """Scoring, the back office and future paths all go through move_stage: its hook fires."""
    make_form(slug="news")
    submit("news", {"email": "ane@firma.dk"})
    lead = db.session.scalar(sa.select(Lead).where(Lead.email == "ane@firma.dk"))
    before = len(webhook_rows())
    move_stage(lead, Stage.DISQUALIFIED, reason="competitor", actor="user:admin@firma.dk")
    db.session.commit()
    assert len(webhook_rows()) == before + 1
    drain()
    last = receiver.delivered(endpoint.secret)[-1][1]
    assert last["type"] == "lead.stage_changed"
    assert (last["data"]["to"], last["data"]["reason"]) == ("disqualified", "competitor")
    assert last["data"]["handoff"] is None


def test_an_offline_conversion_through_the_api_is_the_sql_handoff(
    app_context, app, endpoint, receiver, api_token
):
    body = {"email": "ny@firma.dk", "kind": "phone_call", "note": "asked for pricing"}
    response = app.test_client().post("/api/v1/events", json=body, headers=api_token("write"))
    assert response.status_code == 201, response.get_json()
    drain()
    events = {event["type"]: event["data"] for _, event in receiver.delivered(endpoint.secret)}
    assert set(events) == {"lead.created", "conversion.recorded", "lead.stage_changed"}
    handoff = events["lead.stage_changed"]
    assert handoff["to"] == "sql" and "phone_call" in handoff["reason"]
    assert handoff["qualifying_event"]["id"] == events["conversion.recorded"]["conversion"]["id"]
    assert handoff["qualifying_event"]["details"]["note"] == "asked for pricing"


@pytest.mark.parametrize(
    "url",
    [
        "http://[::1",
        "http://crm.example:99999/h",
        "http://crm.example:port/h",
        "https://crm.example/a b",
        "https://crm.example/\x00",
        "file:///etc/passwd",
        "http:///nohost",
        "https://" + "a" * 2100 + ".example/",
        "",
    ],
)
def test_bad_urls_are_refused_with_a_message_not_a_500(app_context, app, admin_client, url):
    page = admin_client.get("/admin/webhooks/").get_data(as_text=True)
    response = admin_client.post(
        "/admin/webhooks/", data={"url": url, "csrf_token": csrf_token_in(page)}
    )
    assert response.status_code == 400
    assert 'role="alert"' in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(WebhookEndpoint)) == 0


def test_a_score_threshold_is_an_sql_handoff_with_its_reason_and_event(
    app_context, app, endpoint, receiver, make_form, submit
):
    held = app.extensions["leadgate.scoring"]  # the configuration's rules, nothing saved
    rules = dataclasses.replace(held.seed.rules, mql_threshold=5, sql_threshold=25)
    held.seed = held.current = dataclasses.replace(held.seed, rules=rules)
    make_form(
        slug="news",
        fields=[
            {"name": "email", "type": "email", "required": True},
            {"name": "job_title", "type": "text"},
        ],
    )
    submit("news", {"email": "ane@firma.dk", "job_title": "CEO"})  # 10 points + fit 15
    drain()
    events = receiver.delivered(endpoint.secret)
    moves = [e["data"] for _, e in events if e["type"] == "lead.stage_changed"]
    assert sorted((m["from"], m["to"], m["handoff"]) for m in moves) == [
        ("lead", "mql", "mql"),
        ("mql", "sql", "sql"),
    ]
    sql = next(m for m in moves if m["to"] == "sql")
    assert "reached the SQL threshold 25" in sql["reason"]
    assert sql["qualifying_event"]["kind"] == "newsletter_signup"
    assert sql["lead"]["score"] == 25


def test_endpoint_changes_not_yet_flushed_are_seen_by_the_next_event(app_context, app, endpoint):
    """The active endpoints are read once per transaction; an endpoint added, changed or
    removed in the same transaction, not yet flushed, counts for the events after it."""
    url = endpoint.url
    db.session.commit()
    db.session.expunge_all()
    assert [e.url for e in subscribed("lead.created")] == [url]  # memo made, nothing held
    added = WebhookEndpoint(
        public_id="whe_added", url="https://crm.example/hook", events=["lead.created"],
        secret="whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", active=True, created_at=utcnow(),
    )  # fmt: skip
    db.session.add(added)  # pending, not flushed
    assert sorted(e.url for e in subscribed("lead.created")) == sorted([url, added.url])
    held = db.session.scalar(sa.select(WebhookEndpoint).where(WebhookEndpoint.url == url))
    held.active = False  # changed, not flushed
    assert [e.url for e in subscribed("lead.created")] == [added.url]
    db.session.delete(added)
    assert subscribed("lead.created") == []
    db.session.rollback()

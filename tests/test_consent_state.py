"""Consent state everywhere: the lead API, every lead webhook, `consent.changed` on every
ledger record (one extension point, fired by every path), and a double opt-in's conversion
held until the address is confirmed."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa

from capture.base.db import db
from capture.delivery.optin import unsubscribe_url
from capture.delivery.webhooks.endpoint import create_endpoint
from capture.extension_points import consent_changed
from capture.leads.conversion import ConversionEvent
from capture.leads.lead import Lead
from capture.ops.worker import drain
from capture.web.tokens import Purpose, sign

CONSENTS = {"processing": True, "marketing": True}


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    return {**app_config, "WEBHOOK_ALLOW_PRIVATE_TARGETS": True}


@pytest.fixture
def heard(app):
    """Every `consent_changed` the app fires, as (lead id, purpose, state, method)."""
    seen: list[tuple[str, str, str, str]] = []
    consent_changed.connect(
        app,
        lambda changed: seen.append(
            (changed.lead.public_id, changed.purpose, changed.state, changed.method)
        ),
    )
    return seen


def lead_of(public_id: str) -> Lead:
    db.session.expire_all()
    return db.session.scalar(sa.select(Lead).where(Lead.public_id == public_id))


def test_every_path_that_writes_the_ledger_fires_consent_changed(
    app_context, app, client, make_form, submit, heard, api_token
):
    make_form(slug="doi", double_opt_in=True)
    body = submit("doi", {"email": "ane@firma.dk"}, CONSENTS).get_json()
    lead = body["lead"]
    assert heard == [
        (lead, "processing", "granted", "checkbox"),
        (lead, "marketing", "pending", "checkbox"),
    ]
    read = api_token("read")
    consents = client.get(f"/api/v1/leads/{lead}", headers=read).get_json()["consents"]
    assert {p: s["state"] for p, s in consents.items()} == {
        "marketing": "pending",
        "processing": "granted",
    }

    with app.test_request_context():
        confirm = "/c/" + sign(Purpose.CONFIRM, body["submission"])
        unsubscribe = urlsplit(unsubscribe_url(lead)).path
    assert client.get(confirm).status_code == 200
    assert client.get(confirm).status_code == 200  # a scanner's second click: nothing new
    assert heard[2:] == [(lead, "marketing", "granted", "double_opt_in")]
    listed = client.get("/api/v1/leads", headers=read).get_json()["leads"]
    assert listed[0]["consents"]["marketing"]["state"] == "granted"

    assert client.post(unsubscribe, data={"List-Unsubscribe": "One-Click"}).status_code == 200
    assert client.post(unsubscribe, data={"List-Unsubscribe": "One-Click"}).status_code == 200
    assert heard[3:] == [(lead, "marketing", "withdrawn", "unsubscribe_link")]
    assert len(heard) == 4


def test_lead_webhooks_carry_the_consents(app_context, app, make_form, submit, receiver):
    endpoint = create_endpoint(receiver.url)
    db.session.commit()
    make_form(slug="contact", conversion="contact_request")
    lead = submit("contact", {"email": "ane@firma.dk"}, CONSENTS).get_json()["lead"]
    assert drain().sent == 5
    events = {event["type"]: event["data"] for _, event in receiver.delivered(endpoint.secret)}
    assert set(events) == {
        "lead.created",
        "conversion.recorded",
        "lead.stage_changed",
        "consent.changed",
    }
    for data in events.values():
        assert data["lead"]["id"] == lead
        assert {p: s["state"] for p, s in data["lead"]["consents"].items()} == {
            "marketing": "granted",
            "processing": "granted",
        }
    changed = [e for _, e in receiver.delivered(endpoint.secret) if e["type"] == "consent.changed"]
    assert sorted(e["data"]["purpose"] for e in changed) == ["marketing", "processing"]


def test_a_double_opt_in_lead_stays_a_lead_until_it_confirms(
    app_context, app, client, make_form, submit, api_token
):
    make_form(slug="doi", double_opt_in=True)
    body = submit("doi", {"email": "bo@firma.dk"}, CONSENTS).get_json()
    assert body["lifecycle_stage"] == "lead"
    assert body["conversion"] == {"kind": "newsletter_signup", "classification": "MQL"}
    lead = lead_of(body["lead"])
    assert (lead.lifecycle_stage, lead.score) == ("lead", 0)
    conversion = db.session.scalar(sa.select(ConversionEvent))
    assert conversion.pending is True

    with app.test_request_context():
        confirm = "/c/" + sign(Purpose.CONFIRM, body["submission"])
    for _ in range(2):  # the second click changes nothing
        assert client.get(confirm).status_code == 200
    lead = lead_of(body["lead"])
    assert lead.lifecycle_stage == "mql" and lead.score > 0
    db.session.refresh(conversion)
    assert conversion.pending is False
    history = client.get(f"/api/v1/leads/{lead.public_id}/export", headers=api_token("read"))
    changes = history.get_json()["stage_changes"]
    assert [(c["from"], c["to"]) for c in changes] == [("lead", "mql")]
    assert "confirmed by double opt-in" in changes[0]["reason"]
    scores = history.get_json()["score_changes"]
    assert [s["rule"] for s in scores] == ["conversion: newsletter_signup"]  # scored once

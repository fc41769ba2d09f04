"""One-click unsubscribe (RFC 8058) in every e-mail to a lead, through a real SMTP server, a
real HTTP server and a real webhook receiver; the staff hand-off is the only exception."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
import sqlalchemy as sa
from helpers import STAFF_PASSWORD, expired_link, renew_token

from capture.accounts import Role, create_user
from capture.api.schemas import ConsentChangedEvent
from capture.base.config import InvalidConfiguration
from capture.base.db import db
from capture.delivery.optin import unsubscribe_url
from capture.delivery.outbox import NoUnsubscribe, enqueue_email
from capture.delivery.webhooks.endpoint import create_endpoint
from capture.leads.consent import ConsentRecord
from capture.leads.lead import Lead
from capture.leads.privacy import erase
from capture.ops.worker import drain
from wsgi import create_app

CONSENTS = {"processing": True, "marketing": True}
LINE = {
    "en": "Unsubscribe or change your consents: ",
    "da": "Afmeld eller ændr dine samtykker: ",
    "sv": "Avregistrera dig eller ändra dina samtycken: ",
}
HTML_LINK = {
    "en": ">Unsubscribe or change your consents</a>",
    "da": ">Afmeld eller ændr dine samtykker</a>",
    "sv": ">Avregistrera dig eller ändra dina samtycken</a>",
}


@pytest.fixture
def app_config(app_config: dict[str, Any], smtp_server: Any) -> dict[str, Any]:
    return {**app_config, "MAIL_URL": smtp_server.url, "WEBHOOK_ALLOW_PRIVATE_TARGETS": True}


def ledger(email: str) -> list[ConsentRecord]:
    db.session.expire_all()
    lead = db.session.scalar(sa.select(Lead).where(Lead.email == email))
    return list(
        db.session.scalars(
            sa.select(ConsentRecord)
            .where(ConsentRecord.lead_id == lead.id)
            .order_by(ConsentRecord.id)
        )
    )


def check_unsubscribe(message: Any, language: str) -> str:
    """Both RFC 8058 headers and the visible link in both parts, in `language`; the URL."""
    header = str(message["List-Unsubscribe"])
    match = re.fullmatch(r"<(https?://[^>]+/u/[^>?]+\?lang=(\w+))>(, <mailto:[^>]+>)?", header)
    assert match, header
    assert match.group(2) == language
    assert str(message["List-Unsubscribe-Post"]) == "List-Unsubscribe=One-Click"
    url = match.group(1)
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert LINE[language] + url in text
    assert f'href="{url}"' in html and HTML_LINK[language] in html
    return url


def test_every_e_mail_to_a_lead_has_both_headers_and_a_visible_link(
    app_context, app, client, make_form, make_magnet, submit, smtp_server, runner
):
    """Double opt-in confirmation (sv), the magnet it unlocks (sv), an e-mailed magnet (da)."""
    make_magnet(slug="other")
    make_form(slug="doi", magnet="other", double_opt_in=True, language="sv")
    make_form(slug="mailed", magnet="other", email_magnet=True, language="da")
    answer = submit("doi", {"email": "sven@firma.se"}, CONSENTS).get_json()
    submit("mailed", {"email": "ane@firma.dk"}, CONSENTS)
    drain()
    by_template = {str(m["Subject"]): m for m in smtp_server.messages}
    assert len(by_template) == 2
    confirm = next(m for m in smtp_server.messages if m["To"] == "sven@firma.se")
    check_unsubscribe(confirm, "sv")
    mailed = next(m for m in smtp_server.messages if m["To"] == "ane@firma.dk")
    check_unsubscribe(mailed, "da")

    link = re.search(r"http://\S+/c/\S+", confirm.get_body(("plain",)).get_content())
    assert link and client.get(urlsplit(link.group(0)).path).status_code == 200
    assert answer["confirmation_required"]
    drain()
    magnet = smtp_server.messages[-1]
    assert magnet["To"] == "sven@firma.se" and "/d/" in magnet.get_body(("plain",)).get_content()
    check_unsubscribe(magnet, "sv")


def test_a_fresh_link_has_them_too(app_context, app, client, make_form, make_magnet, submit,
    smtp_server):  # fmt: skip
    url = expired_link(app, make_magnet, make_form, submit)
    assert client.post("/d/renew", data={"token": renew_token(client, url)}).status_code == 202
    drain()
    [fresh] = smtp_server.messages
    assert "fresh link" in str(fresh["Subject"])
    check_unsubscribe(fresh, "en")


def test_the_staff_hand_off_is_exempt_and_nothing_else_may_be(
    app_context, app, make_form, submit, smtp_server
):
    create_user("sales@firma.dk", Role.SALES, STAFF_PASSWORD)
    db.session.commit()
    make_form(slug="contact", conversion="contact_request")
    submit("contact", {"email": "ane@firma.dk"})
    drain()
    [handoff] = [m for m in smtp_server.messages if m["To"] == "sales@firma.dk"]
    assert handoff["List-Unsubscribe"] is None and handoff["List-Unsubscribe-Post"] is None
    assert str(handoff["Auto-Submitted"]) == "auto-generated"
    with app.test_request_context(), pytest.raises(NoUnsubscribe):
        enqueue_email("ane@firma.dk", "confirm", "en", {"confirm_url": "https://x/c/1"})


def test_a_mailto_is_added_when_configured(app_context, app, make_form, submit, smtp_server):
    app.config["MAIL_UNSUBSCRIBE_MAILTO"] = "unsubscribe@firma.dk"
    make_form(slug="doi", double_opt_in=True)
    submit("doi", {"email": "ane@firma.dk"}, CONSENTS)
    drain()
    [message] = smtp_server.messages
    check_unsubscribe(message, "en")
    assert str(message["List-Unsubscribe"]).endswith(
        ", <mailto:unsubscribe@firma.dk?subject=unsubscribe>"
    )


def test_one_click_with_no_cookie_withdraws_once_and_tells_the_api_and_the_crm(
    app_context, app, make_form, submit, smtp_server, live_server, receiver, api_token
):
    app.config["PUBLIC_BASE_URL"] = live_server.url
    endpoint = create_endpoint(receiver.url, ["consent.changed"])
    db.session.commit()
    make_form(slug="news", email_magnet=False)
    lead_id = submit("news", {"email": "ane@firma.dk"}, CONSENTS).get_json()["lead"]
    make_form(slug="doi", double_opt_in=True)
    submit("doi", {"email": "ane@firma.dk"}, CONSENTS)
    drain()
    [message] = smtp_server.messages
    url = check_unsubscribe(message, "en")
    before = len(ledger("ane@firma.dk"))
    receiver.requests.clear()

    # What a mail provider sends (RFC 8058 section 3.2): no cookie, no session, no token.
    with requests.Session() as provider:
        first = provider.post(
            url,
            data="List-Unsubscribe=One-Click",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            timeout=10,
        )
        assert first.status_code == 200 and not provider.cookies
    assert "Set-Cookie" not in first.headers
    records = ledger("ane@firma.dk")
    assert len(records) == before + 1
    withdrawal = records[-1]
    assert (withdrawal.purpose, withdrawal.status) == ("marketing", "withdrawn")
    assert withdrawal.method == "unsubscribe_link" and withdrawal.channel == "email"

    second = requests.post(url, data="List-Unsubscribe=One-Click", timeout=10)
    assert second.status_code == 200
    assert len(ledger("ane@firma.dk")) == before + 1  # the second POST changes nothing

    lead = requests.get(
        f"{live_server.url}/api/v1/leads/{lead_id}", headers=api_token("read"), timeout=10
    ).json()
    assert lead["consents"]["marketing"]["state"] == "withdrawn"
    assert lead["consents"]["marketing"]["at"] == withdrawal.created_at.isoformat()
    assert lead["consents"]["processing"]["state"] == "granted"

    assert drain().sent == 1  # one event: the second POST appended nothing
    [(_, event)] = receiver.delivered(endpoint.secret)  # fails on a bad signature
    assert event["type"] == "consent.changed"
    ConsentChangedEvent.model_validate(event)  # as the OpenAPI document's `webhooks` says
    data = event["data"]
    assert (data["purpose"], data["state"], data["method"]) == (
        "marketing",
        "withdrawn",
        "unsubscribe_link",
    )
    assert data["lead"]["id"] == lead_id
    assert data["lead"]["consents"]["marketing"]["state"] == "withdrawn"
    assert json.loads(receiver.requests[0]["body"])["data"]["changed_at"] == data["changed_at"]


def test_an_erased_person_s_link_writes_nothing(app_context, app, client, make_form, submit):
    make_form(slug="news")
    lead_id = submit("news", {"email": "ane@firma.dk"}, CONSENTS).get_json()["lead"]
    with app.test_request_context():
        path = urlsplit(unsubscribe_url(lead_id)).path
    lead = db.session.scalar(sa.select(Lead).where(Lead.public_id == lead_id))
    erase(lead, "test")
    db.session.commit()
    assert client.post(path, data={"List-Unsubscribe": "One-Click"}).status_code == 410
    assert client.get(path).status_code == 410
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ConsentRecord)) == 0


@pytest.mark.parametrize(
    "address", ["unsubscribe", "Leadgate <u@firma.dk>", "u@firma.dk?subject=x", "a@b"]
)
def test_a_mailto_that_is_not_a_plain_address_stops_the_start(app_config, address):
    with pytest.raises(InvalidConfiguration, match="MAIL_UNSUBSCRIBE_MAILTO"):
        create_app({**app_config, "MAIL_UNSUBSCRIBE_MAILTO": address})

"""The preference page at /u/<token>: consents per purpose with their texts and times, each
withdrawn or given again (a new record with the page's own text), da/sv/en, no login, no
cookie, nothing changed by a GET."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from bs4 import BeautifulSoup

from capture.base.db import db
from capture.delivery.optin import unsubscribe_url
from capture.leads.consent import ConsentRecord, text_hash

CONSENTS = {"processing": True, "marketing": True}


@pytest.fixture
def page(app, client, make_form, submit):
    """A lead with processing and marketing consent; the path of its /u/ link."""
    make_form(
        slug="news",
        language="da",
        consents=[
            {"purpose": "processing", "required": True, "text": {"da": "Vi behandler det."}},
            {"purpose": "marketing", "required": False, "text": {"da": "Send mig nyheder."}},
        ],
    )
    lead = submit("news", {"email": "ane@firma.dk"}, CONSENTS).get_json()["lead"]
    with app.test_request_context():
        return urlsplit(unsubscribe_url(lead)).path


def ledger() -> list[ConsentRecord]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(ConsentRecord).order_by(ConsentRecord.id)))


def forms_of(html: str) -> dict[str, dict[str, str]]:
    """The hidden fields of each purpose's form, by purpose."""
    soup = BeautifulSoup(html, "html.parser")
    found = {}
    for form in soup.find_all("form"):
        inputs = form.find_all("input", type="hidden")
        fields = {i["name"]: i.get("value", "") for i in inputs}
        fields["action_url"] = form["action"]
        found[fields["purpose"]] = fields
    return found


def test_the_page_shows_each_consent_with_its_text_and_time_and_changes_nothing(
    app_context, client, page
):
    before = len(ledger())
    response = client.get(page + "?lang=da")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert "Set-Cookie" not in response.headers  # no login, no session, no cookie
    html = response.get_data(as_text=True)
    soup = BeautifulSoup(html, "html.parser")
    assert soup.html["lang"] == "da"
    assert soup.h1.get_text() == "Dine samtykker"
    assert [h.get_text() for h in soup.find_all("h2")] == [
        "E-mails med markedsføring",
        "Behandling af dine henvendelser",
        "Dine data",
    ]
    assert "Send mig nyheder." in html and "Vi behandler det." in html  # what they agreed to
    granted = ledger()[0].created_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert f'<time datetime="{granted}">' in html  # and when
    assert "a**@firma.dk" in html and "ane@firma.dk" not in html
    for button in soup.find_all("button"):
        assert button.get_text(strip=True)
    assert len(ledger()) == before  # a mail scanner following the link changes nothing


def test_withdraw_and_give_again_with_the_page_s_own_text(app_context, client, page):
    forms = forms_of(client.get(page + "?lang=sv").get_data(as_text=True))
    marketing = forms["marketing"]
    assert marketing["action"] == "withdraw"
    done = client.post(marketing["action_url"], data=marketing)
    assert done.status_code == 303
    assert urlsplit(done.headers["Location"]).path == page
    withdrawal = ledger()[-1]
    assert (withdrawal.purpose, withdrawal.status) == ("marketing", "withdrawn")
    assert (withdrawal.method, withdrawal.channel) == ("preference_page", "web")
    assert withdrawal.text == "Sluta skicka nyhetsbrev och erbjudanden till mig."
    assert withdrawal.language == "sv"

    again = client.post(marketing["action_url"], data=marketing)  # a double click
    assert again.status_code == 303 and ledger()[-1].id == withdrawal.id

    shown = client.get(done.headers["Location"]).get_data(as_text=True)
    assert "Ditt val är sparat." in shown and "Återkallat" in shown
    grant = forms_of(shown)["marketing"]
    assert grant["action"] == "grant"
    unticked = client.post(grant["action_url"], data=grant)
    assert unticked.status_code == 422 and ledger()[-1].id == withdrawal.id
    given = client.post(grant["action_url"], data={**grant, "agree": "y"})
    assert given.status_code == 303
    record = ledger()[-1]
    assert (record.purpose, record.status, record.method) == (
        "marketing",
        "granted",
        "preference_page",
    )
    assert record.text.startswith("Ja, skicka nyhetsbrev och erbjudanden till mig via e-post.")
    assert record.text_hash == text_hash(record.text) == grant["text_sha256"]
    assert record.ip == "127.0.0.1" and record.page_url.endswith(page + "/consents")


def test_changes_are_refused_when_forged_or_outdated(app_context, client, page):
    forms = forms_of(client.get(page).get_data(as_text=True))
    processing = forms["processing"]
    before = len(ledger())
    elsewhere = client.post(
        processing["action_url"], data=processing, headers={"Origin": "https://evil.example"}
    )
    assert elsewhere.status_code == 403
    headers = {"Sec-Fetch-Site": "cross-site", "Origin": "null"}
    assert (
        client.post(processing["action_url"], data=processing, headers=headers).status_code == 403
    )
    changed = client.post(processing["action_url"], data={**processing, "text_sha256": "0" * 64})
    assert changed.status_code == 409 and "changed" in changed.get_data(as_text=True)
    unknown = client.post(processing["action_url"], data={**processing, "purpose": "tracking"})
    assert unknown.status_code == 400
    assert client.post("/u/forged/consents", data=processing).status_code == 404
    assert len(ledger()) == before
    same_site = client.post(
        processing["action_url"], data=processing, headers={"Origin": "http://localhost"}
    )
    assert same_site.status_code == 303 and ledger()[-1].purpose == "processing"


def test_the_your_data_links_lead_to_self_service(app, client, make_form, submit):
    make_form(slug="news")
    lead = submit("news", {"email": "ane@firma.dk"}, CONSENTS).get_json()["lead"]
    with app.test_request_context():
        token = urlsplit(unsubscribe_url(lead)).path.removeprefix("/u/")
    html = client.get(f"/u/{token}?lang=en").get_data(as_text=True)
    links = re.findall(r'href="([^"]+)"', html)
    assert f"http://localhost/u/{token}/data?lang=en" in links
    assert f"http://localhost/u/{token}/erase?lang=en" in links


def test_an_unknown_lead_s_link_shows_nothing_personal(app, client):
    with app.test_request_context():
        path = urlsplit(unsubscribe_url("lead_doesnotexist")).path
    response = client.get(path)
    assert response.status_code == 200 and "unsubscribed" in response.get_data(as_text=True)

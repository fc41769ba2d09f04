"""The preference page in real headless Chromium: the browser's own POSTs (under the page's
`Referrer-Policy: no-referrer`, which makes Chromium send `Origin: null`) withdraw and give
consent again, with no cookie ever set."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from capture.base.db import db
from capture.delivery.optin import unsubscribe_url
from capture.leads.consent import ConsentRecord

pytestmark = pytest.mark.browser


def test_withdraw_and_give_again_in_a_browser(
    app_context, app, browser, live_server, make_form, submit
):
    app.config["PUBLIC_BASE_URL"] = live_server.url
    make_form(slug="news", language="sv")
    lead = submit("news", {"email": "sven@firma.se"}, {"processing": True, "marketing": True})
    with app.test_request_context():
        url = unsubscribe_url(lead.get_json()["lead"], "sv")
    context = browser.new_context()
    page = context.new_page()
    page.goto(url)
    marketing = page.locator(
        "section", has=page.get_by_role("heading", name="E-post med marknadsföring")
    )
    marketing.get_by_role("button", name="Återkalla samtycke").click()
    page.wait_for_url("**saved=marketing")
    assert page.get_by_role("status").inner_text() == "Ditt val är sparat."
    box = marketing.get_by_label("Ja, skicka nyhetsbrev och erbjudanden till mig via e-post.")
    box.check()
    marketing.get_by_role("button", name="Ge samtycke").click()
    page.wait_for_load_state()
    assert "Givet" in marketing.inner_text()
    assert context.cookies() == []
    context.close()
    db.session.expire_all()
    records = db.session.scalars(
        sa.select(ConsentRecord)
        .where(ConsentRecord.purpose == "marketing")
        .order_by(ConsentRecord.id)
    ).all()
    assert [(r.status, r.method) for r in records] == [
        ("granted", "checkbox"),
        ("withdrawn", "preference_page"),
        ("granted", "preference_page"),
    ]
    assert records[-1].origin == live_server.url

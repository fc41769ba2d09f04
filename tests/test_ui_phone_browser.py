"""The back office on a 390 px phone in real headless Chromium: no page wider than the screen.

Long names, addresses and many columns must scroll inside their own table or wrap; the page
itself never scrolls sideways.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from capture.accounts import Role, create_user
from capture.base.db import db
from capture.leads.lead import Lead

pytestmark = pytest.mark.browser

LONG = "Nordisk Industri- og Handelsselskabet for Vedvarende Energiløsninger ApS"


@pytest.fixture
def phone(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 390, "height": 844})
    try:
        yield context.new_page()
    finally:
        context.close()


def test_no_back_office_page_is_wider_than_a_phone(
    app_context, app, live_server, phone, make_form, submit
):
    make_form(
        name="Kvartalsrapport om energimarkedet i Norden med prognoser",
        allowed_origins=["https://www.firma.dk"],
        fields=[
            {"name": "email", "type": "email", "required": True},
            {"name": "company", "type": "text"},
            {"name": "first_name", "type": "text"},
            {"name": "last_name", "type": "text"},
        ],
    )
    for n in range(3):
        answer = submit(
            "test-form",
            {
                "email": f"kontakt.indkoeb.afdeling{n}@{'meget-lang-virksomhed' * 2}.dk",
                "company": LONG,
                "first_name": "Anne-Kathrine",
                "last_name": "Østergaard-Christiansen",
            },
            context={"utm_source": "linkedin", "utm_campaign": "energi-kampagne-" + "x" * 60},
        )
        assert answer.status_code == 201
    password = secrets.token_urlsafe(16)
    create_user("phone@firma.dk", Role.ADMIN, password)
    db.session.commit()
    lead = db.session.scalar(sa.select(Lead).order_by(Lead.id))

    phone.goto(f"{live_server.url}/admin/login")
    phone.fill("input[name=email]", "phone@firma.dk")
    phone.fill("input[name=password]", password)
    phone.click("button[type=submit]")
    phone.wait_for_url(f"{live_server.url}/admin/")

    too_wide = {}
    for path in (
        "/admin/",
        "/admin/?days=90",
        "/admin/leads/",
        f"/admin/leads/{lead.public_id}",
        "/admin/forms/",
        "/admin/forms/new",
        "/admin/forms/test-form",
        "/admin/forms/test-form/edit",
        "/admin/magnets/",
        "/admin/magnets/new",
        "/admin/quarantine/",
        "/admin/webhooks/",
        "/admin/privacy-requests/",
        "/admin/routing/",
        "/admin/settings/",
    ):
        response = phone.goto(live_server.url + path)
        assert response is not None and response.status == 200, path
        width = phone.evaluate("document.documentElement.scrollWidth")
        if width > 390:
            too_wide[path] = width
    assert too_wide == {}
    # The navigation folded into rows of its own: every section is still on the screen.
    links = phone.locator(".mainnav a")
    assert links.count() == 9
    for index in range(links.count()):
        box = links.nth(index).bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390

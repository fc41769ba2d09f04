"""Tracking in real headless Chromium: a partner page on another origin with the embed and
track.js, a visitor who ticks the tracking consent and one who does not.

The app runs on http://127.0.0.1:<port> (live_server); the partner's site on
http://localhost:<port> (partner_site), which serves the same page at every path. What the
browser sent is read from Playwright's request events (Chromium's network log), what it stored
from the partner origin's localStorage.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from helpers import withdraw_on_preference_page
from sites import Site

from capture.backoffice.timeline import events
from capture.base.db import db
from capture.delivery.optin.unsubscribe import unsubscribe_url
from capture.forms.spec import TRACKING_TEXT
from capture.leads.consent import ConsentRecord
from capture.leads.lead import Lead
from capture.leads.scoring import ScoreChange
from capture.tracking.token import tracked_url

pytestmark = pytest.mark.browser

KEY = "leadgate.track"


@pytest.fixture(scope="module")
def browser(chromium: Any) -> Iterator[Any]:
    with chromium("--test-third-party-cookie-phaseout") as launched:
        yield launched


class Visitor:
    """One browser profile (its own localStorage) and every request it made."""

    def __init__(self, browser: Any):
        self.context = browser.new_context(locale="da-DK")
        self.page = self.context.new_page()
        self.page.set_default_timeout(10000)
        self.requests: list[Any] = []
        self.errors: list[str] = []
        self.page.on("request", lambda request: self.requests.append(request))
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))

    def activity(self) -> list[Any]:
        return [r for r in self.requests if "/api/v1/activity" in r.url]

    def stored(self) -> dict[str, str]:
        return self.page.evaluate("Object.assign({}, window.localStorage)")

    def script_ran(self) -> None:
        self.page.wait_for_function("window.leadgate && window.leadgate.track")


@pytest.fixture
def visitor(browser: Any, built_embed: None) -> Iterator[Visitor]:
    visitor = Visitor(browser)
    yield visitor
    visitor.context.close()


@pytest.fixture
def site(app: Any, make_form: Any, partner_site: Site, live_server: Any) -> Site:
    make_form(
        slug="guide",
        name="Guide",
        language="da",
        allowed_origins=[partner_site.origin],
        consents=[
            {"purpose": "processing", "required": True, "text": {"da": "Vi behandler dem."}},
            {"purpose": "tracking", "required": False},
        ],
        success={"message": {"da": "Tak!"}},
    )
    partner_site.page(
        '<div data-leadgate-form="guide" data-lang="da" style="min-height:400px"></div>'
        f'<script src="{live_server.url}/embed.js" async></script>'
        f'<script src="{live_server.url}/track.js" async></script>'
    )
    return partner_site


def sign_up(visitor: Visitor, site: Site, email: str, tracking: bool) -> None:
    page = visitor.page
    page.goto(f"{site.origin}/guide")
    host = page.locator("[data-leadgate-form]")
    host.get_by_label("E-mail").fill(email)
    host.get_by_label("Vi behandler dem.").check()
    if tracking:
        host.get_by_label(TRACKING_TEXT["da"]).check()
    with page.expect_response(lambda r: "/submissions" in r.url) as answer:
        host.get_by_role("button").click()
    host.get_by_text("Tak!").wait_for()
    assert ("tracking_token" in answer.value.json()) is tracking


def open_pricing(visitor: Visitor, site: Site) -> Any:
    with visitor.page.expect_response(lambda r: r.url.endswith("/api/v1/activity")) as answer:
        visitor.page.goto(f"{site.origin}/pricing")
    return answer.value


def lead_of(email: str) -> Lead:
    db.session.expire_all()
    return db.session.scalar(sa.select(Lead).where(Lead.email == email))


def test_a_visitor_who_consented_gains_15_for_the_pricing_page(app, app_context, visitor, site):
    sign_up(visitor, site, "ane@firma.dk", tracking=True)
    assert visitor.activity() == []  # the form's own page is not counted
    token = visitor.stored()[KEY]
    before = lead_of("ane@firma.dk").score

    answer = open_pricing(visitor, site)
    # (Not answer.json(): Chromium hands a keepalive fetch's body to nobody, so it never comes.)
    assert answer.status == 202
    [sent] = visitor.activity()
    assert sent.method == "POST" and sent.post_data_json["token"] == token
    assert sent.headers.get("cookie") is None

    lead = lead_of("ane@firma.dk")
    assert lead.score == before + 15
    with app.test_request_context():
        [line] = [
            e for e in events(lead) if dict(e.details).get("rule") == "activity: pricing_page_view"
        ]
    assert line.title == f"Score {before} → {before + 15}"
    assert dict(line.details)["event"].startswith("page view /pricing on localhost:")
    assert visitor.errors == []


def test_without_the_consent_no_request_and_nothing_stored(app_context, visitor, site):
    sign_up(visitor, site, "bo@firma.dk", tracking=False)
    visitor.page.goto(f"{site.origin}/pricing")
    visitor.script_ran()
    visitor.page.locator("[data-leadgate-form] input").first.wait_for()
    assert visitor.activity() == []
    assert visitor.stored() == {}
    assert [r.url for r in visitor.requests if "/track.js" in r.url]  # the script was there
    lead = lead_of("bo@firma.dk")
    assert not db.session.scalars(
        sa.select(ScoreChange).where(
            ScoreChange.lead_id == lead.id, ScoreChange.rule.like("activity:%")
        )
    ).all()
    assert visitor.errors == []


def test_stop_on_the_page_forgets_and_records_the_withdrawal(app_context, visitor, site):
    sign_up(visitor, site, "cy@firma.dk", tracking=True)
    with visitor.page.expect_response(lambda r: r.url.endswith("/withdrawal")) as answer:
        visitor.page.evaluate("leadgate.track.stop()")
    assert answer.value.status == 200
    assert visitor.stored() == {}
    record = db.session.scalars(
        sa.select(ConsentRecord).order_by(ConsentRecord.id.desc()).limit(1)
    ).one()
    assert (record.purpose, record.status, record.method) == ("tracking", "withdrawn", "page")
    visitor.requests.clear()
    visitor.page.goto(f"{site.origin}/pricing")
    visitor.script_ran()
    assert visitor.activity() == []


def test_a_withdrawal_elsewhere_makes_the_script_forget_the_token(
    app, app_context, client, visitor, site
):
    sign_up(visitor, site, "di@firma.dk", tracking=True)
    with app.test_request_context():
        path = unsubscribe_url(lead_of("di@firma.dk").public_id).removeprefix("http://localhost")
    assert withdraw_on_preference_page(client, path, "tracking").status_code == 303

    assert open_pricing(visitor, site).status == 410
    visitor.page.wait_for_function(f"localStorage.getItem('{KEY}') === null")
    visitor.requests.clear()
    visitor.page.goto(f"{site.origin}/about")
    visitor.script_ran()
    assert visitor.activity() == []


def test_a_link_from_our_e_mails_recognises_the_visitor_on_another_device(
    app, app_context, browser, built_embed, visitor, site
):
    sign_up(visitor, site, "ea@firma.dk", tracking=True)
    with app.test_request_context():
        link = tracked_url(f"{site.origin}/pricing?utm_source=mail", lead_of("ea@firma.dk"), "da")
    other = Visitor(browser)  # another device: nothing stored yet
    try:
        with other.page.expect_response(lambda r: r.url.endswith("/api/v1/activity")) as answer:
            other.page.goto(link)
        assert answer.value.status == 202
        assert other.page.url == f"{site.origin}/pricing?utm_source=mail"  # the token is gone
        assert KEY in other.stored()
    finally:
        other.context.close()

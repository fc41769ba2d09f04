"""The marketer's whole day in real headless Chromium, through the UI only.

Log in, create a form in the editor, copy its embed snippet with the copy button, paste it on
a partner's page on another origin, fill the form in there as a visitor, then find the lead in
the back office, read its timeline and move it to SQL with a reason.
"""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from helpers import STAFF_PASSWORD

from capture.accounts import Role, User
from capture.base.db import db
from capture.leads.lead import Lead, StageChange
from capture.submissions.submission import Submission

pytestmark = pytest.mark.browser

CONSENT = "Firma A/S may process my details to answer me."
REASON = "Budget confirmed on the phone; wants a demo in Q1."
# What the marketer types into the editor's YAML box.
BODY = f"""\
fields:
  - name: email
    type: email
    required: true
  - name: first_name
    type: text
    required: true
    label: {{en: Your first name}}
  - name: company
    type: text
    label: {{en: Company}}
consents:
  - purpose: processing
    required: true
    text: {{en: "{CONSENT}"}}
success:
  message: {{en: "Thanks, we will be in touch."}}
"""


@pytest.fixture
def marketer(staff: Any) -> str:
    """A marketer made by the `staff` fixture; the browser logs in with its address."""
    staff("marketer")
    return db.session.scalar(sa.select(User.email).where(User.role == Role.MARKETER.value))


def test_create_embed_submit_and_hand_over_to_sales(
    app_context, app, live_server, built_embed, browser, partner_site, marketer
):
    context = browser.new_context(locale="en-GB")
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    page = context.new_page()
    page.set_default_timeout(15000)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    admin = live_server.url

    # Log in at the login page.
    page.goto(f"{admin}/admin/login")
    page.get_by_label("E-mail address").fill(marketer)
    page.get_by_label("Password").fill(STAFF_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{admin}/admin/")

    # Create the form in the editor, allowing the partner's origin.
    page.get_by_role("navigation", name="Back office").get_by_role("link", name="Forms").click()
    page.wait_for_url(f"{admin}/admin/forms/")
    page.get_by_role("link", name="New form").click()
    page.wait_for_url(f"{admin}/admin/forms/new")
    page.get_by_label("Slug (in the address)").fill("partner-demo")
    page.get_by_label("Name", exact=True).fill("Partner demo")
    page.get_by_label("Conversion kind").select_option("newsletter_signup")
    page.get_by_label("Language").select_option("en")
    page.get_by_label("Allowed origins (one per line)").fill(partner_site.origin)
    page.get_by_label("Fields, consents and success answer (YAML)").fill(BODY)
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(f"{admin}/admin/forms/partner-demo")
    assert page.get_by_role("heading", level=1).inner_text() == "Partner demo"

    # Copy the snippet with its button; headless Chromium lets the granted context read the
    # clipboard, so what the test pastes is exactly what the button put there.
    page.locator("button.copy[data-copy=snippet-code]").click()
    page.wait_for_function("document.getElementById('copy-status').textContent !== ''")
    snippet = page.evaluate("navigator.clipboard.readText()")
    assert 'data-leadgate-form="partner-demo"' in snippet
    assert f'src="{admin}/embed.js"' in snippet

    # The partner pastes it into an article on their own site; a visitor fills it in.
    partner_site.html = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Acme blog</title>'
        '<link rel="icon" href="data:,"></head><body><h1>Why leads go cold</h1>'
        f"<p>An article by the partner.</p>{snippet}</body></html>"
    )
    visitor = context.new_page()
    visitor.set_default_timeout(15000)
    visitor.on("pageerror", lambda error: errors.append(str(error)))
    visitor.goto(f"{partner_site.origin}/blog/cold-leads?utm_source=acme&utm_medium=blog")
    form = visitor.locator("[data-leadgate-form=partner-demo]")
    form.get_by_label("E-mail").fill("ane@kunde.dk")
    form.get_by_label("Your first name").fill("Ane")
    form.get_by_label("Company").fill("Kunde ApS")
    form.get_by_label(CONSENT).check()
    with visitor.expect_response(lambda r: r.request.method == "POST") as sent:
        form.get_by_role("button").click()
    assert sent.value.status == 201
    form.get_by_text("Thanks, we will be in touch.").wait_for()
    visitor.close()
    db.session.expire_all()
    submission = db.session.scalars(sa.select(Submission)).one()
    assert submission.origin == partner_site.origin and submission.channel == "embed"

    # Back in the back office: find the lead, open it, read its timeline.
    page.get_by_role("navigation", name="Back office").get_by_role("link", name="Leads").click()
    page.wait_for_url(f"{admin}/admin/leads/")
    page.get_by_label("Search e-mail, name, company").fill("Kunde")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**/admin/leads/?q=Kunde*")
    page.get_by_role("link", name="ane@kunde.dk").click()
    lead = db.session.scalars(sa.select(Lead)).one()
    page.wait_for_url(f"{admin}/admin/leads/{lead.public_id}")
    timeline = page.locator("ol.timeline")
    submitted = timeline.locator("li.event-submission")
    assert "Submission on Partner demo (partner-demo)" in submitted.inner_text()
    converted = timeline.locator("li.event-conversion")
    assert "Conversion Newsletter signup (MQL)" in converted.inner_text()
    assert timeline.locator("li.event-stage").filter(has_text="→ mql").count() == 1
    assert timeline.locator("li.event-stage").filter(has_text="→ sql").count() == 0

    # Move it to SQL with a reason.
    page.get_by_label("New stage").select_option("sql")
    page.get_by_label("Reason").fill(REASON)
    page.get_by_role("button", name="Change stage").click()
    page.get_by_role("status").get_by_text("Stage changed to sql.").wait_for()

    db.session.expire_all()
    [change] = db.session.scalars(
        sa.select(StageChange).where(StageChange.lead_id == lead.id, StageChange.to_stage == "sql")
    ).all()
    assert change.reason == REASON and change.actor == f"user:{marketer}"
    assert db.session.get(Lead, lead.id).lifecycle_stage == "sql"
    moved = page.locator("ol.timeline li.event-stage").filter(has_text="→ sql")
    assert moved.count() == 1
    assert REASON in moved.inner_text()
    assert errors == []
    context.close()

"""The back office in real headless Chromium: no CSP violation on any page, the copy button works.

The server-drawn pages must not need a single inline script or style; the console would report
any the Content-Security-Policy blocked.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from helpers import STAFF_PASSWORD

from capture.accounts import Role, create_user
from capture.base.db import db
from capture.leads.lead import Lead

pytestmark = pytest.mark.browser


def test_pages_keep_to_the_csp_and_copy_works(
    app_context, app, live_server, browser, make_form, submit
):
    make_form(allowed_origins=["https://www.firma.dk"])
    assert submit("test-form", {"email": "ane@firma.dk"}).status_code == 201
    create_user("admin@firma.dk", Role.ADMIN, STAFF_PASSWORD)
    db.session.commit()
    lead = db.session.scalar(sa.select(Lead))

    context = browser.new_context()
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    page = context.new_page()
    problems: list[str] = []
    page.on(
        "console",
        lambda message: problems.append(message.text) if message.type == "error" else None,
    )
    failed: list[str] = []
    page.on(
        "response",
        lambda response: (
            failed.append(response.url)
            if response.status >= 400 and not response.url.endswith("/favicon.ico")
            else None
        ),
    )
    page.goto(f"{live_server.url}/admin/login")
    page.fill("input[name=email]", "admin@firma.dk")
    page.fill("input[name=password]", STAFF_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/admin/")

    for path in (
        "/admin/?days=7",
        "/admin/leads/",
        f"/admin/leads/{lead.public_id}",
        "/admin/quarantine/",
        "/admin/forms/",
        "/admin/forms/test-form/edit",
        "/admin/settings/",
        "/admin/forms/test-form",
    ):
        page.goto(live_server.url + path)
        assert page.locator("h1").count() == 1, path

    button = page.locator("button.copy[data-copy=iframe-code]")
    assert button.is_visible()  # shown by copy.js, which ran under the nonce
    button.click()
    page.wait_for_function("document.getElementById('copy-status').textContent !== ''")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied.startswith("<iframe src=") and "/f/test-form?embed=1" in copied
    assert failed == []
    # Only the missing favicon may complain; a blocked inline script or style would show here.
    assert [p for p in problems if "Failed to load resource" not in p] == []
    context.close()

"""Analytics in real headless Chromium, the embed on a partner page on another origin: the
view and start beacons are counted, a conversion is told to the host page (a DOM event and a
dataLayer push, with nothing about the person), and an ad click id reaches the attribution."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from capture.analytics.counts import PageCount
from capture.base.db import db
from capture.forms.partners import add_partner
from capture.leads.lead import Lead

pytestmark = pytest.mark.browser

# A person's Chrome: headless Chromium names itself HeadlessChrome, which counts as a robot.
PERSON = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
# The host page listens as a tag manager would, before the embed is loaded.
LISTENER = """<script>
window.dataLayer = [];
window.heard = [];
document.addEventListener("leadgate:submit", function (e) { window.heard.push(e.detail); });
</script>"""


def counts() -> tuple[int, int]:
    db.session.expire_all()
    row = db.session.execute(
        sa.select(sa.func.sum(PageCount.views), sa.func.sum(PageCount.starts))
    ).one()
    return int(row[0] or 0), int(row[1] or 0)


def test_the_embed_counts_and_tells_the_host_page(
    app_context: None, browser: Any, live_server: Any, partner_site: Any, make_form: Any,
    built_embed: None,
) -> None:  # fmt: skip
    add_partner("acme", "Acme A/S", [partner_site.origin])
    db.session.commit()
    make_form(slug="guide", language="da", conversion="ebook_download",
              allowed_origins=[partner_site.origin])  # fmt: skip
    partner_site.page(
        f'{LISTENER}<div data-leadgate-form="guide" data-lang="da" style="min-height:500px">'
        f'</div><script src="{live_server.url}/embed.js" async></script>'
    )
    context = browser.new_context(user_agent=PERSON)
    page = context.new_page()
    page.set_default_timeout(10000)
    beacons = "/api/v1/beacons/guide"
    with page.expect_response(lambda r: beacons in r.url) as viewed:
        page.goto(f"{partner_site.origin}/article?gclid=Cj0KCQiA&utm_source=acme&utm_medium=news")
    assert viewed.value.status == 204
    assert counts() == (1, 0)
    [row] = db.session.scalars(sa.select(PageCount)).all()
    assert (row.form, row.partner, row.source, row.medium, row.language) == (
        "guide", "acme", "acme", "news", "da",
    )  # fmt: skip

    with page.expect_response(lambda r: beacons in r.url):
        page.get_by_label("E-mail").click()  # the first interaction: a start
    page.keyboard.type("ane@firma.dk")
    page.get_by_role("checkbox").first.click()
    assert counts() == (1, 1)  # one start per form shown, however many fields are touched

    page.get_by_role("button").click()
    page.wait_for_function("window.heard.length === 1")
    expected = {
        "event": "leadgate_submit", "form": "guide", "classification": "MQL",
        "language": "da", "variant": None,
    }  # fmt: skip
    assert page.evaluate("window.heard") == [expected]
    assert page.evaluate("window.dataLayer") == [expected]  # nothing about the person

    lead = db.session.scalars(sa.select(Lead)).one()
    assert lead.email == "ane@firma.dk"
    assert (lead.first_touch["gclid"], lead.first_touch["utm_source"]) == ("Cj0KCQiA", "acme")
    assert context.cookies() == []
    context.close()


def test_a_headless_browser_is_not_a_person(
    app_context: None, browser: Any, live_server: Any, partner_site: Any, make_form: Any,
    built_embed: None,
) -> None:  # fmt: skip
    make_form(slug="guide", language="da", allowed_origins=[partner_site.origin])
    partner_site.page(
        '<div data-leadgate-form="guide"></div>'
        f'<script src="{live_server.url}/embed.js" async></script>'
    )
    page = browser.new_page()  # Chromium's own agent: HeadlessChrome
    with page.expect_response(lambda r: "/api/v1/beacons/guide" in r.url) as viewed:
        page.goto(f"{partner_site.origin}/")
    assert viewed.value.status == 204
    assert counts() == (0, 0)
    page.close()


def test_our_own_page_counts_its_view_and_a_start(
    app_context: None, browser: Any, live_server: Any, make_form: Any
) -> None:
    make_form(slug="news", language="da")
    context = browser.new_context(user_agent=PERSON)
    page = context.new_page()
    page.set_default_timeout(10000)
    page.goto(f"{live_server.url}/f/news?utm_source=mail")
    assert counts() == (1, 0)  # the server counted the view
    with page.expect_response(lambda r: "/api/v1/beacons/news" in r.url) as started:
        page.get_by_label("E-mail").click()
    assert started.value.status == 204
    page.keyboard.type("ane@firma.dk")
    assert counts() == (1, 1)
    [row] = db.session.scalars(sa.select(PageCount)).all()
    assert (row.form, row.source, row.language) == ("news", "mail", "da")
    assert context.cookies() == []
    context.close()

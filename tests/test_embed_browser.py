"""The embed in real headless Chromium: a partner page on another origin, a person typing.

The app runs on http://127.0.0.1:<port> (live_server); partner pages come from small HTTP
servers on http://localhost:<port> (allowed, a registered partner) and http://127.0.0.1:<other
port> (not allowed). Chromium is launched with third-party cookies phased out, so every test
here also shows that nothing depends on cookies.
"""

from __future__ import annotations

import hashlib
import html
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import sqlalchemy as sa
from sites import Site

from capture.base.db import db
from capture.forms.partners import add_partner
from capture.leads.lead import Lead
from capture.submissions.api import EXPOSED_HEADERS
from capture.submissions.submission import Submission
from magnets.magnet import Magnet

pytestmark = pytest.mark.browser

# The listener docs/embedding.md gives partners for the iframe mode, with its origin check.
FRAME_LISTENER = """<script>
addEventListener("message", function (e) {
  var frame = document.getElementById("leadgate-frame");
  if (e.origin === "%(app)s" && e.source === frame.contentWindow && e.data
      && e.data.leadgate === "height") frame.style.height = e.data.height + "px";
});
</script>"""
RESERVED = 640  # px; the partner reserves the form's height in its snippet


def snippet(app_url: str, *forms: tuple[str, str]) -> str:
    hosts = "".join(
        f'<div data-leadgate-form="{slug}" data-lang="{lang}" '
        f'style="min-height:{RESERVED}px"></div>'
        for slug, lang in forms
    )
    return (
        "<h1>Lead scoring: the guide</h1><p>An article the partner wrote, with our form.</p>"
        f'{hosts}<p id="after">Text that must not move.</p>'
        f'<script src="{app_url}/embed.js" async></script>'
    )


@pytest.fixture(scope="module")
def browser(chromium: Any) -> Iterator[Any]:
    # Third-party cookies phased out: every test here also shows nothing depends on cookies.
    with chromium("--test-third-party-cookie-phaseout") as launched:
        yield launched


class Tab:
    """One reused page, with what it logged and requested since the last `reset`."""

    def __init__(self, context: Any):
        self.context = context
        self.page = context.new_page()
        self.page.set_default_timeout(10000)
        self.errors: list[str] = []
        self.requests: list[Any] = []
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("request", lambda request: self.requests.append(request))

    def reset(self) -> Any:
        self.page.unroute_all(behavior="ignoreErrors")
        self.page.goto("about:blank")
        self.errors.clear()
        self.requests.clear()
        return self.page


@pytest.fixture(scope="module")
def tab(browser: Any) -> Iterator[Tab]:
    context = browser.new_context(locale="da-DK")
    yield Tab(context)
    context.close()


@pytest.fixture
def page(tab: Tab, built_embed: None) -> Any:
    return tab.reset()


@pytest.fixture
def stranger_site() -> Iterator[Site]:
    site = Site("127.0.0.1")
    yield site
    site.close()


@pytest.fixture
def forms(app: Any, make_form: Any, make_magnet: Any, partner_site: Site) -> None:
    add_partner("acme", "Acme A/S", [partner_site.origin])
    db.session.commit()
    make_magnet(slug="scoring-guide", title="The lead scoring guide", filename="Guiden.pdf")
    make_form(
        slug="guide",
        magnet="scoring-guide",
        name="Guide",
        conversion="ebook_download",
        language="da",
        allowed_origins=[partner_site.origin],
        fields=[
            {"name": "email", "type": "email", "required": True},
            {"name": "first_name", "type": "text", "required": True},
            {"name": "company_size", "type": "select", "options": ["1-10", "11-50", "51+"]},
        ],
        success={"message": {"da": "Tak! Din e-bog er klar.", "en": "Thanks!"}},
    )
    make_form(slug="news", name="News", allowed_origins=[partner_site.origin])


def leads() -> list[Lead]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(Lead)))


COMPANY_SIZE = {"da": "Virksomhedsstørrelse", "en": "Company size"}


def fill_in(host: Any, page: Any, email: str, lang: str = "en") -> None:
    """As a person would: click into the first field, type, Tab on, tick, click send."""
    host.get_by_label("E-mail").click()
    page.keyboard.type(email)
    page.keyboard.press("Tab")
    page.keyboard.type("Ane")
    host.get_by_label(COMPANY_SIZE[lang]).select_option("11-50")
    host.get_by_role("checkbox").first.click()  # the processing consent
    host.get_by_role("button").click()


def test_partner_page_renders_submits_and_attributes(
    app_context, page, tab, live_server, forms, partner_site
):
    partner_site.page(snippet(live_server.url, ("guide", "da"), ("news", "en"), ("guide", "da")))
    page.goto(f"{partner_site.origin}/guide?utm_source=acme-news&utm_medium=email&utm_campaign=q4")
    guide, news, second = (page.locator("[data-leadgate-form]").nth(i) for i in range(3))
    guide.get_by_label("E-mail").wait_for()
    second.get_by_label("E-mail").wait_for()
    news.get_by_label("E-mail").wait_for()

    # One request per form definition, however many elements show it.
    definitions = [r.url for r in tab.requests if "/api/v1/forms/" in r.url]
    assert sorted(definitions) == sorted(
        [
            f"{live_server.url}/api/v1/forms/guide?lang=da",
            f"{live_server.url}/api/v1/forms/news?lang=en",
        ]
    )
    # Accessible and styled by the host: labels, described-by errors, a live status, its font.
    email = guide.get_by_label("E-mail")
    assert email.get_attribute("required") == "" and email.get_attribute("autocomplete") == "email"
    described = email.get_attribute("aria-describedby")
    assert page.locator(f"[id='{described}']").count() == 1
    assert guide.get_by_role("status").get_attribute("aria-live") == "polite"
    assert email.evaluate("e => getComputedStyle(e).fontFamily") == "Georgia, serif"
    assert guide.evaluate("e => e.offsetHeight") == RESERVED  # the form fits its reservation

    # Keyboard focus is visible. (Checked before sending: on success the form is replaced and
    # focus moves to the message, so afterwards there is no control left to look at.)
    guide.get_by_label("E-mail").click()
    page.keyboard.press("Tab")
    focused = page.evaluate(
        "[document.activeElement.name, getComputedStyle(document.activeElement).outlineStyle]"
    )
    assert focused == ["first_name", "solid"]

    fill_in(guide, page, "ane@firma.dk", "da")

    guide.get_by_text("Tak! Din e-bog er klar.").wait_for()
    # The gated magnet: its download link appears in place of the form, and it works.
    link = guide.get_by_role("link")
    link.wait_for()
    download = requests.get(link.get_attribute("href"), timeout=30)
    assert download.status_code == 200
    assert download.headers["Content-Disposition"].startswith("attachment")
    assert "Guiden.pdf" in download.headers["Content-Disposition"]
    magnet = db.session.scalars(sa.select(Magnet)).one()
    assert hashlib.sha256(download.content).hexdigest() == magnet.current_file.sha256
    assert news.get_by_role("button").is_enabled()  # the other forms are untouched
    assert second.get_by_label("E-mail").input_value() == ""

    [lead] = leads()
    assert lead.email == "ane@firma.dk" and lead.first_name == "Ane"
    assert lead.partner == "acme" and lead.company_size == "11-50"
    touch = lead.first_touch
    assert (touch["utm_source"], touch["utm_medium"], touch["utm_campaign"]) == (
        "acme-news",
        "email",
        "q4",
    )
    assert touch["page_url"].startswith(f"{partner_site.origin}/guide?")
    submission = db.session.scalars(sa.select(Submission)).one()
    assert submission.origin == partner_site.origin and submission.channel == "embed"

    assert page.evaluate("window.layoutShift") == 0
    assert tab.errors == []
    assert tab.context.cookies() == []


def test_field_errors_from_a_422_appear_next_to_the_fields(
    app_context, page, live_server, forms, partner_site
):
    partner_site.page(snippet(live_server.url, ("guide", "en")))
    page.goto(f"{partner_site.origin}/guide")
    host = page.locator("[data-leadgate-form]")
    fill_in(host, page, "not-an-address")
    email = host.get_by_label("E-mail")
    error = page.locator(f"[id='{email.get_attribute('aria-describedby')}']")
    error.get_by_text("Enter a valid e-mail address.").wait_for()
    assert email.get_attribute("aria-invalid") == "true"
    assert email.evaluate("e => e === document.activeElement")
    assert "correct" in host.get_by_role("status").inner_text()
    assert leads() == []

    email.fill("ane@firma.dk")
    host.get_by_role("button").click()
    host.get_by_text("Thanks!").wait_for()
    assert len(leads()) == 1


def test_origin_not_allowed_gets_a_readable_refusal(
    app_context, page, live_server, forms, stranger_site
):
    stranger_site.page(snippet(live_server.url, ("guide", "en")))
    page.goto(f"{stranger_site.origin}/copied-page")
    host = page.locator("[data-leadgate-form]")
    host.get_by_label("E-mail").wait_for()
    with page.expect_response(lambda r: r.url.endswith("/submissions?lang=en")) as answer:
        fill_in(host, page, "ane@firma.dk")
    assert answer.value.status == 403
    host.get_by_text("This form cannot be sent from this site.").wait_for()
    assert leads() == []
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Submission)) == 0


def test_a_sandboxed_frame_on_a_stranger_site_is_refused_too(
    app_context, page, live_server, forms, stranger_site
):
    """A sandboxed iframe has an opaque origin: the browser sends `Origin: null`, which must not
    pass for a server-to-server post without an origin."""
    inner = html.escape(snippet(live_server.url, ("guide", "en")), quote=True)
    stranger_site.page(
        f'<iframe id="box" sandbox="allow-scripts allow-forms" srcdoc="{inner}" '
        'style="width:100%;height:900px;border:0"></iframe>'
    )
    page.goto(f"{stranger_site.origin}/wrapped")
    host = page.frame_locator("#box").locator("[data-leadgate-form]")
    host.get_by_label("E-mail").wait_for()
    with page.expect_response(lambda r: r.url.endswith("/submissions?lang=en")) as answer:
        fill_in(host, page, "ane@firma.dk")
    assert answer.value.request.all_headers()["origin"] == "null"
    assert answer.value.status == 403
    host.get_by_text("This form cannot be sent from this site.").wait_for()
    assert leads() == []


def test_flaky_network_gives_exactly_one_lead(
    app_context, page, tab, live_server, forms, partner_site
):
    """First answer lost after the server stored it, second attempt cut, third goes through."""
    partner_site.page(snippet(live_server.url, ("guide", "en")))
    attempts: list[dict[str, Any]] = []

    def flaky(route: Any) -> None:
        attempts.append(json.loads(route.request.post_data))
        if len(attempts) == 1:
            route.fetch()  # the server records it...
            route.abort("connectionreset")  # ...and the answer never arrives
        elif len(attempts) == 2:
            route.abort("internetdisconnected")
        else:
            route.continue_()

    page.route(lambda url: "/submissions" in url, flaky)
    page.goto(f"{partner_site.origin}/guide")
    host = page.locator("[data-leadgate-form]")
    fill_in(host, page, "ane@firma.dk")
    host.get_by_text("Thanks!").wait_for(timeout=20000)
    assert len(attempts) == 3
    assert attempts[0] == attempts[1] == attempts[2]  # one body, one idempotency key
    assert tab.errors == [] or all("ERR_" in e or "Failed to load" in e for e in tab.errors)
    assert len(leads()) == 1
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Submission)) == 1


def test_a_rate_limited_answer_is_retried_after_retry_after_and_said(
    app_context, page, tab, live_server, forms, partner_site
):
    """A 429 (or 503) is waited out as Retry-After says, telling the person, then sent again."""
    partner_site.page(snippet(live_server.url, ("guide", "en")))
    attempts: list[float] = []

    def limited(route: Any) -> None:
        attempts.append(time.monotonic())
        if len(attempts) == 1:
            route.fulfill(
                status=429,
                headers={
                    "Retry-After": "1",
                    "Access-Control-Allow-Origin": partner_site.origin,
                    "Access-Control-Expose-Headers": EXPOSED_HEADERS,  # as the app sends it
                },
                json={"error": {"code": "rate_limited", "message": "Too many requests."}},
            )
        else:
            route.continue_()

    page.route(lambda url: "/submissions" in url, limited)
    page.goto(f"{partner_site.origin}/guide")
    host = page.locator("[data-leadgate-form]")
    fill_in(host, page, "ane@firma.dk")
    host.get_by_text("Busy right now. We keep trying...").wait_for()
    host.get_by_text("Thanks!").wait_for(timeout=10000)
    assert len(attempts) == 2 and attempts[1] - attempts[0] >= 0.9
    assert len(leads()) == 1


def test_old_token_is_refreshed_before_sending(
    app_context, browser, built_embed, live_server, forms, partner_site
):
    partner_site.page(snippet(live_server.url, ("guide", "en")))
    context = browser.new_context()
    try:
        page = context.new_page()
        page.clock.install()
        definitions: list[str] = []
        page.on("request", lambda r: "/forms/guide?" in r.url and definitions.append(r.url))
        sent: list[dict[str, Any]] = []
        # The submissions (the embed's view and start beacons are POSTs too).
        posted = lambda r: r.method == "POST" and "/submissions" in r.url  # noqa: E731
        page.on("request", lambda r: posted(r) and sent.append(json.loads(r.post_data)))
        page.goto(f"{partner_site.origin}/guide")
        host = page.locator("[data-leadgate-form]")
        host.get_by_label("E-mail").wait_for()
        first_token = page.evaluate(
            "u => fetch(u).then(r => r.json()).then(d => d.token)",
            f"{live_server.url}/api/v1/forms/guide?lang=en",
        )
        # Tokens carry whole seconds: let the server's clock move on, the page's jumps a day.
        time.sleep(1.1)
        page.clock.fast_forward("25:00:00")  # a day later, the page still open
        definitions.clear()
        with page.expect_response(lambda r: "/forms/guide?" in r.url) as refreshed:
            fill_in(host, page, "ane@firma.dk")
        host.get_by_text("Thanks!").wait_for()
        fresh_token = refreshed.value.json()["token"]
        assert definitions == [f"{live_server.url}/api/v1/forms/guide?lang=en"]
        assert fresh_token != first_token
        assert sent[0]["token"] == fresh_token
        assert leads()[0].email == "ane@firma.dk"
    finally:
        context.close()


def test_iframe_mode_sizes_itself_and_refuses_foreign_framing(
    app_context, page, tab, live_server, forms, partner_site, stranger_site
):
    frame = (
        f'<iframe id="leadgate-frame" title="Guide" src="{live_server.url}/f/guide?embed=1" '
        'style="width:100%;border:0;height:50px"></iframe>'
    )
    listener = FRAME_LISTENER % {"app": live_server.url}
    # The probe works first-party: the app's origin, opened on its own, keeps a cookie.
    page.goto(f"{live_server.url}/healthz")
    probe = "document.cookie = 'kept=1; SameSite=None; Secure'; document.cookie"
    assert page.evaluate(probe) == "kept=1"
    partner_site.page(frame + listener)
    page.goto(f"{partner_site.origin}/with-frame")
    framed = page.frame_locator("#leadgate-frame")
    framed.get_by_label("E-mail").wait_for()
    page.wait_for_function("document.getElementById('leadgate-frame').offsetHeight > 200")
    # Third-party cookies are blocked in this browser: framed, the same origin can neither
    # read the cookie it keeps first-party nor set one.
    inner = next(f for f in page.frames if f.url.startswith(live_server.url))
    assert inner.evaluate(probe) == ""
    tab.context.clear_cookies()
    framed.get_by_label("E-mail").fill("frame@firma.dk")
    framed.get_by_label("Fornavn").fill("Fie")  # the guide form is Danish
    framed.get_by_text("Vi behandler det.").click()
    framed.get_by_role("button").click()
    framed.get_by_text("Tak! Din e-bog er klar.").wait_for()
    assert [lead.email for lead in leads()] == ["frame@firma.dk"]

    stranger_site.page(frame + listener)
    with page.expect_response(lambda r: "/f/guide" in r.url) as framed_page:
        page.goto(f"{stranger_site.origin}/with-frame")
    policy = framed_page.value.headers["content-security-policy"]
    assert f"frame-ancestors 'self' {partner_site.origin}" in policy
    page.wait_for_load_state("load")
    blocked = page.frames[1]
    assert not blocked.url.startswith(live_server.url)  # Chromium showed its error page
    assert page.evaluate("document.getElementById('leadgate-frame').offsetHeight") == 50


# What a CAPTCHA provider's script does, reduced: a global with render(element, options) that
# puts the answer in a "<provider>-response" field inside the element.
FAKE_WIDGET = """
window.turnstile = {render: function (element, options) {
  var answer = document.createElement("input");
  answer.type = "hidden"; answer.name = "cf-turnstile-response";
  answer.value = "human:" + options.sitekey;
  element.appendChild(answer);
}};
"""


def test_captcha_widget_answer_is_sent_and_verified(
    app_context, app, page, live_server, forms, partner_site
):
    partner_site.scripts["/widget.js"] = FAKE_WIDGET
    app.config.update(
        CAPTCHA_PROVIDER="turnstile",
        CAPTCHA_SITE_KEY="site-key-1",
        CAPTCHA_SECRET="s3cret",
        CAPTCHA_VERIFY_URL=f"{partner_site.origin}/siteverify",
        CAPTCHA_SCRIPT_URL=f"{partner_site.origin}/widget.js",
    )
    partner_site.page(snippet(live_server.url, ("guide", "en")))
    page.goto(f"{partner_site.origin}/guide")
    host = page.locator("[data-leadgate-form]")
    host.locator("[name=cf-turnstile-response]").wait_for(state="attached")
    fill_in(host, page, "ane@firma.dk")
    host.get_by_text("Thanks!").wait_for()
    assert partner_site.posts[0]["response"] == ["human:site-key-1"]
    assert partner_site.posts[0]["secret"] == ["s3cret"]
    assert [lead.email for lead in leads()] == ["ane@firma.dk"]


# The hosted and landing pages' lead form (templates/forms/_lead_form.html) speaks the embed's
# vocabulary; docs/embedding.md lists where the two differ on purpose.
VARIED_FIELDS = [
    {"name": "email", "type": "email", "required": True},
    {"name": "first_name", "type": "text", "help": "Your first name."},
    {"name": "phone", "type": "tel"},
    {"name": "site", "type": "url"},
    {"name": "employees", "type": "number"},
    {"name": "message", "type": "textarea"},
    {"name": "company_size", "type": "select", "options": ["1-10", "11-50"]},
    {"name": "country", "type": "country"},
    {"name": "plan", "type": "radio", "options": ["a", "b"]},
    {"name": "agree", "type": "checkbox"},
    {"name": "campaign", "type": "hidden", "source": "query"},
]
CONTROLS = """f => Array.from(f.querySelectorAll("[name]"), c => [
  c.tagName.toLowerCase(), c.getAttribute("type") || "", c.name
])"""


def test_the_hosted_form_and_the_embed_name_and_type_controls_alike(
    app, page, live_server, make_form, partner_site
):
    make_form(slug="kit", fields=VARIED_FIELDS, allowed_origins=[partner_site.origin])
    partner_site.page(snippet(live_server.url, ("kit", "en")))
    page.goto(f"{partner_site.origin}/kit")
    embedded = page.locator("[data-leadgate-form] form")
    embedded.get_by_label("E-mail").wait_for()
    embed = {tuple(c) for c in embedded.evaluate(CONTROLS)}

    page.goto(f"{live_server.url}/f/kit?utm_source=mail", referer="https://www.google.com/")
    hosted = {tuple(c) for c in page.locator("form.lg-form").evaluate(CONTROLS)}
    # The embed sends token and attribution in its JSON body, not as inputs; it names
    # consents `consents.<purpose>` where a page posts `consent_<purpose>` (both are read).
    page_only = {("input", "hidden", n) for n in ("token", "utm_source", "referrer")}
    assert page_only <= hosted
    renamed = {(tag, kind, name.replace("consent_", "consents.", 1)) for tag, kind, name in hosted}
    honeypot = app.config["HONEYPOT_FIELD"]
    assert ("input", "text", honeypot) in renamed
    assert ("input", "", honeypot) in embed  # a text input without the type attribute
    embed = {c for c in embed if c[2] != honeypot}
    renamed = {c for c in renamed if c[2] != honeypot} - page_only
    assert renamed == embed


def test_the_embedded_select_and_button_are_valid_and_styled(
    app_context, page, live_server, forms, partner_site
):
    partner_site.page(snippet(live_server.url, ("guide", "da")))
    page.goto(f"{partner_site.origin}/guide")
    host = page.locator("[data-leadgate-form]")
    select = host.get_by_label(COMPANY_SIZE["da"])
    select.wait_for()
    # An empty first option needs a label (HTML: "option without label must not be empty"),
    # and maxlength is no attribute of a select.
    assert select.locator("option").first.inner_text().strip() != ""
    assert select.get_attribute("maxlength") is None
    assert host.get_by_label("E-mail").get_attribute("maxlength") is not None
    # The button has a colour of its own, not the browser's grey.
    background = host.get_by_role("button").evaluate("b => getComputedStyle(b).backgroundColor")
    assert background == "rgb(31, 95, 191)"

"""Landing pages: the magnet presented safely, its form embedded, meta for search and sharing."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

import pytest
import sqlalchemy as sa
from bs4 import BeautifulSoup
from flask import Flask
from magnet_samples import PNG
from werkzeug.datastructures import MultiDict

from capture.base.db import db
from capture.leads.lead import Lead
from capture.submissions.submission import Submission
from magnets.filetypes import Purpose
from magnets.magnet import get_magnet
from magnets.uploads import receive, store_cover

HOSTILE_MARKDOWN = """\
# Why **scoring** matters

<script>alert("x")</script>
<img src=x onerror="alert(1)">
[click](javascript:alert(1)) and [docs](https://example.com/docs)
![chart](https://cdn.example.com/chart.png)

| a | b |
|---|--:|
| 1 | 2 |
"""


class Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in {"script", "iframe", "object", "embed", "style"}:
            self.found.append(tag)
        for name, value in attrs:
            if name.startswith("on") or (value or "").strip().lower().startswith("javascript:"):
                self.found.append(f"{tag} {name}={value}")


def active_markup(page: str) -> list[str]:
    """Every element or attribute in the page that could run code."""
    parser = Elements()
    parser.feed(page)
    return parser.found


@pytest.fixture
def landing(make_magnet: Any, make_form: Any) -> Any:
    magnet = make_magnet(
        slug="guide",
        title="The guide",
        headline="Score your leads",
        description=HOSTILE_MARKDOWN,
        language="da",
    )
    make_form(slug="guide-da", language="da", magnet="guide", conversion="ebook_download")
    return magnet


def add_cover(app: Flask, slug: str) -> None:
    magnet = get_magnet(slug)
    with (
        app.test_request_context(),
        receive(__import__("io").BytesIO(PNG), "c.png", Purpose.COVER) as r,
    ):
        store_cover(magnet, r)
    db.session.commit()


def test_the_page_shows_headline_sanitised_body_and_the_form(
    app: Flask, client: Any, landing: Any
) -> None:
    response = client.get("/p/guide")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert '<html lang="da">' in page
    assert "<h1>Score your leads</h1>" in page
    assert "<h2>Why <strong>scoring</strong> matters</h2>" in page
    assert active_markup(page) == ["script"]  # ours alone: the start counter, static/starts.js
    assert page.count('src="/static/starts.js"') == 1
    assert "&lt;script&gt;" in page  # shown as text, not run
    assert '<a href="https://example.com/docs" rel="nofollow noopener noreferrer">docs</a>' in page
    assert '<img src="https://cdn.example.com/chart.png" alt="chart">' in page
    assert '<td style="text-align:right">2</td>' in page
    assert 'action="/f/guide-da"' in page and 'name="token"' in page
    assert 'name="email"' in page and 'name="consent_processing"' in page
    assert '<input type="hidden" name="page_url" value="http://localhost/p/guide">' in page
    assert response.headers["Cache-Control"] == "private, no-cache"
    assert "X-Robots-Tag" not in response.headers
    assert "noindex" not in page


def test_meta_and_open_graph(app_context: None, app: Flask, client: Any, landing: Any) -> None:
    add_cover(app, "guide")
    page = client.get("/p/guide").get_data(as_text=True)
    meta = dict(re.findall(r'<meta (?:property|name)="([^"]+)" content="([^"]*)"', page))
    assert meta["og:title"] == "Score your leads"
    assert meta["og:url"] == "http://localhost/p/guide"
    assert meta["og:locale"] == "da_DK"
    assert meta["description"].startswith("Why scoring matters")
    assert "<" not in meta["description"]
    assert meta["og:image"].startswith("http://localhost/p/guide/cover?v=")
    assert meta["twitter:card"] == "summary_large_image"
    assert '<link rel="canonical" href="http://localhost/p/guide">' in page


def test_noindex_is_honoured(app_context: None, app: Flask, client: Any, landing: Any) -> None:
    landing.noindex = True
    db.session.commit()
    response = client.get("/p/guide")
    assert response.headers["X-Robots-Tag"] == "noindex"
    assert '<meta name="robots" content="noindex">' in response.get_data(as_text=True)


def test_the_cover_is_served_as_an_inert_image(
    app_context: None, app: Flask, client: Any, landing: Any
) -> None:
    add_cover(app, "guide")
    magnet = get_magnet("guide")
    response = client.get(f"/p/guide/cover?v={magnet.cover_sha256[:12]}")
    assert response.status_code == 200
    assert response.get_data() == PNG
    assert response.headers["Content-Type"] == "image/png"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert response.headers["Content-Disposition"].startswith("inline;")
    assert "immutable" in response.headers["Cache-Control"]
    response.close()
    stale = client.get("/p/guide/cover?v=old")
    assert stale.headers["Cache-Control"] == "no-cache"
    stale.close()
    no_cover = client.get("/p/other/cover")
    assert no_cover.status_code == 404


def test_the_form_in_the_asked_language_is_chosen(
    app: Flask, client: Any, landing: Any, make_form: Any
) -> None:
    make_form(slug="guide-sv", language="sv", magnet="guide", conversion="ebook_download")
    assert 'action="/f/guide-da"' in client.get("/p/guide").get_data(as_text=True)
    page = client.get("/p/guide?lang=sv").get_data(as_text=True)
    assert 'action="/f/guide-sv?lang=sv"' in page and '<html lang="sv">' in page


def test_drafts_are_not_found_and_archived_magnets_gone(
    app_context: None, app: Flask, client: Any, landing: Any
) -> None:
    landing.status = "draft"
    db.session.commit()
    assert client.get("/p/guide").status_code == 404
    assert client.get("/p/guide/cover").status_code == 404
    landing.archive()
    db.session.commit()
    assert client.get("/p/guide").status_code == 410
    assert client.get("/p/nothing-here").status_code == 404


def test_a_page_without_a_gating_form_still_renders(app: Flask, client: Any, make_magnet: Any):
    make_magnet(slug="lonely", title="Lonely")
    page = client.get("/p/lonely").get_data(as_text=True)
    assert "<form" not in page and "Lonely" in page


def test_submitting_the_landing_form_shows_the_download(
    app_context: None, app: Flask, client: Any, landing: Any
) -> None:
    page = client.get("/p/guide?utm_source=linkedin").get_data(as_text=True)
    token = re.search(r'name="token" type="hidden" value="([^"]+)"', page).group(1)
    hidden = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', page))
    assert hidden == {
        "utm_source": "linkedin",
        "page_url": "http://localhost/p/guide",
        "page": "guide",
    }
    form = {"token": token, "email": "ane@firma.dk", "consent_processing": "y", **hidden}
    response = client.post("/f/guide-da", data=form)
    assert response.status_code == 200
    thanks = response.get_data(as_text=True)
    link = re.search(r'<a class="lg-button" href="([^"]+)"', thanks).group(1)
    assert link.startswith("http://localhost/d/")
    download = client.get(link.removeprefix("http://localhost"))
    assert download.status_code == 200 and download.get_data()[:5] == b"%PDF-"
    download.close()
    submission = db.session.scalar(sa.select(Submission))
    assert submission.context == {
        "utm_source": "linkedin",
        "page_url": "http://localhost/p/guide",
        "page": "guide",
    }


# The lead form is one partial on both pages (issues 10 and 11)

LINKEDIN = "https://www.linkedin.com/feed/"
VARIED_FIELDS = [
    {"name": "email", "type": "email", "required": True},
    {"name": "first_name", "type": "text", "help": {"da": "Dit fornavn."}},
    {"name": "company_size", "type": "select", "options": ["1-10", "11-50"]},
    {"name": "plan", "type": "radio", "options": ["a", "b"]},
    {"name": "message", "type": "textarea"},
    {"name": "employees", "type": "number"},
    {"name": "agree", "type": "checkbox"},
    {"name": "campaign", "type": "hidden", "source": "query"},
]


@pytest.fixture
def captcha(app: Flask, partner_site: Any) -> Any:
    """CAPTCHA on; tests/sites.py's siteverify passes the answer "human:site-key-1"."""
    app.config.update(
        CAPTCHA_PROVIDER="turnstile",
        CAPTCHA_SITE_KEY="site-key-1",
        CAPTCHA_SECRET="s3cret",
        CAPTCHA_VERIFY_URL=f"{partner_site.origin}/siteverify",
    )
    return partner_site


def lead_form(html: str) -> Any:
    return BeautifulSoup(html, "html.parser").find("form", class_="lg-form")


def browser_post(html: str, **typed: str) -> MultiDict[str, str]:
    """What a browser posts from the page's lead form: its hidden inputs in order, repeats
    kept, the CAPTCHA answer where the page shows the provider's widget (the provider's
    script puts it inside), and what the person typed."""
    form = lead_form(html)
    posted = [(i["name"], i.get("value", "")) for i in form.select("input[type=hidden]")]
    widget = form.find(class_="cf-turnstile")
    if widget is not None:
        posted.append(("cf-turnstile-response", "human:" + widget["data-sitekey"]))
    return MultiDict(posted + list(typed.items()))


def only_submission() -> Submission:
    db.session.expire_all()
    return db.session.scalars(sa.select(Submission)).one()


def test_with_captcha_on_a_landing_submission_makes_a_lead_and_a_download(
    app_context: None, app: Flask, client: Any, landing: Any, captcha: Any
) -> None:
    page = client.get("/p/guide")
    assert "https://challenges.cloudflare.com" in page.headers["Content-Security-Policy"]
    data = browser_post(page.get_data(as_text=True), email="ane@firma.dk", consent_processing="y")
    response = client.post("/f/guide-da", data=data)
    assert response.status_code == 200
    assert re.search(r'<a class="lg-button" href="http://localhost/d/', response.get_data(True))
    submission = only_submission()
    assert (submission.status, submission.spam_reason) == ("accepted", None)
    assert [lead.email for lead in db.session.scalars(sa.select(Lead))] == ["ane@firma.dk"]
    assert captcha.posts[0]["response"] == ["human:site-key-1"]


def test_a_landing_conversion_keeps_its_referrer(
    app_context: None, app: Flask, client: Any, landing: Any
) -> None:
    page = client.get("/p/guide?utm_campaign=spring", headers={"Referer": LINKEDIN})
    data = browser_post(page.get_data(as_text=True), email="ane@firma.dk", consent_processing="y")
    response = client.post(
        "/f/guide-da",
        data=data,
        headers={"Referer": "http://localhost/p/guide?utm_campaign=spring"},
    )
    assert response.status_code == 200
    assert only_submission().context == {
        "utm_campaign": "spring",
        "referrer": LINKEDIN,
        "page_url": "http://localhost/p/guide",
        "page": "guide",
    }
    lead = db.session.scalars(sa.select(Lead)).one()
    assert lead.first_touch["referrer"] == LINKEDIN


def test_the_hosted_page_and_the_landing_page_render_the_same_form(
    app: Flask, client: Any, make_magnet: Any, make_form: Any, captcha: Any
) -> None:
    make_magnet(slug="kit", title="Kit", language="da")
    make_form(slug="kit-da", language="da", magnet="kit", fields=VARIED_FIELDS)
    query, headers = "?utm_source=mail&campaign=spring", {"Referer": LINKEDIN}
    hosted = lead_form(client.get(f"/f/kit-da{query}", headers=headers).get_data(as_text=True))
    landing = lead_form(client.get(f"/p/kit{query}", headers=headers).get_data(as_text=True))
    # Each name once (a radio group shares one), so no value is posted as a list.
    for form in (hosted, landing):
        names = [c["name"] for c in form.select("[name]") if c.get("type") != "radio"]
        assert len(names) == len(set(names)), names
    # The landing page adds its own address and magnet; the rest is the same markup,
    # one-time token, script nonce and button text aside.
    landing.find("input", attrs={"name": "page_url"}).decompose()
    landing.find("input", attrs={"name": "page"}).decompose()
    for form in (hosted, landing):
        form.find("input", attrs={"name": "token"})["value"] = "-"
        form.find("script")["nonce"] = "-"
        form.find("button").string = "-"
    assert str(landing) == str(hosted)
    controls = {(c.name, c.get("type"), c["name"]) for c in hosted.select("[name]")}
    assert {
        ("input", "hidden", "referrer"),
        ("input", "hidden", "utm_source"),
        ("input", "hidden", "campaign"),
        ("input", "number", "employees"),
        ("select", None, "company_size"),
        ("textarea", None, "message"),
        ("input", "checkbox", "consent_processing"),
    } <= controls
    assert hosted.find(class_="cf-turnstile")["data-sitekey"] == "site-key-1"


def test_the_cover_has_a_size_and_phones_can_jump_to_the_form(
    app_context: None, app: Flask, client: Any, landing: Any
) -> None:
    add_cover(app, "guide")
    page = BeautifulSoup(client.get("/p/guide").get_data(as_text=True), "html.parser")
    cover = page.find("img", class_="lg-cover")
    # Sized before it arrives, so nothing below it moves (CLS 0 on mobile).
    assert (cover["width"], cover["height"]) == ("1200", "630")
    jump = page.find("p", class_="lg-jump").find("a")
    target = page.find(id=jump["href"].removeprefix("#"))
    assert target is not None and target.find("form") is not None

"""Stored XSS: hostile values in every lead field, UTM value and referrer come out inert.

Each page is parsed as HTML; the test fails if any element or attribute the corpus tried to
inject exists: a script, an element with an `on*` handler, a `javascript:` URL, an img or svg.
"""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
import sqlalchemy as sa

from capture.db import db
from capture.leads.lead import PROFILE_COLUMNS, Lead
from capture.submissions.submission import Submission

CORPUS = (
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "javascript:alert(1)",
    "'><svg onload=alert(1)>",
    "</textarea><script>alert(2)</script>",
    '<a href="javascript:alert(3)">x</a>',
    "<iframe src=javascript:alert(4)>",
    "{{ 7*7 }}<style>*{display:none}</style>",
)
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "xlink:href", "data"}
INJECTED_TAGS = {"img", "svg", "iframe", "style", "object", "embed"}
# Columns with a fixed shape the form checks (country codes), so a payload cannot reach them.
SHAPED = {"country"}


class Injected(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "script" and not (attributes.get("src") or "").startswith("/static/"):
            self.found.append(f"<script> {attrs}")
        if tag in INJECTED_TAGS and not (
            tag == "svg" and "chart" in (attributes.get("class") or "")
        ):
            self.found.append(f"<{tag}> {attrs}")
        for name, value in attrs:
            if name.startswith("on"):
                self.found.append(f"{tag} {name}={value}")
            if name in URL_ATTRIBUTES and (value or "").strip().lower().startswith("javascript:"):
                self.found.append(f"{tag} {name}={value}")


def assert_inert(html: str, where: str) -> None:
    parser = Injected()
    parser.feed(html)
    assert parser.found == [], where
    assert "alert(1)" in html, f"{where}: the corpus is not on the page, so the test proves nothing"


def payload(index: int) -> str:
    return CORPUS[index % len(CORPUS)]


@pytest.fixture
def hostile(app, make_form, submit):
    columns = [c for c in PROFILE_COLUMNS if c not in SHAPED]
    make_form(
        name=CORPUS[1],
        fields=[
            {"name": "email", "type": "email", "required": True},
            *({"name": c, "type": "text", "max_length": 40} for c in columns),
            {"name": "notes", "type": "text"},
        ],
    )
    fields = {column: payload(i) for i, column in enumerate(columns)}
    fields["notes"] = CORPUS[0]
    context = {
        key: payload(i)
        for i, key in enumerate(
            ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")
        )
    }
    context["referrer"] = "javascript:alert(1)//https://x.example/<script>alert(1)</script>"
    context["page_url"] = 'https://firma.dk/?q="><img src=x onerror=alert(1)>'
    answer = submit("test-form", {"email": "victim@firma.dk", **fields}, context=context)
    assert answer.status_code == 201, answer.get_json()
    caught = submit(
        "test-form",
        {"email": "held@firma.dk", "homepage_url": CORPUS[0], **fields},
        context=context,
    )
    assert caught.status_code == 201
    lead = db.session.scalar(sa.select(Lead).where(Lead.email == "victim@firma.dk"))
    assert lead.first_name in CORPUS and lead.properties["notes"] == CORPUS[0]
    assert lead.first_touch.get("utm_source") == CORPUS[0]
    held = db.session.scalar(sa.select(Submission).where(Submission.status == "quarantined"))
    return lead, held


def test_lead_list_and_lead_page(staff, hostile):
    lead, _held = hostile
    marketer = staff("marketer")
    assert_inert(marketer.get("/admin/leads/").get_data(as_text=True), "lead list")
    page = marketer.get(f"/admin/leads/{lead.public_id}").get_data(as_text=True)
    assert_inert(page, "lead page")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_dashboard(staff, hostile):
    html = staff("admin").get("/admin/?days=7").get_data(as_text=True)
    parser = Injected()
    parser.feed(html)
    assert parser.found == []
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html  # the UTM source, as a label


def test_quarantine(staff, hostile):
    _lead, held = hostile
    marketer = staff("marketer")
    listing = marketer.get("/admin/quarantine/").get_data(as_text=True)
    parser = Injected()
    parser.feed(listing)
    assert parser.found == []
    assert_inert(marketer.get(f"/admin/quarantine/{held.public_id}").get_data(as_text=True), "held")


def test_forms_pages(staff, hostile):
    marketer = staff("marketer")
    for url in ("/admin/forms/", "/admin/forms/test-form", "/admin/forms/test-form/edit"):
        parser = Injected()
        parser.feed(marketer.get(url).get_data(as_text=True))
        assert parser.found == [], url

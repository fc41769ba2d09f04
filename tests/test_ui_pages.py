"""Pages people read: robots.txt, valid and readable times, unique ids, the thank-you page's
heading and next step, the landing cover's size, the lead page's labels, the dashboard."""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from bs4 import BeautifulSoup

from capture.base.db import db, utcnow
from capture.forms.definition import parse_definition
from capture.forms.spec import DefinitionError
from capture.leads.conversion import ConversionEvent
from capture.leads.lead import Lead

VALID_DATETIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")

SELECT_FORM: dict[str, Any] = {
    "slug": "demo-request",
    "name": "Demo request",
    "conversion": "demo_request",
    "fields": [
        {"name": "email", "type": "email", "required": True},
        {"name": "first_name", "type": "text"},
        {
            "name": "decision_maker",
            "type": "select",
            "label": {"en": "Do you decide?", "da": "Beslutter du?"},
            "options": [
                {"value": "yes", "label": {"en": "Yes, I sign", "da": "Ja, jeg skriver under"}},
                {"value": "no", "label": {"en": "No, someone else", "da": "Nej"}},
            ],
        },
    ],
}


def html_of(response: Any) -> BeautifulSoup:
    assert response.status_code == 200, response.status_code
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


def duplicate_ids(page: BeautifulSoup) -> list[str]:
    counts = Counter(tag["id"] for tag in page.find_all(id=True))
    return sorted(name for name, count in counts.items() if count > 1)


def test_robots_txt_keeps_crawlers_out_of_private_places(client):
    response = client.get("/robots.txt")
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    lines = response.get_data(as_text=True).splitlines()
    assert lines[0] == "User-agent: *" and "Allow: /" in lines
    for private in ("/admin", "/api", "/d/", "/c/", "/u/"):
        assert f"Disallow: {private}" in lines
    assert "Disallow: /f/" not in lines and "Disallow: /p/" not in lines


def test_machine_time_is_whole_seconds_in_utc():
    from capture.backoffice.display import machine_time

    moment = datetime(2026, 12, 5, 23, 34, 21, 473513, tzinfo=UTC)
    assert machine_time(moment) == "2026-12-05T23:34:21Z"
    naive = datetime(2026, 12, 5, 23, 34, 21, 999999)  # SQLite gives naive UTC times
    assert machine_time(naive) == "2026-12-05T23:34:21Z"
    assert machine_time(None) == ""


def test_local_time_is_readable_in_the_configured_zone(app):
    from capture.backoffice.display import local_time

    moment = datetime(2026, 12, 5, 23, 34, 21, 473513, tzinfo=UTC)
    with app.test_request_context():
        assert local_time(moment) == "5 Dec 2026, 23:34"
        assert local_time(moment, seconds=True) == "5 Dec 2026, 23:34:21"
    app.config["BABEL_DEFAULT_TIMEZONE"] = "Europe/Copenhagen"
    app.extensions["babel"].default_timezone = "Europe/Copenhagen"  # as read at start
    with app.test_request_context():
        assert local_time(moment) == "6 Dec 2026, 00:34"


def test_lead_pages_have_valid_times_readable_labels_and_unique_ids(
    app_context, staff, make_form, submit
):
    make_form(**SELECT_FORM)
    answer = submit(
        "demo-request",
        {"email": "ane@firma.dk", "first_name": "Ane", "decision_maker": "yes"},
    )
    assert answer.status_code == 201
    lead = db.session.scalar(sa.select(Lead))
    sales = staff("sales")

    listing = html_of(sales.get("/admin/leads/"))
    page = html_of(sales.get(f"/admin/leads/{lead.public_id}"))
    for html in (listing, page):
        times = [tag["datetime"] for tag in html.find_all("time")]
        assert times and all(VALID_DATETIME.match(t) for t in times), times
        assert duplicate_ids(html) == []
    text = page.get_text(" ", strip=True)
    # The form's own labels and the option's label, not the stored keys and values.
    assert "Do you decide?" in text and "Yes, I sign" in text
    assert "decision_maker" not in text and "first_name" not in text
    assert "First name" in text and "Decision maker" in text  # a custom property's key
    profile = page.find("table", class_="profile")
    stage_row = profile.find("th", string="Stage").find_next("td")
    assert stage_row.get_text(strip=True) == "SQL"  # a demo request: SQL, said as an acronym
    # Stored touch times (ISO with microseconds) are shown as local times.
    assert not re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}", text)


def test_pages_with_several_forms_repeat_no_id(staff, make_form):
    make_form()
    admin = staff("admin")
    for path in ("/admin/settings/", "/admin/forms/test-form/edit", "/admin/"):
        page = html_of(admin.get(path))
        assert len(page.find_all("form")) >= 2 or path != "/admin/settings/"
        assert duplicate_ids(page) == [], path


def test_the_thank_you_page_has_a_heading_and_a_next_step(client, make_form):
    make_form(
        success={
            "message": {"en": "You are on the list."},
            "next": {"url": "https://www.firma.dk/blog", "label": {"en": "Read the blog"}},
        }
    )
    page = html_of(client.get("/f/test-form"))
    data = {i["name"]: i.get("value", "") for i in page.select("form input[type=hidden]")}
    data.update({"email": "ane@firma.dk", "consent_processing": "y"})
    thanks = html_of(client.post("/f/test-form", data=data))
    assert len(thanks.find_all("h1")) == 1
    assert thanks.find(role="status").get_text(strip=True) == "You are on the list."
    link = thanks.find("p", class_="lg-next").find("a")
    assert link["href"] == "https://www.firma.dk/blog" and "Read the blog" in link.get_text()


def test_without_a_next_link_the_thank_you_page_leads_to_the_forms_site(client, make_form):
    make_form(allowed_origins=["https://www.firma.dk"])
    page = html_of(client.get("/f/test-form"))
    data = {i["name"]: i.get("value", "") for i in page.select("form input[type=hidden]")}
    data.update({"email": "bo@firma.dk", "consent_processing": "y"})
    thanks = html_of(client.post("/f/test-form", data=data))
    assert thanks.find("h1") is not None
    assert thanks.find("p", class_="lg-next").find("a")["href"] == "https://www.firma.dk/"


@pytest.mark.parametrize(
    "url", ["javascript:alert(1)", "//evil.example", "https://[::1", "", "/a b", 42]
)
def test_a_next_link_must_be_a_page_address(url):
    document = {
        "slug": "x",
        "name": "X",
        "conversion": "newsletter_signup",
        "fields": [{"name": "email", "type": "email", "required": True}],
        "consents": [{"purpose": "processing", "required": True, "text": "We process it."}],
        "success": {"next": {"url": url, "label": "Next"}},
    }
    with pytest.raises(DefinitionError, match=r"success\.next\.url"):
        parse_definition(document)
    document["success"] = {"next": {"url": "/f/contact", "label": "Next"}}
    spec = parse_definition(document)
    assert spec.to_document()["success"]["next"] == {"url": "/f/contact", "label": {"en": "Next"}}
    assert parse_definition(spec.to_document()) == spec


def test_hosted_forms_have_a_meta_description(client, make_form):
    make_form()
    page = html_of(client.get("/f/test-form"))
    assert page.find("meta", attrs={"name": "description"})["content"].startswith("Test form")
    described = make_form(slug="described", description="Get our price list.")
    page = html_of(client.get(f"/f/{described.slug}"))
    assert page.find("meta", attrs={"name": "description"})["content"] == "Get our price list."


def test_the_dashboard_draws_the_trend_against_the_period_before(
    app_context, staff, make_form, submit
):
    make_form(slug="guide", name="Guide", magnet="seo-guide", conversion="ebook_download")
    make_form(**SELECT_FORM)
    for n in range(3):
        submit("guide", {"email": f"reader{n}@firma.dk"})
    submit("demo-request", {"email": "buyer@firma.dk"})
    # One conversion 10 days ago: in the 7 days before the last 7.
    old = db.session.scalar(sa.select(ConversionEvent).order_by(ConversionEvent.id))
    old.occurred_at = utcnow() - timedelta(days=10)
    db.session.commit()

    page = html_of(staff("marketer").get("/admin/?days=7"))
    line = page.find("svg", class_="line")
    assert line is not None and line.find("polyline", class_="current") is not None
    assert line.find("polyline", class_="previous") is not None
    caption = page.find(id="chart-trend-title").get_text(" ", strip=True)
    assert "3" in caption and "+200.0 %" in caption  # 3 this week against 1 the week before
    funnel = page.find("svg", class_="funnel")
    assert "100.0 % of the step before" in funnel.get_text(" ")

    table = page.find("table", class_="sortable")
    rows = [
        [c.get_text(strip=True) for c in tr.find_all(["th", "td"])]
        for tr in table.select("tbody tr")
    ]
    # Form, landing page, views, submissions, conversion rate (none without views), MQL, SQL.
    assert rows[0] == ["Guide", "/p/seo-guide", "0", "2", "-", "2", "0"]
    assert rows[1] == ["Demo request", "-", "0", "1", "-", "0", "1"]
    by_name = html_of(staff("marketer").get("/admin/?days=7&sort=name&order=asc"))
    names = [th.get_text(strip=True) for th in by_name.select("table.sortable tbody th")]
    assert names == ["Demo request", "Guide"]
    sorted_header = by_name.find("th", attrs={"aria-sort": True})
    assert sorted_header["aria-sort"] == "ascending"
    # Unknown sort keys fall back to submissions, never an error.
    assert staff("marketer").get("/admin/?sort=drop%20table&order=x").status_code == 200

"""The lead list (search, filters, keyset pages), a lead's page and timeline, stages, exports."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import sqlalchemy as sa
from helpers import csrf_token_in

from capture.base.db import db
from capture.extension_points import stage_moved
from capture.leads.lead import Lead, StageChange


@pytest.fixture
def leads(app, make_form, submit):
    make_form(
        fields=[
            {"name": "email", "type": "email", "required": True},
            {"name": "first_name", "type": "text"},
            {"name": "company", "type": "text"},
            {"name": "favourite_colour", "type": "text"},
        ]
    )
    people = [
        ("ane@firma.dk", "Ane", "Firma ApS"),
        ("bo@andet.se", "Bo", "Andet AB"),
        ("cecilie@firma.dk", "Cecilie", "Firma ApS"),
    ]
    for email, name, company in people:
        answer = submit(
            "test-form",
            {"email": email, "first_name": name, "company": company, "favourite_colour": "blå"},
            consents={"processing": True, "marketing": True},
            context={"utm_source": "linkedin", "utm_medium": "social"},
        )
        assert answer.status_code == 201, answer.get_json()
    return people


def emails_in(html: str) -> list[str]:
    return [e for e in ("ane@firma.dk", "bo@andet.se", "cecilie@firma.dk") if e in html]


def test_search_by_email_name_and_company(staff, leads):
    sales = staff("sales")
    assert emails_in(sales.get("/admin/leads/?q=FIRMA").get_data(as_text=True)) == [
        "ane@firma.dk",
        "cecilie@firma.dk",
    ]
    assert emails_in(sales.get("/admin/leads/?q=bo").get_data(as_text=True)) == ["bo@andet.se"]
    assert emails_in(sales.get("/admin/leads/?q=andet+ab").get_data(as_text=True)) == [
        "bo@andet.se"
    ]
    # LIKE wildcards are plain characters here.
    assert emails_in(sales.get("/admin/leads/?q=%25").get_data(as_text=True)) == []


def test_filters_and_nonsense_values(app_context, staff, leads):
    sales = staff("sales")
    db.session.execute(sa.update(Lead).where(Lead.email == "bo@andet.se").values(score=80))
    db.session.commit()
    page = sales.get("/admin/leads/?score_min=50&score_max=100").get_data(as_text=True)
    assert emails_in(page) == ["bo@andet.se"]
    page = sales.get("/admin/leads/?stage=customer").get_data(as_text=True)
    assert emails_in(page) == []
    page = sales.get("/admin/leads/?form=test-form&stage=mql").get_data(as_text=True)
    assert len(emails_in(page)) == 3
    # A value that makes no sense is a 400 page saying which one, never a 500 nor ignored.
    for odd, name in [
        ("score_min=x", "score_min"),
        ("score_max=" + "9" * 40, "score_max"),
        ("from=yesterday", "from"),
        ("to=9999-12-31", "to"),
        ("stage=nope", "stage"),
        ("q=a%00b", "q"),
    ]:
        refused = sales.get(f"/admin/leads/?{odd}")
        assert refused.status_code == 400 and refused.mimetype == "text/html", odd
        assert f"{name}: " in refused.get_data(as_text=True), odd
    # A mangled page link starts again at the first page; unknown names are ignored.
    odd = sales.get("/admin/leads/?after=garbage&utm_source=mail")
    assert odd.status_code == 200 and len(emails_in(odd.get_data(as_text=True))) == 3
    future = sales.get("/admin/leads/?from=2999-01-01").get_data(as_text=True)
    assert emails_in(future) == []


def test_keyset_pages_cover_every_lead_once(app, staff, leads, monkeypatch):
    monkeypatch.setattr("capture.backoffice.search.PAGE_SIZE", 2)
    monkeypatch.setattr("capture.backoffice.search.page.__defaults__", (2,))
    sales = staff("sales")
    first = sales.get("/admin/leads/").get_data(as_text=True)
    assert emails_in(first) == ["bo@andet.se", "cecilie@firma.dk"]  # newest first
    next_link = first.split('rel="next"')[0].rsplit('href="', 1)[1].split('"')[0]
    assert "after=" in next_link and "OFFSET" not in next_link
    second = sales.get(next_link.replace("&amp;", "&")).get_data(as_text=True)
    assert emails_in(second) == ["ane@firma.dk"]
    assert 'rel="next"' not in second


def test_lead_page_shows_profile_properties_and_timeline(app_context, staff, leads):
    lead = db.session.scalar(sa.select(Lead).where(Lead.email == "ane@firma.dk"))
    html = staff("sales").get(f"/admin/leads/{lead.public_id}").get_data(as_text=True)
    assert "Firma ApS" in html and "Favourite colour" in html and "blå" in html
    order = [html.index(marker) for marker in ("Submission on", "Conversion newsletter_signup")]
    assert order == sorted(order)
    assert "Consent marketing" in html and "Stage Lead → MQL" in html and "linkedin" in html


def test_stage_change_needs_a_reason_and_is_recorded_with_the_user(app_context, staff, leads):
    sales = staff("sales")
    lead = db.session.scalar(sa.select(Lead).where(Lead.email == "bo@andet.se"))
    url = f"/admin/leads/{lead.public_id}"
    token = csrf_token_in(sales.get(url).get_data(as_text=True))
    refused = sales.post(url, data={"to": "disqualified", "reason": " ", "csrf_token": token})
    assert refused.status_code == 422
    assert sales.post(url, data={"to": "disqualified", "reason": "x"}).status_code == 400  # CSRF
    db.session.expire_all()
    assert db.session.get(Lead, lead.id).lifecycle_stage == "mql"

    moved = sales.post(url, data={"to": "disqualified", "reason": "Student", "csrf_token": token})
    assert moved.status_code == 303
    recycled = sales.post(url, data={"to": "lead", "reason": "Recycle", "csrf_token": token})
    assert recycled.status_code == 303
    changes = db.session.scalars(
        sa.select(StageChange).where(StageChange.lead_id == lead.id).order_by(StageChange.id)
    ).all()
    assert [(c.to_stage, c.reason, c.actor.startswith("user:sales-")) for c in changes[-2:]] == [
        ("disqualified", "Student", True),
        ("lead", "Recycle", True),
    ]
    assert "Recycle" in sales.get(url).get_data(as_text=True)


def test_unknown_lead_is_404(staff, leads):
    assert staff("sales").get("/admin/leads/lead_nope").status_code == 404


def test_export_follows_the_filter_and_is_for_marketing(app_context, staff, leads):
    marketer = staff("marketer")
    answer = marketer.get("/admin/exports/leads.csv?q=firma")
    assert answer.status_code == 200
    assert answer.headers["Content-Disposition"].startswith("attachment;")
    rows = list(csv.DictReader(io.StringIO(answer.get_data(as_text=True))))
    assert sorted(r["email"] for r in rows) == ["ane@firma.dk", "cecilie@firma.dk"]
    lines = marketer.get("/admin/exports/leads.jsonl?q=andet").get_data(as_text=True).splitlines()
    assert [json.loads(line)["email"] for line in lines] == ["bo@andet.se"]
    assert marketer.get("/admin/exports/leads.xml").status_code == 404
    sales = staff("sales")
    assert sales.get("/admin/exports/leads.csv").status_code == 403
    assert "leads.csv" not in sales.get("/admin/leads/").get_data(as_text=True)


def test_stage_change_reaches_the_stage_hooks(app_context, app, staff, leads):
    """Webhooks and notifications to sales hear of moves made in the back office too."""
    heard = []
    stage_moved.connect(app, lambda moved: heard.append((moved.lead.email, moved.change.to_stage)))
    sales = staff("sales")
    lead = db.session.scalar(sa.select(Lead).where(Lead.email == "ane@firma.dk"))
    url = f"/admin/leads/{lead.public_id}"
    token = csrf_token_in(sales.get(url).get_data(as_text=True))
    answer = sales.post(url, data={"to": "sql", "reason": "Called us", "csrf_token": token})
    assert answer.status_code == 303
    assert heard == [("ane@firma.dk", "sql")]
    same = sales.post(url, data={"to": "sql", "reason": "Again", "csrf_token": token})
    assert same.status_code == 422 and heard == [("ane@firma.dk", "sql")]


@contextmanager
def counted_queries() -> Iterator[list[str]]:
    seen: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", count)


def test_list_and_timeline_cost_the_same_for_more_rows(app_context, staff, leads, submit):
    """No N+1: the number of queries does not grow with leads on a page or events on a lead."""
    sales = staff("sales")
    lead = db.session.scalar(sa.select(Lead).where(Lead.email == "ane@firma.dk"))
    sales.get("/admin/leads/")  # warm up (login user load, etc.)
    with counted_queries() as few:
        sales.get("/admin/leads/")
        sales.get(f"/admin/leads/{lead.public_id}")
    for n in range(6):
        submit("test-form", {"email": f"more{n}@firma.dk", "company": f"C{n}"})
        submit("test-form", {"email": "ane@firma.dk", "company": f"Firma {n}"})
    with counted_queries() as many:
        sales.get("/admin/leads/")
        sales.get(f"/admin/leads/{lead.public_id}")
    assert len(few) > 5 and len(many) == len(few)


def test_partner_choices_are_each_partner_once_in_order(app_context, staff, leads):
    """The filter's partner list comes from a loose index scan; it must still be every
    partner any lead has, once, sorted, and no empty choice for leads without one."""
    for email, partner in [("ane@firma.dk", "zeta"), ("bo@andet.se", "alfa")]:
        db.session.execute(sa.update(Lead).where(Lead.email == email).values(partner=partner))
    db.session.commit()
    html = staff("sales").get("/admin/leads/").get_data(as_text=True)
    choices = html[html.index('name="partner"') :]
    choices = choices[: choices.index("</select>")]
    assert choices.count("<option") == 3  # "Any", alfa, zeta
    assert choices.index(">alfa<") < choices.index(">zeta<")
    assert emails_in(staff("sales").get("/admin/leads/?partner=zeta").get_data(as_text=True)) == [
        "ane@firma.dk"
    ]

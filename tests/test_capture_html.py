"""The hosted form without JavaScript: POST /f/<slug> form-encoded, as a 1998 browser would."""

from __future__ import annotations

from typing import Any

import pytest
from bs4 import BeautifulSoup
from werkzeug.datastructures import MultiDict

from capture.leads.consent import ConsentRecord
from capture.leads.conversion import ConversionEvent
from capture.leads.lead import Lead
from capture.submissions.submission import Submission

PARTNER = "https://www.partner.example"


def page_of(response: Any) -> BeautifulSoup:
    assert response.mimetype == "text/html"
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


def form_data(client: Any, slug: str, query: str = "", **values: str) -> dict[str, str]:
    """What a browser would send: the page's hidden inputs plus what the person typed."""
    page = page_of(client.get(f"/f/{slug}{query}"))
    hidden = {i["name"]: i.get("value", "") for i in page.select("form input[type=hidden]")}
    return {**hidden, **values}


def field_box(page: BeautifulSoup, name: str) -> Any:
    """The wrapper of one field: its label, input, help and error live together in it."""
    return page.find(attrs={"name": name}).find_parent(class_="lg-field")


def test_the_page_is_a_plain_form(client, demo_forms):
    response = client.get("/f/newsletter")
    assert response.status_code == 200
    page = page_of(response)
    assert page.html["lang"] == "da"
    form = page.find("form")
    assert (form["method"], form["action"]) == ("post", "/f/newsletter")
    names = [i["name"] for i in form.find_all(["input", "select", "textarea"])]
    assert {"email", "first_name", "consent_processing", "consent_marketing", "token"} <= set(names)
    assert "homepage_url" in names  # the honeypot, hidden from people
    assert form.find("button", type="submit")
    # Nothing here needs JavaScript: the one script only counts a start (analytics).
    assert [script["src"] for script in page.find_all("script")] == ["/static/starts.js"]
    assert field_box(page, "first_name").find("label").get_text(strip=True).startswith("Fornavn")


def test_a_good_post_gets_the_thank_you_page(app_context, client, demo_forms, rows):
    data = form_data(client, "newsletter", email="Ane@Firma.dk", first_name="Ane")
    response = client.post("/f/newsletter", data={**data, "consent_processing": "y"})
    assert response.status_code == 200
    page = page_of(response)
    status = page.find(class_="lg-success").find(role="status")
    assert status.get_text(strip=True) == "Tak for din tilmelding!"
    [lead] = rows(Lead)
    assert (lead.email, lead.first_name, lead.lifecycle_stage) == ("ane@firma.dk", "Ane", "mql")
    [submission] = rows(Submission)
    assert (submission.channel, submission.status) == ("hosted", "accepted")
    assert len(rows(ConversionEvent)) == 1


def test_a_post_from_an_opaque_origin_elsewhere_is_refused(app_context, client, demo_forms, rows):
    """A sandboxed frame on another site posts with `Origin: null` and `Sec-Fetch-Site:
    cross-site`: refused. Our own page under a strict referrer policy also sends `null`, but
    with `same-origin`, and is accepted."""
    data = form_data(client, "newsletter", email="ane@firma.dk", consent_processing="y")
    refused = client.post(
        "/f/newsletter", data=data, headers={"Origin": "null", "Sec-Fetch-Site": "cross-site"}
    )
    assert refused.status_code == 403
    assert rows(Submission) == [] and rows(Lead) == []
    accepted = client.post(
        "/f/newsletter", data=data, headers={"Origin": "null", "Sec-Fetch-Site": "same-origin"}
    )
    assert accepted.status_code == 200
    assert [lead.email for lead in rows(Lead)] == ["ane@firma.dk"]


@pytest.mark.parametrize("target", ["/tak", f"{PARTNER}/tak?from=form"])
def test_a_post_is_redirected_303_when_the_form_says_so(client, make_form, rows, target):
    make_form(allowed_origins=[PARTNER], success={"redirect": target})
    data = form_data(client, "test-form", email="ane@firma.dk", consent_processing="y")
    response = client.post("/f/test-form", data=data)
    assert response.status_code == 303
    assert response.headers["Location"] == target
    assert len(rows(Lead)) == 1


def test_a_bad_post_shows_the_form_again_with_errors_next_to_the_fields(
    app_context, client, demo_forms, rows
):
    typed = {"email": "ane(at)firma", "first_name": 'Ane "<b>bold</b>"', "company": "Firma"}
    data = form_data(client, "ebook-lead-scoring", **typed, company_size="9000")
    response = client.post("/f/ebook-lead-scoring", data=data)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "<b>bold</b>" not in html  # kept, but escaped
    page = page_of(response)
    assert page.find(attrs={"role": "alert"}).get_text(strip=True)

    expected = {  # the e-book form is Danish
        "email": "Indtast en gyldig e-mailadresse.",
        "company_size": "Vælg en af mulighederne.",
        "consent_processing": "Du skal acceptere dette for at sende formularen.",
    }
    for name, message in expected.items():
        box = field_box(page, name)
        error = box.find(class_="lg-error")
        assert error.get_text(strip=True) == message
        control = box.find(attrs={"name": name})
        assert control["aria-invalid"] == "true"
        assert error["id"] in control["aria-describedby"].split()
    for name in ("first_name", "company"):
        box = field_box(page, name)
        assert box.find(class_="lg-error") is None
        assert not box.find(attrs={"name": name}).has_attr("aria-invalid")

    # What the person typed is still there, so they fix one thing instead of starting over.
    assert page.find("input", attrs={"name": "email"})["value"] == typed["email"]
    assert page.find("input", attrs={"name": "first_name"})["value"] == typed["first_name"]
    assert page.find("input", attrs={"name": "company"})["value"] == "Firma"
    token = page.find("input", attrs={"name": "token"})["value"]
    assert token
    assert rows(Submission) == [] and rows(Lead) == []

    fixed = {**data, "email": "ane@firma.dk", "company_size": "1-10", "consent_processing": "y"}
    again = client.post("/f/ebook-lead-scoring", data={**fixed, "token": token})
    assert again.status_code == 200
    assert rows(Lead)[0].first_name == typed["first_name"]


def test_help_texts_are_tied_to_their_fields(client, make_form):
    make_form(
        fields=[
            {"name": "company", "type": "text", "help": {"en": "Where you work."}},
            {"name": "plan", "type": "radio", "options": ["a", "b"], "help": "Pick one."},
        ]
    )
    response = client.get("/f/test-form")
    assert response.status_code == 200
    page = page_of(response)
    for name, text in (("company", "Where you work."), ("plan", "Pick one.")):
        box = field_box(page, name)
        assert "optional" in box.get_text()
        help_text = box.find(class_="lg-help")
        assert help_text.get_text(strip=True) == text
    company = page.find("input", attrs={"name": "company"})
    assert company["aria-describedby"] == field_box(page, "company").find(class_="lg-help")["id"]


def test_a_kept_selection_and_ticked_box_survive_the_error_page(client, demo_forms):
    data = form_data(
        client,
        "ebook-lead-scoring",
        email="bad",
        first_name="Ane",
        company_size="11-50",
        consent_marketing="y",
    )
    page = page_of(client.post("/f/ebook-lead-scoring", data=data))
    chosen = page.find("select", attrs={"name": "company_size"}).find("option", selected=True)
    assert chosen["value"] == "11-50"
    assert page.find("input", attrs={"name": "consent_marketing"}).has_attr("checked")


def test_a_honeypot_hit_looks_like_success_and_creates_nothing(
    app_context, client, demo_forms, rows
):
    data = form_data(client, "newsletter", email="bot@spam.example", homepage_url="http://x")
    response = client.post("/f/newsletter", data={**data, "consent_processing": "y"})
    assert response.status_code == 200
    assert "Tak for din tilmelding!" in response.get_data(as_text=True)
    [submission] = rows(Submission)
    assert (submission.status, submission.spam_reason) == ("quarantined", "honeypot")
    assert rows(Lead) == [] and rows(ConsentRecord) == []


@pytest.mark.app_config(FORM_MIN_FILL_SECONDS=60)
def test_spam_gets_the_same_redirect_as_a_person(app_context, client, make_form, rows):
    make_form(success={"redirect": "/tak"})
    data = form_data(client, "test-form", email="bot@spam.example", consent_processing="y")
    response = client.post("/f/test-form", data=data)  # sent at once: too fast for a person
    assert response.status_code == 303
    assert response.headers["Location"] == "/tak"
    [submission] = rows(Submission)
    assert (submission.status, submission.spam_reason) == ("quarantined", "too_fast")
    assert rows(Lead) == []


def test_a_closed_form_says_so(client, make_form, rows):
    make_form(status="closed")
    for response in (
        client.get("/f/test-form"),
        client.post("/f/test-form", data={"email": "ane@firma.dk", "consent_processing": "y"}),
    ):
        assert response.status_code == 410
        assert "This form is closed." in response.get_data(as_text=True)
    assert rows(Submission) == []


def test_an_unknown_form_is_a_404_page(client, demo_forms):
    response = client.post("/f/no-such-form", data={"email": "ane@firma.dk"})
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    as_json = client.get("/f/no-such-form", headers={"Accept": "application/json"})
    assert as_json.status_code == 404
    assert as_json.get_json()["error"]["code"] == "form_not_found"


def test_the_embedded_page_may_be_framed_by_the_allowed_origins_only(
    app_context, client, make_form, rows
):
    make_form(allowed_origins=[PARTNER])
    framed = client.get("/f/test-form?embed=1")
    assert "X-Frame-Options" not in framed.headers
    ancestors = framed.headers["Content-Security-Policy"].split("frame-ancestors ")[1]
    assert ancestors.split(";")[0].split() == ["'self'", PARTNER]
    form = page_of(framed).find("form")
    assert form["action"] == "/f/test-form?embed=1"
    data = form_data(client, "test-form", "?embed=1", email="ane@firma.dk", consent_processing="y")
    assert client.post(form["action"], data=data).status_code == 200
    assert rows(Submission)[0].channel == "iframe"


def test_the_plain_page_may_not_be_framed(app, make_form):
    make_form(allowed_origins=[PARTNER])
    response = app.test_client().get("/f/test-form")
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


def test_a_double_click_or_a_reload_records_one_submission(client, demo_forms, rows):
    data = form_data(client, "newsletter", email="ane@firma.dk", consent_processing="y")
    first = client.post("/f/newsletter", data=data)
    again = client.post("/f/newsletter", data=data)  # the same page, posted twice
    assert first.status_code == again.status_code == 200
    assert page_of(again).find(class_="lg-success").find(role="status").get_text(strip=True) == (
        "Tak for din tilmelding!"
    )
    assert len(rows(Submission)) == 1 and len(rows(ConversionEvent)) == 1


def test_back_edit_and_send_under_the_same_page_is_a_new_submission(
    app_context, client, demo_forms, rows
):
    data = form_data(client, "newsletter", email="ane@firma.dk", consent_processing="y")
    client.post("/f/newsletter", data=data)
    client.post("/f/newsletter", data={**data, "first_name": "Ane"})
    assert len(rows(Submission)) == 2
    assert [lead.first_name for lead in rows(Lead)] == ["Ane"]


def test_two_visitors_get_different_pages(client, demo_forms):
    """Tokens are unique per page, so two people's identical posts are never taken for one."""
    assert form_data(client, "newsletter")["token"] != form_data(client, "newsletter")["token"]


def test_consent_records_the_page_and_the_referrer_of_a_hosted_post(
    app_context, client, demo_forms, rows
):
    page = "http://localhost/f/newsletter?utm_source=mail"
    data = form_data(
        client,
        "newsletter",
        "?utm_source=mail",
        email="ane@firma.dk",
        consent_processing="y",
    )
    assert "referrer" not in data  # no Referer, no field
    data["referrer"] = "https://www.google.com/"  # what the page keeps from its own Referer
    client.post("/f/newsletter", data=data, headers={"Referer": page})
    [record] = rows(ConsentRecord)
    assert record.page_url == page
    [lead] = rows(Lead)
    assert lead.first_touch["referrer"] == "https://www.google.com/"


def test_the_page_keeps_its_referrer_for_attribution(client, demo_forms):
    response = client.get("/f/newsletter", headers={"Referer": "https://www.google.com/"})
    hidden = page_of(response).find("input", attrs={"name": "referrer"})
    assert hidden["value"] == "https://www.google.com/"


def test_a_quarantined_form_post_can_be_released(
    app_context, app, client, runner, demo_forms, rows
):
    """A ticked box posts "y": quarantine must keep it as given, or release is impossible."""
    app.config["FORM_MIN_FILL_SECONDS"] = 60
    data = form_data(client, "newsletter", email="ane@firma.dk", consent_processing="y")
    assert client.post("/f/newsletter", data=data).status_code == 200
    [held] = rows(Submission)
    assert held.status == "quarantined" and rows(Lead) == []
    result = runner.invoke(args=["quarantine", "release", held.public_id])
    assert result.exit_code == 0, result.output
    [lead] = rows(Lead)
    assert lead.email == "ane@firma.dk"
    assert [r.purpose for r in rows(ConsentRecord)] == ["processing"]


@pytest.mark.parametrize("path", ["/f/newsletter", "/admin/login", "/demo/partner"])
def test_pages_name_an_icon_that_exists(client, demo_forms, path):
    """Else every page view costs a 404 for /favicon.ico and a console error on partner pages."""
    icon = page_of(client.get(path)).find("link", rel="icon")
    response = client.get(icon["href"])
    response.close()  # a static file: its handle stays open until the response is closed
    assert response.status_code == 200 and response.mimetype == "image/svg+xml"


def test_a_repeated_hidden_input_keeps_its_first_value(client, make_form, rows):
    """Two inputs of one name post a list: for what the visitor cannot see or correct (the
    attribution keys, the form's hidden fields) the first value is kept, never dropped."""
    make_form(fields=[{"name": "email", "type": "email"}, {"name": "campaign", "type": "hidden"}])
    token = form_data(client, "test-form")["token"]
    posted = [
        ("token", token),
        ("email", "ane@firma.dk"),
        ("consent_processing", "y"),
        ("referrer", "https://www.google.com/"),
        ("referrer", "https://www.bing.com/"),
        ("utm_source", ""),
        ("utm_source", "mail"),
        ("campaign", "spring"),
        ("campaign", "summer"),
    ]
    response = client.post("/f/test-form", data=MultiDict(posted))
    assert response.status_code == 200
    [submission] = rows(Submission)
    assert submission.context == {"referrer": "https://www.google.com/", "utm_source": "mail"}
    assert submission.fields["campaign"] == "spring"
    assert rows(Lead)[0].first_touch["referrer"] == "https://www.google.com/"


def test_a_repeated_visible_field_is_still_refused(client, make_form, rows):
    make_form()
    token = form_data(client, "test-form")["token"]
    posted = [("token", token), ("email", "a@firma.dk"), ("email", "b@firma.dk")]
    response = client.post("/f/test-form", data=MultiDict([*posted, ("consent_processing", "y")]))
    assert response.status_code == 422
    assert field_box(page_of(response), "email").find(class_="lg-error") is not None
    assert rows(Submission) == []

"""Consent: required consent enforced, marketing only when ticked, complete proof, append-only."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
import sqlalchemy as sa
from bs4 import BeautifulSoup
from helpers import ON_POSTGRES

from capture.base.db import db
from capture.leads.consent import AppendOnlyViolation, ConsentRecord, erasing
from capture.leads.lead import Lead
from capture.submissions.submission import Submission

PARTNER = "https://www.partner.example"
PROCESSING = {
    "da": "Vi skal bruge dine kontaktoplysninger for at kontakte dig.",
    "sv": "Vi behöver dina kontaktuppgifter för att kontakta dig.",
    "en": "We need your contact details to contact you.",
}
MARKETING = {"da": "Ja tak, send mig nyhedsbreve.", "en": "Yes, send me newsletters."}


@pytest.fixture
def consent_form(make_form):
    make_form(
        language="da",
        allowed_origins=[PARTNER],
        consents=[
            {"purpose": "processing", "required": True, "text": PROCESSING},
            {"purpose": "marketing", "required": False, "text": MARKETING},
        ],
    )
    # A second version: records must name the version the person saw.
    return make_form(
        name="Newsletter, second edition",
        language="da",
        allowed_origins=[PARTNER],
        consents=[
            {"purpose": "processing", "required": True, "text": PROCESSING},
            {"purpose": "marketing", "required": False, "text": MARKETING},
        ],
    )


def send(client: Any, consents: Any, lang: str = "da", **kwargs: Any) -> Any:
    token = client.get(f"/api/v1/forms/test-form?lang={lang}").get_json()["token"]
    body: dict[str, Any] = {"fields": {"email": "ane@firma.dk"}, "token": token}
    if consents is not ...:
        body["consents"] = consents
    return client.post(f"/api/v1/forms/test-form/submissions?lang={lang}", json=body, **kwargs)


@pytest.mark.parametrize(
    "consents",
    [
        ...,
        None,
        {},
        {"processing": False},
        {"processing": "false"},
        {"processing": "0"},
        {"processing": ""},
        {"processing": None},
        {"processing": 1},
        {"processing": [True]},
        {"marketing": True},
        {"Processing": True},
    ],
)
def test_a_missing_required_consent_is_422_naming_it(
    client, consent_form, rows, contract_error, consents
):
    error = contract_error(send(client, consents), 422, "validation_failed")
    # The form is Danish, so is the message.
    assert error["fields"] == {
        "consents.processing": ["Du skal acceptere dette for at sende formularen."]
    }
    assert rows(Submission) == [] and rows(Lead) == [] and rows(ConsentRecord) == []


@pytest.mark.parametrize("answer", [False, "false", "0", "", ..., None, "no", "off", 0, "nej"])
def test_marketing_consent_is_never_recorded_unless_ticked(
    app_context, client, consent_form, rows, answer
):
    consents = {"processing": True}
    if answer is not ...:
        consents["marketing"] = answer
    assert send(client, consents).status_code == 201
    assert [r.purpose for r in rows(ConsentRecord)] == ["processing"]
    assert rows(Submission)[0].consents == {"processing": True}


@pytest.mark.parametrize("answer", [True, "true", "on", "1", "yes", "y", " Yes "])
def test_a_ticked_marketing_box_is_recorded(app_context, client, consent_form, rows, answer):
    assert send(client, {"processing": True, "marketing": answer}).status_code == 201
    assert [(r.purpose, r.status) for r in rows(ConsentRecord)] == [
        ("processing", "granted"),
        ("marketing", "granted"),
    ]


@pytest.mark.parametrize(("answer", "granted"), [(None, False), ("", False), ("y", True)])
def test_the_plain_html_marketing_box(app_context, client, consent_form, rows, answer, granted):
    page = BeautifulSoup(client.get("/f/test-form").get_data(as_text=True), "html.parser")
    box = page.find("input", attrs={"name": "consent_marketing"})
    assert box["type"] == "checkbox" and not box.has_attr("checked")  # never pre-ticked
    data = {
        "email": "ane@firma.dk",
        "consent_processing": "y",
        "token": page.find("input", attrs={"name": "token"})["value"],
    }
    if answer is not None:
        data["consent_marketing"] = answer
    assert client.post("/f/test-form", data=data).status_code == 200
    purposes = [r.purpose for r in rows(ConsentRecord)]
    assert purposes == (["processing", "marketing"] if granted else ["processing"])


def test_each_record_holds_the_text_shown_and_where_and_how(
    app_context, client, consent_form, rows
):
    definition = client.get("/api/v1/forms/test-form?lang=sv", headers={"Origin": PARTNER})
    shown = {c["purpose"]: c["text"] for c in definition.get_json()["consents"]}
    assert shown == {"processing": PROCESSING["sv"], "marketing": MARKETING["en"]}
    response = client.post(
        "/api/v1/forms/test-form/submissions?lang=sv",
        json={
            "fields": {"email": "ane@firma.dk"},
            "consents": {"processing": True, "marketing": True},
            "context": {"page_url": "https://www.partner.example/guide?utm_source=x"},
            "token": definition.get_json()["token"],
        },
        headers={"Origin": PARTNER, "User-Agent": "Mozilla/5.0 (Consent test)"},
        environ_base={"REMOTE_ADDR": "203.0.113.7"},
    )
    assert response.status_code == 201
    [lead] = rows(Lead)
    [submission] = rows(Submission)
    records = {r.purpose: r for r in rows(ConsentRecord)}
    assert set(records) == {"processing", "marketing"}
    for purpose, record in records.items():
        assert record.text == shown[purpose]
        assert record.text_hash == hashlib.sha256(shown[purpose].encode()).hexdigest()
        assert (record.form_id, record.form_version) == (consent_form.id, 2)
        assert record.page_url == "https://www.partner.example/guide?utm_source=x"
        assert record.origin == PARTNER
        assert record.ip == "203.0.113.7"
        assert record.user_agent == "Mozilla/5.0 (Consent test)"
        assert (record.method, record.channel, record.status) == ("checkbox", "embed", "granted")
        assert (record.lead_id, record.submission_id) == (lead.id, submission.id)
        assert record.created_at is not None and record.created_at.tzinfo is not None
        proof = record.as_proof()
        assert proof["text"] == shown[purpose] and proof["text_sha256"] == record.text_hash
    assert records["processing"].language == "sv"
    assert records["marketing"].language == "en"  # no Swedish text: the English one was shown


def test_a_client_that_posts_without_lang_records_the_text_it_fetched(
    app_context, client, consent_form, rows
):
    """The token remembers the language the definition was fetched in."""
    token = client.get("/api/v1/forms/test-form?lang=sv").get_json()["token"]
    body = {"fields": {"email": "ane@firma.dk"}, "consents": {"processing": True}, "token": token}
    response = client.post("/api/v1/forms/test-form/submissions", json=body)
    assert response.status_code == 201
    [record] = rows(ConsentRecord)
    assert (record.language, record.text) == ("sv", PROCESSING["sv"])


def test_the_language_recorded_is_the_language_of_the_text_shown(
    app_context, client, make_form, rows
):
    make_form(consents=[{"purpose": "processing", "required": True, "text": {"da": "Kun dansk."}}])
    assert send(client, {"processing": True}, lang="en").status_code == 201
    [record] = rows(ConsentRecord)
    assert (record.text, record.language) == ("Kun dansk.", "da")


@pytest.mark.parametrize(("query", "channel"), [("", "hosted"), ("&embed=1", "iframe")])
def test_the_hosted_page_records_the_label_it_showed(
    app_context, client, consent_form, rows, query, channel
):
    page = client.get(f"/f/test-form?lang=da{query}")
    html = BeautifulSoup(page.get_data(as_text=True), "html.parser")
    label = html.find("input", attrs={"name": "consent_processing"}).find_parent("label")
    response = client.post(
        f"/f/test-form?lang=da{query}",
        data={
            "email": "ane@firma.dk",
            "consent_processing": "y",
            "token": html.find("input", attrs={"name": "token"})["value"],
        },
        headers={"User-Agent": "Browser/1.0"},
    )
    assert response.status_code == 200
    [record] = rows(ConsentRecord)
    assert record.text == label.get_text(strip=True) == PROCESSING["da"]
    assert (record.language, record.channel, record.user_agent) == ("da", channel, "Browser/1.0")
    assert record.ip == "127.0.0.1"


@pytest.mark.app_config(TRUNCATE_IP=True)
def test_addresses_can_be_kept_truncated(app_context, client, consent_form, rows):
    response = send(client, {"processing": True}, environ_base={"REMOTE_ADDR": "203.0.113.7"})
    assert response.status_code == 201
    assert rows(ConsentRecord)[0].ip == "203.0.113.0"
    assert rows(Submission)[0].ip == "203.0.113.0"


def test_the_ledger_is_append_only(app_context, client, consent_form, rows):
    assert send(client, {"processing": True, "marketing": True}).status_code == 201
    before = [(r.id, r.status, r.text) for r in rows(ConsentRecord)]
    record = rows(ConsentRecord)[0]

    record.status = "withdrawn"
    with pytest.raises(AppendOnlyViolation):
        db.session.flush()
    db.session.rollback()

    db.session.delete(rows(ConsentRecord)[0])
    with pytest.raises(AppendOnlyViolation):
        db.session.flush()
    db.session.rollback()

    for statement in (
        sa.update(ConsentRecord).values(status="withdrawn"),
        sa.update(ConsentRecord.__table__).values(text="edited"),
        sa.delete(ConsentRecord).where(ConsentRecord.purpose == "marketing"),
        sa.delete(ConsentRecord.__table__),
    ):
        with pytest.raises(AppendOnlyViolation):
            db.session.execute(statement)
        db.session.rollback()

    assert [(r.id, r.status, r.text) for r in rows(ConsentRecord)] == before

    with erasing(db.session):  # erasure of the person is the one exception
        db.session.execute(sa.delete(ConsentRecord).where(ConsentRecord.purpose == "marketing"))
        db.session.delete(rows(ConsentRecord)[0])
        db.session.commit()
    assert rows(ConsentRecord) == []


@pytest.mark.skipif(not ON_POSTGRES, reason="the trigger is PostgreSQL's; set TEST_DATABASE_URL")
def test_postgresql_refuses_raw_sql_that_rewrites_the_ledger(
    app_context, client, consent_form, rows
):
    """psql, a script or another code path bypass the ORM: the database itself says no."""
    assert send(client, {"processing": True, "marketing": True}).status_code == 201
    before = [(r.id, r.status, r.text) for r in rows(ConsentRecord)]
    for statement in (
        "UPDATE consent_records SET text = 'edited'",
        "DELETE FROM consent_records",
    ):
        with pytest.raises(sa.exc.IntegrityError, match="append-only"):
            db.session.execute(sa.text(statement))
        db.session.rollback()
    assert [(r.id, r.status, r.text) for r in rows(ConsentRecord)] == before

    with erasing(db.session):  # the one exception, for its own transaction only
        db.session.execute(sa.text("DELETE FROM consent_records WHERE purpose = 'marketing'"))
    db.session.commit()
    assert [r.purpose for r in rows(ConsentRecord)] == ["processing"]
    with pytest.raises(sa.exc.IntegrityError):
        db.session.execute(sa.text("DELETE FROM consent_records"))
    db.session.rollback()

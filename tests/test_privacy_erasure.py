"""Erasure and access export of one person, across every table, derived from the privacy map.

`fill` gives the person a row in every table that can hold them (submission, quarantine,
download, grant, e-mails and webhook events in the outbox, an API event, consent records), with
a distinct IP address and user agent; the tests then erase them and look everywhere.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
import sqlalchemy as sa
from helpers import csrf_token_in

from capture.accounts import Role, create_user
from capture.base.db import db
from capture.delivery.optin.confirmation import confirmation_url
from capture.delivery.optin.unsubscribe import unsubscribe_url
from capture.delivery.outbox import OutboxMessage
from capture.delivery.webhooks import create_endpoint
from capture.forms.store import FormDefinition
from capture.leads.consent import ConsentRecord
from capture.leads.lead import Lead
from capture.leads.privacy import Suppression, email_key
from capture.submissions.submission import Submission, SubmissionStatus
from capture.web.tokens import Purpose, sign
from magnets.grants import Download, DownloadGrant

EMAIL = "ane.hansen@firma.dk"
PERSON = {
    "email": EMAIL,
    "first_name": "Anebeth",
    "last_name": "Hansenius",
    "company": "Firma Aps",
    "phone": "+45 1234 5678",
}
IP = "203.0.113.77"
AGENT = "Mozilla/5.0 (AneBrowser 9.1)"
NEEDLES = [
    EMAIL,
    "anebeth",
    "hansenius",
    "firma aps",
    "1234 5678",
    IP,
    "anebrowser",
    hashlib.sha256(EMAIL.encode()).hexdigest(),
]
FIELDS = [{"name": n, "type": "email" if n == "email" else "text"} for n in PERSON]
CONSENTS = {"processing": True, "marketing": True}


def as_person(client: Any) -> None:
    client.environ_base.update(REMOTE_ADDR=IP, HTTP_USER_AGENT=AGENT)


def as_someone_else(client: Any) -> None:
    client.environ_base.update(REMOTE_ADDR="198.51.100.9", HTTP_USER_AGENT="OtherAgent/1")


def fill(client: Any, make_form: Any, make_magnet: Any, submit: Any, write: dict) -> dict:
    """The person in every table; returns their lead id and the links they hold."""
    create_endpoint("https://crm.example/hooks")
    create_user("sales@firma.dk", Role.SALES, "correct horse battery staple")
    db.session.commit()
    make_magnet()
    make_form(slug="guide-form", magnet="guide", email_magnet=True, fields=FIELDS)
    make_form(slug="doi-form", double_opt_in=True, fields=FIELDS)
    as_person(client)
    answer = submit("guide-form", PERSON, consents=CONSENTS, headers={"Idempotency-Key": "k1"})
    assert answer.status_code == 201, answer.get_data(as_text=True)
    lead_id = answer.get_json()["lead"]
    download_url = answer.get_json()["download_url"]
    assert download_url
    path = "/d/" + download_url.rsplit("/d/", 1)[1]
    downloaded = client.get(path)
    downloaded.close()
    assert downloaded.status_code == 200
    submit("doi-form", PERSON, consents=CONSENTS)
    held = submit("guide-form", {**PERSON, "homepage_url": "spam"}, consents=CONSENTS)
    assert held.status_code == 201
    as_someone_else(client)
    event = client.post(
        "/api/v1/events",
        json={"email": EMAIL, "kind": "phone_call", "note": "Anebeth Hansenius called"},
        headers=write | {"Idempotency-Key": "call-1"},
    )
    assert event.status_code == 201, event.get_data(as_text=True)
    moved = client.post(
        f"/api/v1/leads/{lead_id}/stage",
        json={"to": "opportunity", "reason": "Anebeth Hansenius wants a quote"},
        headers=write,
    )
    assert moved.status_code == 200, moved.get_data(as_text=True)
    submit("guide-form", {"email": "other@firma.dk", "first_name": "Bo"})
    doi = db.session.scalar(
        sa.select(Submission)
        .join(FormDefinition, FormDefinition.id == Submission.form_id)
        .where(FormDefinition.slug == "doi-form")
    )
    grant = db.session.scalar(sa.select(DownloadGrant).order_by(DownloadGrant.id))
    with client.application.test_request_context():
        links = {
            "download": path,
            "renew": sign(Purpose.FRESH_LINK, grant.public_id),
            "unsubscribe": "/u/" + unsubscribe_url(lead_id).rsplit("/u/", 1)[1].split("?")[0],
            "confirm": "/c/" + confirmation_url(doi.public_id).rsplit("/c/", 1)[1].split("?")[0],
        }
    return {"lead": lead_id, "links": links}


def text_cells() -> list[tuple[str, str, str]]:
    """Every text and JSON value of every table, found by reflecting the database schema."""
    metadata = sa.MetaData()
    metadata.reflect(bind=db.engine)
    cells = []
    for table in metadata.tables.values():
        columns = [c for c in table.c if _text_like(c.type)]
        if not columns:
            continue
        for row in db.session.execute(sa.select(*columns)):
            for column, value in zip(columns, row, strict=True):
                if value is not None:
                    cells.append((table.name, column.name, json.dumps(value, default=str)))
    return cells


def _text_like(column_type: Any) -> bool:
    if isinstance(column_type, sa.String | sa.Text | sa.JSON):
        return True
    name = type(column_type).__name__.upper()
    return any(word in name for word in ("JSON", "INET", "CIDR", "TEXT", "CHAR"))


def traces() -> set[tuple[str, str, str]]:
    return {
        (table, column, needle)
        for table, column, value in text_cells()
        for needle in NEEDLES
        if needle.lower() in value.lower()
    }


@pytest.fixture
def write(api_token):
    return api_token("write")


@pytest.fixture
def read(api_token):
    return api_token("read")


@pytest.fixture
def person(client, make_form, make_magnet, submit, write):
    return fill(client, make_form, make_magnet, submit, write)


def erase(client: Any, lead_id: str, write: dict) -> None:
    response = client.delete(f"/api/v1/leads/{lead_id}", headers=write)
    assert response.status_code == 200, response.get_data(as_text=True)
    db.session.expire_all()


def test_an_erased_person_leaves_no_trace_in_any_table(app_context, client, person, write):
    before = traces()
    tables = {table for table, _column, _needle in before}
    # The search sees the person everywhere they were before erasure.
    assert tables >= {
        "leads", "submissions", "consent_records", "conversion_events", "stage_changes",
        "outbox_messages", "downloads",
    }  # fmt: skip
    assert {needle for _t, _c, needle in before} >= set(NEEDLES) - {NEEDLES[-1]}
    erase(client, person["lead"], write)
    assert traces() == set()
    # The other person is untouched.
    assert any("other@firma.dk" in value for _t, _c, value in text_cells())


def test_quarantined_submission_is_erased_and_cannot_bring_the_person_back(
    app_context, client, person, write, runner
):
    held = db.session.scalar(
        sa.select(Submission).where(Submission.status == SubmissionStatus.QUARANTINED.value)
    )
    erase(client, person["lead"], write)
    db.session.refresh(held)
    assert held.fields == {} and held.ip is None and held.user_agent is None
    assert held.status == SubmissionStatus.DISCARDED.value
    result = runner.invoke(args=["quarantine", "release", held.public_id])
    assert result.exit_code == 1
    assert db.session.scalar(sa.select(sa.func.count()).where(Lead.email == EMAIL)) == 0


def test_release_of_a_suppressed_address_is_refused(
    app_context, client, make_form, submit, write, runner
):
    make_form(fields=FIELDS)
    lead_id = submit("test-form", PERSON).get_json()["lead"]
    erase(client, lead_id, write)
    # Caught after the erasure: still the erased person, who gave no new consent.
    held = submit("test-form", {**PERSON, "homepage_url": "spam"})
    assert held.status_code == 201
    public_id = held.get_json()["submission"]
    result = runner.invoke(args=["quarantine", "release", public_id])
    assert result.exit_code == 1
    assert "asked to be erased" in result.output
    assert db.session.scalar(sa.select(sa.func.count()).where(Lead.email == EMAIL)) == 0


def test_back_office_release_of_a_suppressed_address_is_refused(
    app_context, client, staff, make_form, submit, write
):
    make_form(fields=FIELDS)
    erase(client, submit("test-form", PERSON).get_json()["lead"], write)
    public_id = submit("test-form", {**PERSON, "homepage_url": "spam"}).get_json()["submission"]
    marketer = staff("marketer")
    page = marketer.get("/admin/quarantine/").get_data(as_text=True)
    answer = marketer.post(
        f"/admin/quarantine/{public_id}/release",
        data={"csrf_token": csrf_token_in(page)},
        follow_redirects=True,
    )
    assert "asked to be erased" in answer.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count()).where(Lead.email == EMAIL)) == 0


def test_outbox_emails_and_webhook_events_about_the_person_are_emptied(
    app_context, client, person, write
):
    erase(client, person["lead"], write)
    rows = db.session.scalars(sa.select(OutboxMessage)).all()
    kinds = {(row.kind, row.payload.get("template")) for row in rows}
    assert ("email", "magnet") in kinds and ("email", "sql_handoff") in kinds
    for row in rows:
        text = json.dumps(row.payload).lower()
        assert EMAIL not in text and "anebeth" not in text and "firma aps" not in text
    webhooks = [row for row in rows if row.kind == "webhook"]
    erased_events = [row for row in webhooks if row.payload["event"]["type"] == "lead.erased"]
    assert erased_events and erased_events[0].status == "pending"
    assert erased_events[0].payload["event"]["data"]["lead"] == {"id": person["lead"]}


def test_downloads_and_grants_lose_the_person(app_context, client, person, write):
    erase(client, person["lead"], write)
    lead = db.session.scalar(sa.select(Lead).where(Lead.public_id == person["lead"]))
    downloads = db.session.scalars(sa.select(Download)).all()
    assert downloads and all(d.ip is None and d.user_agent is None for d in downloads)
    grants = db.session.scalars(sa.select(DownloadGrant)).all()
    assert {g.lead_id == lead.id for g in grants} == {True, False}  # the other person's too
    assert all(g.revoked_at is not None for g in grants if g.lead_id == lead.id)
    assert all(g.revoked_at is None for g in grants if g.lead_id != lead.id)


def test_every_link_the_person_holds_dies_and_records_nothing(app_context, client, person, write):
    erase(client, person["lead"], write)
    downloads = db.session.scalar(sa.select(sa.func.count(Download.id)))
    grants = db.session.scalar(sa.select(sa.func.count(DownloadGrant.id)))
    as_person(client)
    links = person["links"]
    consents = db.session.scalar(sa.select(sa.func.count(ConsentRecord.id)))
    assert client.get(links["download"]).status_code == 410
    assert client.post("/d/renew", data={"token": links["renew"]}).status_code == 410
    assert client.get(links["unsubscribe"]).status_code == 410
    assert client.post(links["unsubscribe"]).status_code == 410
    assert client.get(links["confirm"]).status_code == 410
    db.session.expire_all()
    # Nothing was recorded: no download, no consent record, no new grant.
    assert db.session.scalar(sa.select(sa.func.count(Download.id))) == downloads
    assert db.session.scalar(sa.select(sa.func.count(DownloadGrant.id))) == grants
    assert db.session.scalar(sa.select(sa.func.count(ConsentRecord.id))) == consents
    assert traces() == set()


def test_access_export_includes_downloads_grants_messages_and_quarantine(
    app_context, client, person, read
):
    data = client.get(f"/api/v1/leads/{person['lead']}/export", headers=read).get_json()
    assert data["lead"]["email"] == EMAIL
    assert data["downloads"] and data["downloads"][0]["user_agent"] == AGENT
    assert data["download_grants"] and data["download_grants"][0]["magnet"] == "guide"
    assert {m["kind"] for m in data["messages"]} == {"email", "webhook"}
    assert any(m.get("to") == EMAIL for m in data["messages"])
    assert any(m.get("event", {}).get("type") == "lead.created" for m in data["messages"])
    statuses = {s["status"] for s in data["submissions"]}
    assert SubmissionStatus.QUARANTINED.value in statuses
    assert data["consents"] and data["conversions"] and data["stage_changes"]


def test_suppression_is_keyed_and_refuses_api_events_but_not_new_consent(
    app_context, app, client, make_form, submit, write
):
    make_form(fields=FIELDS)
    lead_id = submit("test-form", PERSON).get_json()["lead"]
    erase(client, lead_id, write)
    suppression = db.session.scalar(sa.select(Suppression))
    assert suppression.email_hmac == email_key(EMAIL)
    assert suppression.email_hmac != hashlib.sha256(EMAIL.encode()).hexdigest()
    # Another key, another entry: it cannot be matched without SUPPRESSION_KEY.
    app.config["SUPPRESSION_KEY"] = "another-suppression-key-0123456789abcdef"
    assert email_key(EMAIL) != suppression.email_hmac
    app.config["SUPPRESSION_KEY"] = SUPPRESSION_KEY
    refused = client.post(
        "/api/v1/events", json={"email": EMAIL.upper(), "kind": "phone_call"}, headers=write
    )
    assert refused.status_code == 409
    assert refused.get_json()["error"]["code"] == "erased_person"
    assert "erased" in refused.get_json()["error"]["message"]
    assert db.session.scalar(sa.select(sa.func.count()).where(Lead.email == EMAIL)) == 0
    # The person comes back and consents anew: a new lead; then events are theirs again.
    again = submit("test-form", PERSON).get_json()["lead"]
    assert again != lead_id
    event = client.post("/api/v1/events", json={"email": EMAIL, "kind": "phone_call"},
                        headers=write)  # fmt: skip
    assert event.status_code == 201


SUPPRESSION_KEY = "test-suppression-key-0123456789abcdefghij"


@pytest.fixture
def app_config(app_config):
    return {**app_config, "SUPPRESSION_KEY": SUPPRESSION_KEY}


def test_suppression_survives_secret_key_rotation(
    app_context, app, client, make_form, submit, write
):
    make_form(fields=FIELDS)
    erase(client, submit("test-form", PERSON).get_json()["lead"], write)
    app.config["SECRET_KEY"] = "a-rotated-secret-key-0123456789abcdefghij"
    refused = client.post("/api/v1/events", json={"email": EMAIL, "kind": "phone_call"},
                          headers=write)  # fmt: skip
    assert refused.status_code == 409


def test_cli_erases_by_address_or_id(app_context, runner, client, make_form, submit):
    make_form(fields=FIELDS)
    first = submit("test-form", PERSON).get_json()["lead"]
    result = runner.invoke(args=["leads", "erase", "Ane.Hansen@Firma.dk", "--yes"])
    assert result.exit_code == 0, result.output
    assert first in result.output
    assert db.session.scalar(sa.select(sa.func.count()).where(Lead.email == EMAIL)) == 0
    second = submit("test-form", PERSON).get_json()["lead"]
    assert runner.invoke(args=["leads", "erase", second], input="n\n").exit_code == 1
    assert runner.invoke(args=["leads", "erase", second], input="y\n").exit_code == 0
    assert runner.invoke(args=["leads", "erase", second, "--yes"]).exit_code == 1
    assert traces() == set()


def test_admin_erases_from_the_lead_page_after_typing_the_address(
    app_context, staff, make_form, submit
):
    make_form(fields=FIELDS)
    lead_id = submit("test-form", PERSON).get_json()["lead"]
    marketer, admin = staff("marketer"), staff("admin")
    page = marketer.get(f"/admin/leads/{lead_id}").get_data(as_text=True)
    assert "/admin/erasure/" not in page
    token = csrf_token_in(marketer.get(f"/admin/leads/{lead_id}").get_data(as_text=True))
    denied = marketer.post(
        f"/admin/erasure/{lead_id}", data={"confirm": EMAIL, "csrf_token": token}
    )
    assert denied.status_code == 403
    page = admin.get(f"/admin/leads/{lead_id}").get_data(as_text=True)
    assert f"/admin/erasure/{lead_id}" in page
    token = csrf_token_in(page)
    wrong = admin.post(
        f"/admin/erasure/{lead_id}", data={"confirm": "someone@else.dk", "csrf_token": token}
    )
    assert wrong.status_code == 303 and wrong.headers["Location"].endswith(lead_id)
    assert db.session.scalar(sa.select(sa.func.count()).where(Lead.email == EMAIL)) == 1
    no_csrf = admin.post(f"/admin/erasure/{lead_id}", data={"confirm": EMAIL})
    assert no_csrf.status_code == 400
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count()).where(Lead.email == EMAIL)) == 1
    done = admin.post(f"/admin/erasure/{lead_id}", data={"confirm": EMAIL, "csrf_token": token})
    assert done.status_code == 303 and done.headers["Location"].endswith("/admin/leads/")
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count()).where(Lead.email == EMAIL)) == 0
    assert admin.get(f"/admin/leads/{lead_id}").status_code == 404

"""The leads API: keyset pages, filters, one lead, stage changes, GDPR export and erasure."""

import json

import pytest
import sqlalchemy as sa

from capture.api.idempotency import ApiRequest
from capture.base.db import db
from capture.extension_points import lead_erased
from capture.leads.lead import Lead, StageChange
from capture.leads.privacy import Suppression, email_key, was_erased


@pytest.fixture
def read(api_token):
    return api_token("read")


@pytest.fixture
def write(api_token):
    return api_token("write")


def _people(make_form, submit, count, **form):
    make_form(**form)
    return [
        submit("test-form", {"email": f"p{i:03}@firma.dk"}).get_json()["lead"] for i in range(count)
    ]


def _walk(client, headers, query="", limit=7):
    seen, cursor, pages = [], None, 0
    while True:
        url = f"/api/v1/leads?limit={limit}{query}" + (f"&cursor={cursor}" if cursor else "")
        body = client.get(url, headers=headers).get_json()
        seen += [lead["id"] for lead in body["leads"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            return seen, pages


def test_pages_cover_every_lead_once_even_while_leads_arrive(client, make_form, submit, read):
    ids = _people(make_form, submit, 20)
    first = client.get("/api/v1/leads?limit=7", headers=read).get_json()
    assert [lead["id"] for lead in first["leads"]] == ids[:7]
    # New leads during the walk land at the end; nothing is skipped or repeated.
    submit("test-form", {"email": "late@firma.dk"})
    rest, _pages = [], 0
    cursor = first["next_cursor"]
    while cursor:
        body = client.get(f"/api/v1/leads?limit=7&cursor={cursor}", headers=read).get_json()
        rest += [lead["id"] for lead in body["leads"]]
        cursor = body["next_cursor"]
    walked = [lead["id"] for lead in first["leads"]] + rest
    assert walked[:20] == ids and len(walked) == len(set(walked)) == 21
    again, pages = _walk(client, read)
    assert again == walked and pages == 3


def test_cursor_is_opaque_and_tamper_proof(client, make_form, submit, read):
    _people(make_form, submit, 3)
    cursor = client.get("/api/v1/leads?limit=1", headers=read).get_json()["next_cursor"]
    assert cursor and cursor != "1"
    assert client.get("/api/v1/leads?cursor=", headers=read).status_code == 200  # no cursor
    for bad in [cursor[:-2] + "xx", "1", "%00", "a" * 3000]:
        response = client.get(f"/api/v1/leads?cursor={bad}", headers=read)
        assert response.status_code == 422, bad
        assert "cursor" in response.get_json()["error"]["fields"]


def test_filters(client, make_form, submit, read, write):
    ids = _people(make_form, submit, 4)
    make_form(slug="demo", conversion="demo_request", partner="partner-x")
    demo = submit("demo", {"email": "sql@firma.dk"}).get_json()["lead"]
    client.post(
        f"/api/v1/leads/{ids[0]}/stage", json={"to": "customer", "reason": "won"}, headers=write
    )

    def found(query):
        return _walk(client, read, query)[0]

    assert found("&stage=sql") == [demo]
    assert found("&stage=customer,sql") == [ids[0], demo]
    assert found("&form=demo") == [demo]
    assert found("&partner=partner-x") == [demo]
    assert found("&temperature=warm") == [demo]  # 40 points
    assert found("&temperature=hot") == []
    assert found("&score_min=30") == [demo]
    assert found("&score_max=10") == ids
    assert found("&since=2999-01-01") == []
    assert found("&since=2000-01-01T00:00:00Z") == [*ids, demo]
    for bad in [
        "stage=nope",
        "temperature=tepid",
        "score_min=abc",
        "limit=0",
        "limit=100000",
        "since=yesterday",
        "form=%00",
        "partner=" + "x" * 81,
        "since=2020-01-01%00",
        "since=0001-01-01T00:00:00%2B14:00",  # out of range in UTC: was a 500
        "since=9999-12-31T23:59:59-14:00",
    ]:
        response = client.get(f"/api/v1/leads?{bad}", headers=read)
        assert response.status_code == 422, bad
        assert response.get_json()["error"]["code"] == "validation_failed"


def test_one_lead_has_the_contract_fields(client, make_form, submit, read):
    make_form(
        fields=[
            {"name": "email", "type": "email", "required": True},
            {"name": "first_name", "type": "text"},
            {"name": "favourite_colour", "type": "text"},
        ]
    )
    lead_id = submit(
        "test-form",
        {"email": "ane@firma.dk", "first_name": "Ane", "favourite_colour": "teal"},
        context={"utm_source": "linkedin"},
    ).get_json()["lead"]
    lead = client.get(f"/api/v1/leads/{lead_id}", headers=read).get_json()
    for key in [
        "id",
        "email",
        "lifecycle_stage",
        "score",
        "temperature",
        "partner",
        "first_touch",
        "last_touch",
        "created_at",
        "updated_at",
        "first_name",
        "properties",
    ]:
        assert key in lead
    assert lead["first_name"] == "Ane" and lead["properties"] == {"favourite_colour": "teal"}
    assert lead["first_touch"]["utm_source"] == "linkedin"
    assert client.get("/api/v1/leads/lead_nope", headers=read).status_code == 404


def test_people_move_stages_back_and_out_with_a_reason(
    app_context, client, make_form, submit, write
):
    lead_id = _people(make_form, submit, 1)[0]
    url = f"/api/v1/leads/{lead_id}/stage"
    response = client.post(url, json={"to": "lead", "reason": "recycle"}, headers=write)
    assert response.status_code == 200
    response = client.post(url, json={"to": "disqualified", "reason": "spam"}, headers=write)
    body = response.get_json()
    assert body["lead"]["lifecycle_stage"] == "disqualified"
    assert body["stage_change"]["actor"].startswith("api:test write")
    changes = db.session.scalars(sa.select(StageChange).order_by(StageChange.id)).all()
    assert [(c.from_stage, c.to_stage) for c in changes] == [
        ("lead", "mql"),
        ("mql", "lead"),
        ("lead", "disqualified"),
    ]
    for payload, field in [
        ({"to": "sal"}, "reason"),
        ({"to": "sal", "reason": "  "}, "reason"),
        ({"to": "boss", "reason": "x"}, "to"),
        ({"to": "disqualified", "reason": "again"}, "to"),
        ({"to": 5, "reason": "x"}, "to"),
    ]:
        response = client.post(url, json=payload, headers=write)
        assert response.status_code == 422
        assert field in response.get_json()["error"]["fields"]
    assert (
        client.post(url, data="{", headers=write | {"Content-Type": "application/json"}).status_code
        == 400
    )
    assert client.post(url, data="to=sal", headers=write).status_code == 415
    assert client.post(url, json=["to"], headers=write).status_code == 400


PERSON = {
    "email": "Ane.Hansen@Firma.dk",
    "first_name": "Anebeth",
    "last_name": "Hansenius",
    "company": "Firma ApS",
}


def test_gdpr_export_has_everything_including_the_consent_ledger(client, make_form, submit, read):
    make_form(fields=[{"name": n, "type": "email" if n == "email" else "text"} for n in PERSON])
    lead_id = submit(
        "test-form", PERSON, consents={"processing": True, "marketing": True}
    ).get_json()["lead"]
    response = client.get(f"/api/v1/leads/{lead_id}/export", headers=read)
    assert response.headers["Cache-Control"] == "no-store"
    data = response.get_json()
    assert data["lead"]["email"] == "ane.hansen@firma.dk"
    assert data["submissions"][0]["fields"]["first_name"] == "Anebeth"
    assert {c["purpose"] for c in data["consents"]} == {"processing", "marketing"}
    assert all(c["text"] and c["text_sha256"] for c in data["consents"])
    assert data["conversions"][0]["kind"] == "newsletter_signup"
    assert data["stage_changes"] and data["score_changes"]


def _text_cells():
    """Every text and JSON value in every table, as text."""
    for table in db.metadata.sorted_tables:
        columns = [
            c
            for c in table.c
            if isinstance(c.type, sa.String | sa.Text | sa.JSON) or "JSON" in type(c.type).__name__
        ]
        if not columns:
            continue
        for row in db.session.execute(sa.select(*columns)):
            for column, value in zip(columns, row, strict=True):
                yield table.name, column.name, json.dumps(value, default=str)


def _leaks():
    needles = ["ane.hansen", "anebeth", "hansenius", "firma aps"]
    return [
        (table, column, value)
        for table, column, value in _text_cells()
        for needle in needles
        if needle in value.lower()
    ]


def test_erasure_leaves_no_personal_data_anywhere(
    app_context, client, make_form, submit, write, read
):
    make_form(fields=[{"name": n, "type": "email" if n == "email" else "text"} for n in PERSON])
    lead_id = submit(
        "test-form",
        PERSON,
        consents={"processing": True, "marketing": True},
        context={"page_url": "https://www.partner.example/?who=ane.hansen@firma.dk"},
        headers={"Idempotency-Key": "k1"},
    ).get_json()["lead"]
    client.post(
        "/api/v1/events",
        json={"email": PERSON["email"], "kind": "phone_call", "note": "Anebeth called"},
        headers=write | {"Idempotency-Key": "call-1"},
    )
    client.post(
        f"/api/v1/leads/{lead_id}/stage",
        json={"to": "opportunity", "reason": "Anebeth Hansenius wants a quote"},
        headers=write,
    )
    submit("test-form", {"email": "other@firma.dk", "first_name": "Bo"})
    before = _leaks()
    # The search sees the person in every table that holds them before erasure.
    assert {table for table, _c, _v in before} >= {
        "leads",
        "submissions",
        "consent_records",
        "conversion_events",
        "stage_changes",
    }
    response = client.delete(f"/api/v1/leads/{lead_id}", headers=write)
    assert response.status_code == 200
    assert response.get_json()["erased"] == lead_id
    db.session.expire_all()
    assert _leaks() == []
    # The stored answer to the idempotent event (and its body digest) went with the person.
    assert db.session.scalar(sa.select(sa.func.count(ApiRequest.id))) == 0
    # Anonymous counts stay; the other person is untouched; the address is recognised again.
    assert db.session.scalar(sa.select(sa.func.count(Lead.id))) == 2
    assert was_erased("ane.hansen@firma.dk") and not was_erased("other@firma.dk")
    suppression = db.session.scalar(sa.select(Suppression))
    assert suppression.email_hmac == email_key("ane.hansen@firma.dk")
    assert client.get(f"/api/v1/leads/{lead_id}", headers=read).status_code == 404
    assert client.delete(f"/api/v1/leads/{lead_id}", headers=write).status_code == 404
    assert [
        lead["id"] for lead in client.get("/api/v1/leads", headers=read).get_json()["leads"]
    ] != [lead_id]
    # A new submission by the same person starts afresh.
    again = submit("test-form", {"email": PERSON["email"]}).get_json()["lead"]
    assert again != lead_id


def test_erasure_announces_the_lead_without_personal_data(app, client, make_form, submit, write):
    seen = []

    lead_erased.connect(app, seen.append)
    lead_id = _people(make_form, submit, 1)[0]
    client.delete(f"/api/v1/leads/{lead_id}", headers=write)
    assert len(seen) == 1
    assert seen[0].lead_public_id == lead_id and seen[0].actor.startswith("api:")

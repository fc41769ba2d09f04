"""Offline conversions through the API: classified, scored, idempotent, never a 500."""

from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
import sqlalchemy as sa

from capture.base.db import db
from capture.leads.conversion import ConversionEvent
from capture.leads.lead import Lead, StageChange


@pytest.fixture
def write(api_token):
    return api_token("write")


def post(client, headers, body, key=None):
    extra = {"Idempotency-Key": key} if key else {}
    return client.post("/api/v1/events", json=body, headers=headers | extra)


def test_a_phone_call_creates_an_outbound_sql_lead(app_context, client, write):
    response = post(
        client,
        write,
        {
            "email": "Ny@Firma.dk",
            "kind": "phone_call",
            "fields": {"first_name": "Nina", "country": "dk", "job_title": "CTO"},
            "note": "asked for pricing",
        },
    )
    assert response.status_code == 201
    body = response.get_json()
    assert body["lead_created"] is True
    assert body["conversion"] == {"kind": "phone_call", "classification": "SQL"}
    assert body["lifecycle_stage"] == "sql"
    lead = db.session.scalar(sa.select(Lead))
    assert (lead.email, lead.source, lead.country, lead.first_name) == (
        "ny@firma.dk",
        "outbound",
        "DK",
        "Nina",
    )
    assert lead.score == 30 + 15 + 5  # phone call, senior title, nordic country
    event = db.session.scalar(sa.select(ConversionEvent))
    assert (event.channel, event.details["note"]) == ("api", "asked for pricing")
    change = db.session.scalar(sa.select(StageChange))
    assert change.actor.startswith("api:test write") and "phone_call" in change.reason


def test_video_views_on_an_existing_lead_are_mql_and_scored_by_share(
    app_context, client, write, make_form, submit
):
    make_form()
    lead_id = submit("test-form", {"email": "vi@firma.dk"}).get_json()["lead"]
    response = post(client, write, {"email": "vi@firma.dk", "kind": "video_view", "percent": 50})
    body = response.get_json()
    assert (body["lead"], body["lead_created"]) == (lead_id, False)
    assert body["conversion"]["classification"] == "MQL"
    assert body["score"] == 10 + 5
    assert db.session.scalar(sa.select(Lead)).source == "inbound"


def test_webinar_attendance_creates_an_inbound_lead(app_context, client, write):
    body = post(client, write, {"email": "w@firma.dk", "kind": "webinar_attendance"}).get_json()
    assert body["lifecycle_stage"] == "mql"
    assert db.session.scalar(sa.select(Lead)).source == "inbound"


def test_idempotency_key_replays_and_refuses_another_body(app_context, client, write):
    body = {"email": "once@firma.dk", "kind": "demo_request"}
    first = post(client, write, body, key="evt-1")
    again = post(client, write, body, key="evt-1")
    assert first.status_code == again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == first.get_json()
    assert db.session.scalar(sa.select(sa.func.count(ConversionEvent.id))) == 1
    other = post(client, write, body | {"kind": "phone_call"}, key="evt-1")
    assert other.status_code == 409
    assert other.get_json()["error"]["code"] == "idempotency_conflict"
    assert post(client, write, body, key="evt-2").status_code == 201
    assert db.session.scalar(sa.select(sa.func.count(ConversionEvent.id))) == 2


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "phone_call"}, "email"),
        ({"email": "not-an-address", "kind": "phone_call"}, "email"),
        ({"email": "a@firma.dk"}, "kind"),
        ({"email": "a@firma.dk", "kind": "fax"}, "kind"),
        ({"email": "a@firma.dk", "kind": "video_view", "percent": 101}, "percent"),
        ({"email": "a@firma.dk", "kind": "video_view", "percent": "half"}, "percent"),
        ({"email": "a@firma.dk", "kind": "phone_call", "direction": "sideways"}, "direction"),
        ({"email": "a@firma.dk", "kind": "phone_call", "occurred_at": "soon"}, "occurred_at"),
        ({"email": "a@firma.dk", "kind": "phone_call", "occurred_at": "2999-01-01"}, "occurred_at"),
        # Inside Python's range as written, outside it in UTC: was an OverflowError, a 500.
        (
            {"email": "a@firma.dk", "kind": "phone_call", "occurred_at": "0001-01-01T00:00+14:00"},
            "occurred_at",
        ),
        (
            {"email": "a@firma.dk", "kind": "phone_call", "fields": {"is_admin": "1"}},
            "fields.is_admin",
        ),
        (
            {"email": "a@firma.dk", "kind": "phone_call", "fields": {"country": "Denmark"}},
            "fields.country",
        ),
        ({"email": "a@firma.dk", "kind": "phone_call", "fields": []}, "fields"),
        ({"email": "a@firma.dk", "kind": "phone_call", "context": "x"}, "context"),
        ({"email": ["a@firma.dk"], "kind": "phone_call"}, "email"),
    ],
)
def test_bad_events_get_422_with_the_field(app_context, client, write, body, field):
    response = post(client, write, body)
    assert response.status_code == 422, response.get_json()
    assert field in response.get_json()["error"]["fields"]
    assert db.session.scalar(sa.select(sa.func.count(Lead.id))) == 0


def test_malformed_bodies(client, write):
    for data, content_type, status in [
        ("{", "application/json", 400),
        ("[]", "application/json", 400),
        (b"\xff\xfe", "application/json", 400),
        ("email=a@b.dk", "application/x-www-form-urlencoded", 415),
        ("[" * 100_000, "application/json", 413),  # over the events API's body limit
    ]:
        response = client.post(
            "/api/v1/events", data=data, headers=write | {"Content-Type": content_type}
        )
        assert response.status_code == status, (data[:10], response.status_code)
        assert "error" in response.get_json()


def test_concurrent_retries_with_one_key_record_one_event(app_context, live_server, api_token):
    headers = api_token("write") | {"Idempotency-Key": "burst-1"}
    body = {"email": "burst@firma.dk", "kind": "sales_email"}

    def send(_):
        return requests.post(f"{live_server.url}/api/v1/events", json=body, headers=headers)

    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(send, range(16)))
    assert {r.status_code for r in responses} == {201}
    assert len({r.text for r in responses}) == 1
    assert sum(r.headers.get("Idempotent-Replayed") == "true" for r in responses) == 15
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count(ConversionEvent.id))) == 1
    assert db.session.scalar(sa.select(sa.func.count(Lead.id))) == 1

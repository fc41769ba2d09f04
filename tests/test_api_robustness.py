"""Whatever a client sends to the authenticated API, it gets the contract's error, never a 500."""

import pytest
import sqlalchemy as sa
from helpers import ON_POSTGRES
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from capture.base.db import db

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)
EVENT_KEYS = st.fixed_dictionaries(
    {},
    optional={
        "email": st.one_of(st.just("a@firma.dk"), JSON),
        "kind": st.one_of(st.sampled_from(["phone_call", "video_view", "fax"]), JSON),
        "percent": JSON,
        "occurred_at": st.one_of(st.just("2020-01-01T00:00:00+00:00"), JSON),
        "fields": JSON,
        "context": JSON,
        "direction": JSON,
        "note": JSON,
        "partner": JSON,
    },
)
FUZZ = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture
def lead(make_form, submit):
    make_form()
    return submit("test-form", {"email": "ane@firma.dk"}).get_json()["lead"]


def _check(response):
    assert response.status_code < 500, response.get_data(as_text=True)[:300]
    if response.status_code >= 400:
        assert set(response.get_json()["error"]) <= {"code", "message", "fields"}


@FUZZ
@given(body=st.one_of(EVENT_KEYS, JSON))
def test_events_never_500(client, api_token, body):
    _check(client.post("/api/v1/events", json=body, headers=api_token("write")))


@FUZZ
@given(body=JSON, query=st.dictionaries(
    st.sampled_from(["stage", "temperature", "score_min", "score_max", "since", "limit",
                     "cursor", "form", "partner"]),
    st.text(max_size=20), max_size=4))  # fmt: skip
def test_stage_changes_forms_and_listing_never_500(client, api_token, lead, body, query):
    headers = api_token("write")
    _check(client.post(f"/api/v1/leads/{lead}/stage", json=body, headers=headers))
    _check(client.put("/api/v1/forms/fuzz/definition", json=body, headers=headers))
    _check(client.get("/api/v1/leads", query_string=query, headers=headers))


def test_nul_bytes_in_addresses_are_client_errors(client, api_token, make_form):
    make_form()
    headers = api_token("write")
    for url, status in [
        ("/api/v1/leads/lead_%00", 404),
        ("/api/v1/forms/a%00b/definition", 404),
        ("/api/v1/leads?form=%00", 422),
        ("/api/v1/forms/a%00b", 404),
    ]:
        response = client.get(url, headers=headers)
        assert response.status_code == status, url


def test_a_value_the_database_refuses_is_a_400_not_a_503(app, client):
    """PostgreSQL refuses NUL bytes in text; that is the request's fault, not an outage."""

    def echo():
        value = db.session.scalar(sa.text("SELECT CAST(:value AS TEXT)"), {"value": "a\x00b"})
        return {"value": value}

    app.add_url_rule("/api/v1/test-echo", "test_echo", echo)
    response = client.get("/api/v1/test-echo")
    if ON_POSTGRES:
        assert response.status_code == 400
        assert response.get_json()["error"]["code"] == "bad_request"
        assert client.get("/api/v1/openapi.json").status_code == 200  # session still usable
    else:
        assert response.status_code == 200

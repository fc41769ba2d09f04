"""The API refuses what it does not know (Stripe's rule): an unknown query parameter or body key
is a 400 naming it, never silently ignored; and `GET /api/v1/leads?email=` finds one lead."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from capture.base.db import db
from capture.leads.conversion import ConversionEvent
from capture.leads.lead import StageChange


@pytest.fixture
def write(api_token):
    return api_token("write")


@pytest.fixture
def leads(make_form, submit):
    make_form()
    return {
        email: submit("test-form", {"email": email}).get_json()["lead"]
        for email in ("ane@firma.dk", "bo@andet.se", "li@kunde.no")
    }


def _unknown(response, contract_error, *names):
    error = contract_error(response, 400, "bad_request")
    assert error["fields"] == {name: ["Unknown field."] for name in names}
    for name in names:
        assert name in error["message"]


def test_a_misspelt_filter_is_refused_not_ignored(client, write, leads, contract_error):
    response = client.get("/api/v1/leads?emial=ane@firma.dk", headers=write)
    _unknown(response, contract_error, "emial")
    response = client.get("/api/v1/leads?stage=mql&scoremin=5&page=2", headers=write)
    _unknown(response, contract_error, "page", "scoremin")


ROUTES_WITHOUT_PARAMETERS = [
    "/api/v1/forms",
    "/api/v1/forms/test-form/definition",
    "/api/v1/leads/{lead}",
    "/api/v1/leads/{lead}/export",
]


@pytest.mark.parametrize("path", ROUTES_WITHOUT_PARAMETERS)
def test_routes_without_parameters_refuse_any(client, write, leads, contract_error, path):
    url = path.format(lead=leads["ane@firma.dk"])
    _unknown(client.get(f"{url}?fields=email", headers=write), contract_error, "fields")
    assert client.get(url, headers=write).status_code == 200


def test_unknown_body_keys_are_refused_and_nothing_is_recorded(
    app_context, client, write, leads, contract_error
):
    event = {"email": "ane@firma.dk", "kind": "phone_call", "occured_at": "2020-01-01"}
    _unknown(client.post("/api/v1/events", json=event, headers=write), contract_error, "occured_at")
    stage = {"to": "sal", "reason": "called", "actor": "boss"}
    url = f"/api/v1/leads/{leads['ane@firma.dk']}/stage"
    _unknown(client.post(url, json=stage, headers=write), contract_error, "actor")
    # A write route with a query string it does not take: refused before anything happens.
    answer = client.delete(f"/api/v1/leads/{leads['bo@andet.se']}?hard=1", headers=write)
    _unknown(answer, contract_error, "hard")
    assert client.get(f"/api/v1/leads/{leads['bo@andet.se']}", headers=write).status_code == 200
    assert db.session.scalar(sa.select(sa.func.count(ConversionEvent.id))) == 3
    assert db.session.scalar(sa.select(sa.func.count(StageChange.id))) == 3  # lead -> mql each


def test_invalid_values_of_known_names_stay_422(client, write, leads, contract_error):
    error = contract_error(client.get("/api/v1/leads?email=not-an-address", headers=write), 422)
    assert list(error["fields"]) == ["email"]
    # Unknown names are reported first: the request cannot be what the client meant.
    response = client.get("/api/v1/leads?emial=x&score_min=abc", headers=write)
    _unknown(response, contract_error, "emial")


def test_email_filter_finds_exactly_that_lead_in_any_case(client, write, leads):
    def found(email):
        body = client.get("/api/v1/leads", query_string={"email": email}, headers=write)
        assert body.status_code == 200, body.get_json()
        return [lead["id"] for lead in body.get_json()["leads"]]

    assert found("ane@firma.dk") == [leads["ane@firma.dk"]]
    assert found("  ANE@Firma.DK ") == [leads["ane@firma.dk"]]
    assert found("ane@firma.d") == []  # exact, not "contains"
    assert found("nobody@firma.dk") == []
    assert found("") == list(leads.values())  # empty counts as absent
    body = client.get("/api/v1/leads?email=bo@andet.se&stage=mql", headers=write).get_json()
    assert [lead["email"] for lead in body["leads"]] == ["bo@andet.se"]


def test_the_document_lists_what_the_checks_accept(client, write):
    document = client.get("/api/v1/openapi.json").get_json()
    parameters = document["paths"]["/api/v1/leads"]["get"]["parameters"]
    names = {p["name"] for p in parameters}
    assert {"email", "stage", "since", "limit", "cursor", "score_min"} <= names
    schemas = document["components"]["schemas"]
    assert schemas["EventRequest"]["additionalProperties"] is False
    assert schemas["StageChangeRequest"]["required"] == ["to", "reason"]
    limit = next(p for p in parameters if p["name"] == "limit")["schema"]
    assert (limit["minimum"], limit["maximum"]) == (1, 500)

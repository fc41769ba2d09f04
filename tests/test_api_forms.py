"""Form management through the API: list, read and replace definitions."""

import pytest

FORM = {
    "name": "Contact us",
    "conversion": "contact_request",
    "language": "da",
    "fields": [
        {"name": "email", "type": "email", "required": True},
        {"name": "message", "type": "textarea"},
    ],
    "consents": [{"purpose": "processing", "required": True, "text": {"da": "Vi behandler."}}],
}


@pytest.fixture
def write(api_token):
    return api_token("write")


def test_put_creates_updates_and_is_a_no_op_when_unchanged(client, write):
    url = "/api/v1/forms/contact/definition"
    created = client.put(url, json=FORM, headers=write)
    assert created.status_code == 201
    assert created.get_json()["version"] == 1
    same = client.put(url, json=FORM, headers=write)
    assert (same.status_code, same.get_json()["outcome"]) == (200, "unchanged")
    changed = client.put(url, json=FORM | {"name": "Contact"}, headers=write)
    assert changed.get_json() | {"definition": None} == {
        "outcome": "updated",
        "version": 2,
        "definition": None,
    }
    got = client.get(url, headers=write)
    assert got.get_json()["definition"]["name"] == "Contact"
    assert got.headers["ETag"]
    listing = client.get("/api/v1/forms", headers=write).get_json()["forms"]
    assert [(f["slug"], f["version"]) for f in listing] == [("contact", 2)]
    # The public definition is served from the same data.
    assert client.get("/api/v1/forms/contact").status_code == 200


def test_bad_definitions_name_every_problem(client, write):
    url = "/api/v1/forms/contact/definition"
    response = client.put(
        url,
        json=FORM | {"conversion": "fax", "fields": [{"name": "Bad Name", "type": "hologram"}]},
        headers=write,
    )
    assert response.status_code == 422
    fields = response.get_json()["error"]["fields"]
    assert "conversion" in fields and any(key.startswith("fields[0]") for key in fields)
    mismatch = client.put(url, json=FORM | {"slug": "other"}, headers=write)
    assert mismatch.status_code == 422 and "slug" in mismatch.get_json()["error"]["fields"]
    assert client.put(url, json=[1], headers=write).status_code == 400
    assert client.get("/api/v1/forms/nope/definition", headers=write).status_code == 404


def test_text_no_database_can_store_is_refused_by_its_path(client, write):
    # A lone surrogate was a 500 (the version digest could not encode it); NUL was kept by
    # SQLite and refused by PostgreSQL. Both are the client's 422 now, and nothing is saved.
    url = "/api/v1/forms/contact/definition"
    consents = [{"purpose": "processing", "required": True, "text": {"da": "Vi \x00 behandler."}}]
    response = client.put(url, json=FORM | {"name": "Kontakt \ud800", "consents": consents},
                          headers=write)  # fmt: skip
    assert response.status_code == 422
    fields = response.get_json()["error"]["fields"]
    assert {"name", "consents[0].text.da"} <= set(fields)
    assert client.get(url, headers=write).status_code == 404
    # Tabs and line breaks are ordinary text.
    assert client.put(url, json=FORM | {"name": "Kontakt\tos\n"}, headers=write).status_code == 201

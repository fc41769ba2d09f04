"""Scoring rules and conversion kinds changed through the API at run time: versioned, checked
with the configuration file's messages, previewed, seen by every app without a restart."""

import pytest
import sqlalchemy as sa

from capture.base.db import db
from capture.leads.lead import Lead, StageChange
from capture.leads.scoring import ScoringVersion
from wsgi import create_app

TRADE_SHOW = {
    "kind": "trade_show_visit",
    "classification": "MQL",
    "points": 25,
    "label": {"da": "Messebesøg", "sv": "Mässbesök", "en": "Trade show visit"},
}


@pytest.fixture
def second_app(app, app_config):
    """A second app on the same database, built before any change, as another server process
    would be (`app` first: it makes the tables)."""
    other = create_app(app_config)
    yield other
    with other.app_context():
        db.engine.dispose()


@pytest.fixture
def write(api_token):
    return api_token("write")


def event(client, headers, email, kind):
    return client.post("/api/v1/events", json={"email": email, "kind": kind}, headers=headers)


def test_an_added_kind_is_accepted_at_once_here_and_by_another_app(
    app_context, second_app, client, write
):
    assert event(client, write, "ny@firma.dk", "trade_show_visit").status_code == 422
    other_client = second_app.test_client()
    assert event(other_client, write, "to@firma.dk", "trade_show_visit").status_code == 422

    added = client.post("/api/v1/conversion-kinds", json=TRADE_SHOW, headers=write)
    assert added.status_code == 201, added.get_json()
    assert added.get_json() | {"version": None} == {
        **TRADE_SHOW,
        "max": 1,
        "per": "1d",
        "built_in": False,
        "version": None,
    }
    # Version 1 is the configuration it replaced, version 2 the change.
    assert added.get_json()["version"] == 2

    for answer in (
        event(client, write, "ny@firma.dk", "trade_show_visit"),
        event(other_client, write, "to@firma.dk", "trade_show_visit"),
    ):
        assert answer.status_code == 201, answer.get_json()
        body = answer.get_json()
        assert body["conversion"] == {"kind": "trade_show_visit", "classification": "MQL"}
        assert body["lifecycle_stage"] == "mql"
        assert body["score"] == 25
    listed = client.get("/api/v1/conversion-kinds", headers=write).get_json()
    assert listed["version"] == 2
    assert next(k for k in listed["kinds"] if k["kind"] == "trade_show_visit")["points"] == 25
    assert len(listed["kinds"]) == 13
    versions = db.session.scalars(sa.select(ScoringVersion).order_by(ScoringVersion.id)).all()
    assert [(v.id, v.change) for v in versions] == [
        (1, "seeded from the configuration"),
        (2, "conversion kind trade_show_visit"),
    ]
    assert versions[1].via.startswith("api:test write")


def test_a_kind_can_be_remapped_and_keeps_its_cap(app_context, client, write):
    body = {"kind": "video_view", "classification": "SQL", "points": 12, "label": {"en": "Video"}}
    answer = client.post("/api/v1/conversion-kinds", json=body, headers=write)
    assert answer.status_code == 200
    assert (answer.get_json()["max"], answer.get_json()["per"]) == (3, "1d")  # the default cap
    recorded = event(client, write, "vi@firma.dk", "video_view").get_json()
    assert recorded["conversion"]["classification"] == "SQL"


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({**TRADE_SHOW, "points": "lots"}, "conversions.trade_show_visit.points",
         "must be a whole number"),
        ({**TRADE_SHOW, "classification": "HOT"}, "classification", "MQL or SQL"),
        ({**TRADE_SHOW, "kind": "Trade Show"}, "kind",
         "2-40 lower-case letters, digits and _ , starting with a letter"),
        ({**TRADE_SHOW, "label": {"da": "Messe"}}, "label.en", "is required"),
        ({**TRADE_SHOW, "max": 2, "per": "soon"}, "conversions.trade_show_visit.per",
         "a window like 30d, 1d, 12h, 15m or 2w (a whole number and m, h, d or w)"),
        ({**TRADE_SHOW, "colour": "red"}, "colour", "unknown setting"),
    ],
)  # fmt: skip
def test_a_bad_kind_gets_the_configuration_files_message(
    app_context, client, write, body, field, message
):
    answer = client.post("/api/v1/conversion-kinds", json=body, headers=write)
    assert answer.status_code == 422
    error = answer.get_json()["error"]
    assert error["code"] == "validation_failed"
    assert error["fields"][field] == [message]
    assert f"{field}: {message}" in error["message"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ScoringVersion)) == 0


def test_rules_read_previewed_and_replaced(
    app_context, client, write, api_token, make_form, submit
):
    make_form()
    for email in ("a@firma.dk", "b@firma.dk"):
        submit("test-form", {"email": email})  # newsletter: 10 points, cold
    got = client.get("/api/v1/scoring/rules", headers=api_token("read"))
    assert got.status_code == 200
    assert got.get_json()["version"] == 0 and got.get_json()["change"] == "configuration"
    rules = got.get_json()["rules"]
    assert rules["thresholds"] == {"mql": 40, "sql": 100}

    rules["temperature"] = {"warm": 5, "hot": 70}
    rules["thresholds"] = {"mql": 5, "sql": 100}
    preview = client.post("/api/v1/scoring/rules/preview", json=rules, headers=write)
    assert preview.status_code == 200
    assert preview.get_json()["effect"] == {
        "leads": 2,
        "temperature": {"changed": 2, "by_change": {"cold->warm": 2}},
        "stage": {"changed": 0, "to_mql": 0, "to_sql": 0},  # newsletter leads are MQL already
    }
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ScoringVersion)) == 0
    assert db.session.scalar(sa.select(Lead.temperature).limit(1)) == "cold"

    saved = client.put("/api/v1/scoring/rules", json=rules, headers=write)
    assert saved.status_code == 200
    assert saved.get_json()["version"] == 2
    assert saved.get_json()["effect"]["temperature"]["changed"] == 2
    assert {lead.temperature for lead in db.session.scalars(sa.select(Lead))} == {"warm"}
    # History is not rewritten: the stage changes and scores stay as they were.
    assert db.session.scalar(sa.select(sa.func.count()).select_from(StageChange)) == 2
    assert client.get("/api/v1/scoring/rules", headers=write).get_json()["rules"] == rules


def test_a_bad_rules_document_is_refused_with_every_problem(app_context, client, write, api_token):
    bad = {"thresholds": {"sql": "lots"}, "conversions": {"podcast": 5}, "colour": 1}
    for method in (client.put, client.post):
        path = "/api/v1/scoring/rules" + ("/preview" if method == client.post else "")
        answer = method(path, json=bad, headers=write)
        assert answer.status_code == 422
        fields = answer.get_json()["error"]["fields"]
        assert fields == {
            "colour": ["unknown setting"],
            "conversions.podcast": ["unknown conversion kind"],
            "thresholds.sql": ["must be a whole number"],
            "thresholds": ["mql must not be above sql"],  # the file's parser counts it as 0
        }
    assert client.put("/api/v1/scoring/rules", json=[1], headers=write).status_code == 400
    read_only = client.put("/api/v1/scoring/rules", json={}, headers=api_token("read"))
    assert read_only.status_code == 403
    assert client.get("/api/v1/conversion-kinds").status_code == 401


def test_a_form_may_convert_as_an_added_kind(app_context, client, write, submit):
    form = {
        "name": "Trade show tablet",
        "conversion": "trade_show_visit",
        "fields": [{"name": "email", "type": "email", "required": True}],
        "consents": [{"purpose": "processing", "required": True, "text": {"en": "We process it."}}],
    }
    path = "/api/v1/forms/messe/definition"
    refused = client.put(path, json=form, headers=write)
    assert refused.status_code == 422
    assert (
        "unknown conversion kind 'trade_show_visit'"
        in refused.get_json()["error"]["fields"]["conversion"][0]
    )
    assert (
        client.post("/api/v1/conversion-kinds", json=TRADE_SHOW, headers=write).status_code == 201
    )
    assert client.put(path, json=form, headers=write).status_code == 201
    answer = submit("messe", {"email": "messe@firma.dk"})
    assert answer.status_code == 201, answer.get_json()
    assert answer.get_json()["conversion"] == {"kind": "trade_show_visit", "classification": "MQL"}
    lead = db.session.scalar(sa.select(Lead))
    assert (lead.lifecycle_stage, lead.score) == ("mql", 25)

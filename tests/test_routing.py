"""Owners and routing: a new SQL gets an owner by the first matching rule (or a team's round
robin), only the owner is e-mailed, and the owner shows in the API, webhooks, exports and the
back office. Real SMTP (aiosmtpd) and a real webhook receiver, delivered by the outbox worker.
"""

from __future__ import annotations

import csv
import io
import json
import re
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
import sqlalchemy as sa
from helpers import ON_POSTGRES, STAFF_PASSWORD, csrf_token_in, log_in

from capture.accounts import Role, User, create_user
from capture.base.db import db
from capture.delivery.webhooks.endpoint import create_endpoint
from capture.leads.lead import Lead
from capture.ops.worker import drain
from capture.routing import OwnerChange, SalesTeam, parse, replace

SVEN = "sven@saljare.se"
DORTHE = "dorthe@saelger.dk"
OTHER = "olle@saljare.se"


@pytest.fixture
def app_config(app_config, smtp_server):
    return {**app_config, "WEBHOOK_ALLOW_PRIVATE_TARGETS": True, "MAIL_URL": smtp_server.url}


@pytest.fixture
def reps(app_context):
    """Three sales users and an admin; returns {email: public id}."""
    users = {
        email: create_user(email, Role.SALES, STAFF_PASSWORD) for email in (SVEN, DORTHE, OTHER)
    }
    create_user("boss@firma.dk", Role.ADMIN, STAFF_PASSWORD)
    db.session.commit()
    return {email: user.public_id for email, user in users.items()}


@pytest.fixture
def contact(make_form):
    return make_form(
        slug="contact",
        conversion="contact_request",
        fields=[
            {"name": "email", "type": "email", "required": True},
            {"name": "country", "type": "country"},
            {"name": "company_size", "type": "select", "options": ["1-10", "201+"]},
        ],
    )


def put_rules(client, headers, document):
    return client.put("/api/v1/routing/rules", json=document, headers=headers)


COUNTRY_RULES = {
    "teams": [{"slug": "nordics", "name": "Nordics", "members": [DORTHE, OTHER]}],
    "rules": [
        {"when": {"country": ["SE"]}, "owner": SVEN},
        {"when": {"country": ["dk"]}, "owner": DORTHE},
    ],
    "fallback_team": "nordics",
}


def recipients(smtp_server) -> list[str]:
    return sorted(m["To"] for m in smtp_server.messages)


def lead_of(email: str) -> Lead:
    db.session.expire_all()
    return db.session.scalar(sa.select(Lead).where(Lead.email == email))


def test_a_swedish_sql_goes_to_the_swedish_rep_only(
    app_context, client, reps, contact, submit, smtp_server, receiver, api_token
):
    headers = api_token("write")
    secret = create_endpoint(receiver.url).secret
    db.session.commit()
    saved = put_rules(client, headers, COUNTRY_RULES)
    assert saved.status_code == 200, saved.get_json()
    assert saved.get_json()["rules"][1]["when"] == {"country": ["DK"]}

    answer = submit("contact", {"email": "anna@foretag.se", "country": "SE"})
    assert answer.status_code == 201 and answer.get_json()["lifecycle_stage"] == "sql"
    drain()

    assert recipients(smtp_server) == [SVEN]  # the SQL hand-off, to the owner alone
    assert "anna@foretag.se" in smtp_server.messages[0].get_body().get_content()
    events = {event["type"]: event["data"] for _, event in receiver.delivered(secret)}
    owner = {"id": reps[SVEN], "email": SVEN}
    assert events["lead.stage_changed"]["lead"]["owner"] == owner
    assert events["conversion.recorded"]["lead"]["owner"] == owner
    routed = events["lead.owner_changed"]
    assert (routed["from"], routed["to"], routed["actor"]) == (None, SVEN, "routing")
    assert routed["lead"]["owner"] == owner

    lead_id = answer.get_json()["lead"]
    assert client.get(f"/api/v1/leads/{lead_id}", headers=headers).get_json()["owner"] == owner
    mine = client.get(f"/api/v1/leads?owner={reps[SVEN]}", headers=headers).get_json()
    assert [lead["id"] for lead in mine["leads"]] == [lead_id]
    assert (
        client.get(f"/api/v1/leads?owner={reps[DORTHE]}", headers=headers).get_json()["leads"] == []
    )
    assert client.get("/api/v1/leads?owner=none", headers=headers).get_json()["leads"] == []

    (change,) = db.session.scalars(sa.select(OwnerChange))
    assert (change.to_email, change.actor) == (SVEN, "routing")
    assert "country SE" in change.reason


def test_the_danish_rule_and_the_fallback_team_round_robin(
    app_context, client, reps, contact, submit, smtp_server, api_token
):
    assert put_rules(client, api_token("write"), COUNTRY_RULES).status_code == 200
    submit("contact", {"email": "ane@firma.dk", "country": "DK"})
    for n in range(4):  # no rule matches Norway: the fallback team, in turn
        submit("contact", {"email": f"kari{n}@firma.no", "country": "NO"})
    drain()
    assert lead_of("ane@firma.dk").owner_email == DORTHE
    owners = [lead_of(f"kari{n}@firma.no").owner_email for n in range(4)]
    assert owners == [DORTHE, OTHER, DORTHE, OTHER]
    assert recipients(smtp_server) == sorted([DORTHE, DORTHE, OTHER, DORTHE, OTHER])


def test_without_rules_every_sales_user_hears_of_an_sql(
    app_context, reps, contact, submit, smtp_server
):
    submit("contact", {"email": "ane@firma.dk", "country": "DK"})
    drain()
    assert recipients(smtp_server) == sorted([SVEN, DORTHE, OTHER])
    assert lead_of("ane@firma.dk").owner_id is None


def test_an_mql_gets_no_owner_and_no_notice(
    app_context, client, reps, make_form, submit, smtp_server, api_token
):
    make_form(slug="news", fields=[{"name": "email", "type": "email", "required": True}])
    put_rules(client, api_token("write"), {"rules": [{"when": {}, "owner": SVEN}]})
    submit("news", {"email": "ane@firma.dk"})
    drain()
    assert lead_of("ane@firma.dk").owner_id is None
    assert smtp_server.messages == []


def test_rules_are_checked_with_clear_messages(
    app_context, client, reps, contact, api_token, contract_error
):
    headers = api_token("write")
    document = {
        "teams": [{"slug": "Bad Slug", "name": "x", "members": ["boss@firma.dk"]}],
        "rules": [
            {"when": {"country": ["Sweden"], "form": ["nope"]}, "owner": "nobody@x.se"},
            {"when": {}, "owner": SVEN, "team": "nordics"},
        ],
        "fallback_team": "ghosts",
    }
    error = contract_error(put_rules(client, headers, document), 422, "validation_failed")
    fields = error["fields"]
    assert fields["teams.0.slug"] and fields["teams.0.members.0"] == [
        "boss@firma.dk is not a sales user."
    ]
    assert fields["rules.0.owner"] == ["There is no user nobody@x.se."]
    assert fields["rules.0.when.country"] and fields["rules.0.when.form"]
    assert fields["rules.1"] == ["Name either an owner or a team."]
    assert fields["fallback_team"] == ["There is no team ghosts."]
    unknown = put_rules(client, headers, {"rules": [{"when": {"city": ["Malmö"]}, "owner": SVEN}]})
    assert contract_error(unknown, 422)["fields"]
    assert contract_error(put_rules(client, api_token("read"), COUNTRY_RULES), 403, "forbidden")
    assert client.get("/api/v1/routing/rules", headers=headers).get_json() == {
        "teams": [],
        "rules": [],
        "fallback_team": None,
    }
    bad = client.get("/api/v1/leads?owner=me", headers=headers)
    assert "owner" in contract_error(bad, 422)["fields"]


def test_admin_edits_routing_and_reassigns_and_sales_see_their_own_first(
    app, app_context, reps, contact, submit, smtp_server
):
    admin = app.test_client()
    assert log_in(admin, "boss@firma.dk").status_code == 303
    page = admin.get("/admin/routing/")
    assert page.status_code == 200
    token = csrf_token_in(page.get_data(as_text=True))
    refused = admin.post(
        "/admin/routing/", data={"csrf_token": token, "document": "rules:\n- owner: x@y.se\n"}
    )
    assert refused.status_code == 422
    assert "There is no user x@y.se." in refused.get_data(as_text=True)
    assert admin.post("/admin/routing/", data={"document": "rules: []"}).status_code == 400
    saved = admin.post(
        "/admin/routing/",
        data={
            "csrf_token": token,
            "document": f"rules:\n- when: {{country: [SE]}}\n  owner: {SVEN}\n",
        },
    )
    assert saved.status_code == 303

    submit("contact", {"email": "anna@foretag.se", "country": "SE"})
    submit("contact", {"email": "ane@firma.dk", "country": "DK"})  # nobody's
    lead = lead_of("anna@foretag.se")
    assert lead.owner_email == SVEN

    sven = app.test_client()
    assert log_in(sven, SVEN).status_code == 303
    listing = sven.get("/admin/leads/").get_data(as_text=True)
    assert "anna@foretag.se" in listing and "ane@firma.dk" not in listing
    everyone = sven.get("/admin/leads/?owner=any").get_data(as_text=True)
    assert "ane@firma.dk" in everyone
    assert sven.get("/admin/leads/?owner=usr_nobody").status_code == 400

    shown = admin.get(f"/admin/leads/{lead.public_id}").get_data(as_text=True)
    token = csrf_token_in(shown)
    reassigned = admin.post(
        f"/admin/ownership/{lead.public_id}",
        data={"csrf_token": token, "owner": reps[DORTHE]},
    )
    assert reassigned.status_code == 303
    assert lead_of("anna@foretag.se").owner_email == DORTHE
    timeline = admin.get(f"/admin/leads/{lead.public_id}").get_data(as_text=True)
    assert re.search(r"Owner sven@saljare\.se → dorthe@saelger\.dk", timeline)
    assert "user:boss@firma.dk" in timeline
    assert admin.post(f"/admin/ownership/{lead.public_id}", data={"owner": ""}).status_code == 400
    own_token = csrf_token_in(sven.get(f"/admin/leads/{lead.public_id}").get_data(as_text=True))
    assert (
        sven.post(
            f"/admin/ownership/{lead.public_id}", data={"csrf_token": own_token, "owner": ""}
        ).status_code
        == 403
    )


def test_the_owner_is_a_column_of_the_exports(app, app_context, reps, contact, submit, staff):
    submit("contact", {"email": "anna@foretag.se", "country": "SE"})
    lead = lead_of("anna@foretag.se")
    lead.owner = db.session.scalar(sa.select(User).where(User.email == SVEN))
    db.session.commit()
    submit("contact", {"email": "ane@firma.dk"})
    marketer = staff("marketer")
    text = marketer.get("/admin/exports/leads.csv?owner=any").get_data(as_text=True)
    rows = {row["email"]: row for row in csv.DictReader(io.StringIO(text))}
    assert rows["anna@foretag.se"]["owner"] == SVEN
    assert rows["ane@firma.dk"]["owner"] == ""
    lines = marketer.get("/admin/exports/leads.jsonl").get_data(as_text=True).splitlines()
    owners = {json.loads(line)["email"]: json.loads(line)["owner"] for line in lines}
    assert owners == {"anna@foretag.se": {"id": reps[SVEN], "email": SVEN}, "ane@firma.dk": None}


@pytest.mark.postgres
@pytest.mark.skipif(not ON_POSTGRES, reason="SQLite writes one at a time: set TEST_DATABASE_URL")
def test_round_robin_is_fair_when_sqls_arrive_at_once(app_context, live_server, reps, contact):
    """30 SQLs racing over real HTTP to a team of three: each member gets exactly ten (the
    team's turn is taken by one atomic UPDATE, so no two leads share a turn)."""
    replace(
        parse(
            {
                "teams": [{"slug": "all", "name": "All", "members": [SVEN, DORTHE, OTHER]}],
                "fallback_team": "all",
            }
        )
    )
    db.session.commit()
    url = f"{live_server.url}/api/v1/forms/contact/submissions"
    token = requests.get(f"{live_server.url}/api/v1/forms/contact", timeout=30).json()["token"]
    count = 30
    barrier = threading.Barrier(count)

    def send(i: int) -> int:
        body = {"fields": {"email": f"p{i}@firma.no"}, "consents": {"processing": True}}
        barrier.wait(timeout=30)
        return requests.post(url, json={**body, "token": token}, timeout=60).status_code

    with ThreadPoolExecutor(max_workers=count) as pool:
        statuses = list(pool.map(send, range(count)))
    assert statuses == [201] * count
    db.session.expire_all()
    owners = Counter(lead.owner_email for lead in db.session.scalars(sa.select(Lead)))
    assert owners == {SVEN: 10, DORTHE: 10, OTHER: 10}
    assert db.session.scalar(sa.select(SalesTeam.turns)) == count


def test_the_demo_routes_a_swedish_contact_to_the_swedish_rep(
    app_context, runner, submit, smtp_server
):
    result = runner.invoke(args=["demo"])
    assert result.exit_code == 0, result.output
    assert "sales login (SE): sven.saljare@example.com" in result.output
    fields = {"email": "karin@foretag.se", "first_name": "Karin", "company": "Företag AB"}
    assert submit("contact", {**fields, "country": "SE"}).status_code == 201
    assert (
        submit("contact", {**fields, "email": "mads@firma.dk", "country": "DK"}).status_code == 201
    )
    drain()
    assert lead_of("karin@foretag.se").owner_email == "sven.saljare@example.com"
    assert lead_of("mads@firma.dk").owner_email == "dorthe.saelger@example.com"
    assert recipients(smtp_server) == ["dorthe.saelger@example.com", "sven.saljare@example.com"]


def test_erasure_blanks_the_routing_reason_and_keeps_the_owner(
    app_context, client, reps, contact, submit, api_token
):
    headers = api_token("write")
    put_rules(client, headers, COUNTRY_RULES)
    lead_id = submit("contact", {"email": "anna@foretag.se", "country": "SE"}).get_json()["lead"]
    exported = client.get(f"/api/v1/leads/{lead_id}/export", headers=headers).get_json()
    assert exported["owner_changes"][0]["to"] == SVEN
    assert client.delete(f"/api/v1/leads/{lead_id}", headers=headers).status_code == 200
    db.session.expire_all()
    (change,) = db.session.scalars(sa.select(OwnerChange))
    assert change.reason == "[erased]" and change.to_email == SVEN

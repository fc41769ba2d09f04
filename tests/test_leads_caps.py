"""Caps on scoring rules: at most `max` scored occurrences per `per` window; repeats beyond it
are on the timeline with 0 points and the reason, so a burst of one rule never makes an SQL."""

from __future__ import annotations

import html
import json
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
import yaml

from capture.accounts import Role, create_user
from capture.base.db import db, utcnow
from capture.delivery.outbox import OutboxMessage
from capture.leads.lead import Lead, StageChange
from capture.leads.scoring import (
    DEFAULTS,
    ScoreChange,
    ScoringRulesError,
    load_rules,
    parse_rules,
    score_activity,
)

RULES = parse_rules()


def history(lead: Lead) -> list[tuple[str, int, int, str | None]]:
    rows = db.session.scalars(
        sa.select(ScoreChange).where(ScoreChange.lead_id == lead.id).order_by(ScoreChange.id)
    )
    return [(r.rule, r.before, r.after, r.reason) for r in rows]


def lead_by(email: str) -> Lead:
    db.session.expire_all()
    found = db.session.scalar(sa.select(Lead).where(Lead.email == email))
    assert found is not None
    return found


def handoffs() -> list[OutboxMessage]:
    db.session.expire_all()
    rows = db.session.scalars(sa.select(OutboxMessage))
    return [row for row in rows if row.payload.get("template") == "sql_handoff"]


# Pure rules.


def test_no_burst_of_one_default_rule_can_make_an_sql():
    """A rule's most points in one window, on top of every positive fit rule, stay below the
    SQL threshold: repeats alone never hand a lead to sales."""
    best_fit = sum(rule.points for rule in RULES.fit if rule.points > 0)
    for label, points_by_name in (
        ("conversion", RULES.conversions),
        ("activity", RULES.activities),
    ):
        for name, points in points_by_name.items():
            cap = RULES.caps.get(f"{label}: {name}")
            assert cap is not None, f"{label} {name} has no cap"
            assert points * cap.max + best_fit < RULES.sql_threshold, name
    newsletter = RULES.caps["conversion: newsletter_signup"]
    assert (newsletter.max, newsletter.per) == (1, timedelta(days=30))
    page_views = RULES.caps["activity: page_view"]
    assert (page_views.max, page_views.per) == (10, timedelta(days=1))


def test_the_reason_says_the_cap_in_words():
    assert RULES.caps["conversion: newsletter_signup"].reason("newsletter_signup") == (
        "newsletter_signup: at most 1 per 30 days"
    )
    assert RULES.caps["activity: page_view"].reason("page_view") == (
        "page_view: at most 10 per day"
    )
    rules = parse_rules({"activities": {"email_open": {"max": 3, "per": "12h"}}})
    assert rules.caps["activity: email_open"].reason("email_open") == (
        "email_open: at most 3 per 12 hours"
    )


def test_a_bare_number_changes_the_points_and_keeps_the_cap():
    rules = parse_rules({"conversions": {"newsletter_signup": 15}, "activities": {"tour": 5}})
    assert rules.conversions["newsletter_signup"] == 15
    assert (
        rules.caps["conversion: newsletter_signup"] == RULES.caps["conversion: newsletter_signup"]
    )
    # A rule of one's own without max and per has no cap.
    assert rules.activities["tour"] == 5 and "activity: tour" not in rules.caps


def test_max_null_lifts_a_cap_and_windows_take_minutes_to_weeks():
    rules = parse_rules(
        {
            "conversions": {"newsletter_signup": {"max": None}},
            "activities": {
                "page_view": {"max": 20, "per": "15m"},
                "blog_view": {"points": 3, "max": 2, "per": "2w"},
            },
        }
    )
    assert "conversion: newsletter_signup" not in rules.caps
    assert rules.caps["activity: page_view"].per == timedelta(minutes=15)
    assert rules.caps["activity: blog_view"].per == timedelta(weeks=2)
    assert rules.activities["blog_view"] == 3


def test_bad_caps_list_every_problem():
    with pytest.raises(ScoringRulesError) as error:
        parse_rules(
            {
                "conversions": {
                    "newsletter_signup": {"max": 0},
                    "demo_request": {"max": "twice", "per": "1d"},
                    "phone_call": {"max": 2, "per": None},
                },
                "activities": {
                    "page_view": {"max": 5, "per": "30 days"},
                    "blog_view": {"max": 5, "per": "1d", "colour": "red"},
                    "tour": {"max": 1, "per": "1h"},
                },
            }
        )
    assert set(error.value.problems) == {
        "conversions.newsletter_signup.max: must be 1 or more (null for no cap)",
        "conversions.demo_request.max: must be a whole number",
        "conversions.phone_call.per: required with max: a window like 30d, 1d, 12h or 15m",
        "activities.page_view.per: a window like 30d, 1d, 12h, 15m or 2w "
        "(a whole number and m, h, d or w)",
        "activities.blog_view.colour: unknown setting",
        "activities.tour.points: must be a whole number",
    }


def test_caps_from_a_yaml_file_and_back_in_the_printed_document(tmp_path):
    path = tmp_path / "scoring.yaml"
    path.write_text("activities:\n  page_view: {points: 4, max: 8, per: 1d}\n")
    rules = load_rules(str(path))
    assert rules.activities["page_view"] == 4 and rules.caps["activity: page_view"].max == 8
    assert rules.document["activities"]["page_view"] == {"points": 4, "max": 8, "per": "1d"}
    assert (
        rules.document["conversions"]["newsletter_signup"]
        == DEFAULTS["conversions"]["newsletter_signup"]
    )
    assert parse_rules(rules.document) == rules


# On the database.


def test_ten_signups_in_a_second_leave_an_mql_with_nine_zero_point_repeats(
    app_context, app, demo_forms, submit, staff
):
    """The issue's case: the demo's newsletter form, one address, ten signups at once. Before
    caps this reached score 100, the SQL threshold, and e-mailed sales."""
    create_user("sales@firma.dk", Role.SALES, "correct horse battery staple")
    db.session.commit()
    started = utcnow()
    for i in range(10):
        answer = submit("newsletter", {"email": "ane@firma.dk", "first_name": f"Ane {i}"})
        assert answer.status_code == 201
        assert answer.get_json()["lifecycle_stage"] == "mql"
    assert utcnow() - started < timedelta(seconds=5)
    ane = lead_by("ane@firma.dk")
    assert (ane.lifecycle_stage, ane.score) == ("mql", 10)
    reason = "newsletter_signup: at most 1 per 30 days"
    assert (
        history(ane)
        == [("conversion: newsletter_signup", 0, 10, None)]
        + [("conversion: newsletter_signup", 10, 10, reason)] * 9
    )
    stages = db.session.scalars(sa.select(StageChange).where(StageChange.lead_id == ane.id))
    assert [(s.from_stage, s.to_stage) for s in stages] == [("lead", "mql")]
    assert handoffs() == []
    # On the lead's timeline in the back office: the repeats, with 0 points and why.
    page = staff("sales").get(f"/admin/leads/{ane.public_id}").get_data(as_text=True)
    assert page.count("Score 10 → 10") == 9
    assert html.unescape(page).count(reason) == 9
    assert len(re.findall(r"<dt>Points</dt><dd>0</dd>", page)) == 9


def test_after_the_window_the_rule_scores_again(app_context, demo_forms, submit):
    submit("newsletter", {"email": "bo@firma.dk"})
    submit("newsletter", {"email": "bo@firma.dk"})
    bo = lead_by("bo@firma.dk")
    assert bo.score == 10
    # The scored signup is 31 days old now: the window has room again.
    db.session.execute(
        sa.update(ScoreChange)
        .where(ScoreChange.lead_id == bo.id)
        .values(created_at=utcnow() - timedelta(days=31))
    )
    db.session.commit()
    submit("newsletter", {"email": "bo@firma.dk"})
    bo = lead_by("bo@firma.dk")
    assert history(bo)[-1][:2] == ("conversion: newsletter_signup", bo.score - 10)
    assert history(bo)[-1][3] is None


def test_a_capped_repeat_still_updates_the_fit(app_context, make_form, submit):
    make_form(fields=[{"name": "email", "type": "email"}, {"name": "job_title", "type": "text"}])
    submit("test-form", {"email": "cy@firma.dk"})
    submit("test-form", {"email": "cy@firma.dk", "job_title": "CEO"})
    cy = lead_by("cy@firma.dk")
    assert cy.score == 25  # 10 once, and the fit of the new title
    assert [row[0] for row in history(cy)][-2:] == [
        "fit: senior title",
        "conversion: newsletter_signup",
    ]
    assert history(cy)[-1][1:3] == (25, 25)


def test_activities_are_capped_per_rule(app_context, app, make_form, submit):
    make_form()
    submit("test-form", {"email": "dan@firma.dk"})
    dan = lead_by("dan@firma.dk")
    for i in range(12):
        score_activity(dan, "page_view", event=f"page /pricing-{i}")
        db.session.commit()
    dan = lead_by("dan@firma.dk")
    assert dan.score == 10 + 10 * 5
    views = [row for row in history(dan) if row[0] == "activity: page_view"]
    assert [row[3] for row in views] == [None] * 10 + ["page_view: at most 10 per day"] * 2
    # Another rule has its own count.
    score_activity(dan, "blog_view", event="page /blog")
    db.session.commit()
    assert lead_by("dan@firma.dk").score == 65


@pytest.mark.app_config(
    SCORING_RULES=json.dumps({"conversions": {"demo_request": {"max": 1, "per": "1h"}}})
)
def test_offline_conversions_through_the_api_are_capped_too(app_context, api_token, client):
    headers = api_token("write")
    body = {"email": "eva@firma.dk", "kind": "demo_request"}
    first = client.post("/api/v1/events", json=body, headers=headers)
    second = client.post("/api/v1/events", json=body, headers=headers)
    assert (first.status_code, second.status_code) == (201, 201)
    assert (first.get_json()["score"], second.get_json()["score"]) == (40, 40)
    assert history(lead_by("eva@firma.dk"))[-1][3] == "demo_request: at most 1 per hour"


def test_the_settings_page_and_the_cli_show_the_caps(staff, runner):
    page = staff("admin").get("/admin/settings/").get_data(as_text=True)
    shown = html.unescape(
        re.search(r'<pre class="code" id="scoring-rules">(.*?)</pre>', page, re.S)[1]
    )
    document = yaml.safe_load(shown)
    assert document["conversions"]["newsletter_signup"] == {"points": 10, "max": 1, "per": "30d"}
    assert document["activities"]["page_view"] == {"points": 5, "max": 10, "per": "1d"}
    printed = runner.invoke(args=["scoring", "rules"])
    assert printed.exit_code == 0 and yaml.safe_load(printed.output) == document

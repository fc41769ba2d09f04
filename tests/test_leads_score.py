"""Scoring on the database: points on submission, history rows, thresholds, BANT, decay."""

import dataclasses
import json
from datetime import timedelta

import pytest
import sqlalchemy as sa

from capture.base.db import db, utcnow
from capture.base.lifecycle import Stage
from capture.leads.lead import Lead, StageChange, move_stage
from capture.leads.scoring import ScoreChange, decay_all, score_activity

BANT = [
    {"name": n, "type": "text"} for n in ("job_title", "budget", "authority", "need", "timeline")
]


@pytest.fixture
def app_config(app_config):
    rules = {
        "thresholds": {"mql": 5, "sql": 25},
        "temperature": {"warm": 15, "hot": 28},
        "decay": {"half_life_days": 30},
        # Repeats score here in full: caps have their own tests (test_leads_caps.py).
        "conversions": {"newsletter_signup": {"max": None}, "demo_request": {"max": None}},
    }
    return app_config | {"SCORING_RULES": json.dumps(rules)}


def lead_by(email):
    return db.session.scalar(sa.select(Lead).where(Lead.email == email))


def history(lead):
    return list(
        db.session.scalars(
            sa.select(ScoreChange).where(ScoreChange.lead_id == lead.id).order_by(ScoreChange.id)
        )
    )


def stages(lead):
    return [
        (c.from_stage, c.to_stage, c.reason, c.actor)
        for c in db.session.scalars(
            sa.select(StageChange).where(StageChange.lead_id == lead.id).order_by(StageChange.id)
        )
    ]


def test_a_submission_scores_and_records_why(app_context, make_form, submit):
    make_form(fields=[{"name": "email", "type": "email", "required": True}, *BANT])
    response = submit("test-form", {"email": "ane@firma.dk", "job_title": "CEO"})
    assert response.status_code == 201
    lead = lead_by("ane@firma.dk")
    # newsletter_signup 10 + fit "senior title" 15
    assert (lead.score, lead.fit_score, round(lead.engagement_score)) == (25, 15, 10)
    rows = history(lead)
    assert [(r.rule, r.before, r.after) for r in rows] == [
        ("fit: senior title", 0, 15),
        ("conversion: newsletter_signup", 15, 25),
    ]
    assert all(r.event.startswith("conversion conv_") for r in rows)
    assert lead.temperature == "warm"
    # 25 reaches the SQL threshold: forward, with the reason, and the answer says so.
    assert lead.lifecycle_stage == "sql"
    assert response.get_json()["lifecycle_stage"] == "sql"
    reasons = [reason for _f, _t, reason, _a in stages(lead)]
    assert any("reached the SQL threshold 25" in r for r in reasons)


def test_thresholds_never_move_a_lead_back_or_out_of_disqualified(app_context, make_form, submit):
    make_form()
    submit("test-form", {"email": "bo@firma.dk"})
    lead = lead_by("bo@firma.dk")
    move_stage(lead, Stage.CUSTOMER, reason="signed", actor="test")
    db.session.commit()
    other = submit("test-form", {"email": "cy@firma.dk"}) and lead_by("cy@firma.dk")
    move_stage(other, Stage.DISQUALIFIED, reason="competitor", actor="test")
    db.session.commit()
    for _ in range(3):
        assert submit("test-form", {"email": "bo@firma.dk"}).status_code == 201
        assert submit("test-form", {"email": "cy@firma.dk"}).status_code == 201
    db.session.expire_all()
    assert lead_by("bo@firma.dk").lifecycle_stage == "customer"
    assert lead_by("cy@firma.dk").lifecycle_stage == "disqualified"
    assert lead_by("cy@firma.dk").score >= 25  # scored, but not moved


def test_bant_rule_makes_an_sql_whatever_the_score(app_context, app, make_form, submit):
    held = app.extensions["leadgate.scoring"]  # the configuration's rules, nothing saved
    rules = dataclasses.replace(held.seed.rules, sql_threshold=1000)
    held.seed = held.current = dataclasses.replace(held.seed, rules=rules)
    make_form(fields=[{"name": "email", "type": "email", "required": True}, *BANT])
    answers = {"budget": "50k", "authority": "me", "need": "yes", "timeline": "Q1"}
    submit("test-form", {"email": "dan@firma.dk", **answers})
    submit("test-form", {"email": "eva@firma.dk", **answers, "timeline": "ved ikke"})
    dan, eva = lead_by("dan@firma.dk"), lead_by("eva@firma.dk")
    assert dan.lifecycle_stage == "sql"
    assert any("BANT rule met" in reason for _f, _t, reason, _a in stages(dan))
    assert eva.lifecycle_stage == "mql"


def test_activities_from_other_packages_score(app_context, make_form, submit):
    make_form()
    submit("test-form", {"email": "fia@firma.dk"})
    lead = lead_by("fia@firma.dk")
    scored = score_activity(lead, "download", event="magnet lead-scoring-guide")
    db.session.commit()
    assert lead.score == 20
    assert scored.score_changes[0].rule == "activity: download"


def _age(emails, days):
    then = utcnow() - timedelta(days=days)
    db.session.execute(sa.update(Lead).where(Lead.email.in_(emails)).values(engagement_at=then))
    db.session.commit()


def test_decay_is_one_set_based_update(app_context, app, make_form, submit):
    make_form()
    emails = [f"p{i}@firma.dk" for i in range(12)]
    for email in emails:
        submit("test-form", {"email": email})
    _age(emails[:10], 30)  # one half-life: 10 -> 5
    statements = []

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement.split()[0].upper())

    sa.event.listen(db.engine, "before_cursor_execute", record)
    try:
        changed = decay_all()
        db.session.commit()
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", record)
    assert changed == 10
    if db.engine.dialect.name == "postgresql":
        # One statement: WITH (the new values) UPDATE ... RETURNING, INSERT the history from
        # it, count; besides it the rules version check and the transaction's work_mem.
        assert statements.count("WITH") == 1
        assert len([s for s in statements if s in {"SELECT", "UPDATE", "INSERT", "WITH"}]) <= 3
    else:
        # One INSERT ... SELECT for the history, one UPDATE for the scores: no per-lead
        # statements. The SELECTs: the count, and the rules version check (one max(id)).
        assert statements.count("UPDATE") == 1
        assert statements.count("INSERT") == 1
        assert len([s for s in statements if s in {"SELECT", "UPDATE", "INSERT"}]) <= 4
    db.session.expire_all()
    decayed_lead, fresh = lead_by(emails[0]), lead_by(emails[-1])
    assert decayed_lead.score == 5 and fresh.score == 10
    assert abs(decayed_lead.engagement_score - 5) < 0.01
    last = history(decayed_lead)[-1]
    assert (last.rule, last.before, last.after) == ("decay", 10, 5)
    assert decayed_lead.lifecycle_stage == "mql"  # decay never demotes
    # Running again at once changes nothing more.
    assert decay_all() == 0


def test_decay_updates_temperature_and_new_points_land_on_the_decayed_value(
    app_context, make_form, submit
):
    make_form(conversion="demo_request")
    submit("test-form", {"email": "gry@firma.dk"})  # 40 points: hot, sql
    lead = lead_by("gry@firma.dk")
    assert (lead.score, lead.temperature) == (40, "hot")
    _age(["gry@firma.dk"], 60)  # two half-lives: 40 -> 10
    submit("test-form", {"email": "gry@firma.dk"})  # catch-up decay, then +40
    db.session.expire_all()
    lead = lead_by("gry@firma.dk")
    assert lead.score == 50
    rules = [(r.rule, r.before, r.after) for r in history(lead)]
    assert ("decay", 40, 10) in rules
    _age(["gry@firma.dk"], 90)
    decay_all()
    db.session.commit()
    db.session.expire_all()
    lead = lead_by("gry@firma.dk")
    assert (lead.score, lead.temperature) == (6, "cold")
    assert lead.lifecycle_stage == "sql"


def test_decay_command(app_context, runner, make_form, submit):
    make_form()
    submit("test-form", {"email": "hal@firma.dk"})
    _age(["hal@firma.dk"], 30)
    result = runner.invoke(args=["scoring", "decay"])
    assert result.exit_code == 0, result.output
    assert "decayed scores of 1 leads" in result.output
    db.session.expire_all()
    assert lead_by("hal@firma.dk").score == 5


def test_decay_leaves_unmoved_scores_alone_and_they_decay_the_same_later(
    app_context, make_form, submit
):
    """A pass writes only leads whose rounded score (or band) moves; a lead skipped keeps its
    own `engagement_at`, so a later pass gets the same value as if every pass had written it."""
    make_form()
    for email in ("a@firma.dk", "b@firma.dk"):
        submit("test-form", {"email": email})
    _age(["a@firma.dk", "b@firma.dk"], 1)  # 10 -> 9.77: still rounds to 10
    skipped_since = lead_by("a@firma.dk").engagement_at
    start = utcnow()
    assert decay_all(start) == 0
    db.session.commit()
    db.session.expire_all()
    assert lead_by("a@firma.dk").engagement_at == skipped_since  # not rewritten
    later = start + timedelta(days=29)
    assert decay_all(later) == 2
    db.session.commit()
    db.session.expire_all()
    lead = lead_by("a@firma.dk")
    # 30 days in all from the submission: one half-life, whatever passes ran between.
    assert abs(lead.engagement_score - 5) < 0.01 and lead.score == 5
    assert lead.engagement_at == later


def test_a_deleted_lead_takes_its_score_history_along(app_context):
    """score_changes has no foreign key (the decay's cost); on PostgreSQL a statement trigger
    on leads does what its ON DELETE CASCADE did. Leadgate deletes no lead itself: this is a
    person's DELETE in psql."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip(
            "the trigger is PostgreSQL's (SQLite never enforced the key); set TEST_DATABASE_URL"
        )
    kept = Lead(public_id="lead_kept", email="kept@firma.dk")
    gone = [Lead(public_id=f"lead_gone{i}", email=f"gone{i}@firma.dk") for i in range(2)]
    db.session.add_all([kept, *gone])
    db.session.flush()
    for lead in (kept, *gone):
        db.session.add(ScoreChange(lead_id=lead.id, rule="r", event="e", before=0, after=5))
    db.session.commit()
    ids = [lead.id for lead in gone]
    db.session.execute(sa.text("DELETE FROM leads WHERE id = ANY(:ids)"), {"ids": ids})
    db.session.commit()
    left = db.session.scalars(sa.select(ScoreChange.lead_id)).all()
    assert left == [kept.id]

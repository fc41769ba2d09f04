"""Retention: `leadgate privacy purge --dry-run` lists what the settings would remove, the real
run removes exactly that through the privacy map's erasure, and anonymous counts stay.

Rows are aged by moving their timestamps back, as if the clock had run on."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from flask import Flask

from capture.base.db import db, utcnow
from capture.extension_points import scheduled_tasks
from capture.leads.lead import Lead
from capture.leads.privacy import Suppression
from capture.ops.worker import run_scheduled
from capture.submissions.submission import Submission


def age(model: Any, days: int, *where: Any, column: str = "created_at") -> None:
    db.session.execute(
        sa.update(model).where(*where).values({column: utcnow() - timedelta(days=days)})
    )
    db.session.commit()


def lead(email: str) -> Lead:
    db.session.expire_all()
    found = db.session.scalar(sa.select(Lead).where(Lead.email == email))
    assert found is not None
    return found


def test_dry_run_lists_what_the_real_run_removes(
    app: Flask, app_context: None, runner: Any, make_form: Any, submit: Any
) -> None:
    make_form()
    for email, marketing in (
        ("old@firma.dk", False),
        ("keen@firma.dk", True),
        ("new@firma.dk", False),
    ):
        consents = {"processing": True, "marketing": marketing}
        headers = {"User-Agent": "Browser/1.0"}
        assert submit("test-form", {"email": email}, consents, headers=headers).status_code == 201
    for email in ("spam-old@firma.dk", "spam-new@firma.dk"):
        fields = {"email": email, "homepage_url": "http://spam.example"}
        assert submit("test-form", fields).status_code == 201
    old, keen = lead("old@firma.dk"), lead("keen@firma.dk")
    old_id = old.public_id
    age(Lead, 800, Lead.id.in_([old.id, keen.id]), column="last_activity_at")
    age(Submission, 40, Submission.fields["email"].as_string() == "spam-old@firma.dk")
    age(Submission, 100, Submission.lead_id == keen.id)

    dry = runner.invoke(args=["privacy", "purge", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert (
        f"would remove leads: 1 without activity or marketing consent for 730 days {old_id}"
        in dry.output
    )
    spam_old = db.session.scalar(
        sa.select(Submission.public_id).where(
            Submission.fields["email"].as_string() == "spam-old@firma.dk"
        )
    )
    assert f"would remove quarantine: 1 submissions older than 30 days {spam_old}" in dry.output
    assert "would remove submissions: IP address and user agent of 1 rows" in dry.output
    db.session.expire_all()
    assert lead("old@firma.dk").erased_at is None  # a dry run removes nothing

    real = runner.invoke(args=["privacy", "purge"])
    assert real.exit_code == 0, real.output
    assert real.output == dry.output.replace("would remove", "removed")

    db.session.expire_all()
    husk = db.session.scalar(sa.select(Lead).where(Lead.public_id == old_id))
    assert husk is not None and husk.erased_at is not None  # the anonymous count stays
    assert husk.email.endswith("@erased.invalid")
    assert db.session.scalar(sa.select(sa.func.count(Lead.id))) == 3
    assert db.session.scalar(sa.select(sa.func.count(Suppression.id))) == 1
    assert lead("keen@firma.dk").erased_at is None  # marketing consent keeps a lead
    assert lead("new@firma.dk").erased_at is None  # recent activity too
    statuses = dict(
        db.session.execute(
            sa.select(Submission.public_id, Submission.status).where(Submission.lead_id.is_(None))
        ).all()
    )
    assert statuses[spam_old] == "discarded"
    assert sorted(statuses.values()) == ["discarded", "quarantined"]
    keen_submission = db.session.scalar(sa.select(Submission).where(Submission.lead_id == keen.id))
    assert keen_submission is not None
    assert keen_submission.ip is None and keen_submission.user_agent is None
    assert keen_submission.fields == {"email": "keen@firma.dk"}  # only the network columns
    new_submission = db.session.scalar(
        sa.select(Submission).where(Submission.lead_id == lead("new@firma.dk").id)
    )
    assert new_submission is not None and new_submission.user_agent == "Browser/1.0"

    again = runner.invoke(args=["privacy", "purge", "--dry-run"])
    assert "leads: 0" in again.output and "quarantine: 0" in again.output


def test_zero_keeps_forever_and_the_worker_runs_it_on_schedule(
    app: Flask, app_context: None, make_form: Any, submit: Any
) -> None:
    make_form()
    assert submit("test-form", {"email": "old@firma.dk"}).status_code == 201
    age(Lead, 800, column="last_activity_at")
    app.config["RETENTION_LEAD_DAYS"] = 0
    names = [name for name, _task in scheduled_tasks.items(app)]
    assert "privacy-purge" in names and "nurture" in names
    last: dict[str, float] = {}
    run_scheduled(app, last)
    assert lead("old@firma.dk").erased_at is None
    app.config["RETENTION_LEAD_DAYS"] = 730
    run_scheduled(app, last)  # within its interval: not run again
    assert lead("old@firma.dk").erased_at is None
    old_id = lead("old@firma.dk").public_id
    run_scheduled(app, {})
    db.session.expire_all()
    erased = db.session.scalar(sa.select(Lead).where(Lead.public_id == old_id))
    assert erased is not None and erased.erased_at is not None

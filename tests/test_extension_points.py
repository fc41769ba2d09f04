"""The extension points (capture/extension_points.py): per app, scored first, no global hooks."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from capture.base.db import db
from capture.extension_points import submission_accepted
from capture.ops import liveness
from wsgi import create_app


def test_a_receiver_hears_its_own_app_only(app, app_config, demo_forms, submit):
    heard: list[tuple[str, Any]] = []
    other = create_app(app_config)
    submission_accepted.connect(other, lambda accepted: heard.append(("other", accepted)))
    submission_accepted.connect(app, lambda accepted: heard.append(("this", accepted)))
    answer = submit("newsletter", {"email": "ane@firma.dk"})
    assert answer.status_code == 201
    assert [name for name, _accepted in heard] == ["this"]


def test_receivers_see_the_scored_stage_and_may_add_to_the_answer(app, demo_forms, submit):
    seen: list[tuple[str, list[str]]] = []

    def receiver(accepted: Any) -> dict[str, Any]:
        seen.append((accepted.lead.lifecycle_stage, [c.to_stage for c in accepted.stage_changes]))
        return {"redirect_url": "https://example.com/thanks"}

    submission_accepted.connect(app, receiver)
    fields = {"email": "bo@firma.dk", "first_name": "Bo", "company": "Firma"}
    answer = submit("contact", fields, context={"utm_source": "x"})
    body = answer.get_json()
    assert answer.status_code == 201, body
    assert body["redirect_url"] == "https://example.com/thanks"
    stage, changes = seen[0]
    assert stage == body["lifecycle_stage"] and changes and changes[-1] == stage


def test_database_listeners_are_the_apps_not_every_engines(app_context, app):
    """Importing the app changes no other engine: SQLite's own lower() stays ASCII there."""
    with sa.create_engine("sqlite://").connect() as other:
        assert other.scalar(sa.text("SELECT lower('ÆRØ')")) == "ÆrØ"
    assert db.session.scalar(sa.text("SELECT lower('ÆRØ')")) == "ærø"
    assert sa.event.contains(db.engine, "checkout", liveness._check_on_checkout)

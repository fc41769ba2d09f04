"""Per-process caches of forms, partner origins and webhook endpoints (capture/base/settled.py):
never stale. Two app instances on one database stand for two processes (two gunicorn workers,
two nodes): each keeps its own cache, and an edit made through one is seen by the other's next
request."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from helpers import ON_POSTGRES

from capture.base.db import db
from capture.delivery.outbox import OutboxMessage
from capture.delivery.webhooks.endpoint import find_endpoint
from capture.forms.store import FormDefinition, settled_form
from capture.leads.lead import Lead
from capture.submissions.submission import Submission
from wsgi import create_app

PARTNER_SITE = "https://www.partner.example"


@pytest.fixture
def other(app: Flask, app_config: dict[str, Any]) -> Iterator[Flask]:
    """A second app instance on the same database, with a cache of its own."""
    second = create_app(app_config)
    yield second
    with second.app_context():
        db.engine.dispose()


def _label(client: Any, slug: str = "test-form") -> str:
    answer = client.get(f"/api/v1/forms/{slug}")
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return answer.get_json()["name"]


def _submit(
    client: Any, email: str, slug: str = "test-form", token: str | None = None, **headers: str
) -> Any:
    token = token or client.get(f"/api/v1/forms/{slug}").get_json()["token"]
    body = {"fields": {"email": email}, "consents": {"processing": True}, "token": token}
    return client.post(f"/api/v1/forms/{slug}/submissions", json=body, headers=headers)


def test_a_warm_cache_reads_no_form_and_no_endpoint(app, client, make_form, statements):
    make_form(name="Newsletter")
    assert _submit(client, "warm@firma.dk").status_code == 201  # fills the cache
    token = client.get("/api/v1/forms/test-form").get_json()["token"]
    statements.clear()
    assert _submit(client, "again@firma.dk", token=token).status_code == 201
    reads = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert not [s for s in reads if "FROM forms" in s or "FROM webhook_endpoints" in s], reads
    # The version check is what it costs: its own query, or on PostgreSQL part of the claim.
    checks = [s for s in statements if "config_versions" in s]
    assert len(checks) == 1, statements
    if ON_POSTGRES:
        assert checks[0].lstrip().upper().startswith("WITH")  # the claim's statement


def test_a_form_edit_is_seen_by_the_next_request_of_another_instance(app, other, client, make_form):
    make_form(name="Before")
    other_client = other.test_client()
    assert _label(other_client) == "Before"  # the other instance caches it
    assert _label(client) == "Before"
    make_form(name="After")  # saved through the first instance
    assert _label(other_client) == "After"
    assert _label(client) == "After"


def test_closing_a_form_through_one_instance_closes_it_in_the_other(app, other, client, make_form):
    make_form()
    other_client = other.test_client()
    token = other_client.get("/api/v1/forms/test-form").get_json()["token"]
    assert _submit(other_client, "a@firma.dk", token=token).status_code == 201
    make_form(status="closed")
    answer = _submit(other_client, "b@firma.dk", token=token)
    assert answer.status_code == 410
    assert answer.get_json()["error"]["code"] == "form_closed"


def test_an_edit_in_plain_sql_is_seen_too(app, other, make_form):
    make_form(name="Before")
    other_client = other.test_client()
    assert _label(other_client) == "Before"
    with app.app_context():
        form = db.session.scalar(sa.select(FormDefinition))
        document = {**form.document, "name": "Edited in SQL"}
        db.session.execute(
            sa.update(FormDefinition)
            .where(FormDefinition.id == form.id)
            .values(document=document, name="Edited in SQL", digest="1" * 64)
        )
        db.session.commit()
    assert _label(other_client) == "Edited in SQL"


def test_a_new_partner_origin_attributes_at_once_in_another_instance(app, other, runner, make_form):
    make_form(allowed_origins=[PARTNER_SITE])
    other_client = other.test_client()
    first = _submit(other_client, "a@firma.dk", Origin=PARTNER_SITE)
    assert first.status_code == 201
    result = runner.invoke(
        args=["partners", "add", "acme", "--name", "Acme", "--origin", PARTNER_SITE]
    )
    assert result.exit_code == 0, result.output
    second = _submit(other_client, "b@firma.dk", Origin=PARTNER_SITE)
    assert second.status_code == 201
    with app.app_context():
        partners = dict(db.session.execute(sa.select(Lead.email, Lead.partner)).all())
    assert partners == {"a@firma.dk": None, "b@firma.dk": "acme"}


@pytest.mark.app_config(WEBHOOK_ALLOW_PRIVATE_TARGETS=True)
def test_a_new_webhook_endpoint_gets_the_next_submission_of_another_instance(
    app, other, runner, make_form
):
    make_form()
    other_client = other.test_client()
    assert _submit(other_client, "a@firma.dk").status_code == 201
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) == 0
    result = runner.invoke(args=["webhooks", "add", "http://127.0.0.1:9/hook"])
    assert result.exit_code == 0, result.output
    assert _submit(other_client, "b@firma.dk").status_code == 201
    with app.app_context():
        events = db.session.scalars(
            sa.select(OutboxMessage.payload["event"]["type"].as_string()).order_by(OutboxMessage.id)
        ).all()
    assert sorted(events) == sorted(
        ["lead.created", "conversion.recorded", "lead.stage_changed", "consent.changed"]
    )
    result = runner.invoke(args=["webhooks", "list"])
    public_id = result.stdout.split()[0]
    with app.app_context():
        endpoint = find_endpoint(public_id)
        assert endpoint is not None
        endpoint.active = False
        db.session.commit()
    assert _submit(other_client, "c@firma.dk").status_code == 201
    with app.app_context():  # nothing new for the disabled endpoint
        assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) == 4


def test_a_rolled_back_edit_is_never_cached(app, other, make_form):
    make_form(name="Kept")
    other_client = other.test_client()
    with other.app_context():
        form = db.session.scalar(sa.select(FormDefinition))
        form.name = "Rolled back"
        db.session.flush()
        assert settled_form("test-form").name == "Rolled back"  # its own edit, uncached
        db.session.rollback()
    assert _label(other_client) == "Kept"


def test_an_answer_is_never_made_from_a_form_edited_since_it_was_cached(app, other, make_form):
    """On PostgreSQL a submission takes the cached form as current and its claim's statement
    checks the counter: an edit in between makes the request start over, so the answer and
    what is stored follow the edit, and nothing of the first attempt is left."""
    make_form(success={"message": {"en": "Before"}})
    other_client = other.test_client()
    token = other_client.get("/api/v1/forms/test-form").get_json()["token"]  # caches it
    assert _submit(other_client, "a@firma.dk", token=token).get_json()["message"] == "Before"
    make_form(success={"message": {"en": "After"}})  # through the first instance
    answer = _submit(other_client, "b@firma.dk", token=token)
    assert answer.status_code == 201 and answer.get_json()["message"] == "After"
    with app.app_context():
        emails = db.session.scalars(sa.select(Lead.email).order_by(Lead.email)).all()
        assert emails == ["a@firma.dk", "b@firma.dk"]
        stored = db.session.scalars(sa.select(Submission.response)).all()
        assert sorted(r["message"] for r in stored) == ["After", "Before"]


def test_a_refusal_is_never_made_from_a_form_edited_since_it_was_cached(app, other, make_form):
    """The same for an error answer: a field made optional meanwhile is not demanded."""
    fields = [
        {"name": "email", "type": "email", "required": True},
        {"name": "company", "type": "text", "required": True},
    ]
    make_form(fields=fields)
    other_client = other.test_client()
    token = other_client.get("/api/v1/forms/test-form").get_json()["token"]
    assert _submit(other_client, "a@firma.dk", token=token).status_code == 422  # no company
    make_form(fields=[fields[0], {**fields[1], "required": False}])
    assert _submit(other_client, "a@firma.dk", token=token).status_code == 201


def test_a_form_deleted_and_made_again_meanwhile_is_the_new_one(app, other, make_form):
    """The cached form's id no longer exists: the claim's foreign key refuses it, and the
    request starts over with the form as it is now."""
    make_form(name="First")
    other_client = other.test_client()
    token = other_client.get("/api/v1/forms/test-form").get_json()["token"]  # caches it
    with app.app_context():  # (a form with consent records on file cannot be deleted)
        db.session.delete(db.session.scalar(sa.select(FormDefinition)))
        db.session.commit()
    again = make_form(name="Second")
    answer = _submit(other_client, "b@firma.dk", token=token)
    assert answer.status_code == 201, answer.get_data(as_text=True)
    with app.app_context():
        public_id = answer.get_json()["submission"]
        stored = db.session.scalar(sa.select(Submission).where(Submission.public_id == public_id))
        assert stored.form_id == again.id

"""The quarantine page: list with reasons, view, release into a lead, discard keeping nothing."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from helpers import csrf_token_in

from capture.base.db import db
from capture.leads.lead import Lead
from capture.submissions.submission import Submission


@pytest.fixture
def caught(app, make_form, submit):
    make_form()
    for email in ("spam@firma.dk", "real@firma.dk"):
        answer = submit(
            "test-form",
            {"email": email, "homepage_url": "http://spam.example"},
            context={"utm_source": "newsletter"},
            headers={"User-Agent": "Bot/1.0"},
        )
        assert answer.status_code == 201
    rows = db.session.scalars(sa.select(Submission).order_by(Submission.id)).all()
    assert [r.status for r in rows] == ["quarantined", "quarantined"]
    return rows


def test_list_and_view(app_context, staff, caught):
    marketer = staff("marketer")
    html = marketer.get("/admin/quarantine/").get_data(as_text=True)
    assert "honeypot" in html and "spam@firma.dk" in html and "real@firma.dk" in html
    one = marketer.get(f"/admin/quarantine/{caught[0].public_id}").get_data(as_text=True)
    assert "newsletter" in one and "Bot/1.0" in one
    assert marketer.get("/admin/quarantine/sub_nope").status_code == 404


def test_release_creates_the_lead_as_if_accepted(app_context, staff, caught):
    marketer = staff("marketer")
    target = caught[1]
    token = csrf_token_in(marketer.get("/admin/quarantine/").get_data(as_text=True))
    assert marketer.post(f"/admin/quarantine/{target.public_id}/release").status_code == 400
    answer = marketer.post(
        f"/admin/quarantine/{target.public_id}/release", data={"csrf_token": token}
    )
    assert answer.status_code == 303 and "/admin/leads/lead_" in answer.headers["Location"]
    lead = db.session.scalar(sa.select(Lead).where(Lead.email == "real@firma.dk"))
    assert lead is not None and lead.lifecycle_stage == "mql"
    db.session.expire_all()
    assert db.session.get(Submission, target.id).status == "released"
    # A second release of the same submission is refused politely.
    again = marketer.post(
        f"/admin/quarantine/{target.public_id}/release", data={"csrf_token": token}
    )
    assert again.status_code == 303
    assert "Not released" in marketer.get("/admin/quarantine/").get_data(as_text=True)


def test_discard_keeps_nothing_personal(app_context, staff, caught):
    marketer = staff("marketer")
    target = caught[0]
    token = csrf_token_in(marketer.get("/admin/quarantine/").get_data(as_text=True))
    answer = marketer.post(
        f"/admin/quarantine/{target.public_id}/discard", data={"csrf_token": token}
    )
    assert answer.status_code == 303
    db.session.expire_all()
    row = db.session.get(Submission, target.id)
    assert row.status == "discarded"
    assert (row.fields, row.consents, row.context, row.ip, row.user_agent) == (
        {},
        {},
        {},
        None,
        None,
    )
    assert db.session.scalar(sa.select(Lead).where(Lead.email == "spam@firma.dk")) is None
    assert "spam@firma.dk" not in marketer.get("/admin/quarantine/").get_data(as_text=True)


def test_sales_may_not_decide(app_context, staff, caught):
    assert staff("sales").get("/admin/quarantine/").status_code == 403

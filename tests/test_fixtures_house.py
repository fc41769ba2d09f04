"""The test house itself: requests never run in the test's app context, so they share no `g`
and no database session with the test or with each other."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask import g
from helpers import csrf_token_in

from capture.accounts import User
from capture.base.db import db


def test_clients_taking_turns_each_see_only_their_own_login(app_context, staff):
    admin, sales = staff("admin"), staff("sales")
    for _ in range(2):  # in a shared `g`, the first login would be everyone's
        assert admin.get("/admin/settings/").status_code == 200
        assert sales.get("/admin/settings/").status_code == 403
        assert staff(None).get("/admin/settings/").status_code == 302
    assert "_login_user" not in g  # nothing a request did is left in the test's context


def test_the_test_reads_what_requests_wrote_and_must_commit_before_one(app_context, staff):
    admin = staff("admin")
    staff("sales")
    seller = db.session.scalar(sa.select(User).where(User.role == "sales"))
    assert seller is not None and seller.active  # loaded in the test's own session
    token = csrf_token_in(admin.get("/admin/settings/").get_data(as_text=True))
    url = f"/admin/settings/users/{seller.public_id}/active"
    assert admin.post(url, data={"csrf_token": token}).status_code == 303  # its own session
    assert seller.active is False  # the test's copy was expired by the request, and reloaded
    seller.active = True  # changed in the test's session, not yet committed
    with pytest.raises(AssertionError, match="commit before a request"):
        admin.get("/admin/")
    db.session.commit()
    assert admin.get("/admin/").status_code == 200

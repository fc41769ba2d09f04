"""Settings (admins only): users with roles, deactivation, API tokens shown once and revoked."""

from __future__ import annotations

import html
import re

import pytest
import sqlalchemy as sa
import yaml
from helpers import STAFF_PASSWORD, csrf_token_in

from capture.accounts import User
from capture.api.token import ApiToken
from capture.base.db import db
from capture.leads.scoring import current_rules, parse_rules


def test_create_user_then_deactivate_logs_them_out(app_context, staff):
    admin = staff("admin")
    token = csrf_token_in(admin.get("/admin/settings/").get_data(as_text=True))
    short = admin.post(
        "/admin/settings/users",
        data={"csrf_token": token, "email": "ny@firma.dk", "role": "sales", "password": "short"},
    )
    assert short.status_code == 422
    created = admin.post(
        "/admin/settings/users",
        data={
            "csrf_token": token,
            "email": "Ny@Firma.dk",
            "role": "sales",
            "password": STAFF_PASSWORD,
        },
    )
    assert created.status_code == 303
    user = db.session.scalar(sa.select(User).where(User.email == "ny@firma.dk"))
    assert user.role == "sales" and user.active
    again = admin.post(
        "/admin/settings/users",
        data={
            "csrf_token": token,
            "email": "ny@firma.dk",
            "role": "sales",
            "password": STAFF_PASSWORD,
        },
    )
    assert again.status_code == 422 and "already exists" in again.get_data(as_text=True)

    sales = staff("sales")
    assert sales.get("/admin/leads/").status_code == 200
    sales_user = db.session.scalars(
        sa.select(User).where(User.role == "sales").order_by(User.id)  # the newest, on any backend
    ).all()[-1]
    off = admin.post(
        f"/admin/settings/users/{sales_user.public_id}/active", data={"csrf_token": token}
    )
    assert off.status_code == 303
    assert sales.get("/admin/leads/").status_code == 302  # back to the login page


def test_token_is_shown_once_and_can_be_revoked(app_context, staff, app):
    admin = staff("admin")
    token = csrf_token_in(admin.get("/admin/settings/").get_data(as_text=True))
    answer = admin.post(
        "/admin/settings/tokens", data={"csrf_token": token, "name": "CRM sync", "scope": "read"}
    )
    assert answer.status_code == 201 and answer.headers["Cache-Control"] == "no-store"
    secret = re.search(
        r'<pre class="code" id="token-code">([^<]+)</pre>', answer.get_data(as_text=True)
    )
    assert secret
    bearer = {"Authorization": f"Bearer {secret.group(1)}"}
    api = app.test_client()
    assert api.get("/api/v1/leads", headers=bearer).status_code == 200
    page = admin.get("/admin/settings/").get_data(as_text=True)
    assert "CRM sync" in page and secret.group(1) not in page

    row = db.session.scalar(sa.select(ApiToken).where(ApiToken.name == "CRM sync"))
    revoked = admin.post(
        f"/admin/settings/tokens/{row.public_id}/revoke", data={"csrf_token": token}
    )
    assert revoked.status_code == 303
    assert api.get("/api/v1/leads", headers=bearer).status_code == 401


def test_settings_are_for_admins_only(staff):
    assert staff("marketer").get("/admin/settings/").status_code == 403
    assert staff("sales").get("/admin/settings/").status_code == 403


@pytest.mark.app_config(SCORING_RULES='{"thresholds": {"sql": 85}, "fit": []}')
def test_admins_see_the_scoring_rules_in_force_and_can_reuse_them(app_context, staff, runner):
    page = staff("admin").get("/admin/settings/").get_data(as_text=True)
    shown = html.unescape(
        re.search(r'<pre class="code" id="scoring-rules">(.*?)</pre>', page, re.S)[1]
    )
    document = yaml.safe_load(shown)
    assert document["thresholds"] == {"mql": 40, "sql": 85} and document["fit"] == []
    assert "LEADGATE_SCORING_RULES" in page
    # The same document from the CLI; fed back as the setting, it gives the same rules.
    printed = runner.invoke(args=["scoring", "rules"])
    assert printed.exit_code == 0 and yaml.safe_load(printed.output) == document
    assert parse_rules(document) == current_rules()


def test_the_page_title_is_only_its_name(staff):
    page = staff("admin").get("/admin/settings/").get_data(as_text=True)
    assert re.search(r"<title>(.*?)</title>", page, re.S)[1] == "Settings · Leadgate"

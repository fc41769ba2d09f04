"""Back-office login and logout: CSRF, generic failures, sessions, `next=`, the dashboard."""

from __future__ import annotations

import re

import pytest
from helpers import STAFF_PASSWORD, csrf_token_in, log_in

from capture.accounts import Role, User, create_user
from capture.base.config import UnsafeConfiguration
from capture.base.db import db
from wsgi import create_app


@pytest.fixture
def user(app):
    created = create_user("Ane@Firma.dk", Role.MARKETER, STAFF_PASSWORD)
    db.session.commit()
    return created


def test_anonymous_is_sent_to_login_with_next(client):
    response = client.get("/admin/?tab=1")
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/login?next=/admin/?tab%3D1"


def test_login_then_dashboard_then_logout(app_context, client, user):
    response = log_in(client, "ane@FIRMA.dk", STAFF_PASSWORD)  # e-mail is case-insensitive
    assert response.status_code == 303
    assert response.headers["Location"] == "/admin/"
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # development over plain HTTP; production sets it

    dashboard = client.get("/admin/")
    assert dashboard.status_code == 200
    html = dashboard.get_data(as_text=True)
    assert "ane@firma.dk" in html and 'aria-current="page"' in html
    assert db.session.get(User, user.id).last_login_at is not None

    assert client.get("/admin/logout").status_code == 405  # logging out is a POST
    refused = client.post("/admin/logout", data={})
    assert refused.status_code == 400  # no CSRF token: refused, still logged in
    assert client.get("/admin/").status_code == 200

    out = client.post("/admin/logout", data={"csrf_token": csrf_token_in(html)})
    assert out.status_code == 303 and out.headers["Location"] == "/admin/login"
    assert client.get("/admin/").status_code == 302


def test_login_without_csrf_token_is_refused(app_context, client, user):
    response = client.post("/admin/login", data={"email": user.email, "password": STAFF_PASSWORD})
    assert response.status_code == 400
    assert client.get("/admin/").status_code == 302


@pytest.mark.parametrize(
    ("email", "password"),
    [("ane@firma.dk", "wrong password, long enough"), ("nobody@firma.dk", STAFF_PASSWORD)],
)
def test_bad_credentials_get_one_generic_message(app_context, client, user, email, password):
    response = log_in(client, email, password)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Incorrect e-mail address or password." in html
    assert password not in html  # the password is never echoed back
    assert client.get("/admin/").status_code == 302


def test_inactive_user_cannot_log_in_and_is_logged_out(app_context, client, user):
    assert log_in(client, user.email, STAFF_PASSWORD).status_code == 303
    user.active = False
    db.session.commit()
    assert client.get("/admin/").status_code == 302  # the live session stops working
    response = log_in(client, user.email, STAFF_PASSWORD)
    assert "Incorrect e-mail address or password." in response.get_data(as_text=True)


def test_login_starts_a_new_session(app_context, client, user):
    client.get("/admin/login")
    with client.session_transaction() as before:
        before["planted"] = "by someone else"
        old_csrf = before.get("csrf_token")
    assert old_csrf
    log_in(client, user.email, STAFF_PASSWORD)
    with client.session_transaction() as after:
        assert "planted" not in after
        assert after.get("csrf_token") != old_csrf
        assert after.get("_user_id") == user.get_id()  # public id and session generation


@pytest.mark.parametrize(
    "target",
    ["https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)"],
)
def test_next_never_leaves_the_site(app_context, client, user, target):
    response = log_in(client, user.email, STAFF_PASSWORD, next_url=target)
    assert response.status_code == 303
    assert response.headers["Location"] == "/admin/"


def test_next_to_a_local_page_is_followed(app_context, client, user):
    response = log_in(client, user.email, STAFF_PASSWORD, next_url="/admin/leads/?stage=sql")
    assert response.headers["Location"] == "/admin/leads/?stage=sql"


def test_admin_pages_are_csp_friendly(app_context, client, user):
    log_in(client, user.email, STAFF_PASSWORD)
    html = client.get("/admin/").get_data(as_text=True)
    assert " style=" not in html and "<style" not in html
    for script in re.findall(r"<script[^>]*>", html):
        assert "nonce=" in script
    for label in ("Dashboard", "Magnets", "Forms", "Leads", "Quarantine"):
        assert f">{label}</a>" in html
    assert ">Settings</a>" not in html  # a marketer's nav leaves out what only admins open


def test_dashboard_counts_leads_and_todays_submissions(
    app_context, client, user, demo_forms, submit
):
    submit("newsletter", {"email": "one@firma.dk"})
    submit("contact", {"email": "two@firma.dk", "first_name": "To", "company": "Firma"})
    log_in(client, user.email, STAFF_PASSWORD)
    html = client.get("/admin/").get_data(as_text=True)
    figures = dict(re.findall(r"<dt>([^<]+)</dt><dd>(\d+)</dd>", html))
    assert figures["Leads"] == "2"
    assert figures["Submissions today (UTC)"] == "2"
    by_stage = html[html.index('id="funnel-title"') :].split("</section>")[0]
    stages = dict(re.findall(r'<th scope="row">([^<]+)</th><td class="num">(\d+)</td>', by_stage))
    assert stages["MQL"] == "1" and stages["SQL"] == "1" and stages["Lead"] == "0"


def test_production_session_cookie_is_secure(app, app_config):
    config = {
        **app_config,
        "LEADGATE_ENV": "production",
        "ALLOW_SQLITE_IN_PRODUCTION": True,
        "PASSWORD_HASH_PROFILE": "RFC_9106_LOW_MEMORY",
        "PUBLIC_BASE_URL": "https://leads.example.com",
        "ALLOW_CONSOLE_MAIL": True,
    }
    production = create_app(config)  # on the tables the `app` fixture made
    with production.app_context():
        try:
            create_user("ane@firma.dk", Role.ADMIN, STAFF_PASSWORD)
            db.session.commit()
            response = log_in(production.test_client(), "ane@firma.dk", STAFF_PASSWORD)
            assert response.status_code == 303
            cookie = response.headers["Set-Cookie"]
            assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
        finally:
            db.session.remove()
            db.engine.dispose()


def test_production_refuses_the_cheap_test_hash(app_config):
    config = {**app_config, "LEADGATE_ENV": "production", "ALLOW_SQLITE_IN_PRODUCTION": True}
    with pytest.raises(UnsafeConfiguration, match="CHEAPEST"):
        create_app(config)

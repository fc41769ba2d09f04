"""Logout, a password change and deactivation end every session of the user, server-side: a
session cookie saved before no longer opens the back office."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient
from helpers import STAFF_PASSWORD, csrf_token_in, log_in

from capture.accounts import Role, User, create_user
from capture.base.db import db

PASSWORD = STAFF_PASSWORD
NEW_PASSWORD = "another long enough passphrase"


@pytest.fixture
def ane(app: Any) -> User:
    user = create_user("ane@firma.dk", Role.MARKETER, PASSWORD)
    db.session.commit()
    return user


def signed_in(app: Any, email: str = "ane@firma.dk", password: str = PASSWORD) -> FlaskClient:
    client = app.test_client()
    assert log_in(client, email, password).status_code == 303
    return client


def opens_back_office(client: FlaskClient) -> bool:
    answer = client.get("/admin/")
    if answer.status_code == 200:
        return True
    assert answer.status_code == 302 and "/admin/login" in answer.headers["Location"]
    return False


def replay(app: Any, client: FlaskClient) -> FlaskClient:
    """A new browser holding a copy of `client`'s session cookie as it is now."""
    copy = app.test_client()
    copy.set_cookie("session", client.get_cookie("session").value)
    return copy


def log_out(client: FlaskClient) -> None:
    token = csrf_token_in(client.get("/admin/").get_data(as_text=True))
    assert client.post("/admin/logout", data={"csrf_token": token}).status_code == 303


def test_a_cookie_saved_before_logout_is_worthless_after(
    app_context: None, app: Any, ane: User
) -> None:
    browser = signed_in(app)
    saved = replay(app, browser)
    assert opens_back_office(saved)
    log_out(browser)
    assert not opens_back_office(browser)
    assert not opens_back_office(saved)
    # Logging in again works, and makes a new session that the old cookie is not.
    again = signed_in(app)
    assert opens_back_office(again)
    assert not opens_back_office(saved)


def test_logout_ends_the_users_sessions_on_every_device_not_other_users(
    app_context: None, app: Any, ane: User
) -> None:
    create_user("bo@firma.dk", Role.SALES, PASSWORD)
    db.session.commit()
    laptop, phone, colleague = signed_in(app), signed_in(app), signed_in(app, "bo@firma.dk")
    log_out(phone)
    assert not opens_back_office(laptop)
    assert opens_back_office(colleague)


def test_a_password_change_ends_every_session(
    app_context: None, app: Any, ane: User, runner: Any
) -> None:
    browser = signed_in(app)
    result = runner.invoke(args=["users", "password", "Ane@Firma.dk"], input=NEW_PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    assert not opens_back_office(browser)
    assert opens_back_office(signed_in(app, password=NEW_PASSWORD))
    refused = runner.invoke(args=["users", "password", "ane@firma.dk"], input="short\n")
    assert refused.exit_code == 1 and "at least 12 characters" in refused.stderr
    missing = runner.invoke(args=["users", "password", "nobody@firma.dk"], input=PASSWORD + "\n")
    assert missing.exit_code == 1 and "no user" in missing.stderr


def test_deactivation_ends_every_session_for_good(app_context: None, app: Any, ane: User) -> None:
    create_user("boss@firma.dk", Role.ADMIN, PASSWORD)
    db.session.commit()
    admin, browser = signed_in(app, "boss@firma.dk"), signed_in(app)
    saved = replay(app, browser)

    def toggle() -> None:
        token = csrf_token_in(admin.get("/admin/settings/").get_data(as_text=True))
        answer = admin.post(
            f"/admin/settings/users/{ane.public_id}/active", data={"csrf_token": token}
        )
        assert answer.status_code == 303

    toggle()  # deactivated
    assert not opens_back_office(browser)
    toggle()  # active again: the sessions from before stay ended
    assert not opens_back_office(browser)
    assert not opens_back_office(saved)
    assert opens_back_office(signed_in(app))


def test_a_session_without_a_generation_is_not_let_in(
    app_context: None, app: Any, ane: User
) -> None:
    """Sessions signed before generations existed name only the user: they log in again."""
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = ane.public_id
        session["_fresh"] = True
    assert not opens_back_office(client)
    for forged in (f"{ane.public_id}.x", f"{ane.public_id}.-1", f"{ane.public_id}.1", "."):
        with client.session_transaction() as session:
            session["_user_id"] = forged
        assert not opens_back_office(client)

"""Roles on protected blueprints: admins everywhere, others where allowed, anonymous to login."""

from __future__ import annotations

import pytest
from flask import Blueprint
from helpers import STAFF_PASSWORD, log_in

from capture.accounts import ALL_ROLES, Role, create_user, protect
from capture.base.db import db


@pytest.fixture
def guarded_client(app):
    """The app with two extra blueprints: one for admins only, one for marketers (and admins)."""
    admin_only = Blueprint("admin_only", __name__, url_prefix="/admin/only")
    protect(admin_only)

    @admin_only.get("/")
    def secret():
        return "admin only page"

    marketing = Blueprint("marketing_only", __name__, url_prefix="/admin/marketing")
    protect(marketing, Role.MARKETER)

    @marketing.route("/", methods=["GET", "POST"])
    def campaigns():
        return "marketing page"

    app.register_blueprint(admin_only)
    app.register_blueprint(marketing)
    for role in Role:
        create_user(f"{role.value}@firma.dk", role, STAFF_PASSWORD)
    db.session.commit()
    return app.test_client()


MATRIX = [
    # (role, path, expected status)
    (Role.ADMIN, "/admin/only/", 200),
    (Role.MARKETER, "/admin/only/", 403),
    (Role.SALES, "/admin/only/", 403),
    (Role.ADMIN, "/admin/marketing/", 200),
    (Role.MARKETER, "/admin/marketing/", 200),
    (Role.SALES, "/admin/marketing/", 403),
    (Role.ADMIN, "/admin/", 200),
    (Role.MARKETER, "/admin/", 200),
    (Role.SALES, "/admin/", 200),
]


@pytest.mark.parametrize(("role", "path", "status"), MATRIX)
def test_role_matrix(app_context, guarded_client, role, path, status):
    assert log_in(guarded_client, f"{role.value}@firma.dk", STAFF_PASSWORD).status_code == 303
    response = guarded_client.get(path)
    assert response.status_code == status
    if status == 403:
        assert "admin only page" not in response.get_data(as_text=True)


@pytest.mark.parametrize("path", ["/admin/only/", "/admin/marketing/", "/admin/"])
def test_anonymous_is_redirected_to_login(app_context, guarded_client, path):
    response = guarded_client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"] == f"/admin/login?next={path}"


def test_anonymous_post_is_redirected_not_run(app_context, guarded_client):
    """CSRF is checked for every POST before anything else; the view never runs."""
    response = guarded_client.post("/admin/marketing/", data={})
    assert response.status_code == 400
    assert "marketing page" not in response.get_data(as_text=True)


def test_all_roles_constant_covers_every_role():
    assert set(ALL_ROLES) == set(Role)

"""Back-office accounts: users, roles, login and logout, and `protect` for admin blueprints."""

from __future__ import annotations

from flask import Flask

from capture.accounts import cli, login
from capture.accounts.guard import ALL_ROLES, allows, may_open, protect, safe_next
from capture.accounts.user import (
    PASSWORD_MIN_LENGTH,
    AccountError,
    Role,
    User,
    authenticate,
    create_user,
)
from capture.base.extensions import login_manager

__all__ = [
    "ALL_ROLES",
    "PASSWORD_MIN_LENGTH",
    "AccountError",
    "Role",
    "User",
    "allows",
    "authenticate",
    "create_user",
    "init_app",
    "may_open",
    "protect",
    "safe_next",
]


def init_app(app: Flask) -> None:
    login_manager.init_app(app)  # also puts `current_user` into every template
    login_manager.login_view = "accounts.login"
    app.jinja_env.globals["may_open"] = may_open
    app.register_blueprint(login.bp)
    app.cli.add_command(cli.users_cli)

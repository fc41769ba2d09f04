"""Logging in and out of the back office: `/admin/login` and `/admin/logout`.

Login attempts are rate-limited per address and per account before the password is checked
(`capture.accounts.throttle`; a 429 page with Retry-After); the message for bad credentials
never says which half was wrong; a login starts a new session.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, g, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_user, logout_user
from flask_wtf import FlaskForm
from werkzeug.exceptions import TooManyRequests
from wtforms import EmailField, HiddenField, PasswordField
from wtforms.validators import InputRequired, Length

from capture.accounts import throttle
from capture.accounts.guard import safe_next
from capture.accounts.user import PASSWORD_MAX_LENGTH, User, find_user, verify
from capture.base.db import db, utcnow
from capture.base.extensions import limiter, login_manager

bp = Blueprint("accounts", __name__, url_prefix="/admin")


class LoginForm(FlaskForm):
    email = EmailField(_l("E-mail address"), validators=[InputRequired(), Length(max=320)])
    password = PasswordField(
        _l("Password"), validators=[InputRequired(), Length(max=PASSWORD_MAX_LENGTH)]
    )
    next = HiddenField()


class LogoutForm(FlaskForm):
    """No fields: only the CSRF token, so logging out cannot be forced from another site."""


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    """The session's user while active and the session's generation is current: a session
    from before a logout, password change or deactivation is not let in."""
    public_id, _dot, generation = user_id.rpartition(".")
    if not public_id or not generation.isdigit():
        return None  # no generation: a session from before they existed, or not ours
    user = db.session.scalar(
        sa.select(User).where(
            User.public_id == public_id, User.session_generation == int(generation)
        )
    )
    return user if user is not None and user.is_active else None


def _new_session() -> None:
    """Drop everything in the session, including the CSRF secret and the token derived from
    it that Flask-WTF caches on `g`, so no value from before survives."""
    session.clear()
    g.pop("csrf_token", None)


def _destination(target: str | None) -> str:
    return safe_next(target) or url_for("admin.dashboard")


@bp.route("/login", methods=["GET", "POST"])
@limiter.exempt  # counted by `throttle`, atomically and before the password is checked
def login() -> ResponseReturnValue:
    form = LoginForm()
    if request.method == "GET":
        if current_user.is_authenticated:
            return redirect(_destination(request.args.get("next")))
        form.next.data = safe_next(request.args.get("next")) or ""
    message = None
    if form.validate_on_submit():
        address = form.email.data or ""
        found = find_user(address)
        attempt = throttle.take_attempt(found, address)
        if attempt.refused:
            raise TooManyRequests(retry_after=attempt.retry_after)
        user = verify(found, form.password.data or "")
        if user is not None:
            throttle.give_back(attempt)
            destination = _destination(form.next.data)
            # A fresh session: nothing carried over from before the login (session fixation).
            _new_session()
            login_user(user)
            session.permanent = True
            user.last_login_at = utcnow()
            db.session.commit()
            return redirect(destination, 303)
        db.session.commit()  # an upgraded hash or nothing; never leave a transaction open
        message = _("Incorrect e-mail address or password.")
    elif request.method == "POST":  # no password checked, so nothing counted
        message = _("Enter your e-mail address and password.")
    form.password.data = ""
    return render_template("admin/login.html", form=form, message=message)


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    form = LogoutForm()
    if form.validate_on_submit():  # the CSRF check; CSRFProtect refuses a bad token first
        if current_user.is_authenticated:
            # Every session of the user ends, not only this cookie: a copy saved before is
            # worthless, on every device (the contract's "log out" is "log out everywhere").
            current_user.end_sessions()
            db.session.commit()
        logout_user()
        _new_session()
    return redirect(url_for("accounts.login"), 303)


@bp.errorhandler(TooManyRequests)
def too_many_attempts(error: TooManyRequests) -> ResponseReturnValue:
    message = _("Too many login attempts. Please wait a few minutes and try again.")
    page = render_template("error.html", status=429, message=message)
    retry_after = getattr(error, "retry_after", None)
    seconds = retry_after if isinstance(retry_after, int) and retry_after > 0 else 60
    return page, 429, {"Retry-After": str(seconds)}

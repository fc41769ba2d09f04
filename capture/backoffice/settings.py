"""/admin/settings (admins only): back-office users, API tokens, the scoring rules in force.

A new token is shown once, on the answer to the POST that made it (never stored, never in a
redirect or a flash message), with `Cache-Control: no-store`.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, abort, current_app, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

from capture.accounts import AccountError, Role, User, create_user, protect
from capture.api.token import ApiToken, Scope, create_token, revoke_token
from capture.base.db import db
from capture.leads.scoring import current_rules, rules_yaml

bp = Blueprint("settings", __name__, url_prefix="/admin/settings")
protect(bp)


class UserForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Length(max=320)])
    role = SelectField(_l("Role"), choices=[SelectChoice(role.value) for role in Role])
    password = PasswordField(_l("Password (at least 12 characters)"), validators=[DataRequired()])


class TokenForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    scope = SelectField(_l("Scope"), choices=[SelectChoice(scope.value) for scope in Scope])


class ButtonForm(FlaskForm):
    """No fields: the CSRF token is the whole form."""


def _page(
    user_form: UserForm | None = None,
    token_form: TokenForm | None = None,
    secret: str | None = None,
    status: int = 200,
) -> ResponseReturnValue:
    users = db.session.scalars(sa.select(User).order_by(User.email)).all()
    tokens = db.session.scalars(sa.select(ApiToken).order_by(ApiToken.created_at.desc())).all()
    response = render_template(
        "backoffice/settings.html",
        users=users,
        tokens=tokens,
        user_form=user_form or UserForm(formdata=None),
        token_form=token_form or TokenForm(formdata=None),
        button=ButtonForm(),
        secret=secret,
        # Shown here; changed on /admin/settings/scoring/ (capture.backoffice.scoring).
        scoring_rules=rules_yaml(current_rules()),
        scoring_source=current_app.config.get("SCORING_RULES") or None,
    )
    return response, status, {"Cache-Control": "no-store"}


@bp.get("/")
def index() -> ResponseReturnValue:
    return _page()


@bp.post("/users")
def add_user() -> ResponseReturnValue:
    form = UserForm()
    if form.validate_on_submit():
        try:
            user = create_user(form.email.data, form.role.data, form.password.data)
        except AccountError as problem:
            db.session.rollback()
            form.email.errors = [str(problem)]
        else:
            db.session.commit()
            flash(_("User %(email)s created.", email=user.email))
            return redirect(url_for(".index"), 303)
    return _page(user_form=form, status=422)


def _user(public_id: str) -> User:
    user = db.session.scalar(sa.select(User).where(User.public_id == public_id[:40]))
    if user is None:
        abort(404)
    return user


@bp.post("/users/<user_id>/active")
def toggle_user(user_id: str) -> ResponseReturnValue:
    """Deactivate (or reactivate): a deactivated user is logged out at the next request."""
    if not ButtonForm().validate_on_submit():
        abort(400)
    user = _user(user_id)
    if user.id == current_user.id:
        flash(_("You cannot deactivate yourself."))
        return redirect(url_for(".index"), 303)
    user.active = not user.active
    if not user.active:
        user.end_sessions()  # ended server-side: reactivating does not bring them back
    db.session.commit()
    flash(
        _(
            "%(email)s is now %(state)s.",
            email=user.email,
            state=_("active") if user.active else _("deactivated"),
        )
    )
    return redirect(url_for(".index"), 303)


@bp.post("/tokens")
def add_token() -> ResponseReturnValue:
    form = TokenForm()
    if not form.validate_on_submit():
        return _page(token_form=form, status=422)
    _row, secret = create_token(
        form.name.data.strip(), Scope(form.scope.data), created_by=f"user:{current_user.email}"
    )
    db.session.commit()
    return _page(secret=secret, status=201)


@bp.post("/tokens/<token_id>/revoke")
def revoke(token_id: str) -> ResponseReturnValue:
    if not ButtonForm().validate_on_submit():
        abort(400)
    row = db.session.scalar(sa.select(ApiToken).where(ApiToken.public_id == token_id[:40]))
    if row is None:
        abort(404)
    revoke_token(row)
    db.session.commit()
    flash(_("Token %(name)s revoked.", name=row.name))
    return redirect(url_for(".index"), 303)

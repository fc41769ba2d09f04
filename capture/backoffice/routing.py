"""/admin/routing (admins only): the routing set-up as a YAML document, edited in place.

The same document as `GET/PUT /api/v1/routing/rules`, checked the same way: every problem is
listed by place (`rules.0.owner`) and nothing is saved until there are none.
"""

from __future__ import annotations

from typing import Any

import yaml
from flask import Blueprint, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import TextAreaField
from wtforms.validators import Length

from capture.accounts import protect
from capture.backoffice.owners import sales_users
from capture.base import safeyaml
from capture.base.db import db
from capture.routing import RoutingInvalid, current, parse, replace
from capture.routing.rule import FIELDS

bp = Blueprint("routing_admin", __name__, url_prefix="/admin/routing")
protect(bp)

MAX_DOCUMENT = 200_000


class RoutingForm(FlaskForm):
    document = TextAreaField(_l("Routing (YAML)"), validators=[Length(max=MAX_DOCUMENT)])


def as_yaml(document: dict[str, Any]) -> str:
    return yaml.safe_dump(document, allow_unicode=True, sort_keys=False, width=100)


def _page(form: RoutingForm, problems: dict[str, list[str]], status: int) -> ResponseReturnValue:
    return (
        render_template(
            "backoffice/routing.html",
            form=form,
            problems=problems,
            sales=sales_users(),
            fields=FIELDS,
        ),
        status,
    )


@bp.get("/")
def index() -> ResponseReturnValue:
    return _page(RoutingForm(document=as_yaml(current())), {}, 200)


@bp.post("/")
def save() -> ResponseReturnValue:
    form = RoutingForm()
    if not form.validate_on_submit():
        return _page(form, {"": [_("The form expired or is too long; try again.")]}, 422)
    try:
        data = safeyaml.load(form.document.data or "") or {}
    except yaml.YAMLError as problem:
        return _page(form, {"": [safeyaml.describe(problem)]}, 422)
    try:
        replace(parse(data))
    except RoutingInvalid as error:
        db.session.rollback()
        return _page(form, error.fields, 422)
    db.session.commit()
    flash(_("Routing saved."))
    return redirect(url_for(".index"), 303)

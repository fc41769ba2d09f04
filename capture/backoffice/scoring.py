"""/admin/settings/scoring (admins only): the scoring rules and conversion kinds in force,
changed at run time, and every earlier version.

A rules document is saved only after its effect on the current leads was shown (the save
button comes with the preview, and saves exactly the previewed text); a kind is saved at once
(it changes no existing lead: class and points apply to conversions from now on). Problems are
the configuration file's `path: problem` sentences.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

import sqlalchemy as sa
import yaml
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length

from capture.accounts import User, protect
from capture.base import safeyaml
from capture.base.db import db
from capture.base.lifecycle import Classification
from capture.leads.scoring import (
    ScoringRulesError,
    ScoringVersion,
    current_kinds,
    describe_kind,
    effect,
    history,
    in_force,
    label,
    preview_rules,
    put_kind,
    replace_rules,
    rules_yaml,
)
from capture.leads.scoring.versions import load

bp = Blueprint("scoring_settings", __name__, url_prefix="/admin/settings/scoring")
protect(bp)
VIA = "back office"
WHOLE = re.compile(r"^-?[0-9]{1,9}$")


class KindForm(FlaskForm):
    kind = StringField(_l("Kind (identifier)"), validators=[Length(max=40)])
    classification = SelectField(
        _l("Class"), choices=[SelectChoice(c.value) for c in Classification]
    )
    points = StringField(_l("Points"), validators=[Length(max=12)])
    label_da = StringField(_l("Label (Danish)"), validators=[Length(max=80)])
    label_sv = StringField(_l("Label (Swedish)"), validators=[Length(max=80)])
    label_en = StringField(_l("Label (English)"), validators=[Length(max=80)])
    max = StringField(_l("At most (times)"), validators=[Length(max=12)])
    per = StringField(_l("Per window (30d, 1d, 12h)"), validators=[Length(max=12)])


class RulesForm(FlaskForm):
    document = TextAreaField(_l("Rules (YAML)"), validators=[Length(max=100_000)])
    previewed = HiddenField()


@bp.app_template_filter("kind_label")
def kind_label(kind: str) -> str:
    """A conversion kind's label in the page's language (the identifier if it has none)."""
    return label(current_kinds(), kind, str(get_locale() or "en"))


def digest(text: str) -> str:
    return hashlib.sha256(text.replace("\r\n", "\n").encode()).hexdigest()


def _number(text: str | None) -> Any:
    """A whole number as a number; anything else as given, for the rules' own message."""
    text = (text or "").strip()
    return int(text) if WHOLE.match(text) else (text or None)


def _page(
    kind_form: KindForm | None = None,
    rules_form: RulesForm | None = None,
    problems: list[str] | None = None,
    kind_problems: list[str] | None = None,
    preview: dict[str, Any] | None = None,
    status: int = 200,
) -> ResponseReturnValue:
    state = in_force()
    rows = history()
    editors = {
        user.id: user.email
        for user in db.session.scalars(
            sa.select(User).where(User.id.in_({r.created_by_id for r in rows if r.created_by_id}))
        )
    }
    if rules_form is None:
        rules_form = RulesForm(formdata=None)
        rules_form.document.data = rules_yaml(state.rules)
    return (
        render_template(
            "backoffice/scoring.html",
            state=state,
            kinds=[describe_kind(state, kind) for kind in sorted(state.kinds)],
            versions=rows,
            editors=editors,
            kind_form=kind_form or KindForm(formdata=None),
            rules_form=rules_form,
            problems=problems or [],
            kind_problems=kind_problems or [],
            preview=preview,
        ),
        status,
        {"Cache-Control": "no-store"},
    )


@bp.get("/")
def index() -> ResponseReturnValue:
    return _page()


@bp.post("/kinds")
def save_kind() -> ResponseReturnValue:
    form = KindForm()
    if not form.validate_on_submit():
        return _page(kind_form=form, status=422)
    raw: dict[str, Any] = {
        "kind": (form.kind.data or "").strip(),
        "classification": form.classification.data,
        "points": _number(form.points.data),
        "label": {
            language: text.strip()
            for language, text in (
                ("da", form.label_da.data),
                ("sv", form.label_sv.data),
                ("en", form.label_en.data),
            )
            if text and text.strip()
        },
    }
    if (form.max.data or "").strip() or (form.per.data or "").strip():
        raw |= {"max": _number(form.max.data), "per": (form.per.data or "").strip() or None}
    try:
        state, kind, created = put_kind(raw, via=VIA, user_id=current_user.id)
    except ScoringRulesError as error:
        db.session.rollback()
        return _page(kind_form=form, kind_problems=error.problems, status=422)
    db.session.commit()
    if created:
        flash(
            _(
                "Conversion kind %(kind)s added. Version %(n)s is in force.",
                kind=kind,
                n=state.version,
            )
        )
    else:
        flash(
            _(
                "Conversion kind %(kind)s saved. Version %(n)s is in force.",
                kind=kind,
                n=state.version,
            )
        )
    return redirect(url_for(".index"), 303)


@bp.post("/rules")
def save_rules() -> ResponseReturnValue:
    """Preview first; save only the text whose effect was shown."""
    form = RulesForm()
    if not form.validate_on_submit():
        return _page(rules_form=form, status=422)
    text = form.document.data or ""
    try:
        document = safeyaml.load(text)
        rules = preview_rules({} if document is None else document)
    except yaml.YAMLError as problem:
        return _page(rules_form=form, problems=[safeyaml.describe(problem)], status=422)
    except ScoringRulesError as error:
        return _page(rules_form=form, problems=error.problems, status=422)
    wants_save = request.form.get("action") == "save"
    if not wants_save or form.previewed.data != digest(text):
        form.previewed.data = digest(text)
        return _page(rules_form=form, preview=effect(rules))
    try:
        state = replace_rules(document or {}, via=VIA, user_id=current_user.id)
    except ScoringRulesError as error:
        db.session.rollback()
        return _page(rules_form=form, problems=error.problems, status=422)
    db.session.commit()
    flash(_("The scoring rules were saved. Version %(n)s is in force.", n=state.version))
    return redirect(url_for(".index"), 303)


@bp.get("/versions/<version>")
def version(version: str) -> ResponseReturnValue:
    # A plain string in the route: the guard answers before any 404 for a bad number.
    if not version.isdigit() or len(version) > 9:
        abort(404)
    if db.session.get(ScoringVersion, int(version)) is None:
        abort(404)
    try:
        state = load(int(version))
    except (LookupError, ScoringRulesError):
        abort(404)
    return render_template(
        "backoffice/scoring_version.html",
        state=state,
        document=rules_yaml(state.rules),
        kinds=[describe_kind(state, kind) for kind in sorted(state.kinds)],
    )

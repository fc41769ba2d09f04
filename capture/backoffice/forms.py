"""/admin/forms: list forms with their counts, create and edit them, preview, copy embed code.

The editor is pragmatic: the settings as form fields, the fields, consents and success answer as
YAML, checked by the same `parse_definition` as `leadgate forms import`, so the rules are one.
"""

from __future__ import annotations

from html import escape
from typing import Any

import sqlalchemy as sa
import yaml
from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from capture.accounts import Role, protect
from capture.base import safeyaml
from capture.base.db import db
from capture.base.lifecycle import CONVERSION_KINDS
from capture.forms.definition import parse_definition
from capture.forms.spec import DefinitionError
from capture.forms.store import FormDefinition, get_form, save_spec
from capture.leads.scoring import kind_classes
from capture.submissions.page import build_wtform
from capture.submissions.submission import Submission, SubmissionStatus
from capture.web.i18n import LANGUAGES
from capture.web.urls import public_url

bp = Blueprint("forms_admin", __name__, url_prefix="/admin/forms")
protect(bp, Role.MARKETER)

# What has its own input; the YAML box holds every other key of the definition (fields,
# consents, success, title, email_magnet, ...), so saving in the editor never drops one.
INPUT_KEYS = frozenset(
    {
        *("slug", "name", "conversion", "language", "status", "double_opt_in"),
        *("allowed_origins", "magnet", "partner"),
    }
)
YAML_KEYS = ("title", "description", "fields", "consents", "success")  # the usual ones
STARTER = {
    "fields": [{"name": "email", "type": "email", "required": True}],
    "consents": [
        {"purpose": "processing", "required": True, "text": {"en": "We process your data."}}
    ],
    "success": {"message": {"en": "Thank you!"}, "redirect": None},
}


class DefinitionForm(FlaskForm):
    slug = StringField(_l("Slug (in the address)"), validators=[DataRequired(), Length(max=80)])
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    conversion = SelectField(
        _l("Conversion kind"), choices=[SelectChoice(k) for k in sorted(CONVERSION_KINDS)]
    )
    language = SelectField(_l("Language"), choices=[SelectChoice(code) for code in LANGUAGES])
    status = SelectField(_l("Status"), choices=[SelectChoice("active"), SelectChoice("closed")])
    magnet = StringField(_l("Magnet slug"), validators=[Optional(), Length(max=80)])
    partner = StringField(_l("Partner slug"), validators=[Optional(), Length(max=80)])
    allowed_origins = TextAreaField(_l("Allowed origins (one per line)"))
    double_opt_in = BooleanField(_l("Double opt-in for marketing consent"))
    body = TextAreaField(_l("Fields, consents and success answer (YAML)"))


def _document(form: DefinitionForm) -> tuple[dict[str, Any] | None, list[str]]:
    """The definition document from the inputs, or the problems with the YAML."""
    try:
        extra = safeyaml.load(form.body.data or "") or {}
    except yaml.YAMLError as problem:
        mark = getattr(problem, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        if isinstance(problem, safeyaml.AliasRefused):
            message = _("aliases (*name) are not allowed; write the values out")
        else:
            message = _("not valid YAML")
        return None, [f"yaml: {message}{where}"]
    if not isinstance(extra, dict):
        return None, ["yaml: " + _("must be a mapping of %(keys)s", keys=", ".join(YAML_KEYS))]
    unknown = sorted(set(extra) & INPUT_KEYS)
    if unknown:
        return None, [f"{key}: " + _("set this above, not in the YAML") for key in unknown]
    origins = [line.strip() for line in (form.allowed_origins.data or "").splitlines()]
    document = {
        "slug": form.slug.data.strip(),
        "name": form.name.data.strip(),
        "conversion": form.conversion.data,
        "language": form.language.data,
        "status": form.status.data,
        "double_opt_in": bool(form.double_opt_in.data),
        "allowed_origins": [origin for origin in origins if origin],
        **extra,
    }
    for key in ("magnet", "partner"):
        value = (getattr(form, key).data or "").strip()
        if value:
            document[key] = value
    return document, []


def _fill(form: DefinitionForm, definition: FormDefinition) -> None:
    document = definition.document
    form.slug.data = definition.slug
    form.name.data = definition.name
    form.conversion.data = definition.conversion
    form.language.data = definition.language
    form.status.data = definition.status
    form.magnet.data = definition.magnet or ""
    form.partner.data = definition.partner or ""
    form.allowed_origins.data = "\n".join(document.get("allowed_origins", []))
    form.double_opt_in.data = bool(document.get("double_opt_in"))
    shown = {key: document[key] for key in YAML_KEYS if key in document}
    shown.update({k: v for k, v in document.items() if k not in INPUT_KEYS and k not in shown})
    form.body.data = yaml.safe_dump(shown, allow_unicode=True, sort_keys=False)


@bp.get("/")
def index() -> ResponseReturnValue:
    counts = (
        sa.select(
            Submission.form_id,
            sa.func.count().filter(Submission.status.in_(("accepted", "released"))).label("ok"),
            sa.func.count()
            .filter(Submission.status == SubmissionStatus.QUARANTINED.value)
            .label("held"),
        )
        .group_by(Submission.form_id)
        .subquery()
    )
    rows = db.session.execute(
        sa.select(FormDefinition, counts.c.ok, counts.c.held)
        .outerjoin(counts, counts.c.form_id == FormDefinition.id)
        .order_by(FormDefinition.name)
    ).all()
    return render_template("backoffice/forms.html", rows=rows)


def _edit(definition: FormDefinition | None) -> ResponseReturnValue:
    form = DefinitionForm()
    form.conversion.choices = [SelectChoice(k) for k in sorted(kind_classes())]  # in force
    if request.method == "GET":
        if definition is not None:
            _fill(form, definition)
        else:
            form.body.data = yaml.safe_dump(STARTER, allow_unicode=True, sort_keys=False)
    problems: list[str] = []
    if definition is not None:
        form.slug.data = definition.slug  # the address never changes once published
    if form.validate_on_submit():
        document, problems = _document(form)
        if document is not None:
            try:
                spec = parse_definition(document, kind_classes())
            except DefinitionError as error:
                problems = list(error.problems)
            else:
                if definition is None and get_form(spec.slug) is not None:
                    problems = ["slug: " + _("another form already has this slug")]
                else:
                    saved, outcome = save_spec(spec)
                    db.session.commit()
                    flash(
                        _("Saved (%(outcome)s, version %(v)s).", outcome=outcome, v=saved.version)
                    )
                    return redirect(url_for(".show", slug=saved.slug), 303)
    status = 422 if problems or form.errors else 200
    return render_template(
        "backoffice/form_edit.html", form=form, definition=definition, problems=problems
    ), status


@bp.route("/new", methods=["GET", "POST"])
def create() -> ResponseReturnValue:
    return _edit(None)


def _definition(slug: str) -> FormDefinition:
    definition = get_form(slug[:80])
    if definition is None:
        abort(404)
    return definition


@bp.route("/<slug>/edit", methods=["GET", "POST"])
def edit(slug: str) -> ResponseReturnValue:
    return _edit(_definition(slug))


@bp.get("/<slug>")
def show(slug: str) -> ResponseReturnValue:
    """Preview drawn here (the hosted page refuses frames from us) and the code to embed it."""
    definition = _definition(slug)
    spec = definition.spec
    preview = build_wtform(spec, spec.language, None, current_app.config["HONEYPOT_FIELD"])
    page_url = public_url("hosted.show", slug=definition.slug)
    base = page_url[: -len(url_for("hosted.show", slug=definition.slug))]
    snippet = (
        f'<div data-leadgate-form="{definition.slug}" data-lang="{spec.language}"></div>\n'
        f'<script src="{base}/embed.js" async></script>'
    )
    iframe = (
        f'<iframe src="{page_url}?embed=1" title="{escape(spec.name, quote=True)}" '
        'width="100%" height="640" loading="lazy"></iframe>'
    )
    return render_template(
        "backoffice/form.html",
        definition=definition,
        spec=spec,
        preview=preview,
        page_url=page_url,
        snippet=snippet,
        iframe=iframe,
    )

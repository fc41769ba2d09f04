"""Hosted form pages (`/f/<slug>`): built from the definition with WTForms, working without JS.

The page is also framed on partner sites where third-party cookies are blocked, so it is
protected by the signed form token, not by a session cookie.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from flask import Blueprint, current_app, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from werkzeug.datastructures import MultiDict
from wtforms import Form, SelectChoice, fields, widgets

from capture.analytics.counts import count_view
from capture.base.db import db
from capture.base.extensions import csrf
from capture.forms.spec import FieldSpec, FormSpec, text_for
from capture.forms.store import FormDefinition, settled_form
from capture.submissions.api import origin_allowed
from capture.submissions.captcha import page_widget
from capture.submissions.client import request_origin
from capture.submissions.intake import (
    QUERY_KEYS,
    TOUCH_KEYS,
    build_intake,
    captcha_answer,
    check_form_encoding,
    read_form_post,
)
from capture.submissions.limits import submission_limits
from capture.submissions.public import (
    AUTOCOMPLETE,
    field_label,
    field_options,
    next_step,
    success_message,
)
from capture.submissions.record import ValidationFailed, record_submission
from capture.web.errors import ApiError
from capture.web.headers import allow_framing
from capture.web.i18n import LANGUAGES, language_versions, visitor_language
from capture.web.tokens import issue_form_token

bp = Blueprint("hosted", __name__)
csrf.exempt(bp)

_FIELD_CLASSES: dict[str, Any] = {
    "text": fields.StringField,
    "email": fields.EmailField,
    "tel": fields.TelField,
    "textarea": fields.TextAreaField,
    "select": fields.SelectField,
    "radio": fields.RadioField,
    "checkbox": fields.BooleanField,
    "number": fields.StringField,
    "url": fields.URLField,
    "country": fields.SelectField,
    "hidden": fields.HiddenField,
}


def build_wtform(spec: FormSpec, language: str, formdata: MultiDict | None, honeypot: str) -> Form:
    """A WTForms class for this definition, for rendering and re-displaying values only.

    Validation is `capture.forms.values`, shared with the API, so the rules cannot drift.
    """

    class HostedForm(Form):
        pass

    for field in spec.fields:
        setattr(HostedForm, field.name, _wtfield(field, language))
    for consent in spec.consents:
        setattr(
            HostedForm,
            f"consent_{consent.purpose}",
            fields.BooleanField(
                text_for(consent.text, language),
                render_kw={"required": True} if consent.required else {},
            ),
        )
    HostedForm.token = fields.HiddenField()
    setattr(
        HostedForm,
        honeypot,
        fields.StringField(
            _("Leave this empty"), render_kw={"tabindex": "-1", "autocomplete": "off"}
        ),
    )
    form = HostedForm(formdata=formdata)
    if formdata is None:
        form.token.data = issue_form_token(spec.slug, unique=True)
        for field in spec.fields:
            if field.source == "query" and field.name in request.args:
                form[field.name].data = request.args.get(field.name, "")[:200]
    return form


def _wtfield(field: FieldSpec, language: str) -> Any:
    render_kw: dict[str, Any] = {}
    if field.required and field.type != "checkbox":
        render_kw["required"] = True
    if field.type not in {"select", "radio", "checkbox", "country", "hidden", "number"}:
        # HTML allows maxlength on text-like inputs only (not number); the server checks anyway.
        render_kw["maxlength"] = field.limit
    if field.placeholder:
        render_kw["placeholder"] = text_for(field.placeholder, language)
    autocomplete = AUTOCOMPLETE.get(field.name)
    if autocomplete:
        render_kw["autocomplete"] = autocomplete
    kwargs: dict[str, Any] = {"render_kw": render_kw}
    if field.help:
        kwargs["description"] = text_for(field.help, language)
    if field.type in {"select", "radio", "country"}:
        # SelectChoice, not (value, label) tuples: WTForms 3.3 deprecates those, 3.4 drops them.
        choices = [SelectChoice(value, label) for value, label in field_options(field, language)]
        if field.type != "radio":
            choices = [SelectChoice("", "—"), *choices]
        kwargs["choices"] = choices
        kwargs["validate_choice"] = False
    if field.type == "number":
        kwargs["widget"] = widgets.NumberInput(step="any")
    return _FIELD_CLASSES[field.type](field_label(field, language), **kwargs)


def _load(slug: str) -> tuple[FormDefinition, str, bool]:
    form = settled_form(slug)
    if form is None:
        raise ApiError(404, "form_not_found", _("There is no form at this address."))
    language = visitor_language(form.language)
    embedded = request.args.get("embed") == "1"
    if embedded:
        allow_framing(form.spec.allowed_origins)
    g.embedded = embedded
    return form, language, embedded


def lead_form_context(
    form: FormDefinition,
    language: str,
    wtform: Form | None = None,
    embedded: bool = False,
    page_url: str | None = None,
) -> dict[str, Any]:
    """What `forms/_lead_form.html` needs, for every page that shows a lead form: the hosted
    page here and the magnets' landing page. One place, so both pages carry the same token,
    honeypot, CAPTCHA widget, attribution and language.

    `wtform`: the form as posted (an error page); a fresh one otherwise. `page_url`: the
    page's canonical address, when the form is not on its own page (a landing page).
    """
    if wtform is None:
        wtform = build_wtform(form.spec, language, None, _honeypot())
    asked = request.args.get("lang")
    return {
        "form": form,
        "spec": form.spec,
        "wtform": wtform,
        "language": language,
        "embedded": embedded,
        "captcha": page_widget(),
        "attribution": attribution(form.spec, page_url),
        "versions": language_versions("hosted.show", form.spec.languages, language, slug=form.slug),
        "form_action": url_for(
            "hosted.post",
            slug=form.slug,
            embed=1 if embedded else None,
            lang=asked if asked in LANGUAGES else None,
        ),
    }


def attribution(spec: FormSpec, page_url: str | None = None) -> dict[str, str]:
    """The hidden attribution inputs of a page's form: UTM parameters and ad click ids from
    the page's query, the Referer, and on a landing page its address and magnet (`page`).

    Each name at most once (a repeated name posts a list); names the definition declares are
    rendered with its fields. Without `page_url` the post's Referer (the page) stands in."""
    found = {key: request.args.get(key, "")[:200] for key in QUERY_KEYS}
    if request.referrer:
        found["referrer"] = request.referrer[:2048]
    if request.method == "POST":  # the form again after an error: keep what the page sent
        found.update({k: request.form[k][:2048] for k in TOUCH_KEYS if request.form.get(k)})
    if page_url:
        found["page_url"] = page_url
        found["page"] = spec.magnet or ""
    declared = {field.name for field in spec.fields}
    return {key: value for key, value in found.items() if value and key not in declared}


def _render(
    form: FormDefinition,
    wtform: Form,
    language: str,
    embedded: bool,
    status: int = 200,
    message: str | None = None,
) -> ResponseReturnValue:
    context = lead_form_context(form, language, wtform, embedded)
    return render_template("forms/page.html", message=message, **context), status


# Public pages may be indexed; the back office, the API and the one-person links of e-mails
# (downloads, confirmations, unsubscribes) may not.
ROBOTS_TXT = """User-agent: *
Allow: /
Disallow: /admin
Disallow: /api
Disallow: /d/
Disallow: /c/
Disallow: /u/
"""


@bp.get("/robots.txt")
def robots() -> ResponseReturnValue:
    return ROBOTS_TXT, 200, {"Content-Type": "text/plain; charset=utf-8"}


@bp.get("/f/<slug>")
def show(slug: str) -> ResponseReturnValue:
    form, language, embedded = _load(slug)
    if not form.is_open:
        return render_template("forms/closed.html", form=form, embedded=embedded), 410
    count_view(form=form.slug, partner=form.partner, language=language)
    return _render(form, build_wtform(form.spec, language, None, _honeypot()), language, embedded)


@bp.post("/f/<slug>")
@submission_limits
def post(slug: str) -> ResponseReturnValue:
    form, language, embedded = _load(slug)
    if not form.is_open:
        return render_template("forms/closed.html", form=form, embedded=embedded), 410
    if not origin_allowed(form, request_origin()):
        # A page elsewhere posting our form at us: the same rule as for the API.
        raise ApiError(403, "origin_not_allowed", _("This form cannot be sent from this site."))
    hidden = {field.name for field in form.spec.fields if field.type == "hidden"}
    check_form_encoding()
    values, consents, context, token = read_form_post(request.form, hidden)
    if not context.get("page_url") and request.referrer:
        context["page_url"] = request.referrer  # the page the form was on, for the ledger
    intake = build_intake(
        form,
        "iframe" if embedded else "hosted",
        language,
        values,
        consents,
        context,
        token,
        *_replay_key(token),
        captcha=captcha_answer(request.form),
    )
    try:
        outcome = record_submission(intake)
    except ValidationFailed as failed:
        db.session.rollback()
        wtform = build_wtform(form.spec, language, request.form, _honeypot())
        wtform.token.data = issue_form_token(form.slug, unique=True)
        for name, problems in failed.errors.items():
            target = f"consent_{name.split('.', 1)[1]}" if name.startswith("consents.") else name
            if target in wtform:
                wtform[target].errors = list(problems)
        return _render(form, wtform, language, embedded, 422, failed.message)
    db.session.commit()
    redirect_url = outcome.body.get("redirect_url")
    if redirect_url:  # quarantined too: spam must not be able to tell it was caught
        return redirect(redirect_url, 303)
    return render_template(
        "forms/thanks.html",
        form=form,
        answer=outcome.body,
        embedded=embedded,
        message=outcome.body.get("message") or success_message(form.spec, language),
        next_step=next_step(form.spec, language),
    )


def _replay_key(token: Any) -> tuple[str | None, str | None]:
    """A double click or a reload posts the same body with the same one-page token: that is
    one submission, answered again. Another body under the same token (back, edit, send) is
    a new one, so the key covers both. Returns (digest, idempotency key)."""
    if not isinstance(token, str) or not token:
        return None, None
    canonical = json.dumps(sorted(request.form.lists()), ensure_ascii=True)
    digest = hashlib.sha256(canonical.encode()).hexdigest()[:32]
    key = "page-" + hashlib.sha256(f"{token}|{digest}".encode()).hexdigest()[:40]
    return digest, key


def _honeypot() -> str:
    return current_app.config["HONEYPOT_FIELD"]

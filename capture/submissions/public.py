"""What visitors see of a form: labels in their language and the public definition document."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import current_app
from flask_babel import gettext as _

from capture.forms.spec import FieldSpec, FormSpec, text_for
from capture.forms.store import FormDefinition
from capture.forms.values import country_names
from capture.submissions.captcha import widget
from capture.web.tokens import issue_form_token
from capture.web.urls import public_url

# The browser's autofill names for the well-known fields.
AUTOCOMPLETE = {
    "email": "email",
    "first_name": "given-name",
    "last_name": "family-name",
    "phone": "tel",
    "company": "organization",
    "job_title": "organization-title",
    "country": "country",
    "website": "url",
}


def standard_labels() -> dict[str, str]:
    """Labels for the well-known fields, so a definition need not repeat them."""
    return {
        "email": _("E-mail"),
        "first_name": _("First name"),
        "last_name": _("Last name"),
        "phone": _("Phone"),
        "company": _("Company"),
        "job_title": _("Job title"),
        "company_size": _("Company size"),
        "industry": _("Industry"),
        "country": _("Country"),
        "website": _("Website"),
        "message": _("Message"),
        "budget": _("Budget"),
        "authority": _("Your role in the decision"),
        "need": _("What do you need?"),
        "timeline": _("When do you plan to start?"),
    }


def field_label(field: FieldSpec, language: str) -> str:
    return (
        text_for(field.label, language)
        or standard_labels().get(field.name)
        or field.name.replace("_", " ").capitalize()
    )


def field_options(field: FieldSpec, language: str) -> list[tuple[str, str]]:
    if field.type == "country":
        return list(country_names(language).items())
    return [(o.value, text_for(o.label, language) or o.value) for o in field.options]


def success_message(spec: FormSpec, language: str) -> str:
    return spec.text(spec.success_message, language) or _(
        "Thanks for your request, we will contact you as soon as possible!"
    )


def next_step(spec: FormSpec, language: str) -> tuple[str, str] | None:
    """The thank-you page's link onwards, (url, text): the definition's `success.next`, else
    the first site allowed to embed the form (the marketer's own), else none."""
    if spec.success_next_url:
        return spec.success_next_url, text_for(spec.success_next_label, language)
    if spec.allowed_origins:
        origin = spec.allowed_origins[0]
        return origin + "/", _("Continue to %(site)s", site=urlsplit(origin).hostname or origin)
    return None


def ui_texts() -> dict[str, str]:
    """Texts the embed script needs, in the visitor's language."""
    return {
        "submit": _("Send"),
        "sending": _("Sending..."),
        "required": _("This field is required."),
        "failed": _("Oops! Something went wrong. Your message was not sent."),
        "offline": _("No connection. We keep trying..."),
        "busy": _("Busy right now. We keep trying..."),
        "download": _("Download"),
        "check_email": _("Check your inbox to confirm your e-mail address."),
        "optional": _("optional"),
    }


def public_definition(form: FormDefinition, language: str) -> dict[str, Any]:
    """The form as the embed script renders it; contains no internal ids or settings."""
    spec = form.spec
    fields = []
    for field in spec.fields:
        item: dict[str, Any] = {
            "name": field.name,
            "type": field.type,
            "label": field_label(field, language),
            "required": field.required,
            "max_length": field.limit,
        }
        if field.type in {"select", "radio", "country"}:
            item["options"] = [
                {"value": v, "label": label} for v, label in field_options(field, language)
            ]
        if field.placeholder:
            item["placeholder"] = text_for(field.placeholder, language)
        if field.help:
            item["help"] = text_for(field.help, language)
        if field.source:
            item["source"] = field.source
        if field.name in AUTOCOMPLETE:
            item["autocomplete"] = AUTOCOMPLETE[field.name]
        fields.append(item)
    return {
        "slug": spec.slug,
        "version": form.version,
        "language": language,
        "name": spec.title_in(language),
        "fields": fields,
        "consents": [
            {"purpose": c.purpose, "required": c.required, "text": text_for(c.text, language)}
            for c in spec.consents
        ],
        "honeypot": current_app.config["HONEYPOT_FIELD"],
        "token": issue_form_token(spec.slug, language=language),
        # Answers and errors come back in the language the form is shown in.
        "submit_url": public_url("forms_api.submit", slug=spec.slug, lang=language),
        "beacon_url": public_url("beacons.beacon", slug=spec.slug, lang=language),
        "texts": ui_texts(),
        "captcha": widget(),
    }

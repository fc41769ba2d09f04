"""Language of visitor-facing text: the form's language, `?lang=`, else the browser's."""

from __future__ import annotations

from flask import Flask, g, has_request_context, request
from flask_babel import refresh

from capture.base.extensions import babel

# The languages of visitor-facing text (forms, pages, e-mails); English is the source language.
LANGUAGES = ("da", "sv", "en")


def visitor_language(form_language: str | None = None) -> str:
    """Pick and remember the language for this request; `?lang=` wins over the form's."""
    asked = request.args.get("lang")
    if asked in LANGUAGES:
        language = asked
    elif form_language in LANGUAGES:
        language = form_language
    else:
        language = request.accept_languages.best_match(LANGUAGES) or "en"
    g.language = language
    refresh()  # the locale may have been read before the form's language was known
    return language


def _select_locale() -> str:
    """Pages without a form (a wrong address, a rate limit) still honour `?lang=`."""
    language = g.get("language")
    if language:
        return language
    if not has_request_context():  # the CLI and the worker choose with force_locale()
        return "en"
    asked = request.args.get("lang")
    if asked in LANGUAGES:
        return asked
    return request.accept_languages.best_match(LANGUAGES) or "en"


def init_app(app: Flask) -> None:
    babel.init_app(app, locale_selector=_select_locale)

"""Language of visitor-facing text: the form's language, `?lang=`, else the browser's."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from flask import Flask, g, has_request_context, request, url_for
from flask_babel import refresh

from capture.base.context import this_g, this_request
from capture.base.extensions import babel
from capture.web.urls import public_url

# The languages of visitor-facing text (forms, pages, e-mails); English is the source language.
LANGUAGES = ("da", "sv", "en")
# Each language's name in itself, for a language switch.
LANGUAGE_NAMES = {"da": "Dansk", "sv": "Svenska", "en": "English"}


def visitor_language(form_language: str | None = None) -> str:
    """Pick and remember the language for this request; `?lang=` wins over the form's."""
    current = this_request()
    asked = current.args.get("lang")
    if asked in LANGUAGES:
        language = asked
    elif form_language in LANGUAGES:
        language = form_language
    else:
        language = current.accept_languages.best_match(LANGUAGES) or "en"
    this_g().language = language
    refresh()  # the locale may have been read before the form's language was known
    return language


@dataclass(frozen=True)
class Version:
    language: str
    name: str
    href: str  # absolute and clean: hreflang alternates
    link: str  # this page's query kept (UTM values): the language switch
    current: bool


@dataclass(frozen=True)
class Versions:
    """A page's language versions: `hreflang` alternates, x-default and a switch."""

    items: list[Version]
    x_default: str
    url: str  # the current language's own address

    def __bool__(self) -> bool:
        return len(self.items) > 1


def language_versions(
    endpoint: str, languages: Iterable[str], current: str, **values: Any
) -> Versions:
    """The versions of a page served at `endpoint` in `languages` (`?lang=`); x-default is
    the address without `lang`, which answers in the visitor's language."""
    kept: dict[str, Any] = {
        k: v for k, v in request.args.items() if k != "lang" and k not in values
    }
    offered = set(languages)
    items = [
        Version(
            language=code,
            name=LANGUAGE_NAMES[code],
            href=public_url(endpoint, lang=code, **values),
            link=url_for(endpoint, **values, **kept, lang=code),
            current=code == current,
        )
        for code in LANGUAGES
        if code in offered
    ]
    url = public_url(endpoint, lang=current, **values)
    return Versions(items=items, x_default=public_url(endpoint, **values), url=url)


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

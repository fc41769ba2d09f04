"""What a landing page says, per language and variant, and which language a visitor gets.

The magnet's own columns (`headline`, `description`) are the page in its language; `texts`
holds the other languages and, for every language, the cover's alt text and the button text
({language: {headline, body, cover_alt, button}}). Whatever a language lacks falls back to the
magnet's language; a variant's copy falls back to the page's in the same language.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from flask import request

from capture.web.i18n import LANGUAGES
from magnets.magnet import Magnet
from magnets.variants import TEXT_KEYS, LandingVariant

LIMITS = {"headline": 300, "body": 20_000, "cover_alt": 300, "button": 60}


@dataclass(frozen=True)
class Copy:
    headline: str
    body: str  # Markdown
    cover_alt: str
    button: str | None  # None: the page's own words ("Get it for free", "Download")
    language: str  # the language of the headline and body as shown (a fallback's)


def own_texts(magnet: Magnet, language: str) -> dict[str, str]:
    return dict((magnet.texts or {}).get(language) or {})


def written_languages(magnet: Magnet) -> list[str]:
    """The languages the page has a headline or body in, the magnet's own first."""
    texts = magnet.texts or {}
    others = [
        lang
        for lang in LANGUAGES
        if lang != magnet.language
        and ((texts.get(lang) or {}).get("headline") or (texts.get(lang) or {}).get("body"))
    ]
    return [magnet.language, *others]


def page_languages(magnet: Magnet, form_languages: Iterable[str]) -> list[str]:
    """Languages a visitor can read the page in: its copy's and its gating forms'."""
    found = set(written_languages(magnet)) | set(form_languages)
    return [lang for lang in LANGUAGES if lang in found]


def choose_language(magnet: Magnet, available: list[str]) -> str:
    """`?lang=` first, then the browser's Accept-Language among the page's languages, then
    the magnet's own language."""
    asked = request.args.get("lang")
    if asked in LANGUAGES:
        return str(asked)
    return request.accept_languages.best_match(available) or magnet.language


def copy_for(magnet: Magnet, language: str, variant: LandingVariant | None = None) -> Copy:
    """The page's words in `language`, a variant's where it has its own."""
    own = own_texts(magnet, language)
    default = own_texts(magnet, magnet.language)
    mine: dict[str, Any] = {}
    if variant is not None and not variant.is_control:
        mine = dict(variant.texts.get(language) or {})
    if language == magnet.language:
        headline, body, shown = magnet.display_headline, magnet.description, language
    elif own.get("headline") or own.get("body"):
        headline = own.get("headline") or magnet.display_headline
        body, shown = own.get("body") or magnet.description, language
    else:
        headline, body, shown = magnet.display_headline, magnet.description, magnet.language
    if mine.get("headline") or mine.get("body"):
        shown = language
    return Copy(
        headline=mine.get("headline") or headline,
        body=mine.get("body") or body,
        cover_alt=mine.get("cover_alt")
        or own.get("cover_alt")
        or default.get("cover_alt")
        or magnet.title,
        button=mine.get("button") or own.get("button") or None,
        language=shown,
    )


def read_texts(values: dict[str, Any], languages: Iterable[str] = LANGUAGES) -> dict[str, Any]:
    """{language: {key: text}} from flat form values named `<language>_<key>`, trimmed and
    cut to size; empty texts are left out."""
    texts: dict[str, Any] = {}
    for language in languages:
        found = {}
        for key in TEXT_KEYS:
            value = (values.get(f"{language}_{key}") or "").strip()
            if value:
                found[key] = value[: LIMITS[key]]
        if found:
            texts[language] = found
    return texts

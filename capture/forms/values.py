"""Checking submitted values against a form's fields: one set of rules for every channel.

Returns cleaned values (only declared fields, typed and normalised) and errors keyed by field
name, with messages in the visitor's language.
"""

from __future__ import annotations

import math
import re
import unicodedata
from functools import cache
from typing import Any
from urllib.parse import urlsplit

import phonenumbers
from babel import Locale
from email_validator import EmailNotValidError, validate_email
from flask_babel import gettext as _

from capture.forms.spec import FieldSpec, FormSpec

Scalar = str | int | float | bool | None
Errors = dict[str, list[str]]

# Control characters other than tab and line breaks have no place in a lead's data (and
# PostgreSQL refuses NUL outright).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_REGION_BY_LANGUAGE = {"da": "DK", "sv": "SE", "en": None}
_TRUE = {"1", "true", "on", "yes", "y"}
_FALSE = {"", "0", "false", "off", "no", "n"}


@cache
def country_names(language: str) -> dict[str, str]:
    """ISO 3166 alpha-2 codes and their names in `language`, sorted by name."""
    territories = Locale.parse(language).territories
    pairs = [(code, name) for code, name in territories.items() if re.fullmatch(r"[A-Z]{2}", code)]
    pairs = [(c, n) for c, n in pairs if c not in {"ZZ", "XA", "XB", "EU", "EZ", "UN", "QO"}]
    return dict(sorted(pairs, key=lambda pair: pair[1]))


def is_clean_text(value: str) -> bool:
    """Refuse what cannot be stored or shown safely: control characters, lone surrogates."""
    if _CONTROL.search(value):
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


ZWJ = "\u200d"


def strip_format_characters(value: str) -> str:
    """`value` without Unicode format characters (category Cf): bidirectional overrides and
    isolates (U+202A-U+202E, U+2066-U+2069, which make "gnp.exe" read as "exe.png"), zero-width
    spaces and joiners, the byte order mark, soft hyphens, tag characters. None is visible, all
    change what people read in the back office and in spreadsheets.

    One exception: a zero-width joiner between two emoji (a family, a profession with a skin
    tone) is kept, as without it the emoji falls apart into its parts; between letters it is
    dropped like the rest.
    """
    if value.isascii():
        return value
    kept: list[str] = []
    for i, char in enumerate(value):
        if unicodedata.category(char) != "Cf" or _joins_emoji(value, i):
            kept.append(char)
    return "".join(kept)


def _joins_emoji(value: str, i: int) -> bool:
    """Whether value[i] is a ZWJ after an emoji, its presentation selector (U+FE0F) or a skin
    tone (U+1F3FB-U+1F3FF), and before another emoji."""
    if value[i] != ZWJ or not 0 < i < len(value) - 1:
        return False
    before, after = value[i - 1], value[i + 1]
    emoji_before = unicodedata.category(before) == "So" or before == "\ufe0f"
    tone_before = "\U0001f3fb" <= before <= "\U0001f3ff"
    return (emoji_before or tone_before) and unicodedata.category(after) == "So"


def normalise_email(value: str) -> str:
    """Syntax-checked, normalised and lower-cased, so one person is one lead however typed.

    No DNS look-ups: they are slow, flaky and leak visitors' domains to resolvers.
    """
    result = validate_email(value, check_deliverability=False)
    return result.normalized.lower()


def clean_values(
    spec: FormSpec, raw: dict[str, Any], language: str
) -> tuple[dict[str, Any], Errors]:
    """Check `raw` against `spec`. Undeclared names are dropped here and never go further."""
    values: dict[str, Any] = {}
    errors: Errors = {}
    for field in spec.fields:
        value, problem = _clean_one(field, raw.get(field.name), language)
        if problem:
            errors[field.name] = [problem]
        elif value not in (None, ""):
            values[field.name] = value
    return values, errors


def _clean_one(field: FieldSpec, raw: Any, language: str) -> tuple[Any, str | None]:
    if isinstance(raw, list | dict):
        return None, _("Enter a single value.")
    if field.type == "checkbox":
        return _clean_checkbox(field, raw)
    if isinstance(raw, bool):
        raw = "true" if raw else "false"
    if isinstance(raw, int | float):
        if isinstance(raw, float) and not math.isfinite(raw):
            return None, _("Enter a number.")
        raw = str(raw)
    text = unicodedata.normalize("NFC", raw) if isinstance(raw, str) else ""
    text = strip_format_characters(text).strip()
    if not text:
        return (None, _("This field is required.")) if field.required else (None, None)
    if not is_clean_text(text) or (field.type != "textarea" and ("\n" in text or "\r" in text)):
        return None, _("This contains characters that are not allowed.")
    if len(text) > field.limit:
        return None, _("Use at most %(max)d characters.", max=field.limit)
    value, problem = _CLEANERS.get(field.type, _keep)(field, text, language)
    if isinstance(value, str) and len(value) > field.limit:
        # Cleaning may lengthen a value ("www.x.dk" gains "https://"): check what is kept.
        return None, _("Use at most %(max)d characters.", max=field.limit)
    return value, problem


def _keep(field: FieldSpec, text: str, language: str) -> tuple[Any, str | None]:
    return text, None


def _clean_checkbox(field: FieldSpec, raw: Any) -> tuple[Any, str | None]:
    if raw is None or isinstance(raw, bool):
        checked = bool(raw)
    elif isinstance(raw, str) and raw.strip().lower() in _TRUE | _FALSE:
        checked = raw.strip().lower() in _TRUE
    else:
        return None, _("Tick the box or leave it empty.")
    if field.required and not checked:
        return None, _("This field is required.")
    return checked, None


def _clean_email(field: FieldSpec, text: str, language: str) -> tuple[Any, str | None]:
    try:
        return normalise_email(text), None
    except EmailNotValidError:
        return None, _("Enter a valid e-mail address.")


def _clean_phone(field: FieldSpec, text: str, language: str) -> tuple[Any, str | None]:
    try:
        number = phonenumbers.parse(text, _REGION_BY_LANGUAGE.get(language))
    except phonenumbers.NumberParseException:
        number = None
    # Possible (a plausible length for its country), not "valid": range metadata lags real
    # allocations, and refusing a real number costs a lead. "12 34 56 78" is a Danish number.
    if number is None or not phonenumbers.is_possible_number(number):
        return None, _("Enter a valid phone number, with the country code (+45 ...).")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), None


def _clean_choice(field: FieldSpec, text: str, language: str) -> tuple[Any, str | None]:
    if text not in {option.value for option in field.options}:
        return None, _("Choose one of the options.")
    return text, None


def _clean_number(field: FieldSpec, text: str, language: str) -> tuple[Any, str | None]:
    try:
        number = float(text.replace(",", ".")) if len(text) <= 30 else math.nan
    except ValueError:
        number = math.nan
    if not math.isfinite(number):
        return None, _("Enter a number.")
    return (int(number) if number.is_integer() and abs(number) < 2**53 else number), None


def _clean_url(field: FieldSpec, text: str, language: str) -> tuple[Any, str | None]:
    if "://" not in text and "." in text and " " not in text:
        text = "https://" + text
    try:
        parts = urlsplit(text)
        valid = parts.scheme in {"http", "https"} and bool(parts.hostname) and " " not in text
    except ValueError:
        valid = False
    if not valid:
        return None, _("Enter a web address starting with http:// or https://.")
    return text, None


def _clean_country(field: FieldSpec, text: str, language: str) -> tuple[Any, str | None]:
    code = text.upper()
    if code not in country_names("en"):
        return None, _("Choose a country.")
    return code, None


_CLEANERS = {
    "email": _clean_email,
    "tel": _clean_phone,
    "select": _clean_choice,
    "radio": _clean_choice,
    "number": _clean_number,
    "url": _clean_url,
    "country": _clean_country,
}

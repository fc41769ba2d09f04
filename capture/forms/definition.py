"""The definition parser: a document (YAML, JSON, or stored) checked into a `FormSpec`.

`parse_definition` either returns the spec or raises `DefinitionError` listing every problem by
its path (`fields[2].type: ...`), so one import reports all of them at once.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Any
from urllib.parse import urlsplit

from capture.base.lifecycle import CONVERSION_KINDS
from capture.forms.origins import is_allowed_origin, normalise_origin, origin_of
from capture.forms.reader import DefinitionReader, is_one_of
from capture.forms.spec import (
    SLUG_RE,
    ConsentSpec,
    DefinitionError,
    FieldSpec,
    FormSpec,
    Texts,
)
from capture.web.i18n import LANGUAGES

TOP_LEVEL_KEYS = frozenset(
    {
        "slug",
        "name",
        "conversion",
        "language",
        "magnet",
        "email_magnet",
        "fields",
        "consents",
        "double_opt_in",
        "success",
        "allowed_origins",
        "partner",
        "status",
        "description",
        "title",
    }
)


# Control characters (tab and line breaks aside) and lone surrogates: no database stores them
# alike (PostgreSQL refuses NUL, SQLite keeps it) and no UTF-8 encoder takes a lone surrogate.
_UNSTORABLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


# More values than any form needs (a hundred fields in three languages use a few thousand).
# A bound on the walk, so a document whose parts are shared (YAML aliases from a loader that
# keeps them, a dictionary built in code) cannot expand to billions of values as it is read.
MAX_VALUES = 20_000


def _unstorable_texts(document: dict[str, Any]) -> list[str]:
    """Paths of the texts (keys included) in a document that cannot be stored as written.

    Raises `DefinitionError` for a document of more than `MAX_VALUES` values."""
    found: list[str] = []
    pending: list[tuple[str, Any]] = [("", document)]
    seen = 0
    while pending:  # a loop, not recursion: a document may nest as deep as JSON allows
        path, value = pending.pop()
        seen += 1
        if seen > MAX_VALUES:
            raise DefinitionError([f"definition: too large (more than {MAX_VALUES} values)"])
        if isinstance(value, str):
            if _UNSTORABLE.search(value):
                found.append(path)
        elif isinstance(value, dict):
            for key, item in value.items():
                if isinstance(key, str) and _UNSTORABLE.search(key):
                    found.append(path or "definition")
                else:
                    pending.append((f"{path}.{key}" if path else str(key), item))
        elif isinstance(value, list):
            pending.extend((f"{path}[{i}]", item) for i, item in enumerate(value))
    return sorted(set(found))


# A conversion kind's identifier: the built-ins, or one added at run time (kinds in force).
KIND_RE = re.compile(r"^[a-z][a-z0-9_]{1,39}$")


def parse_definition(raw: Any, kinds: Collection[str] | None = CONVERSION_KINDS) -> FormSpec:
    """Validate a definition document and return its spec, or raise `DefinitionError`.

    `conversion` must be one of `kinds` (callers that can pass the kinds in force do); None
    takes any kind identifier, for documents saved after that check (kinds are never removed).
    """
    reader = DefinitionReader()
    if not isinstance(raw, dict):
        raise DefinitionError(["definition: must be a mapping"])
    for path in _unstorable_texts(raw):
        reader.problem(path, "contains control characters or invalid Unicode")
    for key in sorted(set(raw) - TOP_LEVEL_KEYS):
        reader.problem(key, "unknown key")

    slug = raw.get("slug")
    if not isinstance(slug, str) or not SLUG_RE.match(slug):
        reader.problem("slug", "must be 1-80 lower-case letters, digits and hyphens")
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        reader.problem("name", "is required")
    conversion = raw.get("conversion")
    if kinds is None:
        if not isinstance(conversion, str) or not KIND_RE.match(conversion):
            reader.problem("conversion", f"unknown conversion kind {conversion!r}")
    elif not is_one_of(conversion, kinds):
        reader.problem(
            "conversion",
            f"unknown conversion kind {conversion!r} (use {', '.join(sorted(kinds))})",
        )
    language = raw.get("language", "en")
    if not is_one_of(language, LANGUAGES):
        reader.problem("language", f"must be one of {', '.join(LANGUAGES)}")
    magnet = raw.get("magnet")
    if magnet is not None and (not isinstance(magnet, str) or not SLUG_RE.match(magnet)):
        reader.problem("magnet", "must be a magnet slug")
    partner = raw.get("partner")
    if partner is not None and (not isinstance(partner, str) or not SLUG_RE.match(partner)):
        reader.problem("partner", "must be a partner slug")
    status = raw.get("status", "active")
    if not is_one_of(status, ("active", "closed")):
        reader.problem("status", "must be active or closed")

    fields: list[FieldSpec] = []
    raw_fields = raw.get("fields", [])
    if not isinstance(raw_fields, list):
        reader.problem("fields", "must be a list")
        raw_fields = []
    for i, raw_field in enumerate(raw_fields):
        parsed = reader.field(raw_field, f"fields[{i}]")
        if parsed:
            fields.append(parsed)
    names = [f.name for f in fields]
    for duplicate in sorted({n for n in names if names.count(n) > 1}):
        reader.problem("fields", f"field {duplicate!r} appears more than once")
    if "email" not in names:
        fields.insert(0, FieldSpec(name="email", type="email", required=True))

    consents: list[ConsentSpec] = []
    raw_consents = raw.get("consents", [])
    if not isinstance(raw_consents, list):
        reader.problem("consents", "must be a list")
        raw_consents = []
    for i, raw_consent in enumerate(raw_consents):
        parsed_consent = reader.consent(raw_consent, f"consents[{i}]")
        if parsed_consent:
            consents.append(parsed_consent)
    purposes = [c.purpose for c in consents]
    if len(set(purposes)) != len(purposes):
        reader.problem("consents", "each purpose may appear once")
    if "processing" not in purposes:
        reader.problem(
            "consents", "a processing consent (the text shown with the form) is required"
        )

    success = raw.get("success") or {}
    if not isinstance(success, dict):
        reader.problem("success", "must be a mapping with message and redirect")
        success = {}
    redirect = success.get("redirect")
    origins: list[str] = []
    raw_origins = raw.get("allowed_origins", [])
    if not isinstance(raw_origins, list):
        reader.problem("allowed_origins", "must be a list of origins")
        raw_origins = []
    for i, origin in enumerate(raw_origins):
        if not isinstance(origin, str) or not is_allowed_origin(origin):
            reader.problem(
                f"allowed_origins[{i}]",
                "must be an origin like https://www.example.com (scheme, host, optional port;"
                " no wildcards, paths, spaces or ;)",
            )
        else:
            origins.append(normalise_origin(origin))
    if redirect is not None and not _safe_redirect(redirect, origins):
        reader.problem(
            "success.redirect",
            "must be a path on this site (/thanks) or a URL on one of the allowed origins",
        )

    double_opt_in = reader.boolean(raw.get("double_opt_in"), "double_opt_in")
    email_magnet = reader.boolean(raw.get("email_magnet"), "email_magnet")
    if email_magnet and not magnet:
        reader.problem("email_magnet", "needs a magnet to e-mail")
    success_message = reader.texts(success.get("message"), "success.message")
    title = reader.texts(raw.get("title"), "title")
    next_url, next_label = _next_step(reader, success.get("next"))
    if reader.problems:
        raise DefinitionError(reader.problems)
    if not (isinstance(slug, str) and isinstance(name, str) and isinstance(conversion, str)):
        raise TypeError("checked above: a problem was recorded for each")  # pragma: no cover
    return FormSpec(
        slug=slug,
        name=name.strip(),
        conversion=conversion,
        language=language,
        magnet=magnet,
        email_magnet=email_magnet,
        fields=tuple(fields),
        consents=tuple(consents),
        double_opt_in=double_opt_in,
        success_message=success_message,
        success_redirect=redirect,
        success_next_url=next_url,
        success_next_label=next_label,
        allowed_origins=tuple(dict.fromkeys(origins)),
        partner=partner,
        status=status,
        description=raw.get("description") if isinstance(raw.get("description"), str) else None,
        title=title,
    )


def _next_step(reader: Any, raw: Any) -> tuple[str | None, Texts]:
    """`success.next`: {url: a path on this site or an http(s) URL, label: texts}, optional."""
    if raw is None:
        return None, {}
    if not isinstance(raw, dict):
        reader.problem("success.next", "must be a mapping with url and label")
        return None, {}
    url = raw.get("url")
    if not _link_target(url):
        reader.problem("success.next.url", "must be a path on this site or an http(s) URL")
        url = None
    return url, reader.texts(raw.get("label"), "success.next.label", required=True)


def _link_target(url: Any) -> bool:
    if not isinstance(url, str) or not url or len(url) > 2000:
        return False
    if any(c in url for c in '\\\r\n\t <>"'):
        return False
    if url.startswith("/"):
        return not url.startswith("//")
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme in {"http", "https"} and bool(parts.netloc)


def _safe_redirect(target: Any, origins: list[str]) -> bool:
    """Same-site paths or URLs on an allowed origin only: no open redirects through forms."""
    if not isinstance(target, str) or not target or any(c in target for c in "\\\r\n\t"):
        return False
    if target.startswith("/") and not target.startswith("//"):
        return True
    try:
        return urlsplit(target).scheme in {"http", "https"} and origin_of(target) in origins
    except ValueError:  # "https://[::1", a port out of range: not a place to send people
        return False

"""Signed tokens: one itsdangerous serializer per purpose, each with its own salt.

A token made for one purpose (say, confirming an e-mail) never verifies as another (say, a
download), even though all are signed with the same SECRET_KEY.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from capture.base.context import this_app
from capture.web.i18n import LANGUAGES


class Purpose(StrEnum):
    FORM = "form"
    DOWNLOAD = "download"
    CONFIRM = "confirm"
    UNSUBSCRIBE = "unsubscribe"
    FRESH_LINK = "fresh-link"
    PRIVACY_EXPORT = "privacy-export"  # the e-mailed link to a person's own data
    PRIVACY_ERASE = "privacy-erase"  # the e-mailed link that confirms an erasure request
    TRACKING = "tracking"


class InvalidToken(ValueError):
    """Tampered, unknown, or made for another purpose."""


class ExpiredToken(InvalidToken):
    def __init__(self, payload: Any = None):
        super().__init__("token expired")
        self.payload = payload


SERIALIZERS = "leadgate.serializers"


def serializer(purpose: Purpose) -> URLSafeTimedSerializer:
    # itsdangerous signs with the last key and verifies with all: rotation without breaking
    # the download and confirmation links already sent.
    app = this_app()
    config = app.config
    keys = (*config.get("SECRET_KEY_FALLBACKS", []), config["SECRET_KEY"])
    # Made once per purpose and keys (a download link is verified on every click); a changed
    # key makes a new one.
    made: dict[tuple[Purpose, tuple[Any, ...]], URLSafeTimedSerializer]
    made = app.extensions.setdefault(SERIALIZERS, {})
    found = made.get((purpose, keys))
    if found is None:
        if len(made) >= 64:
            made.clear()
        found = made[(purpose, keys)] = URLSafeTimedSerializer(
            list(keys), salt=f"leadgate.{purpose}"
        )
    return found


def sign(purpose: Purpose, payload: Any) -> str:
    return serializer(purpose).dumps(payload)


def verify(purpose: Purpose, token: str, max_age: int | None = None) -> tuple[Any, datetime]:
    """The payload and the time it was signed; raises `ExpiredToken` or `InvalidToken`."""
    # Our tokens are URL-safe ASCII; anything else (a lone surrogate from JSON, say) would make
    # itsdangerous raise UnicodeEncodeError instead of BadSignature.
    if not isinstance(token, str) or not token or len(token) > 2048 or not token.isascii():
        raise InvalidToken("no token")
    signer = serializer(purpose)
    try:
        payload, issued = signer.loads(token, max_age=max_age, return_timestamp=True)
    except SignatureExpired as exc:
        # The signature was good: the payload is trustworthy, only old.
        raise ExpiredToken(exc.payload and signer.load_payload(exc.payload)) from exc
    except BadSignature as exc:
        raise InvalidToken("bad signature") from exc
    return payload, issued.astimezone(UTC)


@dataclass(frozen=True)
class FormTokenCheck:
    """What the form token says about a submission: good, or the spam signal it raises, and
    the language the form was shown in (when the token is genuine, expired or not)."""

    problem: str | None
    age_seconds: float | None = None
    language: str | None = None


def issue_form_token(slug: str, unique: bool = False, language: str | None = None) -> str:
    """`unique`: one token per rendered page, so a hosted post can be told from its double.
    `language`: the language the form was shown in, for a client that posts without `?lang=`."""
    payload = {"f": slug}
    if unique:
        payload["n"] = secrets.token_urlsafe(9)
    if language:
        payload["l"] = language
    return sign(Purpose.FORM, payload)


def _shown_in(payload: Any) -> str | None:
    language = payload.get("l") if isinstance(payload, dict) else None
    return language if language in LANGUAGES else None


def check_form_token(token: Any, slug: str) -> FormTokenCheck:
    """Bots post without loading the form, post someone else's form, or post instantly.

    Verified once per submission: the answer also carries the language the form was shown in,
    which the API needs before anything else (the consent text on record must be that one).
    """
    config = current_app.config
    if not isinstance(token, str) or not token:
        return FormTokenCheck("missing_token")
    try:
        payload, issued = verify(Purpose.FORM, token, max_age=config["FORM_TOKEN_MAX_AGE"])
    except ExpiredToken as expired:
        return FormTokenCheck("expired_token", language=_shown_in(expired.payload))
    except InvalidToken:
        return FormTokenCheck("bad_token")
    language = _shown_in(payload)
    if not isinstance(payload, dict) or payload.get("f") != slug:
        return FormTokenCheck("bad_token", language=language)
    age = (datetime.now(UTC) - issued).total_seconds()
    if age < config["FORM_MIN_FILL_SECONDS"]:
        return FormTokenCheck("too_fast", age, language)
    return FormTokenCheck(None, age, language)

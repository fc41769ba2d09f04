"""Reading a submission out of a request: JSON or form-encoded, strictly, into an `Intake`.

Everything a client controls is checked here, at the boundary: the body's size, encoding,
nesting and shape, the idempotency key, the context values. Problems become contract errors
(400, 413, 415), never exceptions that escape as 500s.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_to_bytes, urlsplit

from flask import request
from flask_babel import gettext as _

from capture.base.context import this_request
from capture.forms.partners import partner_for_origin
from capture.forms.store import FormDefinition
from capture.forms.values import is_clean_text, strip_format_characters
from capture.submissions.captcha import RESPONSE_FIELDS
from capture.submissions.client import request_origin, user_agent
from capture.submissions.envelope import SubmissionEnvelope
from capture.web.errors import ApiError
from capture.web.params import ParamError, check
from capture.web.tokens import FormTokenCheck

# Ad networks' click ids, taken from the page's address like the UTM parameters: Google Ads
# (gclid, and gbraid/wbraid for iOS), Microsoft Ads, Meta, LinkedIn.
CLICK_IDS = ("gclid", "gbraid", "wbraid", "msclkid", "fbclid", "li_fat_id")
QUERY_KEYS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content", *CLICK_IDS)
# `variant`: the landing page variant shown; `page`: the landing page (its magnet's slug).
TOUCH_KEYS = (*QUERY_KEYS, "variant", "page", "referrer", "page_url")


@dataclass
class Intake:
    """A submission as read from a request, before any check."""

    form: FormDefinition
    fields: dict[str, Any]
    consents: dict[str, Any]
    context: dict[str, str]
    token: Any
    channel: str
    language: str
    ip: str | None = None
    user_agent: str | None = None
    origin: str | None = None
    partner: str | None = None
    idempotency_key: str | None = None
    request_digest: str | None = None
    captcha: Any = None
    # The form token's check, when the channel already made it (the API, for the language).
    token_check: FormTokenCheck | None = None


class Unread:
    """Marks a value the caller did not read, as opposed to one it read as None."""


UNREAD = Unread()
CONSENT_PREFIXES = ("consent_", "consents.", "consents[")


def bad_request(message: str) -> ApiError:
    return ApiError(400, "bad_request", message)


def load_json(raw: bytes) -> Any:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise bad_request(_("The body is not valid UTF-8.")) from exc
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise bad_request(_("The body is not valid JSON.")) from exc


def check_form_encoding() -> None:
    """Refuse a form post whose text is not UTF-8, before any of it is read.

    Werkzeug keeps undecodable bytes of a url-encoded body as their `%FF` escapes and turns
    those of a multipart body into U+FFFD: either way the visitor's name would be stored as
    something they did not type. Checked on the raw body, as percent-decoded bytes.
    """
    if request.mimetype == "application/x-www-form-urlencoded":
        raw = request.get_data(cache=True, parse_form_data=False)
        for part in raw.split(b"&"):
            try:
                unquote_to_bytes(part.replace(b"+", b" ")).decode("utf-8")
            except UnicodeDecodeError:
                raise bad_request(_("The form is not valid UTF-8.")) from None
    elif request.mimetype == "multipart/form-data":
        request.get_data(cache=True, parse_form_data=False)
        if any("\ufffd" in text for item in request.form.items(multi=True) for text in item):
            raise bad_request(_("The form is not valid UTF-8."))


def _envelope(payload: dict[str, Any]) -> SubmissionEnvelope:
    try:
        return check(SubmissionEnvelope, payload)
    except ParamError as error:
        raise bad_request(next(iter(error.fields.values()))[0]) from None


@dataclass
class Payload:
    """A submission body as read, before any check of its values."""

    fields: dict[str, Any]
    consents: dict[str, Any]
    context: dict[str, Any]
    token: Any
    captcha: Any
    # From the body, for clients that cannot send headers without a CORS preflight.
    idempotency_key: Any
    digest: str


# The embed posts its JSON as text/plain: a CORS "simple request" needs no preflight, so a
# submission costs one round trip, and a refused origin reaches us and gets its 403.
JSON_TYPES = frozenset({"application/json", "text/plain"})


def read_payload() -> Payload:
    """The body of an API submission, by content type; the digest identifies it for replays."""
    current = this_request()
    mimetype = current.mimetype
    if mimetype in JSON_TYPES or mimetype.endswith("+json"):
        payload = load_json(current.get_data(cache=True))
        if not isinstance(payload, dict):
            raise bad_request(_("The body must be a JSON object."))
        envelope = _envelope(payload)
        fields, consents, context = envelope.fields, envelope.consents, envelope.context
        token, captcha, key = envelope.token, envelope.captcha, envelope.idempotency_key
    elif mimetype in {"application/x-www-form-urlencoded", "multipart/form-data"}:
        check_form_encoding()
        fields, consents, context, token = read_form_post(current.form)
        captcha, key = captcha_answer(current.form), current.form.get("idempotency_key")
        fields.pop("idempotency_key", None)
    else:
        raise ApiError(415, "unsupported_media_type", _("Send JSON or a form post."))
    signed = {"fields": fields, "consents": consents, "context": context, "token": token}
    if captcha is not None:
        signed["captcha"] = captcha
    canonical = json.dumps(signed, sort_keys=True, ensure_ascii=True, default=str)
    digest = hashlib.sha256(canonical.encode()).hexdigest()
    return Payload(fields, consents, context, token, captcha, key, digest)


def captcha_answer(form: Any) -> str | None:
    """The widget's answer in a form post: its own field name, or plain `captcha`."""
    for name in ("captcha", *sorted(RESPONSE_FIELDS)):
        value = form.get(name)
        if value:
            return value
    return None


def read_form_post(
    form: Any, single: frozenset[str] | set[str] = frozenset()
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any], Any]:
    """Split a flat form post into fields, consents (`consent_<purpose>`), context and token.

    A name posted twice becomes a list, which a field refuses ("Enter a single value"). For
    names the visitor cannot see, a refusal would be an error nobody can correct, and dropping
    the value loses it silently: the attribution keys and the fields named in `single` (the
    form's hidden fields) keep their first non-empty value instead.
    """
    fields: dict[str, Any] = {}
    consents: dict[str, Any] = {}
    context: dict[str, Any] = {}
    for key in form:
        values = form.getlist(key)
        value = values[0] if len(values) == 1 else values
        if len(values) > 1 and (key in TOUCH_KEYS or key in single):
            value = next((v for v in values if isinstance(v, str) and v.strip()), values[0])
        prefix = next((p for p in CONSENT_PREFIXES if key.startswith(p)), None)
        if prefix:
            consents[key[len(prefix) :].rstrip("]")] = value
        elif key in TOUCH_KEYS:
            context[key] = value
        elif key != "token" and key != "captcha" and key not in RESPONSE_FIELDS:
            fields[key] = value
    return fields, consents, context, form.get("token")


def clean_context(raw: dict[str, Any]) -> dict[str, str]:
    """Keep known attribution keys with sane values; drop the rest quietly.

    A strange referrer must never cost a lead, so bad values are dropped, not refused.
    """
    context: dict[str, str] = {}
    for key in TOUCH_KEYS:
        value = raw.get(key)
        if not isinstance(value, str) or not value.strip() or not is_clean_text(value):
            continue
        value = strip_format_characters(value).strip()
        if not value:
            continue
        value = value[: 2048 if key in {"page_url", "referrer"} else 200]
        if key in {"page_url", "referrer"}:
            try:
                if urlsplit(value).scheme not in {"http", "https"}:
                    continue
            except ValueError:
                continue
        context[key] = value
    return context


def idempotency_key(from_body: Any = None) -> str | None:
    """The header, else the body's `idempotency_key`; the same rules for both."""
    key = request.headers.get("Idempotency-Key", from_body)
    if key is None:
        return None
    if not isinstance(key, str):
        raise bad_request(_("Idempotency-Key must be 1-255 printable ASCII characters."))
    key = key.strip()
    if not key or len(key) > 255 or not key.isprintable() or not key.isascii():
        raise bad_request(_("Idempotency-Key must be 1-255 printable ASCII characters."))
    return key


def build_intake(
    form: FormDefinition,
    channel: str,
    language: str,
    fields: dict[str, Any],
    consents: dict[str, Any],
    context: dict[str, Any],
    token: Any,
    digest: str | None = None,
    key: str | None = None,
    captcha: Any = None,
    origin_partner: str | Unread | None = UNREAD,
    token_check: FormTokenCheck | None = None,
) -> Intake:
    """Attach what the server knows (address, agent, origin, partner) to what the client sent.

    `origin_partner`: the partner owning the request's origin when the caller already read it
    (with the form); otherwise it is looked up here.
    """
    origin = request_origin()
    return Intake(
        form=form,
        fields=fields,
        consents=consents,
        context=clean_context(context),
        token=token,
        channel=channel,
        language=language,
        ip=request.remote_addr,
        user_agent=user_agent(),
        origin=origin,
        partner=attributed_partner(form, origin, origin_partner),
        idempotency_key=key,
        request_digest=digest,
        captcha=captcha,
        token_check=token_check,
    )


def attributed_partner(
    form: FormDefinition, origin: str | None, origin_partner: str | Unread | None = UNREAD
) -> str | None:
    """Partner attribution is the server's: from the form and the verified origin only."""
    if origin and not isinstance(origin_partner, Unread):
        # Read with the form: the origin counts only where the form allows it, as below.
        if origin_partner and origin in form.spec.allowed_origins:
            return origin_partner
        return form.partner
    if origin:
        partner = partner_for_origin(form, origin)
        if partner:
            return partner
    return form.partner

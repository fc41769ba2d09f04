"""`POST /api/v1/beacons/<slug>`: a view or a start of a form, counted from the browser.

The embed sends one when it has rendered a form on a partner's page (a view) and when the
visitor first focuses it (a start); our own pages send starts (views there are counted by the
server). A beacon is a text/plain JSON POST that needs no CORS preflight and reads no answer:
`{"kind": "view" | "start", "context": {"utm_source", "utm_medium", "variant", "page"}}`.
Only what the counters keep is read from it; nothing about the visitor is stored.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from capture.analytics.counts import KINDS, Dimensions, record
from capture.analytics.visitors import counts_as_person
from capture.base.extensions import csrf
from capture.forms.origins import normalise_origin
from capture.forms.partners import partner_for_origin
from capture.forms.store import get_form
from capture.web.errors import ApiError
from capture.web.i18n import LANGUAGES

bp = Blueprint("beacons", __name__, url_prefix="/api/v1/beacons")
csrf.exempt(bp)
MAX_BYTES = 8192


def _body() -> dict[str, Any]:
    if (request.content_length or 0) > MAX_BYTES:
        raise ApiError(413, "payload_too_large", _("The body is too large."))
    try:
        payload = json.loads(request.get_data(cache=False)[:MAX_BYTES] or b"null")
    except (ValueError, RecursionError):
        payload = None
    if not isinstance(payload, dict) or payload.get("kind") not in KINDS:
        raise ApiError(400, "bad_request", _('Send {"kind": "view" or "start"}.'))
    return payload


def _origin() -> str | None:
    """The page's origin, or None for our own pages and clients that name none."""
    origin = request.headers.get("Origin")
    if origin is None or request.headers.get("Sec-Fetch-Site") == "same-origin":
        return None
    try:
        origin = normalise_origin(origin)
    except ValueError:
        return "null"
    return None if origin == request.host_url.rstrip("/") else origin


@bp.post("/<slug>")
def beacon(slug: str) -> ResponseReturnValue:
    form = get_form(slug)
    if form is None:
        raise ApiError(404, "form_not_found", _("There is no form at this address."))
    payload = _body()
    origin = _origin()
    if origin is not None and origin not in form.spec.allowed_origins:
        raise ApiError(403, "origin_not_allowed", _("This form cannot be sent from this site."))
    headers = {"Access-Control-Allow-Origin": origin} if origin else {}
    if not form.is_open or not counts_as_person():
        return "", 204, headers
    context = payload.get("context")
    context = context if isinstance(context, dict) else {}
    language = request.args.get("lang")
    partner = partner_for_origin(form, origin) if origin else None
    dimensions = Dimensions.of(
        form=form.slug,
        page=context.get("page"),
        partner=partner or form.partner,
        source=context.get("utm_source"),
        medium=context.get("utm_medium"),
        language=language if language in LANGUAGES else form.language,
        variant=context.get("variant"),
    )
    record(payload["kind"], dimensions)
    return "", 204, headers

"""Public form API for embeds and integrations: the definition and submissions, with CORS.

Cross-origin rules (the contract, plus the two places it leaves open):
- a submission is answered to an allowed origin only: the preflight is answered for allowed
  origins, `Access-Control-Allow-Origin` echoes an allowed origin, a POST from any other
  origin gets 403 `origin_not_allowed`;
- the definition is a public document (the hosted page shows the same to anyone), so any page
  may read it (`*`), which also lets shared caches keep one copy; and so are error answers to
  other origins, so an embed on the wrong site can say why it cannot send instead of retrying;
- no cookies: requests are made without credentials and nothing here sets one.
"""

from __future__ import annotations

import hashlib
import json
import time

from flask import Blueprint, Response, current_app, jsonify, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from sqlalchemy.exc import SQLAlchemyError

from capture.base.context import this_app, this_request
from capture.base.db import db, discard_session
from capture.base.extensions import csrf, limiter
from capture.base.one_trip import commit_in_one_trip
from capture.base.settled import SettledChanged, assuming
from capture.forms.spec import SLUG_RE
from capture.forms.store import FormDefinition, settled_form
from capture.submissions.claim import IdempotencyConflict
from capture.submissions.client import preflight_answer, request_origin
from capture.submissions.intake import build_intake, idempotency_key, read_payload
from capture.submissions.limits import submission_limits
from capture.submissions.public import public_definition
from capture.submissions.record import ValidationFailed, record_submission
from capture.web.errors import ApiError
from capture.web.i18n import visitor_language
from capture.web.tokens import check_form_token

bp = Blueprint("forms_api", __name__, url_prefix="/api/v1/forms")
csrf.exempt(bp)  # protected by the signed form token, not a session: no cookies cross-site

# A cached definition is revalidated on every use; within one window the answer is a 304, so a
# token handed out from a cache is at most this old when the page gets it.
TOKEN_WINDOW_SECONDS = 300
EXPOSED_HEADERS = "Idempotent-Replayed, Retry-After, ETag"


def _open_form(slug: str) -> FormDefinition:
    """From this process's cache of forms (`capture.base.settled`), never stale."""
    return _opened(settled_form(slug) if SLUG_RE.match(slug) else None)


def _opened(form: FormDefinition | None) -> FormDefinition:
    if form is None:
        raise ApiError(404, "form_not_found", _("There is no form at this address."))
    if not form.is_open:
        raise ApiError(410, "form_closed", _("This form is closed."))
    return form


def origin_allowed(form: FormDefinition, origin: str | None) -> bool:
    """No Origin (server-to-server, curl) or our own pages: fine. Others must be listed."""
    if origin is None or origin == _host_origin():
        return True
    base = this_app().config.get("PUBLIC_BASE_URL")
    if base and origin == base.rstrip("/"):
        return True
    return origin in form.spec.allowed_origins


def _host_origin() -> str:
    """The origin this request was sent to, ASCII as an `Origin` header has it (`host_url`
    decodes punycode and costs tens of microseconds in werkzeug)."""
    current = this_request()
    return f"{current.scheme}://{current.host.lower()}"


def _cors(response: Response, form: FormDefinition | None) -> Response:
    origin = request_origin()
    if origin and form is not None and origin_allowed(form, origin):
        response.headers["Access-Control-Allow-Origin"] = origin
    elif origin and response.status_code >= 400:
        response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Access-Control-Expose-Headers"] = EXPOSED_HEADERS
    response.vary.add("Origin")
    return response


@bp.route("/<slug>", methods=["OPTIONS"])
@bp.route("/<slug>/submissions", methods=["OPTIONS"])
@limiter.exempt
def preflight(slug: str) -> ResponseReturnValue:
    form = settled_form(slug) if SLUG_RE.match(slug) else None
    origin = request_origin()
    allowed = form is not None and origin and origin_allowed(form, origin)
    methods, headers = "GET, POST, OPTIONS", "Content-Type, Idempotency-Key"
    return preflight_answer(origin if allowed else None, methods, headers)


def definition_etag(document: dict) -> str:
    """Changes with the form, the language and the token window, never with the token alone."""
    stable = {key: value for key, value in document.items() if key != "token"}
    window = int(time.time() // TOKEN_WINDOW_SECONDS)
    canonical = json.dumps([stable, window], sort_keys=True, ensure_ascii=True)
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


@bp.get("/<slug>")
def definition(slug: str) -> ResponseReturnValue:
    form = _open_form(slug)
    language = visitor_language(form.language)
    document = public_definition(form, language)
    # The script fetches a new token once the one it holds may be older than this.
    document["token_ttl"] = max(
        0, current_app.config["FORM_TOKEN_MAX_AGE"] - TOKEN_WINDOW_SECONDS - 60
    )
    response = jsonify(document)
    response.set_etag(definition_etag(document))
    response.headers["Cache-Control"] = "public, no-cache"
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Access-Control-Expose-Headers"] = EXPOSED_HEADERS
    return response.make_conditional(request)


@bp.post("/<slug>/submissions")
@submission_limits
def submit(slug: str) -> ResponseReturnValue:
    """With this process's form cache taken as current (checked by the claim's own statement,
    capture.base.settled); when it was not, once more from the start."""
    try:
        with assuming():
            return _submit(slug)
    except SettledChanged:
        db.session.rollback()
        return _submit(slug)


def _submit(slug: str) -> ResponseReturnValue:
    origin = request_origin()
    form = _open_form(slug)
    language = visitor_language(form.language)  # first: the refusal below is in it too
    if not origin_allowed(form, origin):
        raise ApiError(403, "origin_not_allowed", _("This form cannot be sent from this site."))
    payload = read_payload()
    token_check = check_form_token(payload.token, slug)
    if token_check.language and "lang" not in request.args:
        # The consent text on record must be the one shown: the language the form was fetched in.
        language = visitor_language(token_check.language)
    key = idempotency_key(payload.idempotency_key)
    intake = build_intake(
        form,
        "embed" if origin else "api",
        language,
        payload.fields,
        payload.consents,
        payload.context,
        payload.token,
        payload.digest,
        key,
        captcha=payload.captcha,
        token_check=token_check,
    )
    try:
        outcome = record_submission(intake, flush=False)
    except ValidationFailed as failed:
        db.session.rollback()
        raise ApiError(422, "validation_failed", failed.message, failed.errors) from None
    except IdempotencyConflict:
        db.session.rollback()
        raise ApiError(
            409,
            "idempotency_conflict",
            _("This Idempotency-Key was already used with a different request."),
        ) from None
    response = jsonify(outcome.body)
    response.status_code = outcome.status_code
    if outcome.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    response.headers["Cache-Control"] = "no-store"
    _cors(response, form)
    # The last writes and COMMIT in one round trip: the answer is durable.
    commit_in_one_trip(last=True)
    return response


@bp.after_request
def cors_on_errors(response: Response) -> Response:
    """Errors must carry CORS headers too, or the embed cannot read the 422 it should show."""
    slug = (this_request().view_args or {}).get("slug", "")
    if "Access-Control-Allow-Origin" in response.headers:
        return response
    if request_origin() is None:  # no page to answer to (curl, servers): no form to look up
        return _cors(response, None)
    if SLUG_RE.match(slug):
        try:
            form = settled_form(slug)
        except SQLAlchemyError:
            # The database is why this is an error answer (503): asking it again here would
            # raise out of after_request and turn the 503 into a 500.
            discard_session()
            form = None
        _cors(response, form)
    return response

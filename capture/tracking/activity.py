"""`POST /api/v1/activity`: page views from track.js on the customer's site, scored by page rules.

Public like submissions, and checked like them: the token must be ours and name a lead whose
latest tracking consent is granted (withdrawn or erased: 410, and the script forgets the
token), the page's `Origin` must be one the token's form allows (403), the page URL must be on
that origin, and each address is rate-limited (`RATELIMIT_ACTIVITY`). The path decides the
activity (`page_rules` in the scoring rules); the points go through the scoring rules and their
caps, and each view is a line of the lead's score history (the timeline), with the reason when
a cap held it at 0. `POST /api/v1/activity/withdrawal` is `leadgate.track.stop()`.
"""

from __future__ import annotations

from typing import Annotated, TypeVar
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import Blueprint, Response, current_app, jsonify, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from pydantic import ConfigDict, Field

from capture.base.db import db, utcnow
from capture.base.extensions import csrf, limiter
from capture.forms.origins import origin_of
from capture.forms.store import get_form
from capture.leads.consent import ConsentMethod
from capture.leads.lead import Lead
from capture.leads.scoring import current_rules, score_activity
from capture.submissions.api import origin_allowed
from capture.submissions.client import OPAQUE_ORIGIN, preflight_answer, request_origin, user_agent
from capture.submissions.intake import JSON_TYPES, load_json
from capture.tracking.consent import tracking_granted, withdraw_tracking
from capture.tracking.token import Holder, read_tracking_token
from capture.web.errors import ApiError
from capture.web.params import ParamError, Says, Strict, check
from capture.web.tokens import ExpiredToken, InvalidToken

bp = Blueprint("activity_api", __name__, url_prefix="/api/v1/activity")
csrf.exempt(bp)  # the signed tracking token is the proof; no cookies cross-site


def _per_address() -> str:
    return current_app.config["RATELIMIT_ACTIVITY"]


activity_limit = limiter.shared_limit(_per_address, scope="activity-address")

URL = Annotated[str, Field(min_length=1, max_length=2048), Says(lambda: _("Enter a valid URL."))]
TOKEN = Annotated[str, Field(min_length=1, max_length=2048)]


class Withdrawal(Strict):
    """What track.js sends to stop: the token it holds."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    token: TOKEN = Field(description="the tracking token the page holds")


M = TypeVar("M", bound=Withdrawal)


class PageView(Withdrawal):
    """One page view: the token and the page's address (its path picks the activity)."""

    url: URL = Field(description="the page viewed, http(s), on the origin that sends it")


def _read(model: type[M]) -> M:
    if request.mimetype not in JSON_TYPES and not request.mimetype.endswith("+json"):
        raise ApiError(415, "unsupported_media_type", _("Send JSON (application/json)."))
    payload = load_json(request.get_data(cache=True))
    if not isinstance(payload, dict):
        raise ApiError(400, "bad_request", _("The body must be a JSON object."))
    try:
        return check(model, payload)
    except ParamError as error:
        raise ApiError(
            422, "validation_failed", _("Please correct the marked fields."), error.fields
        ) from None


def stopped() -> ApiError:
    return ApiError(410, "tracking_stopped", _("Tracking has stopped for this visitor."))


def _holder(token: str) -> Holder:
    try:
        return read_tracking_token(token)
    except ExpiredToken:
        raise stopped() from None
    except InvalidToken:
        raise ApiError(403, "invalid_token", _("This tracking token is not valid.")) from None


def _checked(holder: Holder, origin: str | None) -> Lead:
    """The token's lead, locked for scoring, after the origin and consent checks."""
    form = get_form(holder.form)
    if form is None or not origin_allowed(form, origin):
        raise ApiError(403, "origin_not_allowed", _("This site may not send page views."))
    lead = db.session.scalar(sa.select(Lead).where(Lead.public_id == holder.lead).with_for_update())
    if lead is None or lead.erased_at is not None or not tracking_granted(lead.id):
        raise stopped()
    return lead


def _page(url: str, origin: str | None) -> tuple[str, str]:
    """(host, path) of the page viewed; it must be on the origin that reports it."""
    try:
        page_origin = origin_of(url)
        parts = urlsplit(url)
    except ValueError:
        page_origin, parts = None, None
    if parts is None or (origin is not None and page_origin != origin):
        raise ApiError(
            422,
            "validation_failed",
            _("Please correct the marked fields."),
            {"url": [_("The page must be on the site that sends it.")]},
        )
    return parts.netloc, parts.path or "/"


@bp.route("", methods=["OPTIONS"])
@bp.route("/withdrawal", methods=["OPTIONS"])
@limiter.exempt
def preflight() -> ResponseReturnValue:
    """The form is in the token, which a preflight does not carry: any origin is answered, and
    the POST itself is refused (403) unless its form allows the origin. (Registered before the
    POST views, so Flask's automatic OPTIONS answer does not take its place.)"""
    origin = request_origin()
    return preflight_answer(
        origin if origin != OPAQUE_ORIGIN else None, "POST, OPTIONS", "Content-Type"
    )


@bp.post("")
@activity_limit
def page_view() -> ResponseReturnValue:
    origin = request_origin()
    view = _read(PageView)
    host, path = _page(view.url, origin)
    lead = _checked(_holder(view.token), origin)
    activity = current_rules().pages.activity(path)
    if activity is not None:
        # The path, never the query string (where addresses and tokens end up).
        score_activity(lead, activity, event=f"page view {path[:200]} on {host[:80]}")
    lead.last_activity_at = utcnow()
    db.session.commit()
    return _answer({"activity": activity}, 202)


@bp.post("/withdrawal")
@activity_limit
def withdrawal() -> ResponseReturnValue:
    origin = request_origin()
    holder = _holder(_read(Withdrawal).token)
    lead = _checked(holder, origin)
    withdraw_tracking(
        lead,
        method=ConsentMethod.PAGE,
        channel="embed",
        language=holder.language,
        ip=request.remote_addr,
        agent=user_agent(),
        page_url=request.headers.get("Referer", "")[:2048] or None,
        origin=origin,
    )
    db.session.commit()
    return _answer({"tracking": "withdrawn"}, 200)


def _answer(body: dict[str, object], status: int) -> Response:
    response = jsonify(body)
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.after_request
def cors(response: Response) -> Response:
    """A success only follows the origin check, so it may echo the origin; errors go to any page
    (`*`), so the script reads its 403 or 410 and forgets the token."""
    origin = request_origin()
    if origin and "Access-Control-Allow-Origin" not in response.headers:
        allowed = response.status_code < 400 and origin != "null"
        response.headers["Access-Control-Allow-Origin"] = origin if allowed else "*"
    response.vary.add("Origin")
    return response

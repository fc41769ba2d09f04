"""Self-service access and erasure under the preference page's token, no login.

`/u/<token>/data` (`selfservice.export`): POST e-mails the address on file a signed link that
expires (SELF_SERVICE_LINK_HOURS) to `/privacy/export/<token>`, a JSON download of everything
the privacy map exports. `/u/<token>/erase` (`selfservice.erase`): POST e-mails a link to
`/privacy/erase/<token>`, whose page asks once more; its POST erases through the privacy map.

GET never changes anything (mail scanners follow links); every POST answers the same whoever
the token names, so the pages tell nothing about the person. The signed tokens are the
capability, as on the unsubscribe page, so no session CSRF token is asked for: a forged POST
can only send mail to the address on file, and erasure needs the e-mailed second link.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, Response, current_app, render_template
from flask import request as http
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from capture.base.db import db, utcnow
from capture.base.extensions import csrf, limiter
from capture.delivery.optin.person import lead_for_token
from capture.delivery.optin.unsubscribe import enqueue_lead_email
from capture.delivery.selfservice.requests import (
    PrivacyRequest,
    RequestKind,
    RequestStatus,
    notify_staff,
    recent_request,
)
from capture.leads.lead import Lead
from capture.leads.privacy import erase as erase_person
from capture.leads.privacy import personal_data
from capture.web.errors import ApiError
from capture.web.i18n import visitor_language
from capture.web.tokens import ExpiredToken, InvalidToken, Purpose, sign, verify
from capture.web.urls import public_url

bp = Blueprint("selfservice", __name__)
csrf.exempt(bp)

RESEND_AFTER = timedelta(minutes=10)  # one e-mail per kind per lead in this window
NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
ACTOR = "self-service"


def _limit() -> str:
    return str(current_app.config["RATELIMIT_SELF_SERVICE"])


def _max_age() -> int:
    return int(current_app.config["SELF_SERVICE_LINK_HOURS"]) * 3600


def _page(template: str, status: int = 200, **context: Any) -> ResponseReturnValue:
    return Response(render_template(template, **context), status, NO_STORE)


def _lead(token: str) -> Lead | None:
    """The lead of a preference-page token (`/u/<token>`), as the preference page finds it."""
    return lead_for_token(token, _("This link is not valid."))


def _request(purpose: Purpose, token: str) -> tuple[PrivacyRequest, Lead]:
    """The request a link from our e-mail names, with its lead; 404, or 410 when expired or
    the person is erased."""
    try:
        public_id, _issued = verify(purpose, token, max_age=_max_age())
    except ExpiredToken:
        raise ApiError(410, "link_expired", _("This link has expired. Ask again.")) from None
    except InvalidToken:
        raise ApiError(404, "not_found", _("This link is not valid.")) from None
    row = db.session.execute(
        sa.select(PrivacyRequest, Lead)
        .join(Lead, Lead.id == PrivacyRequest.lead_id)
        .where(PrivacyRequest.public_id == str(public_id))
    ).first()
    if row is None:
        raise ApiError(404, "not_found", _("This link is not valid."))
    request, lead = row
    visitor_language(request.language)
    if lead.erased_at is not None and request.status != RequestStatus.COMPLETED.value:
        raise ApiError(410, "gone", _("This link no longer works: the data behind it was erased."))
    return request, lead


def _ask(token: str, kind: RequestKind) -> None:
    """Record the request and queue its e-mail, unless one went out a moment ago."""
    language = visitor_language()
    lead = _lead(token)
    if lead is None or recent_request(lead, kind, utcnow() - RESEND_AFTER) is not None:
        return
    export = kind is RequestKind.EXPORT
    status = RequestStatus.SENT if export else RequestStatus.PENDING
    request = PrivacyRequest(
        lead_id=lead.id, kind=kind.value, status=status.value, language=language
    )
    db.session.add(request)
    db.session.flush()
    purpose = Purpose.PRIVACY_EXPORT if export else Purpose.PRIVACY_ERASE
    endpoint = "selfservice.download" if export else "selfservice.confirm_erase"
    url = public_url(endpoint, token=sign(purpose, request.public_id))
    enqueue_lead_email(
        lead,
        "privacy_export" if export else "privacy_erase",
        language,
        {"url": url, "hours": current_app.config["SELF_SERVICE_LINK_HOURS"]},
        dedupe_key=f"privacy:{request.public_id}",
    )
    notify_staff(request, lead)
    db.session.commit()


@bp.route("/u/<token>/data", methods=["GET", "POST"], endpoint="export")
@limiter.limit(_limit, methods=["POST"])
def export_page(token: str) -> ResponseReturnValue:
    return _request_page(token, RequestKind.EXPORT, "export")


@bp.route("/u/<token>/erase", methods=["GET", "POST"], endpoint="erase")
@limiter.limit(_limit, methods=["POST"])
def erase_page(token: str) -> ResponseReturnValue:
    return _request_page(token, RequestKind.ERASURE, "erasure")


def _request_page(token: str, kind: RequestKind, name: str) -> ResponseReturnValue:
    """GET asks for confirmation (and changes nothing); POST files the request."""
    if http.method == "POST":
        _ask(token, kind)
        return _page("selfservice/sent.html", kind=name)
    visitor_language()
    _lead(token)
    return _page("selfservice/ask.html", kind=name, token=token)


@bp.get("/privacy/export/<token>")
def download(token: str) -> ResponseReturnValue:
    """The person's data as JSON, as an attachment; reading it changes nothing."""
    _request_row, lead = _request(Purpose.PRIVACY_EXPORT, token)
    body = json.dumps(personal_data(lead), ensure_ascii=False, indent=2)
    headers = {**NO_STORE, "Content-Disposition": 'attachment; filename="my-data.json"'}
    return Response(body, 200, headers, mimetype="application/json")


@bp.route("/privacy/erase/<token>", methods=["GET", "POST"])
def confirm_erase(token: str) -> ResponseReturnValue:
    request, lead = _request(Purpose.PRIVACY_ERASE, token)
    if request.status == RequestStatus.COMPLETED.value:
        return _page("selfservice/erased.html")
    if http.method == "GET":
        return _page("selfservice/confirm_erase.html", token=token)
    erase_person(lead, ACTOR)
    request.status = RequestStatus.COMPLETED.value
    request.completed_at = utcnow()
    notify_staff(request, lead)
    db.session.commit()
    return _page("selfservice/erased.html")

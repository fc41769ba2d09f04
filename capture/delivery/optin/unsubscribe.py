"""Withdrawing marketing consent without logging in: `GET` and `POST /u/<token>`.

The link in every marketing e-mail (and its List-Unsubscribe header) carries a signed token
with the lead's public id. `GET` only shows a button, because mail scanners follow links;
`POST` appends a `withdrawn` record to the ledger (`purpose=tracking` in the form: the tracking
consent instead, offered when the lead holds it). Mail clients' one-click unsubscribe
(RFC 8058) posts `List-Unsubscribe=One-Click` with no session, so the route takes no CSRF
token: the signed token is the proof.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Blueprint, Flask, current_app, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from capture.base.db import db
from capture.base.extensions import csrf
from capture.leads.consent import ConsentMethod, ConsentRecord, ConsentStatus, text_hash
from capture.leads.lead import Lead
from capture.submissions.client import user_agent
from capture.submissions.consents import stored_ip
from capture.tracking.consent import TRACKING, tracking_granted, withdraw_tracking
from capture.web.errors import ApiError
from capture.web.i18n import visitor_language
from capture.web.tokens import InvalidToken, Purpose, sign, verify
from capture.web.urls import public_url

MARKETING = "marketing"

bp = Blueprint("unsubscribe", __name__)


def unsubscribe_url(lead_public_id: str, language: str | None = None) -> str:
    """The link for marketing e-mails to this lead; it does not expire."""
    token = sign(Purpose.UNSUBSCRIBE, lead_public_id)
    return public_url("unsubscribe.page", token=token, lang=language)


def marketing_status(lead_id: int) -> str | None:
    """The lead's latest marketing consent status on the ledger (None: never asked)."""
    return db.session.scalar(
        sa.select(ConsentRecord.status)
        .where(ConsentRecord.lead_id == lead_id, ConsentRecord.purpose == MARKETING)
        .order_by(ConsentRecord.id.desc())
        .limit(1)
    )


def may_send_marketing(lead_id: int) -> bool:
    """Marketing e-mail needs consent granted (single opt-in) or confirmed (double opt-in)."""
    return marketing_status(lead_id) in {ConsentStatus.GRANTED, ConsentStatus.CONFIRMED}


def withdraw_marketing(lead: Lead, language: str, ip: str | None, agent: str | None) -> bool:
    """Append a withdrawal unless the latest record already is one; True when appended."""
    if marketing_status(lead.id) == ConsentStatus.WITHDRAWN:
        return False
    text = _("Unsubscribe from marketing e-mails")
    db.session.add(
        ConsentRecord(
            lead_id=lead.id,
            purpose=MARKETING,
            status=ConsentStatus.WITHDRAWN.value,
            method=ConsentMethod.LINK.value,
            channel="email",
            text=text,
            text_hash=text_hash(text),
            language=language,
            ip=stored_ip(ip),
            user_agent=agent,
        )
    )
    db.session.flush()
    return True


def _lead(token: str) -> Lead | None:
    """The lead the token names; None when there is none. A bad token is a 404; an erased
    person's link is a 410 and writes nothing (erasure kills every link they hold)."""
    try:
        public_id, _issued = verify(Purpose.UNSUBSCRIBE, token)
    except InvalidToken:
        raise ApiError(404, "not_found", _("This unsubscribe link is not valid.")) from None
    if not isinstance(public_id, str):
        raise ApiError(404, "not_found", _("This unsubscribe link is not valid."))
    lead = db.session.scalar(sa.select(Lead).where(Lead.public_id == public_id))
    if lead is not None and lead.erased_at is not None:
        raise ApiError(410, "gone", _("This link no longer works: the data behind it was erased."))
    return lead


def _masked(email: str) -> str:
    """Enough of the address to recognise it, not enough to harvest it from a shared link."""
    local, _at, domain = email.partition("@")
    return f"{local[:1]}{'*' * max(1, len(local) - 1)}@{domain}"


def _page(template: str, **context: Any) -> ResponseReturnValue:
    response = current_app.make_response(render_template(template, **context))
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@bp.route("/u/<token>", methods=["GET", "POST"])
def page(token: str) -> ResponseReturnValue:
    language = visitor_language()
    lead = _lead(token)
    tracking = lead is not None and tracking_granted(lead.id)
    if request.method == "GET":
        marketing = lead is not None and marketing_status(lead.id) != ConsentStatus.WITHDRAWN
        if lead is None or not (marketing or tracking):
            return _page("optin/unsubscribed.html", already=True)
        return _page(
            "optin/unsubscribe.html",
            email=_masked(lead.email),
            token=token,
            marketing=marketing,
            tracking=tracking,
        )
    if request.form.get("purpose") == TRACKING:
        if lead is not None and tracking:
            withdraw_tracking(
                lead,
                method=ConsentMethod.LINK,
                channel="email",
                language=language,
                ip=request.remote_addr,
                agent=user_agent(),
            )
            db.session.commit()
        return _page("optin/untracked.html")
    appended = False
    if lead is not None:
        appended = withdraw_marketing(lead, language, request.remote_addr, user_agent())
        db.session.commit()
    return _page("optin/unsubscribed.html", already=not appended)


csrf.exempt(page)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)

"""Unsubscribing without logging in: the one-click `POST /u/<token>`, and e-mail to leads.

Every e-mail that reaches a lead goes out through `enqueue_lead_email`, which gives it the
`/u/` link: List-Unsubscribe (plus a `mailto:` when MAIL_UNSUBSCRIBE_MAILTO is set),
`List-Unsubscribe-Post: List-Unsubscribe=One-Click` (RFC 8058) and a visible link in the
body. Mail clients' one-click unsubscribe posts `List-Unsubscribe=One-Click` with no session,
so the route takes no CSRF token: the signed token is the proof, and there is no cookie for a
forged cross-site request to ride on. `GET /u/<token>` is the preference page
(capture.delivery.optin.preferences) and changes nothing, because mail scanners follow links.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Blueprint, Flask, current_app, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from capture.base.db import db
from capture.base.extensions import csrf
from capture.delivery.optin import preferences
from capture.delivery.optin.person import lead_for_token, unsubscribe_url
from capture.delivery.outbox import OutboxMessage, enqueue_email
from capture.leads.consent import (
    ConsentMethod,
    ConsentRecord,
    ConsentStatus,
    append_consents,
    text_hash,
)
from capture.leads.lead import Lead
from capture.submissions.client import user_agent
from capture.submissions.consents import stored_ip
from capture.web.i18n import visitor_language

MARKETING = "marketing"

bp = Blueprint("unsubscribe", __name__)


def enqueue_lead_email(
    lead: Lead,
    template: str,
    language: str,
    context: dict[str, Any],
    *,
    dedupe_key: str | None = None,
) -> OutboxMessage:
    """Queue an e-mail to the lead's address, with its unsubscribe link and headers."""
    return enqueue_email(
        lead.email,
        template,
        language,
        context,
        dedupe_key=dedupe_key,
        unsubscribe_url=unsubscribe_url(lead.public_id, language),
    )


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
    """Append a withdrawal unless the latest record already is one; True when appended.

    A person never asked about marketing gets a withdrawal too: it records that they do not
    want it, so a later pending double opt-in cannot be confirmed into a grant by a scanner.
    """
    if marketing_status(lead.id) == ConsentStatus.WITHDRAWN:
        return False
    text = _("Unsubscribe from marketing e-mails")
    record = ConsentRecord(
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
    append_consents(lead, [record])
    db.session.flush()
    return True


def _page(template: str, **context: Any) -> ResponseReturnValue:
    response = current_app.make_response(render_template(template, **context))
    return preferences.private(response)


@bp.route("/u/<token>", methods=["GET", "POST"])
def page(token: str) -> ResponseReturnValue:
    """GET: the preference page. POST (any body; mail clients send
    `List-Unsubscribe=One-Click`): withdraw marketing consent, once."""
    language = visitor_language()
    lead = lead_for_token(token)
    if request.method == "GET":
        if lead is None:
            return _page("optin/unsubscribed.html", already=True)
        return preferences.show(lead, token)
    appended = False
    if lead is not None:
        appended = withdraw_marketing(lead, language, request.remote_addr, user_agent())
        db.session.commit()
    return _page("optin/unsubscribed.html", already=not appended, token=token)


csrf.exempt(page)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)

"""Double opt-in: the confirmation e-mail, `GET /c/<token>`, and hooks run on confirmation.

For a form with `double_opt_in: true` nothing is delivered until the person clicks the link in
the confirmation e-mail. Marketing consent given on such a form is recorded as `pending`; the
click appends `confirmed` records (method `double_opt_in`) to the ledger and fires
`optin_confirmed` (capture.extension_points) in the same transaction, so a download e-mail is
queued exactly once.
"""

from __future__ import annotations

from typing import Any, cast

import sqlalchemy as sa
from flask import Blueprint, Flask, current_app, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from sqlalchemy.orm.attributes import set_committed_value

from capture.base.db import db, utcnow
from capture.delivery.optin.unsubscribe import enqueue_lead_email
from capture.extension_points import Confirmed, optin_confirmed, submission_accepted
from capture.leads.consent import ConsentMethod, ConsentRecord, ConsentStatus, append_consents
from capture.leads.lead import Lead
from capture.leads.pending import settle as settle_pending
from capture.submissions.client import user_agent
from capture.submissions.consents import stored_ip
from capture.submissions.record import Accepted
from capture.submissions.submission import Submission
from capture.web.errors import ApiError
from capture.web.i18n import visitor_language
from capture.web.tokens import ExpiredToken, InvalidToken, Purpose, sign, verify
from capture.web.urls import public_url

CONFIRM_MAX_AGE = 7 * 24 * 3600
CONFIRM_VALID_DAYS = CONFIRM_MAX_AGE // (24 * 3600)

bp = Blueprint("optin", __name__)


def delivery_held(accepted: Accepted) -> bool:
    """True when this submission must be confirmed by e-mail before anything is delivered.

    Other `submission_accepted` receivers call this instead of delivering (and leave
    `download_url` unset), then deliver on `optin_confirmed`. It reads the form, so the order
    of receivers does not matter.
    """
    return bool(
        accepted.answer.get("confirmation_required") or accepted.intake.form.spec.double_opt_in
    )


def confirmation_url(submission_public_id: str, language: str | None = None) -> str:
    token = sign(Purpose.CONFIRM, submission_public_id)
    return public_url("optin.confirm", token=token, lang=language)


def require_confirmation(accepted: Accepted) -> dict[str, Any] | None:
    """On `submission_accepted`: hold delivery and queue the confirmation e-mail (no ads; its
    unsubscribe link lets the owner of an address someone else typed in say no at once)."""
    spec = accepted.intake.form.spec
    if not spec.double_opt_in:
        return None
    language = accepted.intake.language
    enqueue_lead_email(
        accepted.lead,
        "confirm",
        language,
        {
            "confirm_url": confirmation_url(accepted.submission.public_id, language),
            "form_name": spec.name,
            "first_name": accepted.lead.first_name,
            "valid_days": CONFIRM_VALID_DAYS,
        },
        dedupe_key=f"confirm:{accepted.submission.public_id}",
    )
    return {"confirmation_required": True}


def _withdrawn_since(lead_id: int, purpose: str, record: ConsentRecord) -> bool:
    """A withdrawal after the pending consent wins: a late click must not re-grant it."""
    later = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(ConsentRecord)
        .where(
            ConsentRecord.lead_id == lead_id,
            ConsentRecord.purpose == purpose,
            ConsentRecord.status == ConsentStatus.WITHDRAWN.value,
            ConsentRecord.id > record.id,
        )
    )
    return bool(later)


def confirm_submission(
    submission: Submission, lead: Lead, ip: str | None, agent: str | None
) -> bool:
    """Confirm once; False when it already was. Adds and flushes; the caller commits.

    The conditional UPDATE is the guard: of two simultaneous clicks (a person and a mail
    scanner), exactly one changes the row, on PostgreSQL and SQLite alike.
    """
    now = utcnow()
    claimed = db.session.execute(
        sa.update(Submission)
        .where(Submission.id == submission.id, Submission.confirmed_at.is_(None))
        .values(confirmed_at=now),
        execution_options={"synchronize_session": False},
    )
    if cast("sa.CursorResult[Any]", claimed).rowcount != 1:  # an UPDATE's result has it
        return False
    set_committed_value(submission, "confirmed_at", now)
    pending = db.session.scalars(
        sa.select(ConsentRecord)
        .where(
            ConsentRecord.submission_id == submission.id,
            ConsentRecord.status == ConsentStatus.PENDING.value,
        )
        .order_by(ConsentRecord.id)
    ).all()
    confirmed = [
        ConsentRecord(
            submission_id=submission.id,
            purpose=record.purpose,
            status=ConsentStatus.CONFIRMED.value,
            method=ConsentMethod.DOUBLE_OPT_IN.value,
            channel="email",
            text=record.text,
            text_hash=record.text_hash,
            language=record.language,
            form_id=record.form_id,
            form_version=record.form_version,
            page_url=record.page_url,
            origin=record.origin,
            ip=stored_ip(ip),
            user_agent=agent,
            created_at=now,
            confirmed_at=now,
        )
        for record in pending
        if not _withdrawn_since(lead.id, record.purpose, record)
    ]
    append_consents(lead, confirmed)
    lead.last_activity_at = now
    settle_pending(lead, submission.id)  # the conversion now counts: stage and score
    db.session.flush()
    optin_confirmed.send(Confirmed(submission, lead))
    return True


def _submission(public_id: Any) -> Submission | None:
    if not isinstance(public_id, str):
        return None
    return db.session.scalar(sa.select(Submission).where(Submission.public_id == public_id))


@bp.get("/c/<token>")
def confirm(token: str) -> ResponseReturnValue:
    try:
        public_id, _issued = verify(Purpose.CONFIRM, token, max_age=CONFIRM_MAX_AGE)
    except ExpiredToken as expired:
        earlier = _submission(expired.payload)
        visitor_language(earlier.language if earlier else None)
        raise ApiError(
            410,
            "gone",
            _("This confirmation link has expired. Please fill in the form again."),
        ) from None
    except InvalidToken:
        visitor_language()
        raise ApiError(404, "not_found", _("This confirmation link is not valid.")) from None
    submission = _submission(public_id)
    lead = db.session.get(Lead, submission.lead_id) if submission and submission.lead_id else None
    if submission is None or lead is None:
        visitor_language()
        raise ApiError(404, "not_found", _("This confirmation link is not valid."))
    if lead.erased_at is not None:  # erasure kills every link the person holds
        visitor_language()
        raise ApiError(410, "gone", _("This link no longer works: the data behind it was erased."))
    visitor_language(submission.language)
    newly = confirm_submission(submission, lead, request.remote_addr, user_agent())
    db.session.commit()
    response = current_app.make_response(render_template("optin/confirmed.html", already=not newly))
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"  # the token is in the URL
    return response


def init_app(app: Flask) -> None:
    submission_accepted.connect(app, require_confirmation)
    app.register_blueprint(bp)

"""The preference page at `/u/<token>`: a person's consents, withdrawn or given again.

No login and no cookie: the signed token in the link names the person, as on the one-click
unsubscribe. The page reads and changes nothing on GET (mail scanners follow links); each
change is a POST of its own form to `/u/<token>/consents`, appended to the ledger as a new
record (method `preference_page`, channel `web`) with the text this page showed, whose hash
the form carries so the record holds exactly what the person read. Cross-site forgery needs
something the browser adds by itself, and there is none here; a POST that says it comes from
another site (`Sec-Fetch-Site`, `Origin`) is refused anyway.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import Blueprint, Flask, current_app, redirect, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from capture.base.db import db
from capture.base.extensions import csrf
from capture.delivery.optin.person import lead_for_token, masked
from capture.leads.consent import (
    STATES,
    ConsentMethod,
    ConsentRecord,
    ConsentStatus,
    append_consents,
    text_hash,
)
from capture.leads.lead import Lead
from capture.submissions.client import user_agent
from capture.submissions.consents import stored_ip
from capture.web.errors import ApiError
from capture.web.i18n import visitor_language
from capture.web.urls import public_url

bp = Blueprint("preferences", __name__)

# Always offered, whatever the person gave before: it is what e-mails are about.
ALWAYS_SHOWN = ("marketing",)
ACTIONS = ("grant", "withdraw")


def purpose_name(purpose: str) -> str:
    names = {
        "marketing": _("Marketing e-mails"),
        "processing": _("Handling your requests"),
        "tracking": _("Following my visits to the website"),
    }
    return names.get(purpose, purpose)


def page_text(purpose: str, action: str) -> str:
    """The sentence this page shows for an action: it is recorded as the consent text."""
    if action == "grant":
        texts = {
            "marketing": _(
                "Yes, send me newsletters and offers by e-mail. I can withdraw this at any time."
            ),
            "processing": _("Yes, you may use my contact details to answer my requests."),
        }
        default = _("Yes, I agree again to “%(purpose)s” as I did before (shown above).")
    else:
        texts = {
            "marketing": _("Stop sending me newsletters and offers."),
            "processing": _("Stop using my contact details to answer my requests."),
            # capture.tracking: the script stops and forgets the visitor at its next request.
            "tracking": _("Stop following my visits to the website"),
        }
        default = _("I withdraw my consent to “%(purpose)s”.")
    return texts.get(purpose, default % {"purpose": purpose})


def private(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"  # the token is in the URL
    return response


def _history(lead: Lead) -> dict[str, list[ConsentRecord]]:
    records = db.session.scalars(
        sa.select(ConsentRecord)
        .where(ConsentRecord.lead_id == lead.id)
        .order_by(ConsentRecord.id.desc())
    )
    by_purpose: dict[str, list[ConsentRecord]] = {purpose: [] for purpose in ALWAYS_SHOWN}
    for record in records:
        by_purpose.setdefault(record.purpose, []).append(record)
    return by_purpose


def _purposes(lead: Lead) -> list[dict[str, Any]]:
    shown = []
    for purpose, records in _history(lead).items():
        state = STATES[records[0].status] if records else "none"
        action = "grant" if state in ("withdrawn", "none") else "withdraw"
        text = page_text(purpose, action)
        shown.append(
            {
                "purpose": purpose,
                "name": purpose_name(purpose),
                "state": state,
                "since": records[0].confirmed_at or records[0].created_at if records else None,
                "records": records,
                "action": action,
                "text": text,
                "text_sha256": text_hash(text),
            }
        )
    return shown


def _self_service(token: str) -> dict[str, str]:
    """Links to the person's own data export and erasure (capture.delivery.selfservice)."""
    lang = request.args.get("lang")
    return {
        name: public_url(f"selfservice.{name}", token=token, lang=lang)
        for name in ("export", "erase")
    }


def show(lead: Lead, token: str, status: int = 200, problem: str | None = None) -> Response:
    body = render_template(
        "optin/preferences.html",
        token=token,
        email=masked(lead.email),
        purposes=_purposes(lead),
        saved=request.args.get("saved") if request.method == "GET" else None,
        problem=problem,
        self_service=_self_service(token),
    )
    return private(current_app.make_response((body, status)))


def _our_origin() -> str:
    base = current_app.config.get("PUBLIC_BASE_URL") or request.host_url
    parts = urlsplit(base)
    return f"{parts.scheme}://{parts.netloc}"


def _from_elsewhere() -> bool:
    """A POST another site's page made. Browsers say so in `Sec-Fetch-Site`; older ones only
    in `Origin`, which is `null` under this page's `Referrer-Policy: no-referrer`."""
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None:
        return site not in ("same-origin", "none")
    origin = request.headers.get("Origin")
    return bool(origin) and origin not in ("null", _our_origin())


def _change(lead: Lead, purpose: str, action: str, language: str) -> bool:
    """Append the person's choice unless the purpose is already in that state."""
    latest = _history(lead).get(purpose) or []
    state = STATES[latest[0].status] if latest else "none"
    if (action == "withdraw") == (state in ("withdrawn", "none")):
        return False
    text = page_text(purpose, action)
    status = ConsentStatus.GRANTED if action == "grant" else ConsentStatus.WITHDRAWN
    record = ConsentRecord(
        purpose=purpose,
        status=status.value,
        method=ConsentMethod.PREFERENCE_PAGE.value,
        channel="web",
        text=text,
        text_hash=text_hash(text),
        language=language,
        page_url=request.base_url,
        origin=_our_origin(),
        ip=stored_ip(request.remote_addr),
        user_agent=user_agent(),
    )
    append_consents(lead, [record])
    return True


@bp.post("/u/<token>/consents")
def change(token: str) -> ResponseReturnValue:
    language = visitor_language()
    if _from_elsewhere():
        raise ApiError(403, "forbidden", _("You are not allowed to do this."))
    lead = lead_for_token(token)
    if lead is None:
        raise ApiError(404, "not_found", _("This unsubscribe link is not valid."))
    purpose = request.form.get("purpose", "")
    action = request.form.get("action", "")
    known = {entry["purpose"] for entry in _purposes(lead)}
    if purpose not in known or action not in ACTIONS:
        raise ApiError(400, "bad_request", _("The request could not be read."))
    if request.form.get("text_sha256") != text_hash(page_text(purpose, action)):
        problem = _("The text on this page has changed. Please read it again and choose anew.")
        return show(lead, token, 409, problem)
    if action == "grant" and request.form.get("agree") not in ("y", "on", "yes", "1", "true"):
        return show(lead, token, 422, _("Tick the box to give your consent."))
    _change(lead, purpose, action, language)
    db.session.commit()
    target = public_url(
        "unsubscribe.page", token=token, lang=request.args.get("lang"), saved=purpose
    )
    return private(redirect(target, 303))


csrf.exempt(change)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)

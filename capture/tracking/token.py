"""The tracking token: which lead a browser is, signed, for `POST /api/v1/activity`.

Issued only with a granted tracking consent: in the answer to a submission that ticked it, and
as `lg_t` on links in our e-mails (`tracked_url`). It names the lead, the form whose allowed
origins may send its page views, and the language for the ledger. The signature says only who;
whether tracking is still allowed is read from the ledger on every use, so a withdrawal stops a
token at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import sqlalchemy as sa

from capture.base.db import db
from capture.forms.store import FormDefinition
from capture.leads.lead import Lead
from capture.tracking.consent import GIVEN, latest_tracking
from capture.web.i18n import LANGUAGES
from capture.web.tokens import InvalidToken, Purpose, sign, verify

# Thirteen months, what European regulators accept as the life of an audience-measuring
# identifier; the visitor gets a fresh one with their next submission or e-mail link.
MAX_AGE_SECONDS = 396 * 86400
LINK_PARAMETER = "lg_t"


@dataclass(frozen=True)
class Holder:
    """Who a valid token names."""

    lead: str
    form: str
    language: str


def issue_tracking_token(lead_public_id: str, form_slug: str, language: str) -> str:
    return sign(Purpose.TRACKING, {"l": lead_public_id, "f": form_slug, "g": language})


def read_tracking_token(token: object) -> Holder:
    """Raises `ExpiredToken` (too old) or `InvalidToken` (tampered, another purpose)."""
    payload, _issued = verify(Purpose.TRACKING, token, max_age=MAX_AGE_SECONDS)  # type: ignore[arg-type]
    if not isinstance(payload, dict) or not all(
        isinstance(payload.get(key), str) for key in ("l", "f", "g")
    ):
        raise InvalidToken("not a tracking token")
    language = payload["g"] if payload["g"] in LANGUAGES else "en"
    return Holder(payload["l"], payload["f"], language)


def tracked_url(url: str, lead: Lead, language: str = "en") -> str:
    """`url` with `lg_t=<token>` when the lead holds a granted tracking consent, else `url`.

    For links in e-mails to the customer's own site: track.js there takes the token from the
    address, so a person who agreed on one device is recognised on another.
    """
    record = latest_tracking(lead.id)
    if record is None or record.status not in GIVEN or record.form_id is None:
        return url
    slug = db.session.scalar(
        sa.select(FormDefinition.slug).where(FormDefinition.id == record.form_id)
    )
    if slug is None:
        return url
    parts = urlsplit(url)
    query = [
        (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != LINK_PARAMETER
    ]
    query.append((LINK_PARAMETER, issue_tracking_token(lead.public_id, slug, language)))
    return urlunsplit(parts._replace(query=urlencode(query)))

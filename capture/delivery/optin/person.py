"""The person behind a `/u/` link: the signed token that names a lead, and what it may show.

The token is the only credential of the unsubscribe link and the preference page (no login,
no cookie): whoever holds it can do what the person can there, and nothing else.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask_babel import gettext as _

from capture.base.db import db
from capture.leads.lead import Lead
from capture.web.errors import ApiError
from capture.web.tokens import InvalidToken, Purpose, sign, verify
from capture.web.urls import public_url


def unsubscribe_url(lead_public_id: str, language: str | None = None) -> str:
    """The link in every e-mail to this lead (and its List-Unsubscribe header); it does not
    expire, since a person must be able to unsubscribe from an old e-mail."""
    token = sign(Purpose.UNSUBSCRIBE, lead_public_id)
    return public_url("unsubscribe.page", token=token, lang=language)


def lead_for_token(token: str, invalid: str | None = None) -> Lead | None:
    """The lead the token names; None when there is none. A bad token is a 404 (`invalid`
    says so; by default as an unsubscribe link); an erased person's link is a 410 and writes
    nothing (erasure kills every link they hold)."""
    invalid = invalid or _("This unsubscribe link is not valid.")
    try:
        public_id, _issued = verify(Purpose.UNSUBSCRIBE, token)
    except InvalidToken:
        raise ApiError(404, "not_found", invalid) from None
    if not isinstance(public_id, str):
        raise ApiError(404, "not_found", invalid)
    lead = db.session.scalar(sa.select(Lead).where(Lead.public_id == public_id))
    if lead is not None and lead.erased_at is not None:
        raise ApiError(410, "gone", _("This link no longer works: the data behind it was erased."))
    return lead


def masked(email: str) -> str:
    """Enough of the address to recognise it, not enough to harvest it from a shared link."""
    local, _at, domain = email.partition("@")
    return f"{local[:1]}{'*' * max(1, len(local) - 1)}@{domain}"

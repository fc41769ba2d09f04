"""The tracking consent on the ledger: whether a lead may be followed on the customer's site,
and its withdrawal (`leadgate.track.stop()` on a page; the `/u/` preference page withdraws
it like any purpose).

A purpose of its own (`tracking`), never a condition of a form, with the standard text in
`capture.forms.spec.TRACKING_TEXT`. Only the latest record counts: granted, or not.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask_babel import force_locale
from flask_babel import gettext as _

from capture.base.db import db
from capture.leads.consent import (
    ConsentMethod,
    ConsentRecord,
    ConsentStatus,
    append_consents,
    text_hash,
)
from capture.leads.lead import Lead
from capture.submissions.consents import stored_ip

TRACKING = "tracking"
GIVEN = frozenset({ConsentStatus.GRANTED, ConsentStatus.CONFIRMED})


def latest_tracking(lead_id: int) -> ConsentRecord | None:
    """The lead's latest tracking record (None: never asked)."""
    return db.session.scalar(
        sa.select(ConsentRecord)
        .where(ConsentRecord.lead_id == lead_id, ConsentRecord.purpose == TRACKING)
        .order_by(ConsentRecord.id.desc())
        .limit(1)
    )


def tracking_granted(lead_id: int) -> bool:
    record = latest_tracking(lead_id)
    return record is not None and record.status in GIVEN


def withdrawal_text(language: str) -> str:
    """What a withdrawal record says was done, in the person's language."""
    with force_locale(language):
        return _("Stop following my visits to the website")


def withdraw_tracking(
    lead: Lead,
    *,
    method: ConsentMethod,
    channel: str,
    language: str,
    ip: str | None,
    agent: str | None,
    page_url: str | None = None,
    origin: str | None = None,
) -> bool:
    """Append a withdrawal unless tracking is not granted now; True when appended."""
    latest = latest_tracking(lead.id)
    if latest is None or latest.status not in GIVEN:
        return False
    text = withdrawal_text(language)
    append_consents(  # the ledger's one writer: consent.changed goes out too
        lead,
        [
            ConsentRecord(
                purpose=TRACKING,
                status=ConsentStatus.WITHDRAWN.value,
                method=method.value,
                channel=channel,
                text=text,
                text_hash=text_hash(text),
                language=language,
                form_id=latest.form_id,
                form_version=latest.form_version,
                page_url=page_url,
                origin=origin,
                ip=stored_ip(ip),
                user_agent=agent,
            )
        ],
    )
    db.session.flush()
    return True

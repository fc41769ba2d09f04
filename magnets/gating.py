"""Gating: an accepted submission on a form that names a magnet earns a download link.

Runs inside the submission's transaction (on `submission_accepted`), touching only the database, so
submissions are accepted and links issued even while the file store is unreachable. A form
with double opt-in gets nothing until the address is confirmed; the link is then e-mailed
(on `optin_confirmed`). `email_magnet: true` in a definition e-mails the link besides showing it.
"""

from __future__ import annotations

import logging
from typing import Any

from capture.base.db import db
from capture.delivery.optin import delivery_held
from capture.extension_points import Confirmed
from capture.forms.store import FormDefinition
from capture.submissions.record import Accepted
from magnets.delivery import send_magnet
from magnets.grants import GrantSource, issue_grant
from magnets.magnet import Magnet, published_magnet

log = logging.getLogger(__name__)


def _gated_magnet(form: FormDefinition) -> Magnet | None:
    slug = form.spec.magnet
    if not slug:
        return None
    magnet = published_magnet(slug)
    if magnet is None:
        # The lead is still captured; the marketer sees the missing magnet in the log.
        log.warning("form %s gates magnet %r, which is not published", form.slug, slug)
    return magnet


def gate(accepted: Accepted) -> dict[str, Any] | None:
    """Issue a grant and answer with its `download_url`; e-mail it too if the form says so."""
    magnet = _gated_magnet(accepted.intake.form)
    if magnet is None or delivery_held(accepted):
        return None
    grant = issue_grant(
        accepted.lead,
        magnet,
        language=accepted.intake.language,
        source=GrantSource.SUBMISSION,
        submission_id=accepted.submission.id,
    )
    url = grant.url
    if accepted.intake.form.spec.email_magnet:
        send_magnet(grant, url)
    return {"download_url": url}


def deliver_confirmed(confirmed: Confirmed) -> None:
    """On `optin_confirmed`: the address is now proven, so the link goes by e-mail (once)."""
    submission, lead = confirmed.submission, confirmed.lead
    form = db.session.get(FormDefinition, submission.form_id)
    magnet = _gated_magnet(form) if form is not None else None
    if magnet is None:
        return
    grant = issue_grant(
        lead,
        magnet,
        language=submission.language,
        source=GrantSource.CONFIRMATION,
        submission_id=submission.id,
    )
    send_magnet(grant)

"""Gating: an accepted submission on a form that names a magnet earns a download link.

Runs inside the submission's transaction (an on_accept hook), touching only the database, so
submissions are accepted and links issued even while the file store is unreachable. A form
with double opt-in gets nothing until the address is confirmed; the link is then e-mailed
(on_confirm). `email_magnet: true` in a definition e-mails the link besides showing it.
"""

from __future__ import annotations

import logging

from capture.db import db
from capture.forms.store import FormDefinition
from capture.leads.lead import Lead
from capture.optin import delivery_held
from capture.submissions.record import Accepted
from capture.submissions.submission import Submission
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


def gate(accepted: Accepted) -> None:
    """Issue a grant and answer with its `download_url`; e-mail it too if the form says so."""
    magnet = _gated_magnet(accepted.intake.form)
    if magnet is None or delivery_held(accepted):
        return
    grant = issue_grant(
        accepted.lead,
        magnet,
        language=accepted.intake.language,
        source=GrantSource.SUBMISSION,
        submission_id=accepted.submission.id,
    )
    accepted.answer["download_url"] = grant.url
    if accepted.intake.form.spec.email_magnet:
        send_magnet(grant)


def deliver_confirmed(submission: Submission, lead: Lead) -> None:
    """on_confirm: the address is now proven, so the link goes to it by e-mail (once)."""
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

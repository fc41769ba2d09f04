"""Sending nurture follow-ups: who is due, who may get one, and the e-mail through the outbox.

Run by `leadgate nurture send` and by the worker (`scheduled_tasks` "nurture"). A lead is due
when their first download of a magnet with an enabled follow-up is `after_days` old (and not
more than NURTURE_GRACE_DAYS late, so a follow-up added today does not mail every downloader
of the past years). They get it only if, at sending time, they hold marketing consent (the
ledger's latest marketing record granted or confirmed), are not erased, and are not in sales'
hands (SAL, SQL, opportunity, customer) nor disqualified. At most one per lead and magnet: a
`NurtureSend` row (unique) and the outbox row's dedupe key are written in one transaction.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

import nh3
import sqlalchemy as sa
from flask import current_app
from markupsafe import Markup
from sqlalchemy.exc import IntegrityError

from capture.base.db import db, utcnow
from capture.base.lifecycle import Stage
from capture.delivery.optin.unsubscribe import enqueue_lead_email, may_send_marketing
from capture.leads.lead import Lead
from capture.web.urls import outside_request
from magnets.grants import Download, DownloadGrant, GrantSource, issue_grant
from magnets.landing import ALLOWED_ATTRIBUTES, ALLOWED_TAGS, render_markdown
from magnets.nurture import Nurture, NurtureSend

log = logging.getLogger(__name__)

# Sales owns these leads, or nobody should mail them: marketing follow-ups stop.
NOT_NURTURED = (
    Stage.SAL.value,
    Stage.SQL.value,
    Stage.OPPORTUNITY.value,
    Stage.CUSTOMER.value,
    Stage.DISQUALIFIED.value,
)


@dataclass
class NurtureResult:
    sent: int = 0
    no_consent: int = 0

    def __str__(self) -> str:
        return f"nurture: {self.sent} follow-ups queued, {self.no_consent} skipped (no consent)"


def email_markdown(text: str) -> Markup:
    """The landing pages' Markdown, sanitised, without images: an image from elsewhere in an
    e-mail tells its sender who opened it, and Leadgate sends no tracking pixels."""
    cleaned = nh3.clean(
        str(render_markdown(text)),
        tags=ALLOWED_TAGS - {"img"},
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="nofollow noopener noreferrer",
        filter_style_properties={"text-align"},
    )
    # Safe to mark: nh3 has sanitised it just above (allow-listed tags and attributes only).
    return Markup(cleaned)  # noqa: S704  # nosec B704


def _due(nurture: Nurture, now: datetime) -> list[tuple[int, datetime]]:
    """(lead id, first download) of leads due for this follow-up and not yet sent one."""
    latest = now - timedelta(days=nurture.after_days)
    earliest = latest - timedelta(days=current_app.config["NURTURE_GRACE_DAYS"])
    first = sa.func.min(Download.created_at)
    sent = sa.select(NurtureSend.id).where(
        NurtureSend.lead_id == Download.lead_id, NurtureSend.magnet_id == nurture.magnet_id
    )
    rows = db.session.execute(
        sa.select(Download.lead_id, first)
        .join(Lead, Lead.id == Download.lead_id)
        .where(
            Download.magnet_id == nurture.magnet_id,
            Lead.erased_at.is_(None),
            Lead.lifecycle_stage.not_in(NOT_NURTURED),
            ~sa.exists(sent),
        )
        .group_by(Download.lead_id)
        .having(first <= latest, first > earliest)
        .order_by(first)
    )
    return [(lead_id, at) for lead_id, at in rows]


def _language(lead_id: int, nurture: Nurture) -> str:
    """The language the lead asked for the magnet in (its latest grant's)."""
    language = db.session.scalar(
        sa.select(DownloadGrant.language)
        .where(DownloadGrant.lead_id == lead_id, DownloadGrant.magnet_id == nurture.magnet_id)
        .order_by(DownloadGrant.id.desc())
        .limit(1)
    )
    return language or nurture.magnet.language


def queue_follow_up(nurture: Nurture, lead: Lead) -> NurtureSend:
    """The follow-up's outbox row and its `NurtureSend`, in the caller's transaction."""
    language = _language(lead.id, nurture)
    send = NurtureSend(lead_id=lead.id, magnet_id=nurture.magnet_id, language=language)
    next_url = None
    nxt = nurture.next_magnet
    if nxt is not None and nxt.is_published and nxt.current_file_id is not None:
        grant = issue_grant(lead, nxt, language=language, source=GrantSource.NURTURE)
        send.next_grant_id, next_url = grant.id, grant.url
    message = enqueue_lead_email(
        lead,
        "nurture",
        language,
        {
            "nurture_subject": nurture.text("subject", language),
            "body_html": email_markdown(nurture.text("body", language)),
            "body_text": nurture.text("body", language),
            "first_name": lead.first_name,
            "next_title": nxt.title if next_url and nxt else None,
            "next_url": next_url,
            "meeting_url": nurture.meeting_url,
        },
        dedupe_key=f"nurture:{lead.public_id}:{nurture.magnet.slug}",
    )
    send.message_id = message.public_id
    db.session.add(send)
    db.session.flush()
    return send


def send_due(now: datetime | None = None) -> NurtureResult:
    """Queue every follow-up due at `now` (default: the clock); commits each on its own, so
    two workers running this at once send each follow-up once (the loser's insert fails)."""
    now = now or utcnow()
    result = NurtureResult()
    nurtures = db.session.scalars(
        sa.select(Nurture).where(Nurture.enabled.is_(True)).order_by(Nurture.id)
    ).all()
    with outside_request():
        for nurture in nurtures:
            for lead_id, _first in _due(nurture, now):
                if not may_send_marketing(lead_id):
                    result.no_consent += 1
                    continue
                lead = db.session.get(Lead, lead_id)
                if lead is None:
                    continue
                try:
                    queue_follow_up(nurture, lead)
                    db.session.commit()
                except IntegrityError:
                    db.session.rollback()  # another worker sent it meanwhile
                    continue
                result.sent += 1
    log.info("%s", result)
    return result

"""The SQL handoff to people: every active sales user gets an e-mail when a lead becomes SQL.

Queued through the outbox in the stage change's transaction, like the webhook itself.
Users have no language of their own yet, so the notice is in the default locale.

Exempt from the unsubscribe link every e-mail to a lead carries (RFC 8058): this goes to staff
only, about their work, and is not sent to the lead (`staff=True`).
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import current_app

from capture.accounts import Role, User
from capture.base.db import db
from capture.base.lifecycle import Stage
from capture.delivery.outbox import enqueue_email
from capture.delivery.webhooks.events import qualifying_event
from capture.leads.lead import Lead, StageChange


def notify_sales(lead: Lead, change: StageChange) -> None:
    if change.to_stage != Stage.SQL.value:
        return
    recipients = db.session.scalars(
        sa.select(User.email).where(User.role == Role.SALES.value, User.active.is_(True))
    ).all()
    if not recipients:
        return
    conversion = qualifying_event(change)
    name = " ".join(part for part in (lead.first_name, lead.last_name) if part)
    context = {
        "who": name or lead.email,
        "company": lead.company,
        "email": lead.email,
        "phone": lead.phone,
        "score": lead.score,
        "reason": change.reason,
        "event_kind": conversion.kind if conversion else None,
        "event_at": conversion.occurred_at.strftime("%Y-%m-%d %H:%M UTC") if conversion else None,
        "lead_id": lead.public_id,
    }
    language = current_app.config.get("BABEL_DEFAULT_LOCALE", "en")
    for address in recipients:
        enqueue_email(address, "sql_handoff", language, context, staff=True)

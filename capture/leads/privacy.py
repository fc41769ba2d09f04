"""GDPR for one person: everything we hold about them (Art. 15/20) and erasure (Art. 17).

Erasure removes personal data from every table and keeps only anonymous counts: the lead row
stays as a husk (stage, score, partner, dates; no name, no address) so funnels and per-form
reports still add up, and a `Suppression` keeps the SHA-256 of the e-mail so a later
submission by the same address can be recognised. Other packages add their own tables through
`on_export` and `on_erase`; both hooks run inside the caller's transaction.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import Flask, current_app
from sqlalchemy.orm import Mapped, mapped_column

from capture.db import db, utcnow
from capture.forms.store import FormDefinition
from capture.leads.consent import ConsentRecord, erasing
from capture.leads.conversion import ConversionEvent
from capture.leads.lead import PROFILE_COLUMNS, Lead, StageChange
from capture.leads.listing import lead_payload
from capture.leads.scoring import ScoreChange
from capture.submissions.submission import Submission

ERASED_REASON = "[erased]"
ExportHook = Callable[[Lead], dict[str, Any]]
EraseHook = Callable[[Lead, str], None]


class Suppression(db.Model):
    """What is left of an erased person: a hash of the address, recognised on return."""

    __tablename__ = "suppressions"

    id: Mapped[int] = mapped_column(primary_key=True)
    email_sha256: Mapped[str] = mapped_column(sa.String(64), unique=True)
    lead_public_id: Mapped[str] = mapped_column(sa.String(40))
    erased_at: Mapped[datetime] = mapped_column(default=utcnow)


def email_hash(email: str) -> str:
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()


def was_erased(email: str) -> bool:
    """True when this address belonged to a person who asked to be erased."""
    digest = email_hash(email)
    return db.session.scalar(
        sa.select(sa.func.count(Suppression.id)).where(Suppression.email_sha256 == digest)
    ) > 0  # fmt: skip


def on_export(app: Flask, hook: ExportHook) -> None:
    """`hook(lead)` returns sections to add to a person's export (downloads, deliveries...)."""
    app.extensions.setdefault("leadgate.on_export", []).append(hook)


def on_erase(app: Flask, hook: EraseHook) -> None:
    """`hook(lead, email)` removes the person's data from the caller's own tables, before the
    lead row is anonymised (so `lead.email` and `email` are still the real address)."""
    app.extensions.setdefault("leadgate.on_erase", []).append(hook)


def _rows(model: Any, *where: Any) -> list[Any]:
    return list(db.session.scalars(sa.select(model).where(*where).order_by(model.id)))


def personal_data(lead: Lead) -> dict[str, Any]:
    """Everything about one person, consent ledger included, as plain JSON-ready data."""
    forms = {f.id: f.slug for f in db.session.scalars(sa.select(FormDefinition))}
    data: dict[str, Any] = {
        "lead": lead_payload(lead),
        "submissions": [
            {
                "id": s.public_id,
                "form": forms.get(s.form_id),
                "form_version": s.form_version,
                "status": s.status,
                "channel": s.channel,
                "language": s.language,
                "fields": s.fields,
                "consents": s.consents,
                "context": s.context,
                "partner": s.partner,
                "origin": s.origin,
                "ip": s.ip,
                "user_agent": s.user_agent,
                "created_at": s.created_at.isoformat(),
            }
            for s in _rows(Submission, Submission.lead_id == lead.id)
        ],
        "conversions": [
            {
                "id": c.public_id,
                "kind": c.kind,
                "classification": c.classification,
                "channel": c.channel,
                "form": forms.get(c.form_id) if c.form_id else None,
                "partner": c.partner,
                "attribution": c.attribution,
                "details": c.details,
                "occurred_at": c.occurred_at.isoformat(),
            }
            for c in _rows(ConversionEvent, ConversionEvent.lead_id == lead.id)
        ],
        "consents": [r.as_proof() for r in _rows(ConsentRecord, ConsentRecord.lead_id == lead.id)],
        "stage_changes": [
            {
                "from": c.from_stage,
                "to": c.to_stage,
                "reason": c.reason,
                "actor": c.actor,
                "at": c.created_at.isoformat(),
            }
            for c in _rows(StageChange, StageChange.lead_id == lead.id)
        ],
        "score_changes": [
            {
                "rule": c.rule,
                "event": c.event,
                "before": c.before,
                "after": c.after,
                "reason": c.reason,
                "at": c.created_at.isoformat(),
            }
            for c in _rows(ScoreChange, ScoreChange.lead_id == lead.id)
        ],
    }
    for hook in current_app.extensions.get("leadgate.on_export", []):
        data.update(hook(lead))
    return data


def erase(lead: Lead, actor: str) -> Suppression:
    """Remove the person's personal data everywhere; keep anonymous counts and a suppression.

    Adds and flushes; the caller commits. Submissions and conversions stay (without content)
    so counts per form, channel and partner still add up.
    """
    email = lead.email
    now = utcnow()
    for hook in current_app.extensions.get("leadgate.on_erase", []):
        hook(lead, email)
    db.session.execute(
        sa.update(Submission)
        .where(Submission.lead_id == lead.id)
        .values(
            fields={}, context={}, consents={}, response={}, ip=None, user_agent=None,
            origin=None, request_digest=None,
        )
        .execution_options(synchronize_session=False)
    )  # fmt: skip
    db.session.execute(
        sa.update(ConversionEvent)
        .where(ConversionEvent.lead_id == lead.id)
        .values(attribution={}, details={})
        .execution_options(synchronize_session=False)
    )
    # Reasons are free text a person typed ("called Ane at Firma"): they cannot be kept.
    db.session.execute(
        sa.update(StageChange)
        .where(StageChange.lead_id == lead.id)
        .values(reason=ERASED_REASON)
        .execution_options(synchronize_session=False)
    )
    with erasing(db.session):
        for record in _rows(ConsentRecord, ConsentRecord.lead_id == lead.id):
            db.session.delete(record)
        db.session.flush()

    lead.email = f"erased-{lead.public_id}@erased.invalid"
    for name in PROFILE_COLUMNS:
        setattr(lead, name, None)
    lead.properties = {}
    lead.first_touch = {}
    lead.last_touch = {}
    lead.erased_at = now
    suppression = db.session.scalar(
        sa.select(Suppression).where(Suppression.email_sha256 == email_hash(email))
    )
    if suppression is None:
        suppression = Suppression(email_sha256=email_hash(email), lead_public_id=lead.public_id)
        db.session.add(suppression)
    suppression.erased_at = now
    for hook in current_app.extensions.get("leadgate.on_lead_erased", []):
        hook(lead.public_id, actor)
    db.session.flush()
    return suppression


def on_lead_erased(app: Flask, hook: Callable[[str, str], None]) -> None:
    """`hook(lead_public_id, actor)` after erasure, in its transaction (capture.webhooks
    queues `lead.erased` there)."""
    app.extensions.setdefault("leadgate.on_lead_erased", []).append(hook)

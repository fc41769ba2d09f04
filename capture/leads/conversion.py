"""Conversion events: each accepted submission or offline touch, classified MQL or SQL."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from capture.base.db import Model, db, new_public_id, utcnow
from capture.base.personal import EMPTY, ByLead, Export, Personal, iso
from capture.forms.store import FormDefinition


def form_slug(form_id: int | None) -> str | None:
    """A form's slug, for exports: forms are shared, so an export names them."""
    form = db.session.get(FormDefinition, form_id) if form_id is not None else None
    return form.slug if form else None


class ConversionEvent(Model):
    __tablename__ = "conversion_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(
        sa.String(40), unique=True, default=lambda: new_public_id("conv")
    )
    lead_id: Mapped[int] = mapped_column(sa.ForeignKey("leads.id", ondelete="CASCADE"), index=True)
    submission_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("submissions.id", ondelete="SET NULL"), index=True
    )
    form_id: Mapped[int | None] = mapped_column(sa.ForeignKey("forms.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(sa.String(40))
    classification: Mapped[str] = mapped_column(sa.String(3))
    # Where it came from: "form" for submissions, "api" for offline conversions.
    channel: Mapped[str] = mapped_column(sa.String(20), default="form")
    partner: Mapped[str | None] = mapped_column(sa.String(80))
    attribution: Mapped[dict[str, Any]] = mapped_column(default=dict)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    # Recorded, not yet counted: a double opt-in not yet confirmed (capture.leads.pending).
    pending: Mapped[bool] = mapped_column(default=False, server_default=sa.false())

    # Kept without content, so counts per form, channel and partner still add up.
    __privacy__ = Personal(
        find=(ByLead(),),
        erase={"attribution": EMPTY, "details": EMPTY},
        keep=("public_id", "kind", "classification", "channel", "partner"),
        export=Export(
            "conversions",
            lambda c: {
                "id": c.public_id,
                "kind": c.kind,
                "classification": c.classification,
                "channel": c.channel,
                "form": form_slug(c.form_id),
                "partner": c.partner,
                "attribution": c.attribution,
                "details": c.details,
                "occurred_at": iso(c.occurred_at),
                "pending": c.pending,
            },
        ),
    )

"""The Submission model: what a visitor sent, as accepted or quarantined, and its answer."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from capture.db import Model, utcnow


class SubmissionStatus(StrEnum):
    ACCEPTED = "accepted"
    QUARANTINED = "quarantined"
    RELEASED = "released"  # was quarantined; a marketer let it through
    DISCARDED = "discarded"  # was quarantined; a marketer threw it away


class Submission(Model):
    __tablename__ = "submissions"
    __table_args__ = (sa.UniqueConstraint("form_id", "idempotency_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(sa.String(40), unique=True)
    form_id: Mapped[int] = mapped_column(sa.ForeignKey("forms.id", ondelete="CASCADE"), index=True)
    form_version: Mapped[int]
    lead_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("leads.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(sa.String(20), index=True)
    spam_reason: Mapped[str | None] = mapped_column(sa.String(40))
    channel: Mapped[str] = mapped_column(sa.String(20))
    language: Mapped[str] = mapped_column(sa.String(5))
    # Only the fields the form declares, already cleaned.
    fields: Mapped[dict[str, Any]]
    consents: Mapped[dict[str, Any]] = mapped_column(default=dict)
    context: Mapped[dict[str, Any]] = mapped_column(default=dict)
    partner: Mapped[str | None] = mapped_column(sa.String(80), index=True)
    origin: Mapped[str | None] = mapped_column(sa.String(300))
    ip: Mapped[str | None] = mapped_column(sa.String(64))
    user_agent: Mapped[str | None] = mapped_column(sa.String(512))
    idempotency_key: Mapped[str | None] = mapped_column(sa.String(255))
    request_digest: Mapped[str | None] = mapped_column(sa.String(64))
    # The answer given, replayed verbatim for a repeated idempotency key.
    response: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    # Double opt-in: when the person clicked the confirmation link (set once, never cleared).
    confirmed_at: Mapped[datetime | None]

"""The Submission model: what a visitor sent, as accepted or quarantined, and its answer."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from capture.base.db import Model, utcnow
from capture.base.personal import EMPTY, NULL, ByAddress, ByLead, Export, Mask, Personal, iso
from capture.leads.conversion import form_slug


class SubmissionStatus(StrEnum):
    ACCEPTED = "accepted"
    QUARANTINED = "quarantined"
    RELEASED = "released"  # was quarantined; a marketer let it through
    DISCARDED = "discarded"  # was quarantined; a marketer threw it away


class Submission(Model):
    __tablename__ = "submissions"
    # Every accepted submission writes each index, so only the ones read are kept: the
    # quarantine lists read the few quarantined rows through a partial index (not one over
    # every status), and nothing filters by partner.
    __table_args__ = (
        sa.UniqueConstraint("form_id", "idempotency_key"),
        sa.Index(
            "ix_submissions_quarantined",
            "id",
            postgresql_where=sa.text("status = 'quarantined'"),
            sqlite_where=sa.text("status = 'quarantined'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(sa.String(40), unique=True)
    form_id: Mapped[int] = mapped_column(sa.ForeignKey("forms.id", ondelete="CASCADE"), index=True)
    form_version: Mapped[int]
    lead_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("leads.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(sa.String(20))
    spam_reason: Mapped[str | None] = mapped_column(sa.String(40))
    channel: Mapped[str] = mapped_column(sa.String(20))
    language: Mapped[str] = mapped_column(sa.String(5))
    # Only the fields the form declares, already cleaned.
    fields: Mapped[dict[str, Any]]
    consents: Mapped[dict[str, Any]] = mapped_column(default=dict)
    context: Mapped[dict[str, Any]] = mapped_column(default=dict)
    partner: Mapped[str | None] = mapped_column(sa.String(80))
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

    # Found by lead, and by address for those held in quarantine (no lead yet): erasure empties
    # them and discards a quarantined one, so releasing it can never bring the person back.
    # The row stays, without content, as a count per form and channel. The idempotency key is
    # the client's request id; it stays so a retry is not taken for a new submission.
    __privacy__ = Personal(
        find=(ByLead(), ByAddress("fields", "email")),
        erase={
            "fields": EMPTY,
            "consents": EMPTY,
            "context": EMPTY,
            "response": EMPTY,
            "origin": NULL,
            "ip": NULL,
            "user_agent": NULL,
            "request_digest": NULL,
            "status": Mask(
                lambda s: (
                    SubmissionStatus.DISCARDED.value
                    if s.status == SubmissionStatus.QUARANTINED.value
                    else s.status
                )
            ),
        },
        keep=(
            "public_id",
            "spam_reason",
            "channel",
            "language",
            "partner",
            "idempotency_key",
        ),
        network=("ip", "user_agent"),
        export=Export(
            "submissions",
            lambda s: {
                "id": s.public_id,
                "form": form_slug(s.form_id),
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
                "created_at": iso(s.created_at),
            },
        ),
    )

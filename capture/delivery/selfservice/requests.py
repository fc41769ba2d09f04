"""Privacy requests a person made themselves (an export, an erasure), and the staff notice.

Each request is a row the back office lists (`/admin/privacy-requests`). The row holds no
personal data beyond the lead it belongs to, so it stays after the erasure it asked for: the
company can show that it answered.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Mapped, mapped_column

from capture.accounts import Role
from capture.accounts.user import User
from capture.base.db import Model, db, new_public_id, utcnow
from capture.base.personal import ByLead, Export, Personal, iso
from capture.delivery.outbox import enqueue_email
from capture.leads.lead import Lead
from capture.web.urls import public_url


class RequestKind(StrEnum):
    EXPORT = "export"
    ERASURE = "erasure"


class RequestStatus(StrEnum):
    SENT = "sent"  # an export: the link is on its way to the address on file
    PENDING = "pending"  # an erasure: waiting for the click on the e-mailed link
    COMPLETED = "completed"  # an erasure: done


class PrivacyRequest(Model):
    __tablename__ = "privacy_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(
        sa.String(40), unique=True, default=lambda: new_public_id("preq")
    )
    lead_id: Mapped[int] = mapped_column(sa.ForeignKey("leads.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(20))
    status: Mapped[str] = mapped_column(sa.String(20))
    language: Mapped[str] = mapped_column(sa.String(5), default="en")
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    completed_at: Mapped[datetime | None]

    # Kept on erasure: that the person asked, and when it was done, is the company's record.
    __privacy__ = Personal(
        find=(ByLead(),),
        keep=("public_id", "kind", "status", "language"),
        export=Export(
            "privacy_requests",
            lambda r: {
                "id": r.public_id,
                "kind": r.kind,
                "status": r.status,
                "requested_at": iso(r.created_at),
                "completed_at": iso(r.completed_at),
            },
        ),
    )


def recent_request(lead: Lead, kind: RequestKind, since: datetime) -> PrivacyRequest | None:
    return db.session.scalar(
        sa.select(PrivacyRequest)
        .where(
            PrivacyRequest.lead_id == lead.id,
            PrivacyRequest.kind == kind.value,
            PrivacyRequest.created_at >= since,
        )
        .order_by(PrivacyRequest.id.desc())
        .limit(1)
    )


def notify_staff(request: PrivacyRequest, lead: Lead) -> None:
    """E-mail the admins (or PRIVACY_REQUEST_NOTIFY's addresses; empty: nobody) about a request.

    Transactional mail to staff: no unsubscribe. It names the lead by its public id and links
    to its back-office page, never the person's address.
    """
    setting = str(current_app.config.get("PRIVACY_REQUEST_NOTIFY", "admins")).strip()
    if not setting:
        return
    if setting == "admins":
        recipients = list(
            db.session.scalars(
                sa.select(User.email).where(User.role == Role.ADMIN.value, User.active.is_(True))
            )
        )
    else:
        recipients = [address.strip() for address in setting.split(",") if address.strip()]
    context: dict[str, Any] = {
        "kind": request.kind,
        "status": request.status,
        "lead_id": lead.public_id,
        "lead_url": public_url("leads.show", lead_id=lead.public_id),
        "list_url": public_url("privacy_requests.index"),
    }
    for address in sorted(set(recipients)):
        enqueue_email(
            address,
            "privacy_request_notice",
            "en",
            context,
            dedupe_key=f"privacy-notice:{request.public_id}:{request.status}:{address}"[:200],
            staff=True,  # to the company's admins, not to a lead: no unsubscribe
        )

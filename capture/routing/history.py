"""Who owned a lead when: every assignment, by routing or by a person, kept for the timeline."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from capture import extension_points
from capture.accounts import User
from capture.base.db import Model, db, utcnow
from capture.base.personal import ByLead, Export, Personal, Set
from capture.extension_points import OwnerChanged
from capture.leads.lead import Lead


class OwnerChange(Model):
    """One change of owner. `reason` is written by the system (the rule that matched, or
    "reassigned"), never typed by a person; a rule's conditions still tell something about
    the lead (its country), so erasure blanks it. The addresses are staff's."""

    __tablename__ = "owner_changes"
    __privacy__ = Personal(
        find=(ByLead(),),
        erase={"reason": Set("[erased]")},
        keep=("actor", "from_email", "to_email"),
        export=Export(
            "owner_changes",
            lambda c: {
                "from": c.from_email,
                "to": c.to_email,
                "actor": c.actor,
                "reason": c.reason,
                "at": c.created_at.isoformat(),
            },
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int] = mapped_column(sa.ForeignKey("leads.id", ondelete="CASCADE"), index=True)
    # Staff addresses as they were then: the history reads the same after a user is renamed.
    from_email: Mapped[str | None] = mapped_column(sa.String(320))
    to_email: Mapped[str | None] = mapped_column(sa.String(320))
    actor: Mapped[str] = mapped_column(sa.String(200))
    reason: Mapped[str] = mapped_column(sa.String(300))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


def set_owner(lead: Lead, owner: User | None, *, actor: str, reason: str) -> OwnerChange | None:
    """Make `owner` the lead's owner (None: nobody), record it and fire `owner_changed`;
    adds, never commits. Returns None when nothing changed."""
    if lead.owner_id == (owner.id if owner else None):
        return None
    change = OwnerChange(
        lead_id=lead.id,
        from_email=lead.owner_email,
        to_email=owner.email if owner else None,
        actor=actor,
        reason=reason[:300],
        created_at=utcnow(),
    )
    lead.owner = owner
    db.session.add(change)
    extension_points.owner_changed.send(OwnerChanged(lead, change))
    return change


def changes_of(lead: Lead) -> list[OwnerChange]:
    return list(
        db.session.scalars(
            sa.select(OwnerChange).where(OwnerChange.lead_id == lead.id).order_by(OwnerChange.id)
        )
    )

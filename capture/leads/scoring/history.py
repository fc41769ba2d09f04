"""What scoring changed: a `ScoreChange` row per change (rule, event, before, after, time) for
the lead's timeline, and `Scored`, what one step changed, for its caller. A repeat beyond a
rule's cap is a row too, with 0 points (before = after) and the reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from capture.base.db import Model, utcnow
from capture.base.personal import ByLead, Export, Personal
from capture.leads.lead import StageChange


class ScoreChange(Model):
    """One change of a lead's score: which rule, on what event, from what to what."""

    __tablename__ = "score_changes"
    # A capped rule counts the lead's scored rows of the rule in its window (`apply`, and a
    # download's statement in magnets.engagement): only those rows, by lead, rule and time.
    __table_args__ = (
        sa.Index(
            "ix_score_changes_scored",
            "lead_id",
            "rule",
            "created_at",
            postgresql_where=sa.text("reason IS NULL"),
            sqlite_where=sa.text("reason IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int] = mapped_column(sa.ForeignKey("leads.id", ondelete="CASCADE"), index=True)
    rule: Mapped[str] = mapped_column(sa.String(120))
    event: Mapped[str] = mapped_column(sa.String(300))
    before: Mapped[int]
    after: Mapped[int]
    # Set when the rule gave 0 points, and why ("newsletter_signup: at most 1 per 30 days"):
    # a repeat beyond the rule's cap. Rows without it are what a cap counts.
    reason: Mapped[str | None] = mapped_column(sa.String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    # Rule names and events name the rule and what fired it ("magnet guide download dl_..."),
    # never the person: the history stays as an anonymous count.
    __privacy__ = Personal(
        find=(ByLead(),),
        keep=("rule", "event", "reason"),
        export=Export(
            "score_changes",
            lambda c: {
                "rule": c.rule,
                "event": c.event,
                "before": c.before,
                "after": c.after,
                "reason": c.reason,
                "at": c.created_at.isoformat(),
            },
        ),
    )


@dataclass
class Scored:
    """What one scoring step changed, so callers can report it (answers, webhooks)."""

    score_changes: list[ScoreChange] = field(default_factory=list)
    stage_changes: list[StageChange] = field(default_factory=list)

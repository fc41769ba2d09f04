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
from capture.leads.lead import Lead, StageChange


class ScoreChange(Model):
    """One change of a lead's score: which rule, on what event, from what to what."""

    __tablename__ = "score_changes"
    # One index for the lead's rows: its timeline and erasure read them by lead; a capped
    # rule counts the lead's scored rows (`reason IS NULL`, an equality to a B-tree) of the
    # rule in its window (`apply`, and a download's statement in magnets.engagement), and the
    # time range then narrows the scan to them, capped repeats left out.
    __table_args__ = (sa.Index("ix_score_changes_lead", "lead_id", "rule", "reason", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # The lead's id, without a foreign key: the nightly decay writes a row for every lead whose
    # score it lowers, and PostgreSQL's check (a query per row) was a third of that pass. Leads
    # are never deleted (erasure overwrites them in place) and every row is written beside its
    # lead's score; a lead deleted by hand takes its rows along (`FORGET_DELETED_LEADS`).
    lead_id: Mapped[int]
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


# What the foreign key's ON DELETE CASCADE did, once per statement (no lead is deleted by
# Leadgate itself; a person's erasure keeps the anonymous history).
FORGET_DELETED_LEADS = (
    """
CREATE OR REPLACE FUNCTION leads_forget_score_changes() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM score_changes WHERE lead_id IN (SELECT id FROM gone);
  RETURN NULL;
END
$$
""",
    """
CREATE TRIGGER leads_forget_score_changes AFTER DELETE ON leads
REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION leads_forget_score_changes()
""",
)
for _statement in FORGET_DELETED_LEADS:
    sa.event.listen(
        Lead.__table__, "after_create", sa.DDL(_statement).execute_if(dialect="postgresql")
    )


@dataclass
class Scored:
    """What one scoring step changed, so callers can report it (answers, webhooks)."""

    score_changes: list[ScoreChange] = field(default_factory=list)
    stage_changes: list[StageChange] = field(default_factory=list)

"""Conversions held until a double opt-in is confirmed: no stage move and no points before.

A form with double opt-in proves nothing about the address until the person clicks the link,
so its conversion is recorded as `pending` and the lead stays where it was (a new one stays
`lead`, not MQL). The click classifies and scores it like any other conversion, with the
kind's class at that moment. The submission's write path calls `hold`; the confirmation calls
`settle`: each once, from one place.
"""

from __future__ import annotations

import sqlalchemy as sa

from capture.base.db import db
from capture.base.lifecycle import (
    Classification,
    automatic_move,
    classify,
    stage_for,
)
from capture.leads.conversion import ConversionEvent
from capture.leads.lead import Lead, StageChange, move_stage
from capture.leads.scoring import kind_classes, score_conversion


def hold(conversion: ConversionEvent, double_opt_in: bool) -> bool:
    """Mark the conversion pending when its form asks for confirmation; True when held."""
    conversion.pending = double_opt_in
    return double_opt_in


def settle(
    lead: Lead, submission_id: int, actor: str = "system:double_opt_in"
) -> list[StageChange]:
    """Classify and score the submission's pending conversions now that it is confirmed.

    Takes the lead's row lock first: scoring counts caps in the score history, and two
    confirmations of one lead must count one after the other. Adds and flushes.
    """
    held = db.session.scalars(
        sa.select(ConversionEvent).where(
            ConversionEvent.submission_id == submission_id, ConversionEvent.pending.is_(True)
        )
    ).all()
    if not held:
        return []
    db.session.execute(
        sa.select(Lead.id).where(Lead.id == lead.id).with_for_update()
    )  # the row lock only; the loaded lead stays as it is
    overrides = kind_classes()  # the kinds in force now (edited at run time: scoring.versions)
    changes: list[StageChange] = []
    for conversion in held:
        conversion.pending = False
        classification: Classification = classify(conversion.kind, overrides)
        conversion.classification = classification.value
        target = automatic_move(lead.stage, stage_for(classification))
        if target is not None:
            changes.append(
                move_stage(
                    lead,
                    target,
                    reason=f"{conversion.kind} conversion ({classification}) confirmed "
                    "by double opt-in",
                    actor=actor,
                    conversion_id=conversion.id,
                )
            )
        changes.extend(score_conversion(lead, conversion).stage_changes)
    return changes

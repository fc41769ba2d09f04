"""Scores on leads: applying the rules, recording every change and why.

Helpers add and flush; the caller commits. Other packages add points through `score_activity`
(magnets: `score_activity(lead, "download", event="magnet ...")`).

A rule's cap is counted in the score history, in the caller's transaction: the caller must hold
the lead's row lock (`upsert_lead`, or `SELECT ... FOR UPDATE`), so that on PostgreSQL
concurrent occurrences count one after another instead of all seeing the same count.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from capture.base.db import db, fresh, utcnow
from capture.base.lifecycle import Stage, automatic_move
from capture.base.one_trip import attach
from capture.leads.conversion import ConversionEvent
from capture.leads.lead import PROFILE_COLUMNS, Lead, StageChange, move_stage
from capture.leads.scoring.decay import decayed
from capture.leads.scoring.document import current_rules
from capture.leads.scoring.history import ScoreChange, Scored
from capture.leads.scoring.points import (
    conversion_points,
    fit_points,
    temperature,
    threshold_stage,
    total,
)
from capture.leads.scoring.rules import ScoringRules
from capture.leads.upsert import created_in_this_transaction

ACTOR = "system:scoring"


def _idle_days(since: datetime, now: datetime) -> float:
    return max(0.0, (now - since).total_seconds() / 86400)


def _set_score(lead: Lead, rules: ScoringRules, rule: str, event: str) -> ScoreChange | None:
    before = lead.score or 0
    after = total(lead.engagement_score or 0.0, lead.fit_score or 0)
    lead.score = after
    lead.temperature = temperature(rules, after).value
    if after == before:
        return None
    change = fresh(ScoreChange, lead_id=lead.id, rule=rule, event=event, before=before, after=after)
    attach(change)
    return change


def _over_cap(lead: Lead, rules: ScoringRules, rule: str, now: datetime) -> str | None:
    """Why an occurrence of `rule` scores nothing now (its cap is used up), else None.

    Counts the rule's scored rows (those without a reason) in the rolling window, including
    rows added in this transaction and not yet flushed. Reads without autoflush, so the lead's
    pending changes still go out in one UPDATE.
    """
    cap = rules.caps.get(rule)
    if cap is None:
        return None
    pending = sum(
        1
        for row in db.session.new
        if isinstance(row, ScoreChange)
        and row.lead_id == lead.id
        and row.rule == rule
        and row.reason is None
    )
    if created_in_this_transaction(lead):
        # Its whole history is in this session: pending rows, and flushed ones it holds.
        pending += sum(
            1
            for row in db.session.identity_map.values()
            if isinstance(row, ScoreChange)
            and row.lead_id == lead.id
            and row.rule == rule
            and row.reason is None
        )
        return None if pending < cap.max else cap.reason(rule.partition(": ")[2])
    with db.session.no_autoflush:
        used = db.session.scalar(
            sa.select(sa.func.count())
            .select_from(ScoreChange)
            .where(
                ScoreChange.lead_id == lead.id,
                ScoreChange.rule == rule,
                ScoreChange.reason.is_(None),
                ScoreChange.created_at > now - cap.per,
            )
        )
    if (used or 0) + pending < cap.max:
        return None
    return cap.reason(rule.partition(": ")[2])


def _repeat(lead: Lead, rule: str, event: str, reason: str) -> ScoreChange:
    """A repeat beyond the cap on the timeline: 0 points (before = after) and the reason."""
    score = lead.score or 0
    change = fresh(
        ScoreChange,
        lead_id=lead.id,
        rule=rule,
        event=event,
        before=score,
        after=score,
        reason=reason,
    )
    attach(change)
    return change


def _catch_up_decay(lead: Lead, rules: ScoringRules, now: datetime, scored: Scored) -> None:
    """Apply the decay owed since the last pass, so new points land on the current value."""
    engagement = lead.engagement_score or 0.0
    since = lead.engagement_at or now
    if engagement:
        left = decayed(engagement, _idle_days(since, now), rules.half_life_days)
        lead.engagement_score = 0.0 if abs(left) < 0.5 else left  # as decay_all does
        change = _set_score(lead, rules, "decay", "inactivity")
        if change:
            scored.score_changes.append(change)
    lead.engagement_at = now


def add_engagement(lead: Lead, points: int, *, rule: str, event: str) -> Scored:
    """Add engagement points (after catching up on decay), then qualify the lead.

    Beyond the rule's cap the points are 0 and the repeat is recorded with the reason.
    """
    rules = current_rules()
    scored = Scored()
    now = utcnow()
    capped = _over_cap(lead, rules, rule, now)
    _catch_up_decay(lead, rules, now, scored)
    if capped:
        scored.score_changes.append(_repeat(lead, rule, event, capped))
    else:
        lead.engagement_score = (lead.engagement_score or 0.0) + points
        change = _set_score(lead, rules, rule, event)
        if change:
            scored.score_changes.append(change)
    qualify(lead, event, scored)
    return scored


def refresh_fit(lead: Lead, event: str, scored: Scored | None = None) -> Scored:
    """Recompute the fit part from the profile; one change row per changed total."""
    rules = current_rules()
    scored = scored or Scored()
    profile = {name: getattr(lead, name) for name in PROFILE_COLUMNS}
    matched = fit_points(rules, profile)
    fit = sum(points for _, points in matched)
    if fit != (lead.fit_score or 0):
        lead.fit_score = fit
        names = ", ".join(name for name, _ in matched) or "no fit rule matches"
        change = _set_score(lead, rules, f"fit: {names}", event)
        if change:
            scored.score_changes.append(change)
    return scored


def qualify(
    lead: Lead, event: str, scored: Scored, conversion_id: int | None = None
) -> list[StageChange]:
    """Promote by threshold or BANT; forward only, never out of `disqualified`."""
    rules = current_rules()
    moves: list[StageChange] = []
    profile = {name: getattr(lead, name) for name in PROFILE_COLUMNS}
    if rules.bant.met(profile):
        target = automatic_move(lead.stage, Stage.SQL)
        if target is not None:
            answered = ", ".join(rules.bant.answered(profile))
            moves.append(
                move_stage(
                    lead,
                    target,
                    reason=f"BANT rule met ({answered} answered) on {event}",
                    actor=ACTOR,
                    conversion_id=conversion_id,
                )
            )
    by_score = threshold_stage(rules, lead.score)
    if by_score is not None:
        target = automatic_move(lead.stage, Stage(by_score))
        if target is not None:
            threshold = rules.sql_threshold if target is Stage.SQL else rules.mql_threshold
            moves.append(
                move_stage(
                    lead,
                    target,
                    reason=f"score {lead.score} reached the {target.value.upper()} threshold "
                    f"{threshold} on {event}",
                    actor=ACTOR,
                    conversion_id=conversion_id,
                )
            )
    scored.stage_changes.extend(moves)
    return moves


def score_conversion(
    lead: Lead, conversion: ConversionEvent, percent: float | None = None, *, flush: bool = True
) -> Scored:
    """Points for a conversion, fit from the (possibly new) profile, then thresholds and BANT.

    Beyond the kind's cap the conversion scores 0 and is recorded with the reason (the fit
    still follows the profile). `flush=False` leaves the changes to the caller's next flush (a
    submission flushes once at its end, so the lead gets one UPDATE, not two).
    """
    rules = current_rules()
    event = f"conversion {conversion.public_id} ({conversion.kind})"
    rule = f"conversion: {conversion.kind}"
    scored = Scored()
    now = utcnow()
    capped = _over_cap(lead, rules, rule, now)
    _catch_up_decay(lead, rules, now, scored)
    refresh_fit(lead, event, scored)
    if capped:
        scored.score_changes.append(_repeat(lead, rule, event, capped))
    else:
        lead.engagement_score = (lead.engagement_score or 0.0) + conversion_points(
            rules, conversion.kind, percent
        )
        change = _set_score(lead, rules, rule, event)
        if change:
            scored.score_changes.append(change)
    qualify(lead, event, scored, conversion.id)
    if flush:
        db.session.flush()
    return scored


def score_activity(lead: Lead, activity: str, *, event: str) -> Scored:
    """Points for an activity named in the rules (`download`, `pricing_page_view`, ...)."""
    points = current_rules().activities.get(activity, 0)
    scored = add_engagement(lead, points, rule=f"activity: {activity}", event=event)
    db.session.flush()
    return scored

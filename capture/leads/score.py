"""Scores on leads: applying the rules of `capture.leads.scoring`, recording every change and why.

Each change is a `ScoreChange` row (rule, event, before, after, time) for the lead's timeline.
Helpers add and flush; the caller commits. Other packages add points through `score_activity`
(magnets: `score_activity(lead, "download", event="magnet ...")`).
"""

from __future__ import annotations

import json
import math
import sqlite3
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml
from flask import Flask, current_app
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Mapped, mapped_column

from capture.db import UTCDateTime, db, utcnow
from capture.leads.classify import Stage, automatic_move
from capture.leads.conversion import ConversionEvent
from capture.leads.lead import PROFILE_COLUMNS, Lead, StageChange, move_stage
from capture.leads.scoring import (
    ScoringRules,
    conversion_points,
    decayed,
    fit_points,
    parse_rules,
    temperature,
    threshold_stage,
    total,
)
from capture.personal import ByLead, Export, Personal
from capture.submissions.record import Accepted, on_accept

EXTENSION = "leadgate.scoring"
ACTOR = "system:scoring"


class ScoreChange(db.Model):
    """One change of a lead's score: which rule, on what event, from what to what."""

    __tablename__ = "score_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int] = mapped_column(sa.ForeignKey("leads.id", ondelete="CASCADE"), index=True)
    rule: Mapped[str] = mapped_column(sa.String(120))
    event: Mapped[str] = mapped_column(sa.String(300))
    before: Mapped[int]
    after: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    # Rule names and events name the rule and what fired it ("magnet guide download dl_..."),
    # never the person: the history stays as an anonymous count.
    __privacy__ = Personal(
        find=(ByLead(),),
        keep=("rule", "event"),
        export=Export(
            "score_changes",
            lambda c: {
                "rule": c.rule,
                "event": c.event,
                "before": c.before,
                "after": c.after,
                "at": c.created_at.isoformat(),
            },
        ),
    )


@dataclass
class Scored:
    """What one scoring step changed, so callers can report it (answers, webhooks)."""

    score_changes: list[ScoreChange] = field(default_factory=list)
    stage_changes: list[StageChange] = field(default_factory=list)


def load_rules(setting: str | None) -> ScoringRules:
    """`LEADGATE_SCORING_RULES`: inline JSON, or the path of a .json/.yaml/.yml file."""
    if not setting or not setting.strip():
        return parse_rules()
    text = setting.strip()
    if not text.startswith("{"):
        path = Path(text)
        text = path.read_text(encoding="utf-8")
        if path.suffix in {".yaml", ".yml"}:
            return parse_rules(yaml.safe_load(text))
    return parse_rules(json.loads(text))


def current_rules() -> ScoringRules:
    return current_app.extensions[EXTENSION]


def _idle_days(since: datetime, now: datetime) -> float:
    return max(0.0, (now - since).total_seconds() / 86400)


def _set_score(lead: Lead, rules: ScoringRules, rule: str, event: str) -> ScoreChange | None:
    before = lead.score or 0
    after = total(lead.engagement_score or 0.0, lead.fit_score or 0)
    lead.score = after
    lead.temperature = temperature(rules, after).value
    if after == before:
        return None
    change = ScoreChange(lead_id=lead.id, rule=rule, event=event, before=before, after=after)
    db.session.add(change)
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
    """Add engagement points (after catching up on decay), then qualify the lead."""
    rules = current_rules()
    scored = Scored()
    now = utcnow()
    _catch_up_decay(lead, rules, now, scored)
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

    `flush=False` leaves the changes to the caller's next flush (a submission flushes once at
    its end, so the lead gets one UPDATE, not two).
    """
    rules = current_rules()
    event = f"conversion {conversion.public_id} ({conversion.kind})"
    scored = Scored()
    now = utcnow()
    _catch_up_decay(lead, rules, now, scored)
    refresh_fit(lead, event, scored)
    lead.engagement_score = (lead.engagement_score or 0.0) + conversion_points(
        rules, conversion.kind, percent
    )
    change = _set_score(lead, rules, f"conversion: {conversion.kind}", event)
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


def _elapsed_days(column: Any, now: datetime, dialect: str) -> Any:
    moment = sa.literal(now, UTCDateTime())
    if dialect == "postgresql":
        return sa.extract("epoch", moment - column) / 86400.0
    return sa.func.julianday(moment) - sa.func.julianday(column)


def decay_all(now: datetime | None = None) -> int:
    """Materialise inactivity decay for every lead: one INSERT ... SELECT for the history rows
    and one set-based UPDATE of the table itself, so a million leads never pass through Python.
    Returns the number of leads whose score changed. The caller commits.

    The UPDATE reads only the row it changes (no join of `leads` with itself): at a million
    leads the cost is writing the rows, so nothing else is added to it.
    """
    rules = current_rules()
    now = now or utcnow()
    dialect = db.session.get_bind().dialect.name
    leads = Lead.__table__
    c = leads.c
    moment = sa.literal(now, UTCDateTime())
    factor = sa.func.power(0.5, _elapsed_days(c.engagement_at, now, dialect) / rules.half_life_days)
    raw = c.engagement_score * factor
    engagement = sa.case((sa.func.abs(raw) < 0.5, 0.0), else_=raw)
    new_score = sa.cast(sa.func.round(engagement), sa.Integer) + c.fit_score
    due = sa.and_(c.engagement_score != 0, c.engagement_at < now, c.erased_at.is_(None))
    changing = sa.and_(due, new_score != c.score)
    # rowcount of INSERT ... SELECT is not reliable across drivers: count in the database.
    changed = db.session.scalar(sa.select(sa.func.count()).select_from(leads).where(changing))
    history = sa.insert(ScoreChange.__table__).from_select(
        ["lead_id", "rule", "event", "before", "after", "created_at"],
        sa.select(
            c.id,
            sa.literal("decay"),
            sa.literal(f"inactivity (half-life {rules.half_life_days:g} days)"),
            c.score,
            new_score,
            moment,
        ).where(changing),
    )
    db.session.execute(history)
    band = sa.case(
        (new_score >= rules.hot_from, "hot"),
        (new_score >= rules.warm_from, "warm"),
        else_="cold",
    )
    # Only rows whose score, band or (snapped to 0) engagement changes are written: decay
    # composes (half-lives multiply), so a row left alone still decays from its own
    # `engagement_at` to the same value later. A daily pass then rewrites only the leads whose
    # rounded score moved, not every lead. Every right-hand side reads the row as it was
    # before this UPDATE (SQL semantics).
    visible = sa.or_(new_score != c.score, band != c.temperature, sa.func.abs(raw) < 0.5)
    update = (
        sa.update(leads)
        .where(due, visible)
        .values(
            engagement_score=engagement,
            score=new_score,
            temperature=band,
            engagement_at=now,
            updated_at=sa.case((new_score != c.score, moment), else_=c.updated_at),
        )
    )
    db.session.execute(update.execution_options(synchronize_session=False))
    return max(int(changed or 0), 0)


def _power(base: float, exponent: float) -> float | None:
    try:
        return math.pow(base, exponent)
    except (TypeError, ValueError, OverflowError):
        return None


@sa.event.listens_for(Engine, "connect")
def _sqlite_power(dbapi_connection: Any, connection_record: Any) -> None:
    """SQLite builds may lack math functions; decay needs power() on every backend."""
    if isinstance(dbapi_connection, sqlite3.Connection):
        dbapi_connection.create_function("power", 2, _power, deterministic=True)


def _score_submission(accepted: Accepted) -> None:
    """Runs inside the submission transaction, after classification moved the stage."""
    scored = score_conversion(accepted.lead, accepted.conversion, flush=False)
    accepted.stage_changes.extend(scored.stage_changes)
    accepted.answer["lifecycle_stage"] = accepted.lead.lifecycle_stage


def init_app(app: Flask) -> None:
    """Read the rules once at start (bad rules stop the app with every problem listed)."""
    app.extensions[EXTENSION] = load_rules(app.config.get("SCORING_RULES"))
    on_accept(app, _score_submission)

"""Downloads as engagement: the download scoring rule applied inside the download's statement.

`capture.leads.scoring.score_activity` is the reference; this is the same arithmetic in SQL (decay
catch-up, points, rounding half away from zero, temperature, one history row per changed total)
so that on PostgreSQL a download stays one statement in autocommit. A stage move runs hooks in
Python, so the statement refuses to write when one could be due, and the caller then takes the
Python path in a transaction.

The `download` rule's cap is counted in the statement too (its scored history rows in the
window; a repeat beyond it gets a 0-point row with the reason). The statement reads the history
in its snapshot, taken before it waited for the lead's row lock: a download that committed
while it waited would be missed. So it compares the locked row's version (`xmin`) with the one
in its snapshot and, when another transaction changed the lead in between, writes nothing: the
caller then takes the Python path, which counts after taking the lock.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from capture.base.db import UTCDateTime, table_of
from capture.base.lifecycle import FUNNEL, Stage, rank
from capture.leads.lead import Lead
from capture.leads.scoring import Cap, ScoreChange, ScoringRules, current_rules

ACTIVITY = "download"
RULE = f"activity: {ACTIVITY}"


def download_points() -> int:
    """The rule's points; 0 when the rules in force have no (or a zero) download rule."""
    return current_rules().activities.get(ACTIVITY, 0)


def _rounded(value: Any) -> Any:
    # round(numeric) breaks ties away from zero, as `scoring.round_half_away`; round(float)
    # would go to even.
    return sa.cast(sa.func.round(sa.cast(value, sa.Numeric)), sa.Integer)


def _may_move(rules: ScoringRules, old: Any, after: Any) -> Any:
    """True when `qualify` could move the lead: a threshold reached above its stage, or maybe
    BANT met (counted generously, every non-blank answer, so a doubt takes the Python path)."""
    stage = old.c.lifecycle_stage
    stage_rank = sa.case({s.value: rank(s) for s in FUNNEL}, value=stage, else_=-1)
    target_rank = sa.case(
        (after >= rules.sql_threshold, rank(Stage.SQL)),
        (after >= rules.mql_threshold, rank(Stage.MQL)),
        else_=-1,
    )
    answered = sum(
        (
            sa.case((sa.func.coalesce(sa.func.trim(getattr(old.c, name)), "") != "", 1), else_=0)
            for name in rules.bant.require
        ),
        sa.literal(0),
    )
    bant = sa.and_(stage_rank < rank(Stage.SQL), answered >= rules.bant.minimum)
    return sa.and_(stage != Stage.DISQUALIFIED.value, sa.or_(target_rank > stage_rank, bant))


def scored_touch(rules: ScoringRules, points: int) -> tuple[sa.CTE, sa.CTE]:
    """PostgreSQL CTEs: lock the lead, add the download's points after the decay owed (none
    beyond the rule's cap), record the score changes. `touched` has the lead's id, or no row
    when a stage move could be due or the cap's count may be stale (see the module's notes);
    `history` must be added to the statement (`add_cte`) for the score rows to be written.

    Built once per rule set with bound parameters `p_lead`, `p_at` and `p_event` (named unlike
    any column, which Core would add to the UPDATE's SET): the construct is
    large, and building it per download would cost more than running it.
    """
    leads = table_of(Lead)
    c = leads.c
    lead_id = sa.bindparam("p_lead", type_=sa.Integer())
    moment = sa.bindparam("p_at", type_=UTCDateTime())
    event = sa.bindparam("p_event", type_=sa.String())
    cap = rules.caps.get(RULE)
    old = (
        sa.select(
            c.id,
            c.score,
            c.engagement_score,
            c.engagement_at,
            c.fit_score,
            c.lifecycle_stage,
            *(getattr(c, name) for name in rules.bant.require),
            _version("leads").label("version"),
            *_used(cap, lead_id, moment),
        )
        .where(c.id == lead_id)
        .with_for_update()
        .cte("old")
    )
    engagement = sa.func.coalesce(old.c.engagement_score, 0.0)
    idle = sa.func.greatest(
        0.0,
        sa.extract("epoch", moment - sa.func.coalesce(old.c.engagement_at, moment)) / 86400.0,
    )
    left = engagement * sa.func.power(0.5, idle / rules.half_life_days)
    caught_up = sa.case((sa.func.abs(left) < 0.5, 0.0), else_=left)
    fit = sa.func.coalesce(old.c.fit_score, 0)
    capped, stale = _capped(cap, lead_id, old)
    gained = sa.case((capped, 0), else_=points)
    decayed = _rounded(caught_up) + fit
    after = _rounded(caught_up + gained) + fit
    calc = sa.select(
        old.c.id,
        sa.func.coalesce(old.c.score, 0).label("before"),
        decayed.label("decayed"),
        after.label("after"),
        (caught_up + gained).label("engagement"),
        sa.case(
            (after >= rules.hot_from, "hot"), (after >= rules.warm_from, "warm"), else_="cold"
        ).label("temperature"),
        _may_move(rules, old, after).label("may_move"),
        capped.label("capped"),
        stale.label("stale"),
    ).cte("calc")
    touched = (
        sa.update(leads)
        .where(c.id == calc.c.id, sa.not_(calc.c.may_move), sa.not_(calc.c.stale))
        .values(
            last_activity_at=moment,
            updated_at=moment,
            engagement_score=calc.c.engagement,
            engagement_at=moment,
            score=calc.c.after,
            temperature=calc.c.temperature,
        )
        .returning(c.id, calc.c.before, calc.c.decayed, calc.c.after, calc.c.capped)
        .cte("touched")
    )
    columns = ["lead_id", "rule", "event", "before", "after", "reason", "created_at"]
    t = touched.c
    reason = sa.case((t.capped, cap.reason(ACTIVITY)), else_=sa.null()) if cap else sa.null()
    history = (
        sa.insert(table_of(ScoreChange))
        .from_select(
            columns,
            sa.union_all(
                sa.select(t.id, sa.literal("decay"), sa.literal("inactivity"), t.before, t.decayed)
                .add_columns(sa.cast(sa.null(), sa.String()), moment)
                .where(t.decayed != t.before),
                sa.select(t.id, sa.literal(RULE), event, t.decayed, t.after)
                .add_columns(sa.cast(reason, sa.String()), moment)
                .where(sa.or_(t.after != t.decayed, t.capped)),
            ),
        )
        .returning(ScoreChange.__table__.c.id)
        .cte("history")
    )
    return touched, history


def _version(table: str) -> sa.ColumnElement[str]:
    """The row version's transaction id: differs after any other transaction's UPDATE."""
    return sa.cast(sa.literal_column(f"{table}.xmin"), sa.Text())


def _used(cap: Cap | None, lead_id: Any, moment: Any) -> list[sa.Label[int]]:
    """The rule's scored rows in the cap's window, as a column of the `old` CTE: counted once
    per download. (An expression of `calc`, which PostgreSQL folds into the UPDATE, it was
    counted again for every expression that reads it, eight times, each an index scan over
    the lead's history.)"""
    if cap is None:
        return []
    history = ScoreChange.__table__.c
    used = (
        sa.select(sa.func.count())
        .where(
            history.lead_id == lead_id,
            history.rule == RULE,
            history.reason.is_(None),
            history.created_at > moment - sa.literal(cap.per, sa.Interval()),
        )
        .scalar_subquery()
    )
    return [used.label("used")]


def _capped(
    cap: Cap | None, lead_id: Any, old: sa.CTE
) -> tuple[sa.ColumnElement[bool], sa.ColumnElement[bool]]:
    """(the cap is used up, the history read may be stale): both false without a cap.

    Stale when the lead locked (its latest version) is not the one in the statement's snapshot:
    then a download that committed meanwhile is missing from the count.
    """
    if cap is None:
        return sa.false(), sa.false()
    snapshot = sa.table("leads", sa.column("id")).alias("snapshot")
    seen = (
        sa.select(_version("snapshot"))
        .select_from(snapshot)
        .where(snapshot.c.id == lead_id)
        .scalar_subquery()
    )
    return old.c.used >= cap.max, old.c.version.is_distinct_from(seen)

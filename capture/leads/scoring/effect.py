"""What a change of the rules would do to the current leads, before it is saved (a dry run).

Counted in SQL over the stored scores (two grouped queries, no lead passes through Python):
how many leads the new bands put at another temperature (applied when the change is saved),
and how many the new thresholds would move to a higher stage (at their next scored event:
a change applies from now on and rewrites no history).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from capture.base.db import db, table_of
from capture.base.lifecycle import Stage
from capture.leads.lead import Lead
from capture.leads.scoring.rules import ScoringRules
from capture.leads.scoring.versions import band

# Stages a threshold moves forward from (never out of disqualified, never back).
BELOW_MQL = (Stage.LEAD.value,)
BELOW_SQL = (Stage.LEAD.value, Stage.MQL.value, Stage.SAL.value)


def effect(rules: ScoringRules) -> dict[str, Any]:
    """`{"leads": n, "temperature": {"changed": n, "by_change": {"cold->warm": n, ...}},
    "stage": {"changed": n, "to_mql": n, "to_sql": n}}` for the leads as they are now."""
    c = table_of(Lead).c
    live = c.erased_at.is_(None)
    new = band(rules, c.score)
    by_change: dict[str, int] = {}
    rows = db.session.execute(
        sa.select(c.temperature, new, sa.func.count())
        .where(live, c.temperature != new)
        .group_by(c.temperature, new)
    )
    for before, after, count in rows:
        by_change[f"{before}->{after}"] = int(count)
    to_sql = sa.and_(c.lifecycle_stage.in_(BELOW_SQL), c.score >= rules.sql_threshold)
    to_mql = sa.and_(
        c.lifecycle_stage.in_(BELOW_MQL),
        c.score >= rules.mql_threshold,
        c.score < rules.sql_threshold,
    )
    total, sql, mql = db.session.execute(
        sa.select(
            sa.func.count(),
            sa.func.coalesce(sa.func.sum(sa.case((to_sql, 1), else_=0)), 0),
            sa.func.coalesce(sa.func.sum(sa.case((to_mql, 1), else_=0)), 0),
        ).where(live)
    ).one()
    return {
        "leads": int(total),
        "temperature": {"changed": sum(by_change.values()), "by_change": by_change},
        "stage": {"changed": int(sql) + int(mql), "to_mql": int(mql), "to_sql": int(sql)},
    }

"""Inactivity decay: the engagement part of a score halves every `half_life_days`.

`decayed` is the reference formula; `decay_all` runs the same arithmetic in SQL for every lead
(`leadgate scoring decay`), with SQLite given the `power()` it may lack.
"""

from __future__ import annotations

import math
import sqlite3
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from capture.base.db import UTCDateTime, db, table_of, utcnow
from capture.leads.lead import Lead
from capture.leads.scoring.document import current_rules
from capture.leads.scoring.history import ScoreChange
from capture.leads.scoring.rules import ScoringRules

WORK_MEM = "256MB"  # for the PostgreSQL pass's join (see _decay_postgresql)


def decayed(engagement: float, idle_days: float, half_life_days: float) -> float:
    """Engagement left after `idle_days` without activity: halves every `half_life_days`.

    The same formula runs in SQL (`capture.leads.scoring.decay_all`); this is its reference.
    """
    if idle_days <= 0:
        return engagement
    return engagement * math.pow(0.5, idle_days / half_life_days)


def _elapsed_days(column: Any, now: datetime) -> Any:
    """SQLite's days between `column` and `now` (PostgreSQL's is in `_decay_postgresql`)."""
    moment = sa.literal(now, UTCDateTime())
    return sa.func.julianday(moment) - sa.func.julianday(column)


def decay_all(now: datetime | None = None) -> int:
    """Materialise inactivity decay for every lead, set-based: no lead passes through Python.
    Returns the number of leads whose score changed. The caller commits.

    Only rows whose score, band or (snapped to 0) engagement changes are written: decay
    composes (half-lives multiply), so a row left alone still decays from its own
    `engagement_at` to the same value later, and a lead whose engagement is 0 costs nothing.

    On PostgreSQL it is one statement (`_decay_postgresql`): one scan of the leads works out
    every new value once, the UPDATE returns the rows it wrote with their score before, and the
    history rows and the count come from that. SQLite (no data-modifying CTEs) counts, copies
    the history and updates in three statements.
    """
    rules = current_rules()
    now = now or utcnow()
    if db.session.get_bind().dialect.name == "postgresql":
        return _decay_postgresql(rules, now)
    return _decay_sqlite(rules, now)


def _history_columns() -> list[str]:
    return ["lead_id", "rule", "event", "before", "after", "created_at"]


def _event(rules: ScoringRules) -> str:
    return f"inactivity (half-life {rules.half_life_days:g} days)"


def _band(rules: ScoringRules, score: Any) -> Any:
    return sa.case(
        (score >= rules.hot_from, "hot"), (score >= rules.warm_from, "warm"), else_="cold"
    )


def _decay_postgresql(rules: ScoringRules, now: datetime) -> int:
    """WITH fresh AS (SELECT the new values of the leads due), written AS (UPDATE ... FROM
    fresh RETURNING before and after), history AS (INSERT ... SELECT FROM written) SELECT count.

    `fresh` computes power() once per lead (the single-table UPDATE evaluated it in every SET
    and WHERE term), and replaces the separate COUNT and INSERT ... SELECT scans. The UPDATE
    joins `fresh` on the id and on the values the new ones were computed from: a lead that
    another transaction changed meanwhile (new points, after their own catch-up decay) fails
    that re-check under READ COMMITTED and is left for the next pass, never overwritten with a
    value computed from its old row.
    """
    leads = table_of(Lead)
    c = leads.c
    moment = sa.literal(now, UTCDateTime())
    due = sa.and_(c.engagement_score != 0, c.engagement_at < moment, c.erased_at.is_(None))
    # date_part() is double precision, as the reference formula's floats; extract() would be
    # numeric, and numeric arithmetic on a million rows costs seconds.
    idle = sa.func.date_part("epoch", moment - c.engagement_at, type_=sa.Float) / 86400.0
    raw = (c.engagement_score * sa.func.power(0.5, idle / rules.half_life_days)).label("raw")
    # OFFSET 0 keeps PostgreSQL from merging this subquery into the ones above it, which would
    # copy `raw` (power() and all) into every term that uses it: computed once per lead.
    computed = (
        sa.select(
            c.id, c.score, c.engagement_score, c.engagement_at, c.fit_score, c.temperature, raw
        )
        .where(due)
        .offset(0)
        .subquery("computed")
    )
    k = computed.c
    engagement = sa.case((sa.func.abs(k.raw) < 0.5, 0.0), else_=k.raw)
    snapped = sa.select(*k, engagement.label("engagement")).subquery("snapped")
    s = snapped.c
    after = sa.cast(sa.func.round(s.engagement), sa.Integer) + s.fit_score
    scored = sa.select(*s, after.label("after")).subquery("scored")
    o = scored.c
    band = _band(rules, o.after)
    # Rows whose score, band or (snapped to 0) engagement changes: nothing else is written.
    fresh = (
        sa.select(*o, band.label("band"))
        .where(sa.or_(o.after != o.score, band != o.temperature, o.engagement == 0))
        .cte("fresh")
    )
    f = fresh.c
    written = (
        sa.update(leads)
        .where(
            c.id == f.id,
            c.score == f.score,
            c.engagement_score == f.engagement_score,
            c.engagement_at == f.engagement_at,
            c.fit_score == f.fit_score,
            c.erased_at.is_(None),
        )
        .values(
            engagement_score=f.engagement,
            score=f.after,
            temperature=f.band,
            engagement_at=moment,
            updated_at=sa.case((f.after != f.score, moment), else_=c.updated_at),
        )
        .returning(c.id, f.score.label("before"), f.after)
        .cte("written")
    )
    w = written.c
    history = (
        sa.insert(table_of(ScoreChange))
        .from_select(
            _history_columns(),
            sa.select(
                w.id, sa.literal("decay"), sa.literal(_event(rules)), w.before, w.after, moment
            ).where(w.before != w.after),
        )
        .returning(table_of(ScoreChange).c.id)
        .cte("history")
    )
    # The join's hash of every lead (about 80 MB at a million) in memory for this transaction:
    # spilled in batches, it hands the rows to the UPDATE out of their order on disk, and the
    # pass then dirties (and logs) each page many times over.
    db.session.execute(sa.select(sa.func.set_config("work_mem", WORK_MEM, True)))
    changed = db.session.scalar(sa.select(sa.func.count()).select_from(history))
    return int(changed or 0)


def _decay_sqlite(rules: ScoringRules, now: datetime) -> int:
    """Three statements: the count (rowcount of INSERT ... SELECT is not reliable across
    drivers), the history rows, and one UPDATE that reads only the row it changes."""
    leads = table_of(Lead)
    c = leads.c
    moment = sa.literal(now, UTCDateTime())
    factor = sa.func.power(0.5, _elapsed_days(c.engagement_at, now) / rules.half_life_days)
    raw = c.engagement_score * factor
    engagement = sa.case((sa.func.abs(raw) < 0.5, 0.0), else_=raw)
    new_score = sa.cast(sa.func.round(engagement), sa.Integer) + c.fit_score
    due = sa.and_(c.engagement_score != 0, c.engagement_at < now, c.erased_at.is_(None))
    changing = sa.and_(due, new_score != c.score)
    changed = db.session.scalar(sa.select(sa.func.count()).select_from(leads).where(changing))
    history = sa.insert(table_of(ScoreChange)).from_select(
        _history_columns(),
        sa.select(
            c.id, sa.literal("decay"), sa.literal(_event(rules)), c.score, new_score, moment
        ).where(changing),
    )
    db.session.execute(history)
    band = _band(rules, new_score)
    # Every right-hand side reads the row as it was before this UPDATE (SQL semantics).
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


def sqlite_power(dbapi_connection: Any, connection_record: Any) -> None:
    """SQLite builds may lack math functions; decay needs power() on every backend."""
    if isinstance(dbapi_connection, sqlite3.Connection):
        dbapi_connection.create_function("power", 2, _power, deterministic=True)

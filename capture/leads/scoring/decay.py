"""Inactivity decay: the engagement part of a score halves every `half_life_days`.

`decayed` is the reference formula; `decay_all` runs the same arithmetic in SQL for every lead
(`leadgate leads decay`), with SQLite given the `power()` it may lack.
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


def decayed(engagement: float, idle_days: float, half_life_days: float) -> float:
    """Engagement left after `idle_days` without activity: halves every `half_life_days`.

    The same formula runs in SQL (`capture.leads.scoring.decay_all`); this is its reference.
    """
    if idle_days <= 0:
        return engagement
    return engagement * math.pow(0.5, idle_days / half_life_days)


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
    leads = table_of(Lead)
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
    history = sa.insert(table_of(ScoreChange)).from_select(
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


def sqlite_power(dbapi_connection: Any, connection_record: Any) -> None:
    """SQLite builds may lack math functions; decay needs power() on every backend."""
    if isinstance(dbapi_connection, sqlite3.Connection):
        dbapi_connection.create_function("power", 2, _power, deterministic=True)

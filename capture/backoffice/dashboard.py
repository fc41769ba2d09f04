"""Dashboard figures: the funnel and conversions by day, form, channel, partner and magnet.

A handful of GROUP BY queries over a period, whatever the number of leads; nothing is loaded
row by row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa

from capture.analytics.report import views_by_form
from capture.base.db import db, utcnow
from capture.base.lifecycle import Stage
from capture.forms.store import FormDefinition
from capture.leads.conversion import ConversionEvent
from capture.leads.lead import Lead, StageChange

PERIODS = (7, 30, 90)
# How far along the funnel each stage is; disqualified is outside it.
RANK = {
    Stage.LEAD: 0,
    Stage.MQL: 1,
    Stage.SAL: 2,
    Stage.SQL: 3,
    Stage.OPPORTUNITY: 4,
    Stage.CUSTOMER: 5,
    Stage.DISQUALIFIED: -1,
}
STEPS = (("Lead", 0), ("MQL", 1), ("SQL", 3), ("Customer", 5))


@dataclass(frozen=True)
class FunnelStep:
    name: str
    count: int
    rate: float | None  # share of the step before, in per cent; None for the first


def _rank(column: Any) -> sa.Case[Any]:
    return sa.case({stage.value: rank for stage, rank in RANK.items()}, value=column, else_=-1)


def funnel(since: datetime) -> list[FunnelStep]:
    """Leads created since `since` and how far each got, by its furthest stage ever.

    A lead that reached MQL and was later disqualified still counts as an MQL: the funnel
    measures what happened, not where leads are now.
    """
    furthest = (
        sa.select(StageChange.lead_id, sa.func.max(_rank(StageChange.to_stage)).label("rank"))
        .group_by(StageChange.lead_id)
        .subquery()
    )
    current = _rank(Lead.lifecycle_stage)
    history = sa.func.coalesce(furthest.c.rank, -1)
    reached = sa.case((history > current, history), else_=current)
    counts = db.session.execute(
        sa.select(
            *(sa.func.count().filter(reached >= rank) for _, rank in STEPS[1:]), sa.func.count()
        )
        .select_from(Lead)
        .outerjoin(furthest, furthest.c.lead_id == Lead.id)
        .where(Lead.created_at >= since, Lead.erased_at.is_(None))
    ).one()
    totals = [counts[-1], *counts[:-1]]
    steps = []
    for index, ((name, _), total) in enumerate(zip(STEPS, totals, strict=True)):
        before = totals[index - 1] if index else None
        rate = round(100 * total / before, 1) if before else None
        steps.append(FunnelStep(name, total, rate))
    return steps


def _day(column: Any) -> Any:
    if db.session.get_bind().dialect.name == "postgresql":
        return sa.func.date(sa.func.timezone("UTC", column))
    return sa.func.date(column)


def _grouped(key: Any, since: datetime, join_forms: bool = False) -> list[tuple[str, int]]:
    statement = sa.select(key, sa.func.count()).where(ConversionEvent.occurred_at >= since)
    if join_forms:
        statement = statement.select_from(ConversionEvent).outerjoin(
            FormDefinition, FormDefinition.id == ConversionEvent.form_id
        )
    rows = db.session.execute(statement.group_by(key).order_by(sa.func.count().desc())).all()
    return [(str(label) if label not in (None, "") else "(none)", count) for label, count in rows]


def conversions(since: datetime) -> dict[str, list[tuple[str, int]]]:
    """Conversions since `since`, counted by day (oldest first) and by each dimension."""
    day = _day(ConversionEvent.occurred_at)
    by_day = db.session.execute(
        sa.select(day, sa.func.count())
        .where(ConversionEvent.occurred_at >= since)
        .group_by(day)
        .order_by(day)
    ).all()
    source = ConversionEvent.attribution["utm_source"].as_string()
    medium = ConversionEvent.attribution["utm_medium"].as_string()
    channel = sa.func.coalesce(source, "(direct)") + " / " + sa.func.coalesce(medium, "(none)")
    return {
        "day": [(str(label), count) for label, count in by_day],
        "form": _grouped(FormDefinition.name, since, join_forms=True),
        "classification": _grouped(ConversionEvent.classification, since),
        "channel": _grouped(channel, since),
        "partner": _grouped(ConversionEvent.partner, since),
        "magnet": _grouped(FormDefinition.magnet, since, join_forms=True),
    }


def days_by_form(since: datetime) -> tuple[list[str], list[tuple[str, list[int]]]]:
    """Conversions per day and form: the form names, then each day with a count per form."""
    day = _day(ConversionEvent.occurred_at)
    name = sa.func.coalesce(FormDefinition.name, "(none)")
    rows = db.session.execute(
        sa.select(day, name, sa.func.count())
        .select_from(ConversionEvent)
        .outerjoin(FormDefinition, FormDefinition.id == ConversionEvent.form_id)
        .where(ConversionEvent.occurred_at >= since)
        .group_by(day, name)
    ).all()
    forms = sorted({form for _, form, _ in rows})
    counts: dict[str, dict[str, int]] = {}
    for when, form, count in rows:
        counts.setdefault(str(when), {})[form] = count
    return forms, [(when, [counts[when].get(f, 0) for f in forms]) for when in sorted(counts)]


def period_start(days: int) -> datetime:
    return utcnow() - timedelta(days=days)


def daily(first: date, days: int) -> list[tuple[str, int]]:
    """Conversions on each of `days` days from `first` (UTC), zeros included, oldest first."""
    start = datetime.combine(first, time.min, tzinfo=UTC)
    end = start + timedelta(days=days)
    day = _day(ConversionEvent.occurred_at)
    rows = db.session.execute(
        sa.select(day, sa.func.count())
        .where(ConversionEvent.occurred_at >= start, ConversionEvent.occurred_at < end)
        .group_by(day)
    ).all()
    counts = {str(when): count for when, count in rows}
    dates = [(first + timedelta(days=n)).isoformat() for n in range(days)]
    return [(when, counts.get(when, 0)) for when in dates]


@dataclass(frozen=True)
class FormRow:
    """One form's results in the period; views wherever it was shown (hosted page, landing
    page, embed), as counted by capture.analytics."""

    slug: str
    name: str
    magnet: str | None  # its landing page is /p/<magnet>
    submissions: int
    mql: int
    sql: int
    views: int = 0

    @property
    def rate(self) -> float:
        """Submissions per view in per cent; -1 without views (sorts below every rate)."""
        return round(100 * self.submissions / self.views, 1) if self.views else -1.0


FORM_SORTS = ("name", "views", "submissions", "rate", "mql", "sql")


def by_form(since: datetime, sort: str = "submissions", descending: bool = True) -> list[FormRow]:
    """Conversions per form since `since`: all, MQL and SQL; every form, even without any."""
    counts = (
        sa.select(
            ConversionEvent.form_id,
            sa.func.count().label("submissions"),
            sa.func.count().filter(ConversionEvent.classification == "MQL").label("mql"),
            sa.func.count().filter(ConversionEvent.classification == "SQL").label("sql"),
        )
        .where(ConversionEvent.occurred_at >= since)
        .group_by(ConversionEvent.form_id)
        .subquery()
    )
    rows = db.session.execute(
        sa.select(
            FormDefinition.slug,
            FormDefinition.name,
            FormDefinition.magnet,
            sa.func.coalesce(counts.c.submissions, 0),
            sa.func.coalesce(counts.c.mql, 0),
            sa.func.coalesce(counts.c.sql, 0),
        ).outerjoin(counts, counts.c.form_id == FormDefinition.id)
    ).all()
    views = views_by_form(since.date())
    found = [
        FormRow(slug, name, magnet, submissions, mql, sql, views.get(slug, 0))
        for slug, name, magnet, submissions, mql, sql in rows
    ]
    if sort not in FORM_SORTS:
        sort = "submissions"
    if sort == "name":
        found.sort(key=lambda row: row.name.casefold(), reverse=descending)
    else:
        found.sort(key=lambda row: row.name.casefold())
        found.sort(key=lambda row: getattr(row, sort), reverse=descending)
    return found

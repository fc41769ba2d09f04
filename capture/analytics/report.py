"""Views, starts, submissions, MQL and SQL per form, landing page, partner, channel, variant
or day, over a range of days (UTC): the numbers the API, the back office and the CLI show.

Views and starts come from the counters (`page_counts`); submissions from the conversion
events of form submissions, MQL and SQL by their classification. Two GROUP BY queries
whatever the traffic; the rows are joined by key here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa

from capture.analytics.counts import PageCount
from capture.base.db import db
from capture.forms.store import FormDefinition
from capture.leads.conversion import ConversionEvent

DIMENSIONS = ("form", "page", "partner", "channel", "variant", "day")
MAX_DAYS = 366


@dataclass(frozen=True)
class Row:
    key: str | None  # None: not on a landing page, no partner, no variant
    views: int
    starts: int
    submissions: int
    mql: int
    sql: int

    @property
    def conversion_rate(self) -> float | None:
        """Submissions per view; None without views (an API client, a page not counted)."""
        return round(self.submissions / self.views, 4) if self.views else None

    @property
    def start_rate(self) -> float | None:
        return round(self.starts / self.views, 4) if self.views else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "views": self.views,
            "starts": self.starts,
            "submissions": self.submissions,
            "mql": self.mql,
            "sql": self.sql,
            "conversion_rate": self.conversion_rate,
            "start_rate": self.start_rate,
        }


def _channel(source: Any, medium: Any) -> Any:
    return sa.func.coalesce(source, "(direct)") + " / " + sa.func.coalesce(medium, "(none)")


def _day(column: Any) -> Any:
    if db.session.get_bind().dialect.name == "postgresql":
        return sa.func.date(sa.func.timezone("UTC", column))
    return sa.func.date(column)


def _view_key(by: str) -> Any:
    if by == "channel":
        return _channel(PageCount.source, PageCount.medium)
    return getattr(PageCount, by)


def _conversion_key(by: str) -> Any:
    attribution = ConversionEvent.attribution
    return {
        "form": FormDefinition.slug,
        "page": attribution["page"].as_string(),
        "partner": ConversionEvent.partner,
        "channel": _channel(
            attribution["utm_source"].as_string(), attribution["utm_medium"].as_string()
        ),
        "variant": attribution["variant"].as_string(),
        "day": _day(ConversionEvent.occurred_at),
    }[by]


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


DEFAULT_DAYS = 30


class PeriodError(ValueError):
    """A range of days that cannot be reported; the message says why, for a person."""


def period(first: date | None, last: date | None) -> tuple[date, date]:
    """The range asked for, with the defaults: to today (UTC), from 29 days before `to`."""
    last = last or datetime.now(UTC).date()
    first = first or last - timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        raise PeriodError("from")
    if (last - first).days >= MAX_DAYS:
        raise PeriodError("to")
    return first, last


def report(first: date, last: date, by: str) -> list[Row]:
    """Every key with views or submissions from `first` to `last` (whole UTC days)."""
    key = _view_key(by)
    views = db.session.execute(
        sa.select(key, sa.func.sum(PageCount.views), sa.func.sum(PageCount.starts))
        .where(PageCount.day >= first, PageCount.day <= last)
        .group_by(key)
    ).all()
    start = datetime.combine(first, time.min, tzinfo=UTC)
    end = datetime.combine(last + timedelta(days=1), time.min, tzinfo=UTC)
    key = _conversion_key(by)
    conversions = db.session.execute(
        sa.select(
            key,
            sa.func.count(),
            sa.func.count().filter(ConversionEvent.classification == "MQL"),
            sa.func.count().filter(ConversionEvent.classification == "SQL"),
        )
        .select_from(ConversionEvent)
        .outerjoin(FormDefinition, FormDefinition.id == ConversionEvent.form_id)
        .where(
            ConversionEvent.channel == "form",
            ConversionEvent.occurred_at >= start,
            ConversionEvent.occurred_at < end,
        )
        .group_by(key)
    ).all()
    found: dict[str | None, list[int]] = {}
    for value, viewed, started in views:
        found.setdefault(_text(value), [0] * 5)[:2] = [int(viewed or 0), int(started or 0)]
    for value, submitted, mql, sql in conversions:
        found.setdefault(_text(value), [0] * 5)[2:] = [submitted, mql, sql]
    rows = [Row(value, *numbers) for value, numbers in found.items()]
    if by == "day":
        return sorted(rows, key=lambda row: row.key or "")
    return sorted(rows, key=lambda row: (-row.views, -row.submissions, row.key or ""))


def views_by_form(since: date) -> dict[str, int]:
    """Views per form slug from `since` (a UTC day) on, for the dashboard's form table."""
    rows = db.session.execute(
        sa.select(PageCount.form, sa.func.sum(PageCount.views))
        .where(PageCount.day >= since, PageCount.form.is_not(None))
        .group_by(PageCount.form)
    ).all()
    return {str(form): int(count or 0) for form, count in rows}

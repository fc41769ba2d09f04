"""The back-office shell: the `admin` blueprint at /admin/ with its dashboard.

Every role may see the dashboard. Feature blueprints live in `capture.backoffice` and protect
themselves with `capture.accounts.protect`.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import sqlalchemy as sa
from flask import Blueprint, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import format_date
from flask_babel import gettext as _

from capture.accounts import ALL_ROLES, protect
from capture.backoffice import dashboard as figures_of
from capture.backoffice.charts import bar_chart, funnel_chart, line_chart
from capture.base.db import db, utcnow
from capture.base.lifecycle import FUNNEL, Stage
from capture.delivery.outbox import OutboxMessage, OutboxStatus
from capture.leads.lead import Lead
from capture.submissions.submission import Submission, SubmissionStatus

bp = Blueprint("admin", __name__, url_prefix="/admin")
protect(bp, *ALL_ROLES)


def _count(statement: sa.Select) -> int:
    return db.session.scalar(statement) or 0


def _short_date(day: str) -> str:
    return str(format_date(date.fromisoformat(day), "d MMM"))


@bp.get("/")
def dashboard() -> ResponseReturnValue:
    days = request.args.get("days", type=int)
    if days not in figures_of.PERIODS:
        days = 30
    since = figures_of.period_start(days)
    by_stage = dict(
        db.session.execute(
            sa.select(Lead.lifecycle_stage, sa.func.count())
            .where(Lead.erased_at.is_(None))
            .group_by(Lead.lifecycle_stage)
        ).all()
    )
    stages = [(stage, by_stage.get(stage.value, 0)) for stage in (*FUNNEL, Stage.DISQUALIFIED)]
    midnight = datetime.combine(utcnow().date(), time.min, tzinfo=utcnow().tzinfo)
    submissions = sa.select(sa.func.count()).select_from(Submission)
    outbox = sa.select(sa.func.count()).select_from(OutboxMessage)
    figures = {
        "leads": sum(by_stage.values()),
        "submissions_today": _count(
            submissions.where(
                Submission.created_at >= midnight,
                Submission.status == SubmissionStatus.ACCEPTED.value,
            )
        ),
        "quarantined": _count(
            submissions.where(Submission.status == SubmissionStatus.QUARANTINED.value)
        ),
        "outbox_pending": _count(outbox.where(OutboxMessage.status == OutboxStatus.PENDING.value)),
        "outbox_dead": _count(outbox.where(OutboxMessage.status == OutboxStatus.DEAD.value)),
    }
    funnel = figures_of.funnel(since)
    conversions = figures_of.conversions(since)
    titles = {
        "day": _("Conversions per day"),
        "form": _("Conversions by form"),
        "classification": _("Conversions by class (MQL/SQL)"),
        "channel": _("Conversions by channel (UTM source / medium)"),
        "partner": _("Conversions by partner"),
        "magnet": _("Conversions by magnet"),
    }
    day_forms, day_rows = figures_of.days_by_form(since)
    del conversions["day"]  # drawn as a line over time below, not as bars
    charts = [(key, bar_chart(titles[key], rows)) for key, rows in conversions.items() if rows]
    today = utcnow().date()
    first = today - timedelta(days=days - 1)
    current = figures_of.daily(first, days)
    previous = [count for _, count in figures_of.daily(first - timedelta(days=days), days)]
    sort = request.args.get("sort", "submissions")
    descending = request.args.get("order", "desc") != "asc"
    return render_template(
        "admin/dashboard.html",
        stages=stages,
        figures=figures,
        days=days,
        periods=figures_of.PERIODS,
        funnel=funnel,
        funnel_chart=funnel_chart([(step.name, step.count, step.rate) for step in funnel]),
        trend=line_chart(_("Conversions per day"), current, previous, _short_date),
        forms=figures_of.by_form(since, sort, descending),
        sort=sort if sort in figures_of.FORM_SORTS else "submissions",
        descending=descending,
        charts=charts,
        day_forms=day_forms,
        day_rows=day_rows,
    )

"""`leadgate analytics`: the numbers of `GET /api/v1/analytics`, on the command line."""

from __future__ import annotations

import json

import click
from flask.cli import with_appcontext

from capture.analytics.report import DIMENSIONS, MAX_DAYS, PeriodError, period, report


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f} %"


@click.command("analytics")
@click.option("--from", "first", type=click.DateTime(["%Y-%m-%d"]), help="first day (UTC)")
@click.option("--to", "last", type=click.DateTime(["%Y-%m-%d"]), help="last day, default today")
@click.option("--by", type=click.Choice(DIMENSIONS), default="form", show_default=True)
@click.option("--format", "output", type=click.Choice(["table", "json"]), default="table")
@with_appcontext
def analytics_command(first: object, last: object, by: str, output: str) -> None:
    """Views, starts, submissions, MQL, SQL and conversion rate per form, landing page,
    partner, channel, variant or day (default: the last 30 days)."""
    try:
        start, end = period(
            first.date() if first else None,  # type: ignore[attr-defined]
            last.date() if last else None,  # type: ignore[attr-defined]
        )
    except PeriodError as exc:
        problem = "--from is after --to" if str(exc) == "from" else f"at most {MAX_DAYS} days"
        click.echo(f"leadgate analytics: {problem}", err=True)
        raise SystemExit(2) from None
    rows = report(start, end, by)
    if output == "json":
        items = [row.as_dict() for row in rows]
        click.echo(json.dumps({"from": str(start), "to": str(end), "by": by, "items": items}))
        return
    header = (by, "views", "starts", "submissions", "mql", "sql", "conversion")
    lines = [header] + [
        (
            "(none)" if row.key is None else row.key,
            str(row.views),
            str(row.starts),
            str(row.submissions),
            str(row.mql),
            str(row.sql),
            _rate(row.conversion_rate),
        )
        for row in rows
    ]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    click.echo(f"{start} .. {end}", err=True)
    for line in lines:
        cells = [line[0].ljust(widths[0])] + [
            c.rjust(w) for c, w in zip(line[1:], widths[1:], strict=True)
        ]
        click.echo("  ".join(cells).rstrip())
    if len(lines) == 1:
        click.echo("(nothing counted in this period)", err=True)

"""Command-line tools for leads: `leadgate leads export|erase` and `leadgate scoring decay`."""

from __future__ import annotations

from datetime import UTC, datetime

import click
from flask import Flask
from flask.cli import AppGroup

from capture.db import db
from capture.leads.classify import Stage
from capture.leads.export import export_chunks
from capture.leads.listing import LeadFilter, count
from capture.leads.privacy import erase, find_lead
from capture.leads.score import current_rules, decay_all
from capture.leads.scoring import rules_yaml

leads_cli = AppGroup("leads", help="Work with leads.")
scoring_cli = AppGroup("scoring", help="Lead scoring.")
PROGRESS_EVERY = 10_000


def _since(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
        # In UTC here: a moment that leaves the range in UTC is refused now, not mid-query.
        return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    except (ValueError, OverflowError):
        raise click.BadParameter("an ISO 8601 date or time, e.g. 2026-01-31") from None


class _Progress:
    """Counts exported leads and says so on stderr every PROGRESS_EVERY of them."""

    def __init__(self, expected: int):
        self.expected = expected
        self.done = 0

    def __call__(self, written: int) -> None:
        before, self.done = self.done, self.done + written
        if self.done // PROGRESS_EVERY > before // PROGRESS_EVERY:
            click.echo(f"exported {self.done} of {self.expected} leads", err=True)


@leads_cli.command("export")
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl"]), default="csv")
@click.option(
    "--stage",
    "stages",
    multiple=True,
    type=click.Choice([stage.value for stage in Stage]),
    help="Only leads in this stage (repeatable).",
)
@click.option("--since", help="Only leads changed at or after this ISO date or time (UTC).")
@click.option("--partner", help="Only leads attributed to this partner.")
@click.option("--form", help="Only leads that converted on this form (slug).")
def export_leads(
    fmt: str, stages: tuple[str, ...], since: str | None, partner: str | None, form: str | None
) -> None:
    """Stream leads to stdout in constant memory; progress goes to stderr.

    CSV cells that a spreadsheet would run as a formula are prefixed with `'`.
    """
    where = LeadFilter(stages=stages, since=_since(since), partner=partner, form=form)
    progress = _Progress(count(where))
    for chunk in export_chunks(where, fmt, progress):
        click.echo(chunk, nl=False)
    click.echo(f"exported {progress.done} leads", err=True)
    db.session.rollback()


@leads_cli.command("erase")
@click.argument("email_or_id")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def erase_lead(email_or_id: str, yes: bool) -> None:
    """Erase a person (GDPR Art. 17) by e-mail address or lead id: see docs/privacy.md."""
    lead = find_lead(email_or_id.strip())
    if lead is None:
        click.echo(f"no lead {email_or_id!r} (or it was erased already)", err=True)
        raise SystemExit(1)
    public_id = lead.public_id
    if not yes:
        click.confirm(f"Erase lead {public_id} for good?", abort=True)
    suppression = erase(lead, "cli")
    db.session.commit()
    click.echo(f"erased {public_id} at {suppression.erased_at.isoformat(timespec='seconds')}")


@scoring_cli.command("decay")
def decay() -> None:
    """Apply inactivity decay to every lead's engagement score (one set-based UPDATE)."""
    changed = decay_all()
    db.session.commit()
    click.echo(f"decayed scores of {changed} leads")


@scoring_cli.command("rules")
def rules() -> None:
    """Print the scoring rules in force (defaults merged with LEADGATE_SCORING_RULES) as YAML."""
    click.echo(rules_yaml(current_rules()), nl=False)


def init_app(app: Flask) -> None:
    app.cli.add_command(leads_cli)
    app.cli.add_command(scoring_cli)

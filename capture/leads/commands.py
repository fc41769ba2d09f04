"""Command-line tools for leads: `leadgate leads export|erase` and `leadgate scoring decay`."""

from __future__ import annotations

import shutil
import sys
import tempfile
from datetime import UTC, datetime

import click
from flask import Flask
from flask.cli import AppGroup

from capture.base.db import db
from capture.base.lifecycle import Stage
from capture.leads.export import export_chunks, guarded
from capture.leads.listing import LeadFilter, count
from capture.leads.privacy import erase, find_lead
from capture.leads.scoring import current_rules, decay_all, rules_yaml
from capture.leads.xlsx import TooManyRows, write_xlsx

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
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl", "xlsx"]), default="csv")
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

    CSV cells that a spreadsheet would run as a formula are prefixed with `'`; xlsx cells are
    all text. An export that fails part-way ends with a line saying so and exits with 1.
    """
    where = LeadFilter(stages=stages, since=_since(since), partner=partner, form=form)
    progress = _Progress(count(where))
    try:
        if fmt == "xlsx":
            _xlsx(where, progress)
        else:
            for chunk in guarded(export_chunks(where, fmt, progress), fmt):
                click.echo(chunk, nl=False)
    except TooManyRows as error:
        click.echo(f"cannot export as xlsx: {error}; use --format csv", err=True)
        raise SystemExit(1) from None
    except Exception as error:
        # After the marker line on stdout: the output is incomplete, and the exit code says so.
        click.echo(f"export FAILED after {progress.done} leads: {error}", err=True)
        raise SystemExit(1) from None
    finally:
        db.session.rollback()
    click.echo(f"exported {progress.done} leads", err=True)


def _xlsx(where: LeadFilter, progress: _Progress) -> None:
    """The workbook to stdout (binary), built in a temporary file first; never to a terminal."""
    stdout = sys.stdout.buffer
    if stdout.isatty():
        click.echo("an .xlsx file is binary: redirect stdout to a file (> leads.xlsx)", err=True)
        raise SystemExit(1)
    with tempfile.TemporaryFile() as spool:
        write_xlsx(where, spool, progress)
        spool.seek(0)
        shutil.copyfileobj(spool, stdout)
    stdout.flush()


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
    """Print the scoring rules in force as YAML: the latest saved version, or (none saved) the
    defaults merged with LEADGATE_SCORING_RULES."""
    click.echo(rules_yaml(current_rules()), nl=False)


def init_app(app: Flask) -> None:
    app.cli.add_command(leads_cli)
    app.cli.add_command(scoring_cli)

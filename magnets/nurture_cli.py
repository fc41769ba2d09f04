"""`leadgate nurture send|import|export`: follow-ups from the command line, and as YAML.

A follow-up as YAML (one document per magnet; `import` creates or replaces it):

    magnet: lead-scoring-guide
    after_days: 3
    subject: {da: "...", sv: "...", en: "..."}
    body: {da: "Markdown ...", en: "..."}
    next_magnet: pricing-checklist     # optional: its link is a download link of its own
    meeting_url: https://cal.example/  # optional
    enabled: true
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import yaml
from flask.cli import AppGroup

from capture.base import safeyaml
from capture.base.db import db
from magnets.magnet import get_magnet
from magnets.nurture import Nurture, check_nurture, nurture_of
from magnets.nurturing import send_due

nurture_cli = AppGroup("nurture", help="Nurture follow-ups: one e-mail N days after a download.")
KEYS = {"magnet", "after_days", "subject", "body", "next_magnet", "meeting_url", "enabled"}


@nurture_cli.command("send")
def send() -> None:
    """Queue every follow-up that is due now (the worker does this on a schedule too)."""
    click.echo(str(send_due()))


def _apply(document: Any) -> tuple[Nurture | None, list[str]]:
    if not isinstance(document, dict):
        return None, ["the document must be a mapping"]
    problems = [f"{key}: unknown key" for key in document if key not in KEYS]
    magnet = get_magnet(str(document.get("magnet", "")))
    if magnet is None:
        return None, [*problems, "magnet: no magnet with this slug"]
    next_slug = document.get("next_magnet")
    next_magnet = get_magnet(str(next_slug)) if next_slug else None
    if next_slug and (next_magnet is None or next_magnet.id == magnet.id):
        problems.append("next_magnet: no other magnet with this slug")
    after_days = document.get("after_days", 3)
    enabled = document.get("enabled", True)
    if not isinstance(after_days, int) or isinstance(after_days, bool):
        problems.append("after_days: must be a whole number")
        after_days = 0
    if not isinstance(enabled, bool):
        problems.append("enabled: must be true or false")
    meeting_url = document.get("meeting_url")
    if meeting_url is not None and not isinstance(meeting_url, str):
        problems.append("meeting_url: must be an https:// address")
        meeting_url = None
    subject, body = document.get("subject") or {}, document.get("body") or {}
    problems += [
        f"{k}: {v}" for k, v in check_nurture(after_days, subject, body, meeting_url).items()
    ]
    if problems:
        return None, problems
    nurture = nurture_of(magnet) or Nurture(magnet=magnet, magnet_id=magnet.id)
    nurture.after_days, nurture.enabled = after_days, enabled
    nurture.subject, nurture.body = dict(subject), dict(body)
    nurture.next_magnet_id = next_magnet.id if next_magnet else None
    nurture.meeting_url = meeting_url or None
    db.session.add(nurture)
    return nurture, []


@nurture_cli.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
def import_nurtures(files: tuple[Path, ...]) -> None:
    """Create or replace magnets' follow-ups from YAML files."""
    failed = False
    for path in files:
        try:
            document = safeyaml.load_file(path)
        except safeyaml.Unreadable as exc:
            click.echo(f"{path}: {exc}", err=True)
            failed = True
            continue
        nurture, problems = _apply(document)
        if nurture is None:
            db.session.rollback()
            for problem in problems:
                click.echo(f"{path}: {problem}", err=True)
            failed = True
            continue
        db.session.commit()
        click.echo(f"{nurture.magnet.slug}: follow-up after {nurture.after_days} days saved")
    if failed:
        raise SystemExit(1)


@nurture_cli.command("export")
@click.argument("slug")
def export_nurture(slug: str) -> None:
    """Print a magnet's follow-up as YAML, ready to edit and import again."""
    magnet = get_magnet(slug)
    nurture = nurture_of(magnet) if magnet is not None else None
    if nurture is None:
        click.echo(f"no follow-up for a magnet with slug {slug!r}", err=True)
        raise SystemExit(1)
    document = nurture.to_document()
    click.echo(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), nl=False)

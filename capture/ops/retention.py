"""Retention: personal data that has outlived its purpose goes, by `leadgate privacy purge`.

Three purposes, each with its own setting in days (0 keeps forever; see docs/privacy.md):

- RETENTION_LEAD_DAYS (730): a lead with no activity for that long who holds no marketing
  consent is erased as a person would be (`capture.leads.privacy.erase`: anonymous counts
  and a suppression entry stay).
- RETENTION_QUARANTINE_DAYS (30): a submission still in quarantine after that long is erased
  through its privacy-map declaration (emptied and discarded; the row stays as a count).
- RETENTION_NETWORK_DAYS (90): IP addresses and user agents of rows older than that are
  emptied, in every table whose declaration lists them as `network` columns.

`plan` computes what would go; `apply` removes exactly what a plan holds, so `--dry-run`
prints what the real run then does. The worker runs it on a schedule (`scheduled_tasks`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import click
import sqlalchemy as sa
from flask import Flask, current_app
from flask.cli import AppGroup

from capture.base.db import db, utcnow
from capture.base.personal import Personal
from capture.extension_points import Scheduled, scheduled_tasks
from capture.leads.consent import ConsentRecord, ConsentStatus
from capture.leads.lead import Lead
from capture.leads.privacy import erase, erase_rows, privacy_map
from capture.submissions.submission import Submission, SubmissionStatus

ACTOR = "retention"
DEFAULTS = {
    "RETENTION_LEAD_DAYS": "730",
    "RETENTION_QUARANTINE_DAYS": "30",
    "RETENTION_NETWORK_DAYS": "90",
    "RETENTION_EVERY_SECONDS": "86400",
}


@dataclass
class Plan:
    """What a purge removes: ids per purpose, so applying it removes exactly these."""

    leads: list[str] = field(default_factory=list)  # public ids
    quarantine: list[str] = field(default_factory=list)  # submission public ids
    network: dict[str, list[int]] = field(default_factory=dict)  # table: primary keys

    def lines(self) -> list[str]:
        config = current_app.config
        out = [
            f"leads: {len(self.leads)} without activity or marketing consent for "
            f"{config['RETENTION_LEAD_DAYS']} days {' '.join(self.leads)}".rstrip(),
            f"quarantine: {len(self.quarantine)} submissions older than "
            f"{config['RETENTION_QUARANTINE_DAYS']} days {' '.join(self.quarantine)}".rstrip(),
        ]
        for table, ids in sorted(self.network.items()):
            out.append(
                f"{table}: IP address and user agent of {len(ids)} rows older than "
                f"{config['RETENTION_NETWORK_DAYS']} days"
            )
        return out


def _days(name: str) -> int:
    return int(current_app.config[name])


def _consenting() -> sa.Select[Any]:
    """Leads whose latest marketing record grants consent (granted or confirmed)."""
    latest = (
        sa.select(sa.func.max(ConsentRecord.id))
        .where(ConsentRecord.purpose == "marketing")
        .group_by(ConsentRecord.lead_id)
    )
    return sa.select(ConsentRecord.lead_id).where(
        ConsentRecord.id.in_(latest),
        ConsentRecord.status.in_([ConsentStatus.GRANTED.value, ConsentStatus.CONFIRMED.value]),
    )


def plan(now: datetime | None = None) -> Plan:
    now = now or utcnow()
    result = Plan()
    if days := _days("RETENTION_LEAD_DAYS"):
        result.leads = list(
            db.session.scalars(
                sa.select(Lead.public_id)
                .where(
                    Lead.erased_at.is_(None),
                    Lead.last_activity_at < now - timedelta(days=days),
                    Lead.id.not_in(_consenting()),
                )
                .order_by(Lead.id)
            )
        )
    if days := _days("RETENTION_QUARANTINE_DAYS"):
        result.quarantine = list(
            db.session.scalars(
                sa.select(Submission.public_id)
                .where(
                    Submission.status == SubmissionStatus.QUARANTINED.value,
                    Submission.created_at < now - timedelta(days=days),
                )
                .order_by(Submission.id)
            )
        )
    if days := _days("RETENTION_NETWORK_DAYS"):
        for model, declaration in privacy_map():
            if not isinstance(declaration, Personal) or not declaration.network:
                continue
            key = model.__mapper__.primary_key[0]
            columns = [getattr(model, name) for name in declaration.network]
            ids = list(
                db.session.scalars(
                    sa.select(key)
                    .where(
                        model.created_at < now - timedelta(days=days),
                        sa.or_(*(column.is_not(None) for column in columns)),
                    )
                    .order_by(key)
                )
            )
            if ids:
                result.network[model.__tablename__] = ids
    return result


def apply(purge: Plan) -> None:
    """Remove what `purge` holds, through the privacy map; commits once at the end."""
    for public_id in purge.leads:
        lead = db.session.scalar(
            sa.select(Lead).where(Lead.public_id == public_id, Lead.erased_at.is_(None))
        )
        if lead is not None:
            erase(lead, ACTOR)
    held = list(
        db.session.scalars(
            sa.select(Submission).where(
                Submission.public_id.in_(purge.quarantine),
                Submission.status == SubmissionStatus.QUARANTINED.value,
            )
        )
    )
    erase_rows(Submission, held)
    models = {m.__tablename__: (m, d) for m, d in privacy_map() if isinstance(d, Personal)}
    for table, ids in purge.network.items():
        model, declaration = models[table]
        key = model.__mapper__.primary_key[0]
        rows = list(db.session.scalars(sa.select(model).where(key.in_(ids))))
        erase_rows(model, rows, only=declaration.network)
    db.session.commit()


def scheduled_purge(now: datetime) -> str:
    purge = plan(now)
    apply(purge)
    return "privacy purge: " + "; ".join(purge.lines())


privacy_cli = AppGroup("privacy", help="Personal data: retention.")


@privacy_cli.command("purge")
@click.option("--dry-run", is_flag=True, help="Print what would be removed; remove nothing.")
def purge_command(dry_run: bool) -> None:
    """Remove personal data older than the retention settings (see docs/privacy.md)."""
    purge = plan()
    if not dry_run:
        apply(purge)
    for line in purge.lines():
        click.echo(("would remove " if dry_run else "removed ") + line)


def init_app(app: Flask) -> None:
    for name, default in DEFAULTS.items():
        app.config.setdefault(name, os.environ.get(name) or default)
        app.config[name] = int(app.config[name])
    app.cli.add_command(privacy_cli)
    scheduled_tasks.register(
        app, "privacy-purge", Scheduled("RETENTION_EVERY_SECONDS", scheduled_purge)
    )

"""The spam quarantine: submissions caught by a spam check, kept until a person decides.

Releasing one runs the very path an accepted submission takes (`record.accept`: lead, consent
records, conversion, stage, the hooks of other packages), so a released lead is no different
from one that got through at once. Its values are checked again against the form first.
"""

from __future__ import annotations

import click
import sqlalchemy as sa
from flask import Flask
from flask.cli import AppGroup

from capture.base.db import db
from capture.forms.store import FormDefinition
from capture.forms.values import clean_values
from capture.leads.privacy import Suppressed, refuse_suppressed
from capture.submissions.consents import given_consents
from capture.submissions.intake import Intake
from capture.submissions.record import Accepted, accept
from capture.submissions.submission import Submission, SubmissionStatus


class QuarantineError(ValueError):
    """The submission cannot be released or discarded; the message says why."""


def quarantined(limit: int = 100) -> list[tuple[Submission, FormDefinition]]:
    """The newest quarantined submissions with their forms."""
    rows = db.session.execute(
        sa.select(Submission, FormDefinition)
        .join(FormDefinition, FormDefinition.id == Submission.form_id)
        .where(Submission.status == SubmissionStatus.QUARANTINED.value)
        .order_by(Submission.created_at.desc(), Submission.id.desc())
        .limit(limit)
    ).all()
    return [(row[0], row[1]) for row in rows]


def _held(public_id: str) -> Submission:
    submission = db.session.scalar(
        sa.select(Submission).where(Submission.public_id == public_id).with_for_update()
    )
    if submission is None:
        raise QuarantineError(f"no submission {public_id!r}")
    if submission.status != SubmissionStatus.QUARANTINED.value:
        raise QuarantineError(f"{public_id} is {submission.status}, not quarantined")
    return submission


def release(public_id: str) -> Accepted:
    """Create the lead as if the submission had been accepted; adds and flushes."""
    submission = _held(public_id)
    try:
        refuse_suppressed(str(submission.fields.get("email") or ""))
    except Suppressed as refused:
        raise QuarantineError(f"{public_id}: {refused}") from None
    form = db.session.get(FormDefinition, submission.form_id)
    if form is None:  # the foreign key cascades deletes, so only a race gets here
        raise QuarantineError(f"{public_id}: its form no longer exists")
    values, errors = clean_values(form.spec, submission.fields, submission.language)
    intake = Intake(
        form=form,
        fields=submission.fields,
        consents=submission.consents,
        context=submission.context,
        token=None,
        channel=submission.channel,
        language=submission.language,
        ip=submission.ip,
        user_agent=submission.user_agent,
        origin=submission.origin,
        partner=submission.partner,
        idempotency_key=submission.idempotency_key,
        request_digest=submission.request_digest,
    )
    given = given_consents(intake, errors)
    if errors:
        problems = "; ".join(f"{name}: {' '.join(texts)}" for name, texts in errors.items())
        raise QuarantineError(f"{public_id} cannot become a lead: {problems}")
    accepted = accept(intake, submission, values, given)
    submission.status = SubmissionStatus.RELEASED.value
    # A retry with the same idempotency key now gets the real answer.
    submission.response = accepted.answer
    db.session.flush()
    return accepted


def discard(public_id: str) -> Submission:
    """Throw it away, keeping nothing personal: only that something was caught, and when.

    The answer already given stays (it names no person), so a retry with the same idempotency
    key still gets it.
    """
    submission = _held(public_id)
    submission.status = SubmissionStatus.DISCARDED.value
    submission.fields = {}
    submission.consents = {}
    submission.context = {}
    submission.ip = None
    submission.user_agent = None
    submission.origin = None
    db.session.flush()
    return submission


quarantine_cli = AppGroup("quarantine", help="Submissions held back by spam protection.")


@quarantine_cli.command("list")
@click.option("--limit", default=100, show_default=True, help="How many, newest first.")
def list_command(limit: int) -> None:
    """Print id, time, form, reason and e-mail of each quarantined submission."""
    for submission, form in quarantined(limit):
        email = submission.fields.get("email", "-")
        click.echo(
            f"{submission.public_id}\t{submission.created_at.isoformat(timespec='seconds')}"
            f"\t{form.slug}\t{submission.spam_reason}\t{email}"
        )


@quarantine_cli.command("release")
@click.argument("submission_id")
def release_command(submission_id: str) -> None:
    """Let a quarantined submission through: its lead is created as if accepted."""
    try:
        accepted = release(submission_id)
    except QuarantineError as exc:
        db.session.rollback()
        click.echo(str(exc), err=True)
        raise SystemExit(1) from None
    db.session.commit()
    click.echo(f"{submission_id} released: lead {accepted.lead.public_id}")


@quarantine_cli.command("discard")
@click.argument("submission_id")
def discard_command(submission_id: str) -> None:
    """Throw a quarantined submission away; it stays on record as discarded, with no lead."""
    try:
        discard(submission_id)
    except QuarantineError as exc:
        db.session.rollback()
        click.echo(str(exc), err=True)
        raise SystemExit(1) from None
    db.session.commit()
    click.echo(f"{submission_id} discarded")


def init_app(app: Flask) -> None:
    app.cli.add_command(quarantine_cli)

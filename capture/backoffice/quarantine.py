"""/admin/quarantine: submissions held by spam checks; view, release or discard (marketing).

The decisions themselves live in `capture.submissions.quarantine`, shared with the
`leadgate quarantine` CLI, so both release through the same accept path.
"""

from __future__ import annotations

from typing import Annotated

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from pydantic import BaseModel

from capture.accounts import Role, protect
from capture.base.db import db
from capture.forms.store import FormDefinition
from capture.submissions.quarantine import QuarantineError, discard, release
from capture.submissions.submission import Submission, SubmissionStatus
from capture.web.params import Whole, page_query

bp = Blueprint("quarantine", __name__, url_prefix="/admin/quarantine")
protect(bp, Role.MARKETER)

PAGE_SIZE = 50


class DecisionForm(FlaskForm):
    """No fields: the CSRF token is the whole form (one per button)."""


def _held(public_id: str) -> tuple[Submission, FormDefinition]:
    row = db.session.execute(
        sa.select(Submission, FormDefinition)
        .join(FormDefinition, FormDefinition.id == Submission.form_id)
        .where(Submission.public_id == public_id[:40])
    ).first()
    if row is None:
        abort(404)
    return row[0], row[1]


class QuarantineQuery(BaseModel):
    before: Annotated[int | None, Whole(1, 2**63 - 1)] = None  # an id: within the database's BIGINT


@bp.get("/")
def index() -> ResponseReturnValue:
    """Newest first, by keyset on the id (`before=`), with the form in the same query."""
    statement = (
        sa.select(Submission, FormDefinition)
        .join(FormDefinition, FormDefinition.id == Submission.form_id)
        .where(Submission.status == SubmissionStatus.QUARANTINED.value)
        .order_by(Submission.id.desc())
        .limit(PAGE_SIZE + 1)
    )
    before = page_query(QuarantineQuery, request.args).before
    if before:
        statement = statement.where(Submission.id < before)
    rows = db.session.execute(statement).all()
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    return render_template(
        "backoffice/quarantine.html",
        rows=rows,
        form=DecisionForm(),
        next_url=url_for(".index", before=rows[-1][0].id) if more else None,
    )


@bp.get("/<submission_id>")
def show(submission_id: str) -> ResponseReturnValue:
    submission, form_definition = _held(submission_id)
    return render_template(
        "backoffice/quarantined.html",
        submission=submission,
        form_definition=form_definition,
        form=DecisionForm(),
    )


@bp.post("/<submission_id>/release")
def release_one(submission_id: str) -> ResponseReturnValue:
    if not DecisionForm().validate_on_submit():
        abort(400)
    try:
        accepted = release(submission_id[:40])
    except QuarantineError as problem:
        db.session.rollback()
        flash(_("Not released: %(problem)s", problem=str(problem)))
        return redirect(url_for(".index"), 303)
    lead_id = accepted.lead.public_id
    db.session.commit()
    flash(_("Released: the lead was created or updated."))
    return redirect(url_for("leads.show", lead_id=lead_id), 303)


@bp.post("/<submission_id>/discard")
def discard_one(submission_id: str) -> ResponseReturnValue:
    if not DecisionForm().validate_on_submit():
        abort(400)
    try:
        discard(submission_id[:40])
    except QuarantineError as problem:
        db.session.rollback()
        flash(_("Not discarded: %(problem)s", problem=str(problem)))
        return redirect(url_for(".index"), 303)
    db.session.commit()
    flash(_("Discarded; nothing personal was kept."))
    return redirect(url_for(".index"), 303)

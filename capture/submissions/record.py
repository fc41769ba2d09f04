"""The one write path for a submission: checks, lead upsert, consent, conversion, stage, answer.

`record_submission` adds and flushes; the caller commits once. Whatever channel a submission
came through (hosted page, embed, plain HTML post, API), it ends here, so the rules are the
same everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from disposable_email_domains import blocklist as disposable_domains
from flask import current_app
from flask_babel import gettext as _

from capture import extension_points
from capture.base.db import db, fresh, new_public_id, utcnow
from capture.base.lifecycle import (
    Classification,
    Stage,
    automatic_move,
    classify,
    stage_for,
)
from capture.base.one_trip import flush_in_one_trip
from capture.base.settled import verify as verify_settled
from capture.extension_points import Quarantined
from capture.forms.store import FormDefinition
from capture.forms.values import Errors, clean_values
from capture.leads.consent import ConsentRecord, append_consents
from capture.leads.conversion import ConversionEvent
from capture.leads.lead import Lead, StageChange, apply_profile, move_stage, profile_of
from capture.leads.pending import hold as hold_until_confirmed
from capture.leads.scoring import Scored, kind_classes, score_conversion
from capture.leads.upsert import upsert_lead
from capture.submissions.captcha import captcha_problem
from capture.submissions.claim import Ids, LeadFor, Outcome, claim, earlier
from capture.submissions.consents import agreed, consent_record, given_consents
from capture.submissions.intake import TOUCH_KEYS, Intake
from capture.submissions.submission import Submission, SubmissionStatus
from capture.submissions.together import add_drawn, insert_together
from capture.web.tokens import check_form_token


@dataclass
class Accepted:
    """What one accepted submission produced; the payload of `submission_accepted`."""

    intake: Intake
    submission: Submission
    lead: Lead
    lead_created: bool
    conversion: ConversionEvent
    stage_changes: list[StageChange]
    consents: list[ConsentRecord]
    answer: dict[str, Any] = field(default_factory=dict)


class ValidationFailed(Exception):
    def __init__(self, errors: Errors, message: str):
        super().__init__(message)
        self.errors = errors
        self.message = message


def record_submission(intake: Intake, *, flush: bool = True) -> Outcome:
    """Record `intake` or explain why not. Raises `ValidationFailed` or `IdempotencyConflict`.
    `flush=False` leaves the last writes pending for the caller's `commit_in_one_trip`."""
    form = intake.form
    spam = _spam_signal(intake)
    values, errors = clean_values(form.spec, intake.fields, intake.language)
    if spam:
        return _quarantine(intake, values, spam)

    given = given_consents(intake, errors)
    _refuse_disposable(values, errors)
    if errors:
        # A key already used answers for its first request, even if this body is invalid.
        first = earlier(form, intake) if intake.idempotency_key else None
        if first is not None:
            return first
        verify_settled()  # the errors are the form's: make sure it was the current one
        raise ValidationFailed(errors, _("Please correct the marked fields."))
    # Last, so a form sent back with errors does not spend the widget's one-time answer; and
    # after making sure the form is current (its answer cannot be spent twice).
    if intake.captcha is not None:
        verify_settled()
    spam = captcha_problem(intake.captcha, intake.ip)
    if spam:
        return _quarantine(intake, values, spam)

    received = utcnow()  # the submission is received before its conversion occurs
    now = max(utcnow(), received + timedelta(microseconds=1))
    touch = _touch(intake, now)
    claimed = claim(
        intake,
        LeadFor(
            values["email"],
            touch,
            intake.partner,
            records=len(given),
            profile=profile_of(values),
            stage=_entry_stage(form),
        ),
        created_at=received,
        status=SubmissionStatus.ACCEPTED,
        fields=values,
        consents={purpose: True for purpose in given},
    )
    if isinstance(claimed, Outcome):
        return claimed
    submission, lead, ids = claimed
    accepted = accept(
        intake, submission, values, given, upserted=lead, touch=touch, now=now, ids=ids
    )
    submission.response = accepted.answer
    if flush:
        flush_in_one_trip()
    return Outcome(submission=submission, body=accepted.answer)


def accept(
    intake: Intake,
    submission: Submission,
    values: dict[str, Any],
    given: list[str],
    upserted: tuple[Lead, bool] | None = None,
    touch: dict[str, Any] | None = None,
    now: datetime | None = None,
    ids: Ids | None = None,
) -> Accepted:
    """Turn a checked submission into a lead, consent records, a conversion and stage moves.

    With `ids` drawn by the claim, the conversion and the consent records are written with
    everything else in the caller's final flush (one statement on PostgreSQL); without, they
    are written first, so each of the lead and the submission gets one UPDATE.
    """
    form = intake.form
    now = now or utcnow()
    touch = touch or _touch(intake, now)
    lead, created = upserted or upsert_lead(values["email"], touch, intake.partner)

    records = [consent_record(intake, submission, lead, purpose) for purpose in given]

    classification = classify(form.conversion, kind_classes())
    conversion = fresh(
        ConversionEvent,
        lead_id=lead.id,
        submission_id=submission.id,
        form_id=form.id,
        kind=form.conversion,
        classification=classification.value,
        channel="form",
        partner=intake.partner,
        attribution=touch,
        occurred_at=now,
    )
    # [double opt-in] A conversion waiting for confirmation moves no stage and scores nothing.
    held = hold_until_confirmed(conversion, form.spec.double_opt_in)
    if ids is None:
        # One statement with the consent records (capture/submissions/together.py): ids for
        # the stage change and for the hooks.
        insert_together(conversion, records)
    else:
        add_drawn(conversion, ids.conversion, records, ids.records)

    submission.lead_id = lead.id
    apply_profile(lead, values)
    lead.last_touch = touch
    lead.last_activity_at = now
    if lead.partner is None and intake.partner:
        lead.partner = intake.partner
    # [consent] The ledger's one writer (fires consent_changed); after the profile, so the
    # event shows the lead as submitted, and before any stage move, whose event lists consents.
    append_consents(lead, records)
    changes: list[StageChange] = []
    target = None if held else automatic_move(lead.stage, stage_for(classification))
    if target is not None:
        changes.append(
            move_stage(
                lead,
                target,
                reason=f"{form.conversion} conversion ({classification}) on form {form.slug}",
                actor="system:classification",
                conversion_id=conversion.id,
            )
        )
    accepted = Accepted(intake, submission, lead, created, conversion, changes, records)
    accepted.answer = _answer(
        intake, submission.public_id, lead.public_id, classification, lead.stage
    )
    # Scoring is part of the write path, not a receiver: every receiver sees the scored stage.
    scored = Scored() if held else score_conversion(lead, conversion, flush=False)
    accepted.stage_changes.extend(scored.stage_changes)
    accepted.answer["lifecycle_stage"] = lead.lifecycle_stage
    for fields in extension_points.submission_accepted.send(accepted):
        accepted.answer.update(fields or {})
    return accepted


def _entry_stage(form: FormDefinition) -> Stage:
    """The stage `accept` moves a new lead to: the classification's, unless the conversion
    waits for a double opt-in."""
    if form.spec.double_opt_in:
        return Stage.LEAD
    target = automatic_move(Stage.LEAD, stage_for(classify(form.conversion, kind_classes())))
    return target or Stage.LEAD


def _touch(intake: Intake, now: datetime) -> dict[str, Any]:
    touch: dict[str, Any] = {
        key: intake.context[key] for key in TOUCH_KEYS if intake.context.get(key)
    }
    touch.update(partner=intake.partner, form=intake.form.slug, at=now.isoformat())
    return touch


def _answer(
    intake: Intake, submission_id: str, lead_id: str, classification: Classification, stage: Stage
) -> dict[str, Any]:
    spec = intake.form.spec
    return {
        "submission": submission_id,
        "lead": lead_id,
        "conversion": {"kind": spec.conversion, "classification": classification.value},
        "lifecycle_stage": stage.value,
        "message": spec.text(spec.success_message, intake.language)
        or _("Thanks for your request, we will contact you as soon as possible!"),
        "download_url": None,
        "redirect_url": spec.success_redirect,
        "confirmation_required": False,
    }


def _spam_signal(intake: Intake) -> str | None:
    honeypot = intake.fields.get(current_app.config["HONEYPOT_FIELD"])
    if honeypot not in (None, "", False):
        return "honeypot"
    check = intake.token_check or check_form_token(intake.token, intake.form.slug)
    return check.problem


def _refuse_disposable(values: dict[str, Any], errors: Errors) -> None:
    """Throw-away addresses, when the operator refuses them: the person is told, not ignored."""
    email = values.get("email")
    if not email or not current_app.config.get("BLOCK_DISPOSABLE_EMAILS"):
        return
    labels = email.rpartition("@")[2].split(".")
    domains = {".".join(labels[i:]) for i in range(len(labels) - 1)}
    if domains & disposable_domains:
        errors["email"] = [_("Please use a permanent e-mail address, not a disposable one.")]


def _quarantine(intake: Intake, values: dict[str, Any], reason: str) -> Outcome:
    """Keep it where a marketer can release it, and answer as if all went well."""
    purposes = {c.purpose for c in intake.form.spec.consents}
    claimed = claim(
        intake,
        status=SubmissionStatus.QUARANTINED,
        spam_reason=reason,
        fields=values,
        consents={k: True for k, v in intake.consents.items() if agreed(v) and k in purposes},
    )
    if isinstance(claimed, Outcome):
        return claimed
    submission, _no_lead, _no_ids = claimed
    classification = classify(intake.form.conversion, kind_classes())
    submission.response = _answer(
        intake,
        submission.public_id,
        new_public_id("lead"),
        classification,
        stage_for(classification),
    )
    db.session.flush()
    extension_points.submission_quarantined.send(Quarantined(intake, submission))
    return Outcome(submission=submission, body=submission.response)

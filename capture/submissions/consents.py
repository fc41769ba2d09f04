"""The consents of a submission: what the person agreed to, and the ledger rows it makes.

Also `stored_ip`: the address as the operator wants it kept, for submissions and consents.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from flask import current_app
from flask_babel import gettext as _

from capture.base.db import fresh
from capture.forms.spec import language_for, text_for
from capture.forms.values import Errors
from capture.leads.consent import ConsentMethod, ConsentRecord, ConsentStatus, text_hash
from capture.leads.lead import Lead
from capture.submissions.intake import Intake
from capture.submissions.submission import Submission


def given_consents(intake: Intake, errors: Errors) -> list[str]:
    """The purposes the person actively agreed to; a missing required one is an error.

    Only a literal yes counts: anything else (absent, false, "false", "0", "") is no, so
    marketing consent is never recorded unless the box was ticked.
    """
    given = []
    for consent in intake.form.spec.consents:
        if agreed(intake.consents.get(consent.purpose)):
            given.append(consent.purpose)
        elif consent.required:
            errors[f"consents.{consent.purpose}"] = [_("You must accept this to send the form.")]
    return given


def agreed(answer: Any) -> bool:
    """A literal yes: JSON `true`, or what a ticked box posts (`y`, `on`, `true`, `1`, `yes`)."""
    return answer is True or (
        isinstance(answer, str) and answer.strip().lower() in {"true", "on", "1", "yes", "y"}
    )


def consent_record(
    intake: Intake, submission: Submission, lead: Lead, purpose: str
) -> ConsentRecord:
    spec = intake.form.spec
    consent = next(c for c in spec.consents if c.purpose == purpose)
    text = text_for(consent.text, intake.language)
    pending = spec.double_opt_in and purpose == "marketing"
    return fresh(
        ConsentRecord,
        lead_id=lead.id,
        submission_id=submission.id,
        purpose=purpose,
        status=(ConsentStatus.PENDING if pending else ConsentStatus.GRANTED).value,
        method=ConsentMethod.CHECKBOX.value,
        channel=intake.channel,
        text=text,
        text_hash=text_hash(text),
        language=language_for(consent.text, intake.language),
        form_id=intake.form.id,
        form_version=intake.form.version,
        page_url=intake.context.get("page_url"),
        origin=intake.origin,
        ip=submission.ip,
        user_agent=intake.user_agent,
    )


def stored_ip(ip: str | None) -> str | None:
    """The address as configured: whole, or with the host part cut (privacy by default)."""
    if not ip:
        return None
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return None
    if not current_app.config.get("TRUNCATE_IP"):
        return str(address)
    prefix = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False).network_address)

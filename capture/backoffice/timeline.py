"""A lead's history in time order: submissions, conversions, consents, stages, scores.

One query per kind of event (never one per event). Other packages add their own kinds with
`extension_points.timeline_events`; magnets adds downloads that way, since capture never
imports it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask_babel import get_locale
from flask_babel import gettext as _

from capture import extension_points
from capture.backoffice.display import labelled_answers, stage_name
from capture.base.db import db
from capture.forms.store import FormDefinition
from capture.leads.consent import ConsentRecord
from capture.leads.conversion import ConversionEvent
from capture.leads.lead import Lead, StageChange
from capture.leads.scoring import ScoreChange, current_kinds, label
from capture.submissions.submission import Submission


@dataclass(frozen=True)
class Event:
    """One line of the timeline: what happened, when, and the details worth showing."""

    at: datetime
    kind: str  # submission, conversion, consent, stage, score, or what a provider adds
    title: str
    details: tuple[tuple[str, Any], ...] = ()


def _forms(ids: set[int | None]) -> dict[int, FormDefinition]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    rows = db.session.scalars(sa.select(FormDefinition).where(FormDefinition.id.in_(wanted)))
    return {form.id: form for form in rows}


def _form_name(forms: dict[int, FormDefinition], form_id: int | None) -> str:
    form = forms.get(form_id) if form_id is not None else None
    return f"{form.name} ({form.slug})" if form else "-"


def events(lead: Lead) -> list[Event]:
    """Everything known about `lead`, oldest first."""
    submissions = list(
        db.session.scalars(sa.select(Submission).where(Submission.lead_id == lead.id))
    )
    conversions = list(
        db.session.scalars(sa.select(ConversionEvent).where(ConversionEvent.lead_id == lead.id))
    )
    consents = list(
        db.session.scalars(sa.select(ConsentRecord).where(ConsentRecord.lead_id == lead.id))
    )
    stages = list(db.session.scalars(sa.select(StageChange).where(StageChange.lead_id == lead.id)))
    scores = list(db.session.scalars(sa.select(ScoreChange).where(ScoreChange.lead_id == lead.id)))
    forms = _forms({*(s.form_id for s in submissions), *(c.form_id for c in conversions)})
    language = str(get_locale() or "en")

    found: list[Event] = []
    for s in submissions:
        found.append(
            Event(
                s.created_at,
                "submission",
                _("Submission on %(form)s", form=_form_name(forms, s.form_id)),
                (
                    ("status", s.status),
                    ("channel", s.channel),
                    ("fields", labelled_answers(forms.get(s.form_id), s.fields, language)),
                    ("context", s.context),
                ),
            )
        )
    kinds, language = current_kinds(), str(get_locale() or "en")
    for c in conversions:
        found.append(
            Event(
                c.occurred_at,
                "conversion",
                _(
                    "Conversion %(kind)s (%(cls)s)",
                    kind=label(kinds, c.kind, language),
                    cls=c.classification,
                ),
                (
                    ("kind", c.kind),
                    ("classification", c.classification),
                    ("form", _form_name(forms, c.form_id)),
                    ("channel", c.channel),
                    ("partner", c.partner),
                    ("attribution", c.attribution),
                ),
            )
        )
    for r in consents:
        found.append(
            Event(
                r.created_at,
                "consent",
                _("Consent %(purpose)s %(status)s", purpose=r.purpose, status=r.status),
                (("method", r.method), ("text", r.text), ("page", r.page_url)),
            )
        )
    for change in stages:
        found.append(
            Event(
                change.created_at,
                "stage",
                _(
                    "Stage %(old)s → %(new)s",
                    old=stage_name(change.from_stage),
                    new=stage_name(change.to_stage),
                ),
                (("reason", change.reason), ("by", change.actor)),
            )
        )
    for score in scores:
        found.append(
            Event(
                score.created_at,
                "score",
                _("Score %(old)s → %(new)s", old=score.before, new=score.after),
                (("rule", score.rule), ("event", score.event))
                # A repeat beyond the rule's cap: no points, and why.
                + ((("points", 0), ("reason", score.reason)) if score.reason else ()),
            )
        )
    for added in extension_points.timeline_events.send(lead):
        found.extend(added)
    # Stable: events of one moment keep the order above (submission before its conversion).
    return sorted(found, key=lambda event: event.at)

"""`POST /api/v1/events`: an offline conversion (phone call, e-mail to sales, webinar, video)
recorded by lead e-mail, classified and scored like a form conversion."""

from __future__ import annotations

from typing import Any

from email_validator import EmailNotValidError
from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from capture import extension_points
from capture.api import idempotency
from capture.api.body import invalid, json_object, no_query, refused
from capture.api.schemas import EventRequest
from capture.api.token import current_token, protect
from capture.base.db import db, utcnow
from capture.base.extensions import csrf
from capture.base.lifecycle import automatic_move, classify, stage_for
from capture.extension_points import OfflineConversion
from capture.forms.values import normalise_email
from capture.leads.conversion import ConversionEvent
from capture.leads.lead import apply_profile, move_stage
from capture.leads.privacy import Suppressed, refuse_suppressed
from capture.leads.scoring import kind_classes, score_conversion
from capture.leads.upsert import upsert_lead
from capture.submissions.intake import clean_context, idempotency_key
from capture.web.errors import ApiError
from capture.web.params import ParamError, check

bp = protect(Blueprint("events_api", __name__, url_prefix="/api/v1/events"))
csrf.exempt(bp)
bp.before_request(no_query)

# Conversions where sales reached out first; the lead they create is outbound (domain.md).
OUTBOUND_KINDS = frozenset({"phone_call", "sales_email"})


def _read(payload: dict[str, Any]) -> dict[str, Any]:
    try:
        event = check(EventRequest, payload)
    except ParamError as error:
        raise refused(error) from None
    try:
        email = normalise_email(event.email)
    except EmailNotValidError:
        raise invalid({"email": [_("Enter a valid e-mail address.")]}) from None
    occurred_at = event.occurred_at or utcnow()
    if occurred_at > utcnow():
        raise invalid({"occurred_at": [_("Must not be in the future.")]})
    kind = event.kind
    return {
        "email": email,
        "kind": kind,
        "direction": event.direction or ("outbound" if kind in OUTBOUND_KINDS else "inbound"),
        "percent": event.percent,
        "note": event.note,
        "partner": event.partner,
        "fields": event.fields.model_dump(exclude_none=True) if event.fields else {},
        "context": clean_context(event.context or {}),
        "occurred_at": occurred_at,
    }


def _record(event: dict[str, Any], actor: str) -> tuple[OfflineConversion, dict[str, Any]]:
    touch = dict(event["context"])
    touch.update(partner=event["partner"], channel="api", at=event["occurred_at"].isoformat())
    lead, created = upsert_lead(event["email"], touch, event["partner"])
    if created:
        lead.source = event["direction"]
    apply_profile(lead, event["fields"])
    lead.last_touch = touch
    lead.last_activity_at = max(lead.last_activity_at, event["occurred_at"])
    # The kinds in force, edited at run time (capture.leads.scoring.versions).
    classification = classify(event["kind"], kind_classes())
    details = {k: event[k] for k in ("percent", "note") if event[k] is not None}
    conversion = ConversionEvent(
        lead_id=lead.id,
        kind=event["kind"],
        classification=classification.value,
        channel="api",
        partner=event["partner"],
        attribution=touch,
        details=details | {"recorded_by": actor},
        occurred_at=event["occurred_at"],
    )
    db.session.add(conversion)
    db.session.flush()
    recorded = OfflineConversion(lead, created, conversion, actor=actor)
    target = automatic_move(lead.stage, stage_for(classification))
    if target is not None:
        recorded.stage_changes.append(
            move_stage(
                lead,
                target,
                reason=f"{event['kind']} conversion ({classification}) recorded through the API",
                actor=actor,
                conversion_id=conversion.id,
            )
        )
    scored = score_conversion(lead, conversion, event["percent"])
    recorded.stage_changes.extend(scored.stage_changes)
    extension_points.offline_conversion.send(recorded)
    body = {
        "event": conversion.public_id,
        "lead": lead.public_id,
        "lead_created": created,
        "conversion": {"kind": conversion.kind, "classification": classification.value},
        "lifecycle_stage": lead.lifecycle_stage,
        "score": lead.score,
        "temperature": lead.temperature,
    }
    return recorded, body


@bp.post("")
def record_event() -> ResponseReturnValue:
    token = current_token()
    key = idempotency_key()
    payload = json_object()
    body_digest = idempotency.digest(payload)
    if key:
        earlier = idempotency.earlier(token.id, "events", key, body_digest)
        if earlier is not None:
            return _replay(earlier)
    event = _read(payload)
    try:
        refuse_suppressed(event["email"])
    except Suppressed as refused:
        raise ApiError(409, "erased_person", str(refused)) from None
    recorded, body = _record(event, token.actor)
    if key:
        twin = idempotency.remember(
            token.id, "events", key, body_digest, 201, body, recorded.lead.id
        )
        if twin is not None:
            return _replay(twin)
    db.session.commit()
    return jsonify(body), 201


def _replay(row: idempotency.ApiRequest) -> ResponseReturnValue:
    response = jsonify(row.response)
    response.status_code = row.status
    response.headers["Idempotent-Replayed"] = "true"
    return response

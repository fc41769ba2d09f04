"""`POST /api/v1/events`: an offline conversion (phone call, e-mail to sales, webinar, video)
recorded by lead e-mail, classified and scored like a form conversion."""

from __future__ import annotations

import re
from typing import Any

from email_validator import EmailNotValidError
from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from capture import extension_points
from capture.api import idempotency
from capture.api.body import invalid, json_object, moment, text
from capture.api.token import current_token, protect
from capture.db import db, utcnow
from capture.errors import ApiError
from capture.extension_points import OfflineConversion
from capture.extensions import csrf
from capture.forms.values import normalise_email
from capture.leads.classify import CONVERSION_KINDS, automatic_move, classify, stage_for
from capture.leads.conversion import ConversionEvent
from capture.leads.lead import apply_profile, move_stage, upsert_lead
from capture.leads.privacy import Suppressed, refuse_suppressed
from capture.leads.scoring import score_conversion
from capture.submissions.intake import clean_context, idempotency_key
from capture.submissions.record import conversion_overrides

bp = protect(Blueprint("events_api", __name__, url_prefix="/api/v1/events"))
csrf.exempt(bp)

# Conversions where sales reached out first; the lead they create is outbound (domain.md).
OUTBOUND_KINDS = frozenset({"phone_call", "sales_email"})
PROFILE_LIMITS = {
    "first_name": 300, "last_name": 300, "phone": 40, "company": 300, "job_title": 300,
    "company_size": 300, "industry": 300, "country": 2, "website": 2048, "message": 5000,
    "budget": 300, "authority": 300, "need": 300, "timeline": 300,
}  # fmt: skip
COUNTRY_RE = re.compile(r"^[A-Za-z]{2}$")


def _profile(raw: Any) -> dict[str, str]:
    """Only known lead fields, as text; anything else is refused, never stored."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise invalid({"fields": [_("Must be an object.")]})
    problems: dict[str, list[str]] = {}
    values: dict[str, str] = {}
    for name, value in raw.items():
        limit = PROFILE_LIMITS.get(name)
        if limit is None:
            problems[f"fields.{name}"] = [_("Unknown field.")]
        elif value is None or value == "":
            continue
        elif not isinstance(value, str) or len(value) > limit or not value.isprintable():
            problems[f"fields.{name}"] = [_("Must be text of at most %(limit)s characters.",
                                            limit=limit)]  # fmt: skip
        elif name == "country" and not COUNTRY_RE.match(value):
            problems[f"fields.{name}"] = [_("Use a two-letter country code (DK, SE, ...).")]
        else:
            values[name] = value.strip().upper() if name == "country" else value.strip()
    if problems:
        raise invalid(problems)
    return values


def _percent(payload: dict[str, Any]) -> float | None:
    value = payload.get("percent")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 100:
        raise invalid({"percent": [_("Must be a number from 0 to 100.")]})
    return float(value)


def _read(payload: dict[str, Any]) -> dict[str, Any]:
    raw_email = text(payload, "email", 320, required=True)
    try:
        email = normalise_email(raw_email or "")
    except EmailNotValidError:
        raise invalid({"email": [_("Enter a valid e-mail address.")]}) from None
    kind = text(payload, "kind", 40, required=True)
    if kind not in CONVERSION_KINDS:
        raise invalid({"kind": [_("Use one of: %(values)s.",
                                  values=", ".join(sorted(CONVERSION_KINDS)))]})  # fmt: skip
    direction = text(payload, "direction", 10)
    if direction not in (None, "inbound", "outbound"):
        raise invalid({"direction": [_("Use inbound or outbound.")]})
    context = payload.get("context")
    if context is not None and not isinstance(context, dict):
        raise invalid({"context": [_("Must be an object.")]})
    occurred_at = moment(payload.get("occurred_at"), "occurred_at") or utcnow()
    if occurred_at > utcnow():
        raise invalid({"occurred_at": [_("Must not be in the future.")]})
    return {
        "email": email,
        "kind": kind,
        "direction": direction or ("outbound" if kind in OUTBOUND_KINDS else "inbound"),
        "percent": _percent(payload),
        "note": text(payload, "note", 2000),
        "partner": text(payload, "partner", 80),
        "fields": _profile(payload.get("fields")),
        "context": clean_context(context or {}),
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
    classification = classify(event["kind"], conversion_overrides())
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

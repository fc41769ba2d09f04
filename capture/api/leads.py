"""`/api/v1/leads`: list with a cursor, get, change stage, GDPR export and erasure."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from capture.api.body import integer, invalid, json_object, moment, text
from capture.api.token import current_token, protect
from capture.db import db
from capture.errors import ApiError
from capture.extensions import csrf
from capture.leads.classify import Stage
from capture.leads.lead import Lead, lead_payload, move_stage
from capture.leads.listing import InvalidCursor, LeadFilter, decode_cursor, page
from capture.leads.privacy import erase, personal_data
from capture.leads.scoring import Temperature

bp = protect(Blueprint("leads_api", __name__, url_prefix="/api/v1/leads"))
csrf.exempt(bp)  # bearer tokens, no cookies: CSRF cannot ride on them

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
STAGES = [stage.value for stage in Stage]
TEMPERATURES = [t.value for t in Temperature]


def get_lead(public_id: str) -> Lead:
    if len(public_id) > 40 or not public_id.isprintable():
        raise ApiError(404, "lead_not_found", _("There is no lead with this id."))
    lead = db.session.scalar(
        sa.select(Lead).where(Lead.public_id == public_id, Lead.erased_at.is_(None))
    )
    if lead is None:
        raise ApiError(404, "lead_not_found", _("There is no lead with this id."))
    return lead


def _choices(name: str, allowed: list[str]) -> tuple[str, ...]:
    values = tuple(v for raw in request.args.getlist(name) for v in raw.split(",") if v)
    wrong = [v for v in values if v not in allowed]
    if wrong:
        raise invalid({name: [_("Use one of: %(values)s.", values=", ".join(allowed))]})
    return values


def _name(value: str | None, name: str) -> str | None:
    if not value:
        return None
    if len(value) > 80 or not value.isprintable():
        raise invalid({name: [_("Must be a slug of at most 80 characters.")]})
    return value


def _filter() -> LeadFilter:
    args = request.args
    return LeadFilter(
        stages=_choices("stage", STAGES),
        temperatures=_choices("temperature", TEMPERATURES),
        score_min=integer(args.get("score_min"), "score_min", -(10**9), 10**9),
        score_max=integer(args.get("score_max"), "score_max", -(10**9), 10**9),
        form=_name(args.get("form"), "form"),
        partner=_name(args.get("partner"), "partner"),
        since=moment(args.get("since"), "since"),
    )


@bp.get("")
def list_leads() -> ResponseReturnValue:
    where = _filter()
    limit = integer(request.args.get("limit"), "limit", 1, MAX_LIMIT) or DEFAULT_LIMIT
    after = None
    if request.args.get("cursor"):
        try:
            after = decode_cursor(request.args["cursor"])
        except InvalidCursor:
            raise invalid({"cursor": [_("This cursor is not valid.")]}) from None
    leads, next_cursor = page(where, limit, after)
    return jsonify({"leads": [lead_payload(lead) for lead in leads], "next_cursor": next_cursor})


@bp.get("/<lead_id>")
def get(lead_id: str) -> ResponseReturnValue:
    return jsonify(lead_payload(get_lead(lead_id)))


@bp.post("/<lead_id>/stage")
def change_stage(lead_id: str) -> ResponseReturnValue:
    """People (and their tools) may move a lead anywhere, back or out, always with a reason."""
    lead = get_lead(lead_id)
    payload = json_object()
    target = text(payload, "to", 20, required=True)
    reason = text(payload, "reason", 500, required=True)
    if target not in STAGES:
        raise invalid({"to": [_("Use one of: %(values)s.", values=", ".join(STAGES))]})
    if target == lead.lifecycle_stage:
        raise invalid({"to": [_("The lead is already in this stage.")]})
    if reason is None:  # text(required=True) has refused it already; this narrows the type
        raise invalid({"reason": [_("This field is required.")]})
    change = move_stage(lead, Stage(target), reason=reason, actor=current_token().actor)
    db.session.flush()
    body = {
        "lead": lead_payload(lead),
        "stage_change": {
            "from": change.from_stage,
            "to": change.to_stage,
            "reason": change.reason,
            "actor": change.actor,
            "at": change.created_at.isoformat(),
        },
    }
    db.session.commit()
    return jsonify(body)


@bp.get("/<lead_id>/export")
def export(lead_id: str) -> ResponseReturnValue:
    response = jsonify(personal_data(get_lead(lead_id)))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.delete("/<lead_id>")
def delete(lead_id: str) -> ResponseReturnValue:
    lead = get_lead(lead_id)
    suppression = erase(lead, current_token().actor)
    body = {"erased": lead.public_id, "erased_at": suppression.erased_at.isoformat()}
    db.session.commit()
    return jsonify(body)

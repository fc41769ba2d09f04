"""`/api/v1/leads`: list with a cursor, get, change stage, GDPR export and erasure."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from capture.api.body import invalid, no_query, read_body, read_query
from capture.api.schemas import LeadListQuery, StageChangeRequest
from capture.api.token import current_token, protect
from capture.base.db import db
from capture.base.extensions import csrf
from capture.leads.consent import consent_states
from capture.leads.lead import Lead, lead_payload, move_stage
from capture.leads.listing import InvalidCursor, decode_cursor, page
from capture.leads.privacy import erase, personal_data
from capture.routing import UnknownOwner, owner_filter
from capture.web.errors import ApiError

bp = protect(Blueprint("leads_api", __name__, url_prefix="/api/v1/leads"))
csrf.exempt(bp)  # bearer tokens, no cookies: CSRF cannot ride on them
bp.before_request(no_query)

DEFAULT_LIMIT = 50


def get_lead(public_id: str) -> Lead:
    if len(public_id) > 40 or not public_id.isprintable():
        raise ApiError(404, "lead_not_found", _("There is no lead with this id."))
    lead = db.session.scalar(
        sa.select(Lead).where(Lead.public_id == public_id, Lead.erased_at.is_(None))
    )
    if lead is None:
        raise ApiError(404, "lead_not_found", _("There is no lead with this id."))
    return lead


def with_consents(leads: list[Lead]) -> list[dict[str, Any]]:
    """Leads as the API shows them: each with its consent state per purpose (one query)."""
    states = consent_states([lead.id for lead in leads])
    return [lead_payload(lead) | {"consents": states[lead.id]} for lead in leads]


@bp.get("")
def list_leads() -> ResponseReturnValue:
    wanted = read_query(LeadListQuery)
    after = None
    if wanted.cursor:
        try:
            after = decode_cursor(wanted.cursor)
        except InvalidCursor:
            raise invalid({"cursor": [_("This cursor is not valid.")]}) from None
    try:
        owned = owner_filter(wanted.owner)
    except UnknownOwner:
        message = _("Use none, any or the id of a user (usr_...); a token has no user of its own.")
        raise invalid({"owner": [message]}) from None
    where = wanted.lead_filter(since=wanted.since, email=wanted.email, **owned)
    leads, next_cursor = page(where, wanted.limit or DEFAULT_LIMIT, after)
    return jsonify({"leads": with_consents(list(leads)), "next_cursor": next_cursor})


@bp.get("/<lead_id>")
def get(lead_id: str) -> ResponseReturnValue:
    return jsonify(with_consents([get_lead(lead_id)])[0])


@bp.post("/<lead_id>/stage")
def change_stage(lead_id: str) -> ResponseReturnValue:
    """People (and their tools) may move a lead anywhere, back or out, always with a reason."""
    lead = get_lead(lead_id)
    wanted = read_body(StageChangeRequest)
    if wanted.to.value == lead.lifecycle_stage:
        raise invalid({"to": [_("The lead is already in this stage.")]})
    change = move_stage(lead, wanted.to, reason=wanted.reason, actor=current_token().actor)
    db.session.flush()
    body = {
        "lead": with_consents([lead])[0],
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

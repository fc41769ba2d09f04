"""`/api/v1/scoring/rules` and `/api/v1/conversion-kinds`: the rules and kinds in force, read
and changed at run time (a write token changes them; every change is a new version).

A rules document is the configuration file's (merged over the defaults) and is refused with
the same `path: problem` sentences, as `fields` keyed by path. `POST .../preview` answers what a
document would change for the current leads without saving it.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from capture.api.body import json_object, no_query
from capture.api.token import current_token, protect
from capture.base.db import db
from capture.base.extensions import csrf
from capture.leads.scoring import (
    InForce,
    ScoringRulesError,
    ScoringVersion,
    describe_kind,
    effect,
    in_force,
    preview_rules,
    put_kind,
    replace_rules,
)
from capture.web.errors import ApiError

bp = protect(Blueprint("scoring_api", __name__, url_prefix="/api/v1"))
csrf.exempt(bp)  # bearer tokens, no cookies
bp.before_request(no_query)


def refused(error: ScoringRulesError) -> ApiError:
    """The configuration file's messages, each under the path it names."""
    fields: dict[str, list[str]] = {}
    for problem in error.problems:
        path, _sep, text = problem.partition(": ")
        fields.setdefault(path, []).append(text or problem)
    message = _("The scoring rules are not valid: %(problems)s", problems="; ".join(error.problems))
    return ApiError(422, "validation_failed", message, fields)


def _version(state: InForce) -> dict[str, Any]:
    row = db.session.get(ScoringVersion, state.version) if state.version else None
    return {
        "version": state.version,
        "saved_at": row.created_at.isoformat() if row else None,
        "change": row.change if row else "configuration",
    }


@bp.get("/scoring/rules")
def get_rules() -> ResponseReturnValue:
    state = in_force()
    return jsonify(_version(state) | {"rules": state.rules.document})


@bp.post("/scoring/rules/preview")
def preview() -> ResponseReturnValue:
    try:
        rules = preview_rules(json_object())
    except ScoringRulesError as error:
        raise refused(error) from None
    return jsonify({"effect": effect(rules), "rules": rules.document})


@bp.put("/scoring/rules")
def put_rules() -> ResponseReturnValue:
    document = json_object()
    try:
        rules = preview_rules(document)
    except ScoringRulesError as error:
        raise refused(error) from None
    change = effect(rules)  # counted before the save re-bands temperatures
    try:
        state = replace_rules(document, via=current_token().actor)
    except ScoringRulesError as error:
        db.session.rollback()
        raise refused(error) from None
    db.session.commit()
    return jsonify(_version(state) | {"rules": state.rules.document, "effect": change})


@bp.get("/conversion-kinds")
def list_kinds() -> ResponseReturnValue:
    state = in_force()
    kinds = [describe_kind(state, kind) for kind in sorted(state.kinds)]
    return jsonify(_version(state) | {"kinds": kinds})


@bp.post("/conversion-kinds")
def add_kind() -> ResponseReturnValue:
    """201 for a new kind, 200 for a kind re-mapped (class, points, labels)."""
    try:
        state, kind, created = put_kind(json_object(), via=current_token().actor)
    except ScoringRulesError as error:
        db.session.rollback()
        raise refused(error) from None
    db.session.commit()
    answer = describe_kind(state, kind) | {"version": state.version}
    return jsonify(answer), 201 if created else 200

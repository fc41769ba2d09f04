"""`/api/v1/routing/rules`: read and replace the routing set-up (teams, rules, fallback team).

One document, replaced whole by `PUT` (write scope), so the rules' order is the list's order.
Every problem is answered at once, by place: `{"rules.0.owner": ["There is no user ..."]}`.
"""

from __future__ import annotations

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from capture.api.body import invalid, json_object, no_query
from capture.api.token import protect
from capture.base.db import db
from capture.base.extensions import csrf
from capture.routing import RoutingInvalid, current, parse, replace

bp = protect(Blueprint("routing_api", __name__, url_prefix="/api/v1/routing"))
csrf.exempt(bp)  # bearer tokens, no cookies
bp.before_request(no_query)


@bp.get("/rules")
def rules() -> ResponseReturnValue:
    return jsonify(current())


@bp.put("/rules")
def replace_rules() -> ResponseReturnValue:
    try:
        replace(parse(json_object()))
    except RoutingInvalid as error:
        db.session.rollback()
        raise invalid(error.fields) from None
    db.session.commit()
    return jsonify(current())

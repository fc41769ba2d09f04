"""`GET /api/v1/analytics` (read token): views, starts, submissions, MQL, SQL and conversion
rate per form, landing page, partner, channel, variant or day; and its OpenAPI description."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from pydantic import BaseModel, Field

from capture.analytics.report import DIMENSIONS, MAX_DAYS, PeriodError, period, report
from capture.api.body import invalid, read_query
from capture.api.jsonschema import parameters, ref
from capture.api.token import protect
from capture.base.extensions import csrf
from capture.web.params import Day, Says, Strict, one_of

bp = protect(Blueprint("analytics_api", __name__, url_prefix="/api/v1/analytics"))
csrf.exempt(bp)

Dimension = Literal["form", "page", "partner", "channel", "variant", "day"]


class AnalyticsQuery(Strict):
    first: Day = Field(
        None, alias="from", description="first day (UTC), default 29 days before `to`"
    )
    last: Day = Field(None, alias="to", description="last day (UTC), included; default today")
    by: Annotated[Dimension | None, Says(one_of(*DIMENSIONS))] = Field(
        None,
        description="form (slug), page (the landing page's magnet slug), partner, channel "
        '("source / medium"), variant or day; default form',
    )


class AnalyticsItem(BaseModel):
    key: str | None = Field(description="null: none (no landing page, partner or variant)")
    views: int
    starts: int
    submissions: int
    mql: int
    sql: int
    conversion_rate: float | None = Field(description="submissions / views; null without views")
    start_rate: float | None = Field(description="starts / views; null without views")


class Analytics(BaseModel):
    by: Dimension
    from_: str = Field(alias="from")
    to: str
    items: list[AnalyticsItem]


@bp.get("")
def analytics() -> ResponseReturnValue:
    wanted = read_query(AnalyticsQuery)
    try:
        first, last = period(wanted.first, wanted.last)
    except PeriodError as exc:
        if str(exc) == "from":
            raise invalid({"from": [_("Must not be after `to`.")]}) from None
        raise invalid({"to": [_("At most %(days)s days at once.", days=MAX_DAYS)]}) from None
    by = wanted.by or "form"
    items = [row.as_dict() for row in report(first, last, by)]
    return jsonify({"by": by, "from": first.isoformat(), "to": last.isoformat(), "items": items})


BEACON_BODY = {
    "type": "object",
    "required": ["kind"],
    "properties": {
        "kind": {"enum": ["view", "start"]},
        "context": {
            "type": "object",
            "description": "utm_source, utm_medium, variant, page; other keys are ignored",
        },
    },
}


def openapi_paths(schemas: dict[str, Any], errors: Any, described: Any) -> dict[str, Any]:
    """This module's routes in the OpenAPI document (`capture.api.openapi` merges them)."""
    return {
        "/api/v1/analytics": {
            "get": {
                "summary": "Views, starts, submissions, MQL, SQL and conversion rate by a "
                "dimension, per UTC day range (at most 366 days)",
                "operationId": "getAnalytics",
                "parameters": parameters(AnalyticsQuery, schemas),
                "responses": {
                    "200": described(ref(Analytics), "One item per key"),
                    **errors(400, 401, 403, 422, 503),
                },
            }
        },
        "/api/v1/beacons/{slug}": {
            "parameters": [
                {"name": "slug", "in": "path", "required": True, "schema": {"type": "string"}},
                {"name": "lang", "in": "query", "required": False, "schema": {"type": "string"}},
            ],
            "post": {
                "summary": "Count a view or a start of a form (the embed's beacon; text/plain "
                "JSON, no cookies, nothing about the visitor stored)",
                "operationId": "beacon",
                "security": [],
                "requestBody": {
                    "required": True,
                    "content": {
                        "text/plain": {"schema": BEACON_BODY},
                        "application/json": {"schema": BEACON_BODY},
                    },
                },
                "responses": {
                    "204": {"description": "Counted, or not counted (a crawler, a prefetch)"},
                    **errors(400, 403, 404, 413),
                },
            },
        },
    }


SCHEMAS = (Analytics,)

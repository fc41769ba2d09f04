"""`GET /api/v1/openapi.json`: the OpenAPI 3.1 description of every /api/v1/ route, as data.

Bodies and query parameters come from the pydantic models that check requests
(`capture.api.schemas`, `capture.submissions.envelope`), so the document cannot promise what the
checks refuse or leave out what they accept. Routes, summaries and error statuses are written
here; a test compares them with the app's URL map, so a new route without a description fails.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from capture.api import analytics
from capture.api.jsonschema import parameters, ref, schemas_of
from capture.api.openapi_scoring import scoring_paths
from capture.api.schemas import (
    ConsentChangedEvent,
    Error,
    EventRecorded,
    EventRequest,
    Lead,
    LeadListQuery,
    LeadPage,
    StageChangeRequest,
)
from capture.routing import RoutingDocument
from capture.submissions.envelope import SubmissionEnvelope
from capture.tracking.activity import PageView, Withdrawal

bp = Blueprint("openapi", __name__, url_prefix="/api/v1")
ERRORS = {
    400: "Malformed body, or a query parameter or body key this route does not know "
    "(`bad_request`, the names under `fields`).",
    401: "Missing, unknown or revoked token (`unauthorized`).",
    403: "The token's scope does not allow this (`forbidden`).",
    404: "Not found.",
    409: "Idempotency-Key reused with another body (`idempotency_conflict`), or the address "
    "belongs to an erased person who has not come back through a form (`erased_person`).",
    410: "Gone (`form_closed`; `tracking_stopped` for a withdrawn or expired tracking token).",
    413: "Body too large (`payload_too_large`).",
    415: "Not JSON (`unsupported_media_type`).",
    422: "Invalid values (`validation_failed`), each under `fields`.",
    429: "Rate limited; see Retry-After (`rate_limited`).",
    503: "Briefly unavailable; see Retry-After (`unavailable`).",
}
OBJECT: dict[str, Any] = {"type": "object"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*statuses: int) -> dict[str, Any]:
    return {str(s): _json(ref(Error), ERRORS[s]) for s in statuses}


def _body(schema: dict[str, Any], form_post: bool = False) -> dict[str, Any]:
    content = {"application/json": {"schema": schema}}
    if form_post:
        content["application/x-www-form-urlencoded"] = {"schema": OBJECT}
    return {"required": True, "content": content}


AUTH_READ = _errors(400, 401, 403, 503)
AUTH_WRITE = _errors(400, 401, 403, 415, 422, 503)
PUBLIC: dict[str, Any] = {"security": []}
SLUG = {"name": "slug", "in": "path", "required": True, "schema": {"type": "string"}}
LEAD_ID = {"name": "lead_id", "in": "path", "required": True, "schema": {"type": "string"}}
LANG = {
    "name": "lang",
    "in": "query",
    "required": False,
    "schema": {"type": "string"},
    "description": "language of labels and messages (da, en, sv); others are ignored",
}
IDEMPOTENCY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "Same key and body: the first answer again (Idempotent-Replayed: true).",
    "schema": {"type": "string", "maxLength": 255},
}
PREFLIGHT = {
    **PUBLIC,
    "summary": "CORS preflight",
    "responses": {"204": {"description": "Preflight answer"}},
}


def _operation(summary: str, operation_id: str, **rest: Any) -> dict[str, Any]:
    return {"summary": summary, "operationId": operation_id, **rest}


def paths(schemas: dict[str, Any]) -> dict[str, Any]:
    return {
        "/api/v1/openapi.json": {
            "get": _operation(
                "This document",
                "openapi",
                **PUBLIC,
                responses={"200": _json(OBJECT, "OpenAPI 3.1 document")},
            )
        },
        "/api/v1/forms/{slug}": {
            "parameters": [SLUG],
            "get": _operation(
                "Public form definition for the embed, with a signed form token",
                "publicForm",
                **PUBLIC,
                parameters=[LANG],
                responses={"200": _json(OBJECT, "Definition"), **_errors(404, 410)},
            ),
            "options": {**PREFLIGHT, "operationId": "publicFormPreflight"},
        },
        "/api/v1/forms/{slug}/submissions": {
            "parameters": [SLUG],
            "post": _operation(
                "Submit a form",
                "submit",
                **PUBLIC,
                parameters=[LANG, IDEMPOTENCY],
                requestBody=_body(ref(SubmissionEnvelope), form_post=True),
                responses={
                    "201": _json(OBJECT, "Accepted"),
                    **_errors(400, 403, 404, 409, 410, 413, 415, 422, 429, 503),
                },
            ),
            "options": {**PREFLIGHT, "operationId": "submitPreflight"},
        },
        "/api/v1/activity": {
            "post": _operation(
                "A page view from track.js, for a visitor who gave tracking consent "
                "(403 `invalid_token` or `origin_not_allowed`, 410 `tracking_stopped`)",
                "recordActivity",
                **PUBLIC,
                requestBody=_body(ref(PageView)),
                responses={
                    "202": _json(OBJECT, "Recorded; `activity` is the kind the page counted as"),
                    **_errors(400, 403, 410, 413, 415, 422, 429, 503),
                },
            ),
            "options": {**PREFLIGHT, "operationId": "activityPreflight"},
        },
        "/api/v1/activity/withdrawal": {
            "post": _operation(
                "Withdraw tracking consent from the page (`leadgate.track.stop()`)",
                "withdrawTracking",
                **PUBLIC,
                requestBody=_body(ref(Withdrawal)),
                responses={
                    "200": _json(OBJECT, "Withdrawn"),
                    **_errors(400, 403, 410, 413, 415, 422, 429, 503),
                },
            ),
            "options": {**PREFLIGHT, "operationId": "withdrawTrackingPreflight"},
        },
        "/api/v1/forms": {
            "get": _operation(
                "List forms", "listForms", responses={"200": _json(OBJECT, "Forms"), **AUTH_READ}
            )
        },
        "/api/v1/forms/{slug}/definition": {
            "parameters": [SLUG],
            "get": _operation(
                "A form's full definition",
                "getFormDefinition",
                responses={
                    "200": _json(OBJECT, "version and definition"),
                    **AUTH_READ,
                    **_errors(404),
                },
            ),
            "put": _operation(
                "Create or replace a form's definition (write scope)",
                "putFormDefinition",
                requestBody=_body(
                    {
                        "type": "object",
                        "description": "A form definition as in "
                        "`leadgate forms export` (contract.md).",
                    }
                ),
                responses={
                    "200": _json(OBJECT, "Updated or unchanged"),
                    "201": _json(OBJECT, "Created"),
                    **AUTH_WRITE,
                },
            ),
        },
        "/api/v1/leads": {
            "get": _operation(
                "List leads, oldest first, with a cursor",
                "listLeads",
                parameters=parameters(LeadListQuery, schemas),
                responses={
                    "200": _json(ref(LeadPage), "A page of leads"),
                    **AUTH_READ,
                    **_errors(422),
                },
            )
        },
        "/api/v1/leads/{lead_id}": {
            "parameters": [LEAD_ID],
            "get": _operation(
                "One lead",
                "getLead",
                responses={"200": _json(ref(Lead), "The lead"), **AUTH_READ, **_errors(404)},
            ),
            "delete": _operation(
                "Erase the person (GDPR Art. 17); anonymous counts are kept",
                "eraseLead",
                responses={"200": _json(OBJECT, "Erased"), **AUTH_WRITE, **_errors(404)},
            ),
        },
        "/api/v1/leads/{lead_id}/stage": {
            "parameters": [LEAD_ID],
            "post": _operation(
                "Move a lead to any stage (recycle, disqualify) with a reason",
                "changeStage",
                requestBody=_body(ref(StageChangeRequest)),
                responses={
                    "200": _json(OBJECT, "The lead and the change"),
                    **AUTH_WRITE,
                    **_errors(404),
                },
            ),
        },
        "/api/v1/leads/{lead_id}/export": {
            "parameters": [LEAD_ID],
            "get": _operation(
                "Everything about one person, consent ledger included (GDPR Art. 15)",
                "exportLead",
                responses={"200": _json(OBJECT, "Personal data"), **AUTH_READ, **_errors(404)},
            ),
        },
        "/api/v1/routing/rules": {
            "get": _operation(
                "The routing set-up: teams, ordered rules (first match wins), fallback team",
                "getRouting",
                responses={"200": _json(ref(RoutingDocument), "Routing"), **AUTH_READ},
            ),
            "put": _operation(
                "Replace the whole routing set-up (write scope); problems listed by place",
                "putRouting",
                requestBody=_body(ref(RoutingDocument)),
                responses={"200": _json(ref(RoutingDocument), "Saved"), **AUTH_WRITE},
            ),
        },
        "/api/v1/events": {
            "post": _operation(
                "Record an offline conversion by lead e-mail",
                "recordEvent",
                parameters=[IDEMPOTENCY],
                requestBody=_body(ref(EventRequest)),
                responses={
                    "201": _json(ref(EventRecorded), "Recorded"),
                    **AUTH_WRITE,
                    **_errors(409),
                },
            )
        },
        **analytics.openapi_paths(schemas, _errors, _json),
        **scoring_paths(_json, _errors, _body, AUTH_READ, AUTH_WRITE),
    }


def webhooks() -> dict[str, Any]:
    """Events we POST to receivers (signed per Standard Webhooks). Every event's `lead` has
    the `Lead` shape, consents included; `consent.changed` is described in full."""
    return {
        "consent.changed": {
            "post": {
                "summary": "A consent was given, confirmed or withdrawn (one ledger record): "
                "a form, a double opt-in click, a one-click unsubscribe, the preference page",
                "operationId": "consentChanged",
                "requestBody": _body(ref(ConsentChangedEvent)),
                "responses": {"2XX": {"description": "Delivered; anything else is retried"}},
            }
        }
    }


def document() -> dict[str, Any]:
    schemas = schemas_of(
        Error,
        Lead,
        LeadPage,
        StageChangeRequest,
        EventRequest,
        EventRecorded,
        SubmissionEnvelope,
        ConsentChangedEvent,
        *analytics.SCHEMAS,
        RoutingDocument,
        PageView,
        Withdrawal,
    )
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Leadgate API",
            "version": "1",
            "description": "Lead capture: public form endpoints and the authenticated API. "
            'Errors: {"error": {"code", "message", "fields"}}. The authenticated API refuses '
            "query parameters and body keys it does not know (400, named under `fields`).",
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "paths": paths(schemas),
        "webhooks": webhooks(),
        "components": {
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "leadgate tokens create NAME",
                }
            },
            "schemas": schemas,
        },
    }


@bp.get("/openapi.json")
def openapi() -> ResponseReturnValue:
    response = jsonify(document())
    response.headers["Cache-Control"] = "public, max-age=300"
    return response

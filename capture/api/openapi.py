"""`GET /api/v1/openapi.json`: the OpenAPI 3.1 description of every /api/v1/ route, as data.

Hand-written so it says what we promise rather than what a generator guesses; a test compares
it with the app's URL map, so a new route without a description fails the suite. Other packages
add their paths with `add_paths(app, {...})`.
"""

from __future__ import annotations

import copy
from typing import Any

from flask import Blueprint, Flask, current_app, jsonify
from flask.typing import ResponseReturnValue

from capture.leads.classify import CONVERSION_KINDS, Stage
from capture.leads.scoring import Temperature

bp = Blueprint("openapi", __name__, url_prefix="/api/v1")
EXTENSION = "leadgate.openapi_paths"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*statuses: int) -> dict[str, Any]:
    names = {
        400: "Malformed body (`bad_request`).",
        401: "Missing, unknown or revoked token (`unauthorized`).",
        403: "The token's scope does not allow this (`forbidden`).",
        404: "Not found.",
        409: "Idempotency-Key reused with another body (`idempotency_conflict`).",
        410: "Gone (`form_closed`).",
        413: "Body too large (`payload_too_large`).",
        415: "Not JSON (`unsupported_media_type`).",
        422: "Invalid values (`validation_failed`), each under `fields`.",
        429: "Rate limited; see Retry-After (`rate_limited`).",
        503: "Briefly unavailable; see Retry-After (`unavailable`).",
    }
    return {str(s): _json(_ref("Error"), names[s]) for s in statuses}


AUTH_READ = _errors(401, 403, 503)
AUTH_WRITE = _errors(400, 401, 403, 415, 422, 503)
SECURED: list[dict[str, list[str]]] = [{"bearer": []}]
LEAD_ID = {"name": "lead_id", "in": "path", "required": True, "schema": {"type": "string"}}
SLUG = {"name": "slug", "in": "path", "required": True, "schema": {"type": "string"}}
IDEMPOTENCY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "Same key and body: the first answer again (Idempotent-Replayed: true).",
    "schema": {"type": "string", "maxLength": 255},
}


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema,
            "description": description}  # fmt: skip


TEXT = {"type": ["string", "null"]}
SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {"type": "string"},
                    "message": {"type": "string"},
                    "fields": {
                        "type": "object",
                        "additionalProperties": {"type": "array", "items": {"type": "string"}},
                    },
                },
            }
        },
    },
    "Lead": {
        "type": "object",
        "required": ["id", "email", "lifecycle_stage", "score", "temperature", "partner",
                     "first_touch", "last_touch", "created_at", "updated_at"],
        "properties": {
            "id": {"type": "string"},
            "email": {"type": "string", "format": "email"},
            "lifecycle_stage": {"enum": [s.value for s in Stage]},
            "score": {"type": "integer"},
            "temperature": {"enum": [t.value for t in Temperature]},
            "engagement_score": {"type": "number"},
            "fit_score": {"type": "integer"},
            "source": {"enum": ["inbound", "outbound"]},
            "partner": TEXT,
            "first_touch": {"type": "object"},
            "last_touch": {"type": "object"},
            **{name: TEXT for name in ("first_name", "last_name", "phone", "company",
                                        "job_title", "company_size", "industry", "country",
                                        "website", "message", "budget", "authority", "need",
                                        "timeline")},
            "properties": {"type": "object"},
            "created_at": {"type": "string", "format": "date-time"},
            "updated_at": {"type": "string", "format": "date-time"},
            "last_activity_at": {"type": "string", "format": "date-time"},
        },
    },
    "StageChangeRequest": {
        "type": "object",
        "required": ["to", "reason"],
        "properties": {
            "to": {"enum": [s.value for s in Stage]},
            "reason": {"type": "string", "minLength": 1, "maxLength": 500},
        },
    },
    "Event": {
        "type": "object",
        "required": ["email", "kind"],
        "properties": {
            "email": {"type": "string", "format": "email"},
            "kind": {"enum": sorted(CONVERSION_KINDS)},
            "occurred_at": {"type": "string", "format": "date-time"},
            "percent": {"type": "number", "minimum": 0, "maximum": 100,
                        "description": "video_view: share watched; scales the points"},
            "direction": {"enum": ["inbound", "outbound"],
                          "description": "source of a new lead; default outbound for "
                                         "phone_call and sales_email, else inbound"},
            "note": {"type": "string", "maxLength": 2000},
            "partner": {"type": "string", "maxLength": 80},
            "fields": {"type": "object", "description": "lead profile fields by name"},
            "context": {"type": "object", "description": "utm_*, referrer, page_url"},
        },
    },
    "EventRecorded": {
        "type": "object",
        "properties": {
            "event": {"type": "string"},
            "lead": {"type": "string"},
            "lead_created": {"type": "boolean"},
            "conversion": {"type": "object"},
            "lifecycle_stage": {"type": "string"},
            "score": {"type": "integer"},
            "temperature": {"type": "string"},
        },
    },
    "FormDefinition": {
        "type": "object",
        "description": "A form definition as in `leadgate forms export` (contract.md).",
        "required": ["name", "conversion"],
    },
    "Submission": {
        "type": "object",
        "properties": {
            "fields": {"type": "object"},
            "consents": {"type": "object"},
            "context": {"type": "object"},
            "token": {"type": "string"},
        },
    },
}  # fmt: skip

PATHS: dict[str, Any] = {
    "/api/v1/openapi.json": {
        "get": {
            "summary": "This document",
            "operationId": "openapi",
            "security": [],
            "responses": {"200": _json({"type": "object"}, "OpenAPI 3.1 document")},
        }
    },
    "/api/v1/forms/{slug}": {
        "parameters": [SLUG],
        "get": {
            "summary": "Public form definition for the embed, with a signed form token",
            "operationId": "publicForm",
            "security": [],
            "responses": {"200": _json({"type": "object"}, "Definition"), **_errors(404, 410)},
        },
        "options": {
            "summary": "CORS preflight",
            "operationId": "publicFormPreflight",
            "security": [],
            "responses": {"204": {"description": "Preflight answer"}},
        },
    },
    "/api/v1/forms/{slug}/submissions": {
        "parameters": [SLUG],
        "post": {
            "summary": "Submit a form",
            "operationId": "submit",
            "security": [],
            "parameters": [IDEMPOTENCY],
            "requestBody": {"required": True, "content": {
                "application/json": {"schema": _ref("Submission")},
                "application/x-www-form-urlencoded": {"schema": {"type": "object"}}}},
            "responses": {"201": _json({"type": "object"}, "Accepted"),
                          **_errors(400, 403, 404, 409, 410, 413, 415, 422, 429, 503)},
        },
        "options": {
            "summary": "CORS preflight",
            "operationId": "submitPreflight",
            "security": [],
            "responses": {"204": {"description": "Preflight answer"}},
        },
    },
    "/api/v1/forms": {
        "get": {
            "summary": "List forms",
            "operationId": "listForms",
            "responses": {"200": _json({"type": "object"}, "Forms"), **AUTH_READ},
        }
    },
    "/api/v1/forms/{slug}/definition": {
        "parameters": [SLUG],
        "get": {
            "summary": "A form's full definition",
            "operationId": "getFormDefinition",
            "responses": {"200": _json({"type": "object"}, "version and definition"),
                          **AUTH_READ, **_errors(404)},
        },
        "put": {
            "summary": "Create or replace a form's definition (write scope)",
            "operationId": "putFormDefinition",
            "requestBody": {"required": True, "content": {
                "application/json": {"schema": _ref("FormDefinition")}}},
            "responses": {"200": _json({"type": "object"}, "Updated or unchanged"),
                          "201": _json({"type": "object"}, "Created"), **AUTH_WRITE},
        },
    },
    "/api/v1/leads": {
        "get": {
            "summary": "List leads, oldest first, with a cursor",
            "operationId": "listLeads",
            "parameters": [
                _query("stage", {"type": "string"}, "comma-separated stages"),
                _query("temperature", {"type": "string"}, "comma-separated: cold, warm, hot"),
                _query("score_min", {"type": "integer"}, "score at least"),
                _query("score_max", {"type": "integer"}, "score at most"),
                _query("form", {"type": "string"}, "converted on this form (slug)"),
                _query("partner", {"type": "string"}, "attributed to this partner"),
                _query("since", {"type": "string", "format": "date-time"},
                       "changed at or after"),
                _query("limit", {"type": "integer", "minimum": 1, "maximum": 500},
                       "page size, default 50"),
                _query("cursor", {"type": "string"}, "next_cursor of the previous page"),
            ],
            "responses": {
                "200": _json({"type": "object", "properties": {
                    "leads": {"type": "array", "items": _ref("Lead")},
                    "next_cursor": TEXT}}, "A page of leads"),
                **AUTH_READ, **_errors(422),
            },
        }
    },
    "/api/v1/leads/{lead_id}": {
        "parameters": [LEAD_ID],
        "get": {
            "summary": "One lead",
            "operationId": "getLead",
            "responses": {"200": _json(_ref("Lead"), "The lead"), **AUTH_READ, **_errors(404)},
        },
        "delete": {
            "summary": "Erase the person (GDPR Art. 17); anonymous counts are kept",
            "operationId": "eraseLead",
            "responses": {"200": _json({"type": "object"}, "Erased"), **AUTH_WRITE,
                          **_errors(404)},
        },
    },
    "/api/v1/leads/{lead_id}/stage": {
        "parameters": [LEAD_ID],
        "post": {
            "summary": "Move a lead to any stage (recycle, disqualify) with a reason",
            "operationId": "changeStage",
            "requestBody": {"required": True, "content": {
                "application/json": {"schema": _ref("StageChangeRequest")}}},
            "responses": {"200": _json({"type": "object"}, "The lead and the change"),
                          **AUTH_WRITE, **_errors(404)},
        },
    },
    "/api/v1/leads/{lead_id}/export": {
        "parameters": [LEAD_ID],
        "get": {
            "summary": "Everything about one person, consent ledger included (GDPR Art. 15)",
            "operationId": "exportLead",
            "responses": {"200": _json({"type": "object"}, "Personal data"), **AUTH_READ,
                          **_errors(404)},
        },
    },
    "/api/v1/events": {
        "post": {
            "summary": "Record an offline conversion by lead e-mail",
            "operationId": "recordEvent",
            "parameters": [IDEMPOTENCY],
            "requestBody": {"required": True, "content": {
                "application/json": {"schema": _ref("Event")}}},
            "responses": {"201": _json(_ref("EventRecorded"), "Recorded"), **AUTH_WRITE,
                          **_errors(409)},
        }
    },
}  # fmt: skip


def add_paths(app: Flask, paths: dict[str, Any], schemas: dict[str, Any] | None = None) -> None:
    """Let another package describe its /api/v1/ routes (magnets, ...)."""
    extra = app.extensions.setdefault(EXTENSION, {"paths": {}, "schemas": {}})
    extra["paths"].update(paths)
    extra["schemas"].update(schemas or {})


def document() -> dict[str, Any]:
    extra = current_app.extensions.get(EXTENSION, {"paths": {}, "schemas": {}})
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Leadgate API",
            "version": "1",
            "description": "Lead capture: public form endpoints and the authenticated API. "
            "Errors: {\"error\": {\"code\", \"message\", \"fields\"}}.",
        },
        "servers": [{"url": "/"}],
        "security": SECURED,
        "paths": copy.deepcopy(PATHS) | extra["paths"],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "description": "leadgate tokens create NAME"}},
            "schemas": copy.deepcopy(SCHEMAS) | extra["schemas"],
        },
    }  # fmt: skip


@bp.get("/openapi.json")
def openapi() -> ResponseReturnValue:
    response = jsonify(document())
    response.headers["Cache-Control"] = "public, max-age=300"
    return response

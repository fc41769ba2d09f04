"""The OpenAPI description of `/api/v1/scoring/rules` and `/api/v1/conversion-kinds`, merged
into the document by `capture.api.openapi`."""

from __future__ import annotations

from typing import Any

KIND_ID = {"type": "string", "pattern": "^[a-z][a-z0-9_]{1,39}$"}
LABEL = {
    "type": "object",
    "properties": {lang: {"type": "string", "maxLength": 80} for lang in ("da", "sv", "en")},
    "required": ["en"],
    "additionalProperties": False,
}
KIND_REQUEST: dict[str, Any] = {
    "type": "object",
    "description": "A conversion kind, added or re-mapped. Without `max`/`per` a new kind is "
    "capped at once a day and a known kind keeps its cap; `max: null` lifts the cap.",
    "properties": {
        "kind": KIND_ID,
        "classification": {"type": "string", "enum": ["MQL", "SQL"]},
        "points": {"type": "integer"},
        "label": LABEL,
        "max": {"type": ["integer", "null"], "minimum": 1},
        "per": {"type": ["string", "null"], "description": "a window: 30d, 1d, 12h, 15m, 2w"},
    },
    "required": ["kind", "classification", "points", "label"],
    "additionalProperties": False,
}
KIND: dict[str, Any] = {
    "type": "object",
    "properties": {
        **KIND_REQUEST["properties"],
        "built_in": {"type": "boolean"},
        "version": {"type": "integer"},
    },
}
VERSION = {
    "version": {"type": "integer", "description": "0: the configuration, nothing saved yet"},
    "saved_at": {"type": ["string", "null"], "format": "date-time"},
    "change": {"type": "string"},
}
RULES_DOCUMENT: dict[str, Any] = {
    "type": "object",
    "description": "The scoring rules document of LEADGATE_SCORING_RULES (README, Scoring), "
    "merged over the defaults: conversions, activities, fit, decay, thresholds, temperature, "
    "bant. Problems are refused (422) with the configuration file's messages, each under its "
    "path in `fields` (`thresholds.sql: must be a whole number`).",
}
EFFECT: dict[str, Any] = {
    "type": "object",
    "description": "What the rules change for the current leads: temperatures at once when "
    "saved, stages at each lead's next scored event; no history is rewritten.",
    "properties": {
        "leads": {"type": "integer"},
        "temperature": {
            "type": "object",
            "properties": {
                "changed": {"type": "integer"},
                "by_change": {"type": "object", "additionalProperties": {"type": "integer"}},
            },
        },
        "stage": {
            "type": "object",
            "properties": {k: {"type": "integer"} for k in ("changed", "to_mql", "to_sql")},
        },
    },
}


def scoring_paths(
    json: Any, errors: Any, body: Any, read: dict[str, Any], write: dict[str, Any]
) -> dict[str, Any]:
    """The paths, built with the document's own helpers (passed in: no import cycle)."""
    rules = {"type": "object", "properties": {**VERSION, "rules": RULES_DOCUMENT}}
    saved = {"type": "object", "properties": {**VERSION, "rules": RULES_DOCUMENT, "effect": EFFECT}}
    kinds = {
        "type": "object",
        "properties": {**VERSION, "kinds": {"type": "array", "items": KIND}},
    }
    return {
        "/api/v1/scoring/rules": {
            "get": {
                "summary": "The scoring rules in force and their version",
                "operationId": "getScoringRules",
                "responses": {"200": json(rules, "Rules in force"), **read},
            },
            "put": {
                "summary": "Replace the scoring rules (write scope): a new version, applied "
                "from now on in every process",
                "operationId": "putScoringRules",
                "requestBody": body(RULES_DOCUMENT),
                "responses": {"200": json(saved, "Saved, with its effect"), **write},
            },
        },
        "/api/v1/scoring/rules/preview": {
            "post": {
                "summary": "What a rules document would change for the current leads, "
                "without saving it (write scope)",
                "operationId": "previewScoringRules",
                "requestBody": body(RULES_DOCUMENT),
                "responses": {
                    "200": json(
                        {
                            "type": "object",
                            "properties": {"effect": EFFECT, "rules": RULES_DOCUMENT},
                        },
                        "The effect",
                    ),
                    **write,
                },
            }
        },
        "/api/v1/conversion-kinds": {
            "get": {
                "summary": "Every conversion kind in force: class, points, cap, labels",
                "operationId": "listConversionKinds",
                "responses": {"200": json(kinds, "Kinds in force"), **read},
            },
            "post": {
                "summary": "Add a conversion kind, or re-map one (write scope)",
                "operationId": "putConversionKind",
                "requestBody": body(KIND_REQUEST),
                "responses": {
                    "200": json(KIND, "Changed"),
                    "201": json(KIND, "Added"),
                    **write,
                },
            },
        },
    }

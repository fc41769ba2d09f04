"""Pydantic models as pieces of the OpenAPI document: component schemas and query parameters.

`model_json_schema` gives JSON Schema 2020-12, which OpenAPI 3.1 uses as is; this moves its
`$defs` into `components/schemas` and leaves out what only adds noise.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

REF = "#/components/schemas/{model}"


def ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": REF.format(model=model.__name__)}


def _not_null(schema: dict[str, Any]) -> dict[str, Any]:
    """`T | None` as a query parameter is just T: an absent or empty value is the None."""
    options = [option for option in schema.pop("anyOf", []) if option != {"type": "null"}]
    return {**schema, **options[0]} if len(options) == 1 else schema


def parameters(model: type[BaseModel], schemas: dict[str, Any]) -> list[dict[str, Any]]:
    """A query model's fields as query parameters; what they refer to is added to `schemas`."""
    document = _tidy(model.model_json_schema(ref_template=REF))
    schemas.update(document.pop("$defs", {}))
    found = []
    for name, schema in document["properties"].items():
        description = schema.pop("description", "")
        schema.pop("default", None)
        found.append(
            {
                "name": name,
                "in": "query",
                "required": name in document.get("required", ()),
                "description": description,
                "schema": _not_null(schema),
            }
        )
    return found


def _tidy(schema: Any) -> Any:
    """Without pydantic's generated titles and its `default: null` for fields that may be left
    out (null is not always a value the type allows)."""
    if isinstance(schema, list):
        return [_tidy(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    tidy = {}
    for key, value in schema.items():
        if key == "properties":
            tidy[key] = {name: _tidy(item) for name, item in value.items()}
        elif not (key == "title" or (key == "default" and value is None)):
            tidy[key] = _tidy(value)
    return tidy


def schemas_of(*models: type[BaseModel]) -> dict[str, Any]:
    """`components/schemas` for `models` and every model or enum they refer to."""
    schemas: dict[str, Any] = {}
    for model in models:
        schema = model.model_json_schema(ref_template=REF)
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
    return {name: _tidy(schema) for name, schema in schemas.items()}

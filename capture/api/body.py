"""Reading and checking JSON bodies and query strings of the authenticated API, strictly.

Every problem becomes a contract error, so nothing a client sends reaches a view as an exception:
400 `bad_request` for a malformed body or a name the endpoint does not know (query parameter or
body key, listed under `fields`), 415 not JSON, 422 `validation_failed` for invalid values.
"""

from __future__ import annotations

from typing import Any, TypeVar

from flask import request
from flask_babel import gettext as _
from pydantic import BaseModel

from capture.submissions.intake import load_json
from capture.web.errors import ApiError
from capture.web.params import MAX_NAMED, NAME_LIMIT, ParamError, check, query

M = TypeVar("M", bound=BaseModel)


def json_object() -> dict[str, Any]:
    mimetype = request.mimetype
    if mimetype != "application/json" and not mimetype.endswith("+json"):
        raise ApiError(415, "unsupported_media_type", _("Send JSON (application/json)."))
    payload = load_json(request.get_data(cache=True))
    if not isinstance(payload, dict):
        raise ApiError(400, "bad_request", _("The body must be a JSON object."))
    return payload


def invalid(fields: dict[str, list[str]]) -> ApiError:
    return ApiError(422, "validation_failed", _("Please correct the marked fields."), fields)


def unknown(names: list[str]) -> ApiError:
    """Stripe's rule: a name we do not know is an error, never silently ignored (a misspelt
    filter would otherwise return every lead)."""
    fields = {name: [_("Unknown field.")] for name in names}
    return ApiError(400, "bad_request", ParamError(names, {}).message(), fields)


def refused(error: ParamError) -> ApiError:
    return unknown(error.unknown) if error.unknown else invalid(error.fields)


def read_body(model: type[M]) -> M:
    """The JSON body as `model`."""
    try:
        return check(model, json_object())
    except ParamError as error:
        raise refused(error) from None


def read_query(model: type[M]) -> M:
    """The query string as `model`."""
    try:
        return query(model, request.args)
    except ParamError as error:
        raise refused(error) from None


def no_query() -> None:
    """For endpoints that take no query parameters: any is unknown (a `before_request`)."""
    if request.args and request.endpoint not in READS_QUERY:
        raise unknown([name[:NAME_LIMIT] for name in sorted(request.args)][:MAX_NAMED])


# Endpoints that read their query string themselves, with `read_query(...)`.
READS_QUERY = {"leads_api.list_leads"}

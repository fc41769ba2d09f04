"""Reading and checking JSON bodies and query values of the authenticated API, strictly.

Every problem becomes a contract error (400 malformed, 415 not JSON, 422 invalid values), so
nothing a client sends reaches a view as an exception.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import request
from flask_babel import gettext as _

from capture.errors import ApiError
from capture.submissions.intake import load_json


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


def text(payload: dict[str, Any], name: str, limit: int, required: bool = False) -> str | None:
    value = payload.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise invalid({name: [_("This field is required.")]})
        return None
    if not isinstance(value, str) or len(value) > limit or not value.isprintable():
        raise invalid({name: [_("Must be text of at most %(limit)s characters.", limit=limit)]})
    return value.strip()


def moment(value: Any, name: str) -> datetime | None:
    """An ISO 8601 date or time, in UTC; without a zone it is taken as UTC.

    Converted here so a moment that leaves Python's range in UTC (0001-01-01T00:00+14:00) is
    the client's 422, not an OverflowError when the database or a comparison converts it.
    """
    if value is None or value == "":
        return None
    try:
        parsed = datetime.fromisoformat(value) if isinstance(value, str) else None
        if parsed is not None:
            parsed = parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except (ValueError, OverflowError):
        parsed = None
    if parsed is None:
        raise invalid({name: [_("Must be an ISO 8601 date or time.")]})
    return parsed


def integer(value: Any, name: str, low: int, high: int) -> int | None:
    if value is None or value == "":
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = None
    if number is None or not low <= number <= high:
        raise invalid({name: [_("Must be a whole number from %(low)s to %(high)s.", low=low,
                                high=high)]})  # fmt: skip
    return number

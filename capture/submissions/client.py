"""What the server itself knows of the client: the origin of its page and its user agent;
and the CORS preflight answer built on that origin.

Neither comes from the body, so a partner or a page cannot be claimed by what is posted.
"""

from __future__ import annotations

from flask import Response, request

from capture.base.context import this_request
from capture.forms.origins import normalise_origin

OPAQUE_ORIGIN = "null"


def request_origin() -> str | None:
    """The page's origin; None only when the request names none (server-to-server, curl).

    A browser sends `Origin: null` from an opaque origin, e.g. a sandboxed iframe on a site
    that is not allowed: that must not pass for "no origin", or any site could post our forms
    by wrapping the snippet in one. It is allowed only for our own page posting to itself
    (`Sec-Fetch-Site: same-origin`), which a strict referrer policy can also make "null".
    """
    headers = this_request().headers
    origin = headers.get("Origin")
    if origin is None:
        return None
    try:
        return normalise_origin(origin)
    except ValueError:
        if headers.get("Sec-Fetch-Site") == "same-origin":
            return None
        return OPAQUE_ORIGIN


def user_agent() -> str | None:
    agent = request.headers.get("User-Agent", "")
    agent = "".join(ch for ch in agent if ch.isprintable())[:512]
    return agent or None


def preflight_answer(origin: str | None, methods: str, headers: str) -> Response:
    """A CORS preflight's answer: `origin` (already judged allowed by the caller, or None for
    none) may send `methods` with `headers`, for a day."""
    response = Response(status=204)
    if origin:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Allow-Methods"] = methods
        response.headers["Access-Control-Allow-Headers"] = headers
        response.headers["Access-Control-Max-Age"] = "86400"
    response.vary.add("Origin")
    return response

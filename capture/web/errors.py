"""Errors in the contract's shape: JSON for the API, a page for people, never a stack trace."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, jsonify, render_template, request
from flask_babel import gettext as _
from sqlalchemy.exc import DataError, DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from capture.base.db import discard_session

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5
CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    410: "gone",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_failed",
    429: "rate_limited",
    503: "unavailable",
}


class ApiError(Exception):
    """An answer in the contract's error shape; the status tells the class of error."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        fields: dict[str, list[str]] | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.fields = fields
        self.headers = headers or {}


def error_body(code: str, message: str, fields: dict[str, list[str]] | None = None) -> dict:
    error: dict[str, Any] = {"code": code, "message": message}
    if fields:
        error["fields"] = fields
    return {"error": error}


def wants_json() -> bool:
    return request.path.startswith("/api/") or (request.accept_mimetypes.best == "application/json")


def respond(
    status: int,
    code: str,
    message: str,
    headers: dict[str, str] | None = None,
    fields: dict[str, list[str]] | None = None,
) -> Response:
    if wants_json():
        response = jsonify(error_body(code, message, fields))
    else:
        response = Response(render_template("error.html", status=status, message=message))
    response.status_code = status
    response.headers.update(headers or {})
    return response


def _http_message(error: HTTPException) -> str:
    messages = {
        400: _("The request could not be read."),
        403: _("You are not allowed to do this."),
        404: _("Nothing was found at this address."),
        405: _("This address does not accept that method."),
        410: _("This is no longer available."),
        413: _("The request is too large."),
        415: _("Send JSON or a form post."),
        429: _("Too many requests. Please wait a moment and try again."),
    }
    return messages.get(error.code or 500, error.description or error.name)


def init_app(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def api_error(error: ApiError) -> Response:
        return respond(error.status, error.code, error.message, error.headers, error.fields)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response:
        status = error.code or 500
        headers = {"Retry-After": str(RETRY_AFTER_SECONDS)} if status == 503 else {}
        if isinstance(error, MethodNotAllowed) and error.valid_methods:
            headers["Allow"] = ", ".join(error.valid_methods)
        return respond(status, CODES.get(status, "http_error"), _http_message(error), headers)

    @app.errorhandler(DataError)
    def data_refused(error: DataError) -> Response:
        # The database refused a value a client sent (a NUL byte in a URL on PostgreSQL, say):
        # the request is at fault, not the database; a 503 would invite pointless retries.
        log.info("database refused a value: %s", type(error.orig).__name__)
        discard_session()
        return respond(400, "bad_request", _("The request could not be read."))

    @app.errorhandler(DBAPIError)
    @app.errorhandler(PoolTimeout)
    def database_error(error: Exception) -> Response:
        lost = isinstance(error, OperationalError | InterfaceError | PoolTimeout) or (
            isinstance(error, DBAPIError) and error.connection_invalidated
        )
        if not lost:
            # A programming or integrity error is our bug, not an outage: a 503 would hide it
            # behind retries. Log it and answer the plain 500.
            discard_session()
            return unexpected(error)
        # The database is down or restarting, or every pooled connection is busy (a burst):
        # tell clients when to retry, keep details in logs.
        log.warning("database unavailable: %s", type(error).__name__)
        discard_session()  # leave a usable session to after_request hooks and teardown
        return respond(
            503,
            "unavailable",
            _("We are briefly unavailable. Please try again."),
            {"Retry-After": str(RETRY_AFTER_SECONDS)},
        )

    @app.errorhandler(Exception)
    def unexpected(error: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return respond(500, "internal_error", _("Something went wrong on our side."))

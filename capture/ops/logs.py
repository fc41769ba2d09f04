"""Logs: one line per event on stderr, JSON in production, tagged with the request's id.

Every request gets an id (a sane incoming `X-Request-ID`, else a new one), echoed in the answer
and carried by every record logged while it runs, so one request's lines can be found together
across the proxy and the app. One access line per request replaces gunicorn's.
Records are written from a private copy with e-mail addresses and IP addresses masked: logs
leave the machine (collectors, support tickets) and must not carry personal data.
"""

from __future__ import annotations

import copy
import ipaddress
import logging
import re
import sys
import time
import uuid
from typing import Any, TextIO

from flask import Flask, Response, has_request_context
from pythonjsonlogger.json import JsonFormatter
from pythonjsonlogger.orjson import OrjsonFormatter

from capture.base.context import this_g, this_request

ACCESS = logging.getLogger("leadgate.access")
HEADER = "X-Request-ID"
# Ids from the proxy in front are kept when they look like ids, not like an injection.
_SANE_ID = re.compile(r"[A-Za-z0-9._:+/=-]{1,128}")
# Signed tokens in these paths are capabilities (download, confirm, unsubscribe).
_SECRET_PATH = re.compile(r"^/([dcu])/[^/]+")
# The same links inside any line (werkzeug's own request lines in development, a traceback):
# download, confirmation and unsubscribe tokens are bearer secrets.
_SECRET_LINK = re.compile(r"/([dcu])/[\w.-]{16,}")
_EMAIL = re.compile(
    # Without / = ? & %, legal but rare in addresses: they delimit paths and query strings.
    r"(?P<first>[\w!#$'*+^`{|}~-])[\w.!#$'*+^`{|}~-]*(?P<at>@|%40)"
    r"(?P<domain>(?:[\w-]+\.)+[\w-]{2,})"
)
_IPV4 = re.compile(r"(?<![\w.])(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?![\w.])")
_IPV6 = re.compile(r"(?<![\w:])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?![\w:])")
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


def mask(text: str) -> str:
    """`ane@firma.dk` -> `a***@firma.dk`; a visitor's IPv4 keeps its /24, IPv6 its /48, like
    TRUNCATE_IP; loopback and private addresses (our own machines) stay whole; tokens in
    `/d/`, `/c/` and `/u/` links are redacted."""
    # Cheap tests first: most lines (access lines) hold none of these.
    if "/d/" in text or "/c/" in text or "/u/" in text:
        text = _SECRET_LINK.sub(r"/\1/[redacted]", text)
    if "@" in text or "%40" in text:
        text = _EMAIL.sub(r"\g<first>***\g<at>\g<domain>", text)
    if "." in text and _IPV4.search(text):
        text = _IPV4.sub(_mask_ipv4, text)
    if text.count(":") >= 2:
        text = _IPV6.sub(_mask_ipv6, text)
    return text


# Addresses of our own machines, not of visitors: masking them would only hide which proxy
# or database a line is about ("Running on http://127.0.0.x:5000").
_INFRASTRUCTURE = tuple(
    ipaddress.ip_network(network)
    for network in (
        "0.0.0.0/32",
        "127.0.0.0/8",
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "169.254.0.0/16",
        "::/128",
        "::1/128",
        "fc00::/7",
        "fe80::/10",
    )
)


def _infrastructure(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return any(address in network for network in _INFRASTRUCTURE)


def _mask_ipv4(match: re.Match[str]) -> str:
    if any(int(part) > 255 for part in match.groups()):
        return match.group(0)
    if _infrastructure(ipaddress.IPv4Address(match.group(0))):
        return match.group(0)
    return ".".join(match.groups()[:3]) + ".x"


def _mask_ipv6(match: re.Match[str]) -> str:
    try:
        address = ipaddress.IPv6Address(match.group(0))
    except ValueError:  # a time of day, a MAC-like id: not an address
        return match.group(0)
    if _infrastructure(address):
        return match.group(0)
    network = ipaddress.ip_network(f"{address}/48", strict=False).network_address
    return f"{network}x"


def request_id() -> str | None:
    """The current request's id, or None outside a request (CLI, worker)."""
    return this_g().get("request_id") if has_request_context() else None


def incoming_id(value: str | None) -> str:
    if value and _SANE_ID.fullmatch(value):
        return value
    return uuid.uuid4().hex


def safe_path(path: str) -> str:
    return _SECRET_PATH.sub(r"/\1/[redacted]", path)


class RequestIdFilter(logging.Filter):
    """Tags each record with the id of the request it was logged in."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            ident = request_id()
            if ident is not None:
                record.request_id = ident
        return True


class PersonalDataFilter(logging.Filter):
    """Masks e-mail and IP addresses in the message, its arguments, extras and tracebacks."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # arguments that do not fit: logging reports it when formatting
            message = f"{record.msg} {record.args!r}"
        record.msg = mask(message)
        record.args = None
        if record.exc_info:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
        if record.exc_text:
            record.exc_text = mask(record.exc_text)
        if record.stack_info:
            record.stack_info = mask(record.stack_info)
        for name, value in vars(record).items():
            if name not in _STANDARD and isinstance(value, str):
                setattr(record, name, mask(value))
        return True


class StderrHandler(logging.StreamHandler):
    """Writes to whatever `sys.stderr` is now, and filters a private copy of each record.

    The copy keeps masking from changing what other handlers (pytest's caplog, an error
    tracker an operator adds) receive.
    """

    def __init__(self) -> None:
        super().__init__()

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass

    def handle(self, record: logging.LogRecord) -> bool:
        return bool(super().handle(copy.copy(record)))


class LineFormatter(OrjsonFormatter):
    """JSON lines written by orjson (a third of the access line's cost went to `json`'s
    encoder); what orjson refuses (a lone surrogate in a message, an integer beyond 64 bits)
    by python-json-logger's `json` formatter, so no line is lost."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fallback = JsonFormatter(*args, **kwargs)

    def jsonify_log_record(self, log_data: Any) -> str:
        try:
            return super().jsonify_log_record(log_data)
        except TypeError:  # orjson.JSONEncodeError is one
            return self.fallback.jsonify_log_record(log_data)


def formatter(kind: str) -> logging.Formatter:
    if kind == "json":
        return LineFormatter(
            "%(levelname)s %(name)s %(message)s",
            rename_fields={"levelname": "level", "name": "logger"},
            timestamp="time",
        )
    return logging.Formatter(
        "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s",
        defaults={"request_id": "-"},
    )


def install(kind: str, level: str) -> logging.Handler:
    """Put our handler on the root logger, replacing one an earlier app installed."""
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, StderrHandler)]:
        root.removeHandler(old)
    handler = StderrHandler()
    handler.addFilter(RequestIdFilter())
    handler.addFilter(PersonalDataFilter())
    handler.setFormatter(formatter(kind))
    root.addHandler(handler)
    root.setLevel(level.upper())
    return handler


def init_app(app: Flask) -> None:
    install(app.config["LOG_FORMAT"], app.config["LOG_LEVEL"])

    # Registered before every other hook: it runs first, and its after_request runs last.
    @app.before_request
    def start() -> None:
        store = this_g()
        store.request_id = incoming_id(this_request().headers.get(HEADER))
        store.request_started = time.perf_counter()

    @app.after_request
    def finish(response: Response) -> Response:
        store, current = this_g(), this_request()
        ident = store.get("request_id") or incoming_id(None)
        response.headers[HEADER] = ident
        started = store.get("request_started")
        elapsed = round((time.perf_counter() - started) * 1000, 1) if started else None
        path = safe_path(current.path)
        method = current.method
        fields: dict[str, Any] = {
            "method": method,
            "path": path,
            "status": response.status_code,
            "duration_ms": elapsed,
            "request_id": ident,
        }
        ACCESS.info("%s %s %s %sms", method, path, response.status_code, elapsed, extra=fields)
        return response

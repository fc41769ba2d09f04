"""The objects behind Flask's `current_app`, `g` and `request`, for code that runs many times
a request.

Each attribute read through one of those proxies costs about a microsecond: werkzeug's proxy
first fails an ordinary lookup on itself, and building that AttributeError is most of it. A
submission read about ninety. A function that reads several takes the object once; outside a
context each raises the proxy's own error.
"""

from __future__ import annotations

from flask import Flask, Request, current_app, g, request
from flask.ctx import _AppCtxGlobals


def this_app() -> Flask:
    return current_app._get_current_object()  # type: ignore[attr-defined]


def this_g() -> _AppCtxGlobals:
    return g._get_current_object()


def this_request() -> Request:
    return request._get_current_object()  # type: ignore[attr-defined]

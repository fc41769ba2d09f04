"""Self-service access and erasure: a person gets their data or erases it from an e-mail link."""

from __future__ import annotations

import os

from flask import Flask

from capture.delivery.selfservice import views
from capture.delivery.selfservice.requests import PrivacyRequest, RequestKind, RequestStatus

__all__ = ["PrivacyRequest", "RequestKind", "RequestStatus", "init_app"]

DEFAULTS = {
    # How long the e-mailed export and erasure links work.
    "SELF_SERVICE_LINK_HOURS": "72",
    # Who hears of each request: "admins" (every active admin), addresses, or "" for nobody.
    "PRIVACY_REQUEST_NOTIFY": "admins",
    "RATELIMIT_SELF_SERVICE": "10/hour",
}


def init_app(app: Flask) -> None:
    for name, default in DEFAULTS.items():
        value = os.environ.get(name)
        app.config.setdefault(name, value if value is not None else default)
    app.config["SELF_SERVICE_LINK_HOURS"] = int(app.config["SELF_SERVICE_LINK_HOURS"])
    app.register_blueprint(views.bp)

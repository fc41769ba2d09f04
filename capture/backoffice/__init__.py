"""The back office's feature pages: one blueprint per feature, each protected once by role."""

from __future__ import annotations

from flask import Flask

from capture.backoffice import (
    display,
    exports,
    forms,
    leads,
    owners,
    privacy_requests,
    quarantine,
    routing,
    scoring,
    settings,
)


def init_app(app: Flask) -> None:
    display.init_app(app)
    app.register_blueprint(leads.bp)
    app.register_blueprint(leads.erasure)
    app.register_blueprint(exports.bp)
    app.register_blueprint(quarantine.bp)
    app.register_blueprint(forms.bp)
    app.register_blueprint(settings.bp)
    app.register_blueprint(privacy_requests.bp)
    app.register_blueprint(scoring.bp)
    app.register_blueprint(routing.bp)
    owners.init_app(app)

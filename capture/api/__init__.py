"""The authenticated JSON API under /api/v1/ (bearer tokens) and its OpenAPI document."""

from __future__ import annotations

from flask import Flask

from capture.api import analytics, commands, events, forms, leads, openapi, routing, scoring


def init_app(app: Flask) -> None:
    app.register_blueprint(leads.bp)
    app.register_blueprint(events.bp)
    app.register_blueprint(forms.bp)
    app.register_blueprint(scoring.bp)
    app.register_blueprint(openapi.bp)
    app.register_blueprint(analytics.bp)
    app.register_blueprint(routing.bp)
    commands.init_app(app)

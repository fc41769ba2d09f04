"""Capture: forms, submissions, leads, consent, classification; the core the rest builds on."""

from __future__ import annotations

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from capture import accounts, analytics, backoffice, tracking
from capture import api as authenticated_api
from capture.backoffice import home as admin
from capture.backoffice import search
from capture.base import paths
from capture.base.db import db, render_migration_item
from capture.base.db import init_app as init_db
from capture.base.extensions import csrf, limiter, migrate
from capture.delivery import optin, outbox, selfservice
from capture.delivery.webhooks import init_app as init_webhooks
from capture.forms import partners
from capture.leads import commands as lead_commands
from capture.leads import scoring
from capture.ops import cli, health, liveness, logs, metrics, retention, worker
from capture.submissions import api, page, quarantine
from capture.web import embed, errors, headers, i18n, sessions


def init_app(app: Flask) -> None:
    logs.init_app(app)  # first: its request hooks must wrap all the others
    count = app.config["PROXY_COUNT"]
    if count:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count, x_host=count)  # type: ignore[method-assign]
    init_db(app)
    search.init_app(app)  # SQLite's lower() made to fold every letter, as PostgreSQL does
    migrate.init_app(
        app,
        db,
        directory=str(paths.MIGRATIONS),
        render_as_batch=True,
        render_item=render_migration_item,
        compare_type=True,
    )
    sessions.init_app(app)
    csrf.init_app(app)
    limiter.init_app(app)
    i18n.init_app(app)
    headers.init_app(app)
    errors.init_app(app)
    metrics.init_app(app)
    liveness.init_app(app)
    scoring.init_app(app)
    app.register_blueprint(health.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(page.bp)
    accounts.init_app(app)
    app.register_blueprint(admin.bp)
    outbox.init_app(app)
    optin.init_app(app)
    selfservice.init_app(app)
    retention.init_app(app)
    worker.init_app(app)
    init_webhooks(app)
    authenticated_api.init_app(app)
    embed.init_app(app)
    tracking.init_app(app)
    partners.init_app(app)
    analytics.init_app(app)
    quarantine.init_app(app)
    backoffice.init_app(app)
    cli.init_app(app)
    lead_commands.init_app(app)

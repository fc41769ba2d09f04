"""Magnets: content given in exchange for contact details, its storage and download links."""

from __future__ import annotations

import os

from flask import Flask

from capture.extension_points import (
    Scheduled,
    demo_filling,
    optin_confirmed,
    scheduled_tasks,
    submission_accepted,
    timeline_events,
)
from capture.ops import metrics
from magnets import (
    admin,
    admin_landing,
    demo,
    gating,
    grants,
    landing,
    landing_yaml,
    links,
    nurture_admin,
    nurturing,
    storage,
    timeline,
)
from magnets.cli import magnets_cli
from magnets.nurture_cli import nurture_cli

MB = 1024 * 1024


def _setting(app: Flask, name: str, default: str) -> None:
    # Explicit test_config wins, then the environment, then the default.
    app.config.setdefault(name, os.environ.get(name) or default)


def init_app(app: Flask) -> None:
    """Register the magnet features on the app."""
    _setting(app, "MAGNET_MAX_BYTES", str(250 * MB))
    _setting(app, "COVER_MAX_BYTES", str(5 * MB))
    _setting(app, "RATELIMIT_FRESH_LINK", "5/hour")
    _setting(app, "NURTURE_GRACE_DAYS", "7")
    _setting(app, "NURTURE_EVERY_SECONDS", "900")
    for name in ("MAGNET_MAX_BYTES", "COVER_MAX_BYTES", "NURTURE_GRACE_DAYS"):
        app.config[name] = int(app.config[name])
    # 1: download rows commit without waiting for the disk (README, "Speed and faults").
    app.config.setdefault(
        "DOWNLOAD_ASYNC_COMMIT", os.environ.get("LEADGATE_DOWNLOAD_ASYNC_COMMIT") == "1"
    )
    storage.init_app(app)
    metrics.counter(app, grants.DOWNLOADS, "Downloads through /d/ links, by magnet.", ["magnet"])
    app.register_blueprint(links.bp)
    app.register_blueprint(landing.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(nurture_admin.bp)
    app.register_blueprint(admin_landing.bp)
    submission_accepted.connect(app, gating.gate)
    optin_confirmed.connect(app, gating.deliver_confirmed)
    demo_filling.connect(app, lambda _nothing: demo.fill_magnets())
    timeline_events.connect(app, timeline.downloads)
    timeline_events.connect(app, timeline.follow_ups)
    scheduled_tasks.register(
        app, "nurture", Scheduled("NURTURE_EVERY_SECONDS", lambda now: str(nurturing.send_due(now)))
    )
    magnets_cli.add_command(landing_yaml.landing_export)
    magnets_cli.add_command(landing_yaml.landing_import)
    app.cli.add_command(magnets_cli)
    app.cli.add_command(nurture_cli)

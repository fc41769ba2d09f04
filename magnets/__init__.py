"""Magnets: content given in exchange for contact details, its storage and download links."""

from __future__ import annotations

import os

from flask import Flask

from capture.extension_points import (
    demo_filling,
    optin_confirmed,
    submission_accepted,
    timeline_events,
)
from capture.ops import metrics
from magnets import admin, demo, gating, grants, landing, links, storage, timeline
from magnets.cli import magnets_cli

MB = 1024 * 1024


def _setting(app: Flask, name: str, default: str) -> None:
    # Explicit test_config wins, then the environment, then the default.
    app.config.setdefault(name, os.environ.get(name) or default)


def init_app(app: Flask) -> None:
    """Register the magnet features on the app."""
    _setting(app, "MAGNET_MAX_BYTES", str(250 * MB))
    _setting(app, "COVER_MAX_BYTES", str(5 * MB))
    _setting(app, "RATELIMIT_FRESH_LINK", "5/hour")
    for name in ("MAGNET_MAX_BYTES", "COVER_MAX_BYTES"):
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
    submission_accepted.connect(app, gating.gate)
    optin_confirmed.connect(app, gating.deliver_confirmed)
    demo_filling.connect(app, lambda _nothing: demo.fill_magnets())
    timeline_events.connect(app, timeline.downloads)
    app.cli.add_command(magnets_cli)

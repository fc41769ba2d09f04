"""Analytics without cookies: views and starts counted per day, conversion rates reported."""

from __future__ import annotations

from flask import Flask

from capture.analytics import beacon, cli, tags


def init_app(app: Flask) -> None:
    app.register_blueprint(beacon.bp)
    app.cli.add_command(cli.analytics_command)
    tags.init_app(app)

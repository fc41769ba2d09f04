"""Composition root: builds the Leadgate application and its command-line entry point."""

from __future__ import annotations

from typing import Any

import click
from flask import Flask
from flask.cli import FlaskGroup

import capture
import magnets
from capture.base import paths
from capture.base.config import load_config


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build a configured app; `test_config` overrides the environment for tests."""
    app = Flask(
        __name__,
        instance_relative_config=True,
        # A checkout's top-level directories, or their copies in an installed wheel.
        template_folder=str(paths.TEMPLATES),
        static_folder=str(paths.STATIC),
    )
    load_config(app, test_config)
    capture.init_app(app)
    magnets.init_app(app)
    return app


@click.group(cls=FlaskGroup, create_app=create_app)
def main() -> None:
    """Leadgate: lead capture and lead magnets."""

"""Liveness and readiness probes for load balancers and orchestrators."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from capture.base.db import db
from capture.base.extensions import limiter

bp = Blueprint("health", __name__)


@bp.get("/healthz")
@limiter.exempt
def healthz() -> ResponseReturnValue:
    """The process answers; says nothing of its dependencies, so it never flaps with them."""
    return jsonify(status="ok")


@bp.get("/readyz")
@limiter.exempt
def readyz() -> ResponseReturnValue:
    """Ready to take traffic: the database answers. Errors become 503 via the error handlers."""
    db.session.execute(sa.text("SELECT 1"))
    return jsonify(status="ready", database="ok")

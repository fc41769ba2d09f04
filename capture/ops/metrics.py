"""Prometheus metrics on `GET /metrics`, behind a bearer token (`METRICS_TOKEN`).

Without a token configured the endpoint does not exist (404): numbers about leads are not
for everyone. Counters count what committed: increments made during a request wait for its
answer and are dropped if it fails, so a retried submission is not counted twice. Under
gunicorn each worker counts for itself; with `PROMETHEUS_MULTIPROC_DIR` set (prometheus_client
reads it at import) the workers write to files there and a scrape adds them up. Outbox gauges
are computed from the database at scrape time, so they are the same whichever worker answers.
"""

from __future__ import annotations

import hmac
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass, field

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    g,
    has_request_context,
    jsonify,
    request,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy.exc import SQLAlchemyError

from capture.base.db import db
from capture.delivery.outbox import backlog
from capture.extension_points import Quarantined, submission_accepted, submission_quarantined
from capture.submissions.record import Accepted
from capture.web.errors import error_body

log = logging.getLogger(__name__)

bp = Blueprint("metrics", __name__)

KEY = "leadgate.metrics"
PENDING = "leadgate_metrics_pending"
SUBMISSIONS = "leadgate_submissions"
HTTP_ERRORS = "leadgate_http_errors"
QUARANTINED = "quarantined"


@dataclass
class Metrics:
    """One app's counters; `registry` is None in multiprocess mode (values live in files)."""

    registry: CollectorRegistry | None
    counters: dict[str, Counter] = field(default_factory=dict)


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def counter(app: Flask, name: str, documentation: str, labels: Iterable[str]) -> Counter:
    """Declare a counter shown on /metrics (`name` without `_total`); other packages add theirs."""
    metrics: Metrics = app.extensions[KEY]
    if name not in metrics.counters:
        metrics.counters[name] = Counter(
            name, documentation, list(labels), registry=metrics.registry
        )
    return metrics.counters[name]


def count(name: str, **labels: str) -> None:
    """Add one to counter `name` once the current request has answered with success.

    Outside a request (a CLI command) the increment is immediate.
    """
    if not has_request_context():
        _increment(current_app, name, labels)
        return
    g.setdefault(PENDING, []).append((name, labels))


def _increment(app: Flask, name: str, labels: dict[str, str]) -> None:
    metrics: Metrics | None = app.extensions.get(KEY)
    if metrics is not None and name in metrics.counters:
        metrics.counters[name].labels(**labels).inc()


def _count_accepted(accepted: Accepted) -> None:
    count(
        SUBMISSIONS,
        form=accepted.intake.form.slug,
        **{"class": accepted.conversion.classification},
    )


def _count_quarantined(held: Quarantined) -> None:
    count(SUBMISSIONS, form=held.intake.form.slug, **{"class": QUARANTINED})


class OutboxCollector(Collector):
    """Outbox backlog, read from the database when scraped."""

    def describe(self) -> list[Metric]:
        return []  # nothing to declare up front: registering must not query the database

    def collect(self) -> Iterable[Metric]:
        try:
            pending, lag = backlog()
        except SQLAlchemyError as exc:
            log.warning("metrics: outbox backlog unavailable (%s)", type(exc).__name__)
            db.session.rollback()
            return
        yield GaugeMetricFamily(
            "leadgate_outbox_pending", "Outbox rows (e-mails, webhooks) not yet delivered.", pending
        )
        yield GaugeMetricFamily(
            "leadgate_outbox_lag_seconds",
            "Age of the oldest undelivered outbox row; 0 when none is waiting.",
            lag,
        )


def _registry(app: Flask) -> CollectorRegistry:
    metrics: Metrics = app.extensions[KEY]
    if metrics.registry is not None:
        return metrics.registry
    path = multiprocess_dir()
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=path)
    registry.register(OutboxCollector())
    return registry


def _authorized(token: str) -> bool:
    scheme, _sep, given = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode(), token.encode()
    )


@bp.get("/metrics")
def scrape() -> ResponseReturnValue:
    token = current_app.config.get("METRICS_TOKEN")
    if not token:
        abort(404)
    if not _authorized(token):
        # JSON whatever the scraper accepts: it is a machine reading the answer. The API's
        # sentence, already translated: the metrics token is sent the same way.
        message = _("Send an API token: Authorization: Bearer <token>.")
        refused = jsonify(error_body("unauthorized", message))
        refused.status_code = 401
        refused.headers["WWW-Authenticate"] = "Bearer"
        return refused
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    body = generate_latest(_registry(app))
    headers = {"Content-Type": CONTENT_TYPE_LATEST, "Cache-Control": "no-store"}
    return Response(body, headers=headers)


def init_app(app: Flask) -> None:
    registry = None if multiprocess_dir() else CollectorRegistry()
    app.extensions[KEY] = Metrics(registry)
    if registry is not None:
        registry.register(OutboxCollector())
    counter(
        app,
        SUBMISSIONS,
        "Submissions recorded, by form and class (MQL, SQL, or quarantined); a quarantined "
        "submission released later counts again under its class.",
        ["form", "class"],
    )
    counter(app, HTTP_ERRORS, "Error answers, by status class (4xx, 5xx).", ["status_class"])
    submission_accepted.connect(app, _count_accepted)
    submission_quarantined.connect(app, _count_quarantined)
    app.register_blueprint(bp)

    @app.after_request
    def settle(response: Response) -> Response:
        pending = g.pop(PENDING, None) or []
        if response.status_code < 400:
            for name, labels in pending:
                _increment(app, name, labels)
        else:
            _increment(app, HTTP_ERRORS, {"status_class": f"{response.status_code // 100}xx"})
        return response

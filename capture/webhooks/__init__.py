"""Webhooks: signed events to CRMs, delivered at least once by `leadgate worker`.

Events come from the core's extension points (capture.extension_points), inside its
transactions: accepted submissions, API conversions, every stage change (whoever made it) and
erasure (`on_erase`, `on_lead_erased`). Each becomes one outbox row per endpoint.
"""

from __future__ import annotations

from flask import Flask

from capture.extension_points import (
    OfflineConversion,
    StageMoved,
    offline_conversion,
    outbox_senders,
    stage_moved,
    submission_accepted,
)
from capture.leads.lead import Lead
from capture.leads.privacy import on_erase, on_lead_erased
from capture.submissions.record import Accepted
from capture.webhooks import admin, events, handoff
from capture.webhooks.cli import webhooks_cli
from capture.webhooks.delivery import send_webhook
from capture.webhooks.endpoint import EVENTS, WebhookEndpoint, create_endpoint

__all__ = ["EVENTS", "WebhookEndpoint", "create_endpoint", "init_app"]


def _accepted(accepted: Accepted) -> None:  # returns nothing: the answer is unchanged
    if accepted.lead_created:
        events.lead_created(accepted.lead)
    events.conversion_recorded(accepted.lead, accepted.conversion)


def _offline(recorded: OfflineConversion) -> None:
    if recorded.lead_created:
        events.lead_created(recorded.lead)
    events.conversion_recorded(recorded.lead, recorded.conversion)


def _stage_moved(moved: StageMoved) -> None:
    events.stage_changed(moved.lead, moved.change)
    handoff.notify_sales(moved.lead, moved.change)


def _erasing(lead: Lead, email: str) -> None:
    events.forget(lead)


def init_app(app: Flask) -> None:
    outbox_senders.register(app, events.KIND, send_webhook)
    submission_accepted.connect(app, _accepted)
    offline_conversion.connect(app, _offline)
    stage_moved.connect(app, _stage_moved)
    on_erase(app, _erasing)
    on_lead_erased(app, events.lead_erased)
    app.register_blueprint(admin.bp)
    app.cli.add_command(webhooks_cli)

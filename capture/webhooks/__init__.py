"""Webhooks: signed events to CRMs, delivered at least once by `leadgate worker`.

Events come from hooks into the core's transactions: accepted submissions (`on_accept`),
API conversions (`on_offline_conversion`), every stage change (`on_stage_moved`, whoever
made it) and erasure (the `lead_erased` signal). Each becomes one outbox row per endpoint.
Erasure itself empties the person's earlier event rows through the privacy map (capture.outbox).
"""

from __future__ import annotations

from flask import Flask

from capture.api.signals import OfflineConversion, on_offline_conversion
from capture.leads.lead import Lead, StageChange, on_stage_moved
from capture.leads.privacy import lead_erased
from capture.outbox import register_sender
from capture.submissions.record import Accepted, on_accept
from capture.webhooks import admin, events, handoff
from capture.webhooks.cli import webhooks_cli
from capture.webhooks.delivery import send_webhook
from capture.webhooks.endpoint import EVENTS, WebhookEndpoint, create_endpoint

__all__ = ["EVENTS", "WebhookEndpoint", "create_endpoint", "init_app"]


def _accepted(accepted: Accepted) -> None:
    if accepted.lead_created:
        events.lead_created(accepted.lead)
    events.conversion_recorded(accepted.lead, accepted.conversion)


def _offline(recorded: OfflineConversion) -> None:
    if recorded.lead_created:
        events.lead_created(recorded.lead)
    events.conversion_recorded(recorded.lead, recorded.conversion)


def _stage_moved(lead: Lead, change: StageChange) -> None:
    events.stage_changed(lead, change)
    handoff.notify_sales(lead, change)


def _erased(sender: Flask, *, lead_public_id: str, actor: str) -> None:
    events.lead_erased(lead_public_id, actor)


def init_app(app: Flask) -> None:
    register_sender(app, events.KIND, send_webhook)
    on_accept(app, _accepted)
    on_offline_conversion(app, _offline)
    on_stage_moved(app, _stage_moved)
    lead_erased.connect(_erased)
    app.register_blueprint(admin.bp)
    app.cli.add_command(webhooks_cli)

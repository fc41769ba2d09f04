"""Webhooks: signed events to CRMs, delivered at least once by `leadgate worker`.

Events come from the core's extension points (capture.extension_points), inside its
transactions: accepted submissions, API conversions, every stage change (whoever made it),
every consent record (`consent_changed`) and erasure (`lead_erased`). Each becomes one
outbox row per endpoint. Erasure itself empties the person's earlier event rows through the
privacy map.
"""

from __future__ import annotations

from flask import Flask

from capture.delivery.webhooks import admin, events, handoff
from capture.delivery.webhooks.cli import webhooks_cli
from capture.delivery.webhooks.delivery import send_webhook
from capture.delivery.webhooks.endpoint import EVENTS, WebhookEndpoint, create_endpoint
from capture.extension_points import (
    Erased,
    OfflineConversion,
    OwnerChanged,
    StageMoved,
    consent_changed,
    lead_erased,
    offline_conversion,
    outbox_senders,
    owner_changed,
    stage_moved,
    submission_accepted,
)
from capture.routing import route_sql
from capture.submissions.record import Accepted

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
    # Routing first, here in one receiver (blinker keeps no order between receivers): the
    # event and the notice both show the owner a new SQL was just given.
    routed = route_sql(moved.lead, moved.change)
    events.stage_changed(moved.lead, moved.change)
    if routed is not None:
        handoff.notify_sales(moved.lead, moved.change, routed.notify)


def _owner_changed(changed: OwnerChanged) -> None:
    events.owner_changed(changed.lead, changed.change)


def _erased(erased: Erased) -> None:
    events.lead_erased(erased.lead_public_id, erased.actor)


def init_app(app: Flask) -> None:
    outbox_senders.register(app, events.KIND, send_webhook)
    submission_accepted.connect(app, _accepted)
    offline_conversion.connect(app, _offline)
    stage_moved.connect(app, _stage_moved)
    consent_changed.connect(app, events.consent_changed)
    owner_changed.connect(app, _owner_changed)
    lead_erased.connect(app, _erased)
    app.register_blueprint(admin.bp)
    app.cli.add_command(webhooks_cli)

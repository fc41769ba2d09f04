"""Turning changes into webhook events: one outbox row per (event, endpoint).

Every row is added in the transaction of the change it reports, so the event exists exactly
when the change committed. Each endpoint gets its own row, retried on its own; all rows of one
event share the event's `webhook-id`, which never changes across retries or re-sends.

The outbox row's `dedupe_key` is `wh:<endpoint>:<lead>:<webhook-id>[:r:<n>]`: the endpoint
prefix lists an endpoint's delivery log. Erasure finds a person's rows through the privacy map
(`OutboxMessage.__privacy__`: the payload mentions the lead id).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _

from capture.base.db import db, new_public_id, utcnow
from capture.base.lifecycle import Stage
from capture.delivery.outbox import OutboxMessage, OutboxStatus, enqueue
from capture.delivery.webhooks.endpoint import find_endpoint, subscribed
from capture.extension_points import ConsentChanged
from capture.leads.consent import consent_states
from capture.leads.conversion import ConversionEvent
from capture.leads.lead import Lead, StageChange, lead_payload
from capture.routing.history import OwnerChange

KIND = "webhook"


def dedupe_key(endpoint: str, lead: str, webhook_id: str) -> str:
    return f"wh:{endpoint}:{lead}:{webhook_id}"


def publish(event_type: str, lead_public_id: str, data: dict[str, Any]) -> list[OutboxMessage]:
    """Queue `event_type` for every active endpoint that wants it (adds, never commits)."""
    endpoints = subscribed(event_type)
    if not endpoints:
        return []
    webhook_id = new_public_id("msg")
    event = {"type": event_type, "timestamp": utcnow().isoformat(), "data": data}
    return [
        enqueue(
            KIND,
            {"webhook_id": webhook_id, "endpoint": endpoint.public_id, "event": event},
            dedupe_key=dedupe_key(endpoint.public_id, lead_public_id, webhook_id),
        )
        for endpoint in endpoints
    ]


def lead_data(lead: Lead) -> dict[str, Any]:
    """The lead as every event carries it: the API's shape, with its consents per purpose."""
    return lead_payload(lead) | {"consents": consent_states([lead.id])[lead.id]}


def conversion_payload(conversion: ConversionEvent) -> dict[str, Any]:
    return {
        "id": conversion.public_id,
        "kind": conversion.kind,
        "classification": conversion.classification,
        "channel": conversion.channel,
        "partner": conversion.partner,
        "attribution": conversion.attribution or {},
        "details": conversion.details or {},
        "occurred_at": conversion.occurred_at.isoformat() if conversion.occurred_at else None,
        # A double opt-in not yet confirmed: recorded, but no stage move or points until then.
        "pending": bool(conversion.pending),
    }


def lead_created(lead: Lead) -> None:
    if subscribed("lead.created"):
        publish("lead.created", lead.public_id, {"lead": lead_data(lead)})


def conversion_recorded(lead: Lead, conversion: ConversionEvent) -> None:
    if not subscribed("conversion.recorded"):
        return
    publish(
        "conversion.recorded",
        lead.public_id,
        {"lead": lead_data(lead), "conversion": conversion_payload(conversion)},
    )


def handoff_for(change: StageChange) -> str | None:
    """`mql` when marketing qualified the lead, `sql` when it goes to sales."""
    if change.to_stage == Stage.SQL.value:
        return "sql"
    if change.to_stage == Stage.MQL.value:
        return "mql"
    return None


def qualifying_event(change: StageChange) -> ConversionEvent | None:
    if change.conversion_id is None:
        return None
    return db.session.get(ConversionEvent, change.conversion_id)


def stage_changed(lead: Lead, change: StageChange) -> None:
    """`lead.stage_changed`; an SQL move is the handoff and names the event that qualified it."""
    if not subscribed("lead.stage_changed"):
        return
    conversion = qualifying_event(change)
    publish(
        "lead.stage_changed",
        lead.public_id,
        {
            "lead": lead_data(lead),
            "from": change.from_stage,
            "to": change.to_stage,
            "reason": change.reason,
            "actor": change.actor,
            "changed_at": (change.created_at or utcnow()).isoformat(),
            "handoff": handoff_for(change),
            "qualifying_event": conversion_payload(conversion) if conversion else None,
        },
    )


def consent_changed(changed: ConsentChanged) -> None:
    """`consent.changed`: one purpose granted, confirmed or withdrawn, and every consent now."""
    if not subscribed("consent.changed"):
        return
    publish(
        "consent.changed",
        changed.lead.public_id,
        {
            "lead": lead_data(changed.lead),
            "purpose": changed.purpose,
            "state": changed.state,
            "method": changed.method,
            "changed_at": changed.at.isoformat(),
        },
    )


def owner_changed(lead: Lead, change: OwnerChange) -> None:
    """`lead.owner_changed`: the lead (with its new `owner`) and the owner before, by e-mail."""
    publish(
        "lead.owner_changed",
        lead.public_id,
        {
            "lead": lead_data(lead),
            "from": change.from_email,
            "to": change.to_email,
            "reason": change.reason,
            "actor": change.actor,
            "changed_at": (change.created_at or utcnow()).isoformat(),
        },
    )


def lead_erased(lead_public_id: str, actor: str) -> None:
    publish(
        "lead.erased",
        lead_public_id,
        {"lead": {"id": lead_public_id}, "erased_at": utcnow().isoformat(), "actor": actor},
    )


class ResendRefused(Exception):
    """Why a delivery cannot be sent again; the message is for the back office."""


def deliveries_for(endpoint_public_id: str, limit: int = 100) -> list[OutboxMessage]:
    return list(
        db.session.scalars(
            sa.select(OutboxMessage)
            .where(
                OutboxMessage.kind == KIND,
                OutboxMessage.dedupe_key.like(f"wh:{endpoint_public_id}:%"),
            )
            .order_by(OutboxMessage.id.desc())
            .limit(limit)
        )
    )


def resend(row: OutboxMessage) -> OutboxMessage:
    """Queue the same event again for the same endpoint, with the same `webhook-id`, as a new
    row (so it gets a fresh day of retries and the log keeps the earlier attempts)."""
    if row.payload.get("erased"):
        raise ResendRefused(_("the person was erased, so this event no longer holds their data."))
    if row.status == OutboxStatus.PENDING.value:
        raise ResendRefused(_("this delivery is still queued; the worker will try it again."))
    endpoint = find_endpoint(row.payload["endpoint"])
    if endpoint is None or not endpoint.active:
        raise ResendRefused(_("the endpoint is disabled; enable it first."))
    base = ":".join((row.dedupe_key or "").split(":")[:4])
    return enqueue(KIND, dict(row.payload), dedupe_key=f"{base}:r:{new_public_id('r')}")

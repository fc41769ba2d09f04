"""Hooks the API fires inside its transactions, for webhooks and notifications to sales.

Submissions have `capture.submissions.record.on_accept`; these cover what only the API does: an
offline conversion (`on_offline_conversion`) and a person's stage change (`on_stage_change`).
A hook adds rows (outbox) and never commits; the view commits once after it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import current_app

from capture.leads.conversion import ConversionEvent
from capture.leads.lead import Lead, StageChange


@dataclass
class OfflineConversion:
    """What `POST /api/v1/events` produced, like `Accepted` for a submission."""

    lead: Lead
    lead_created: bool
    conversion: ConversionEvent
    stage_changes: list[StageChange] = field(default_factory=list)
    actor: str = ""


OFFLINE = "leadgate.on_offline_conversion"
STAGE = "leadgate.on_stage_change"


def on_offline_conversion(app: Any, hook: Callable[[OfflineConversion], None]) -> None:
    app.extensions.setdefault(OFFLINE, []).append(hook)


def on_stage_change(app: Any, hook: Callable[[Lead, StageChange], None]) -> None:
    """Fired for stage changes a person makes through the API (not for automatic ones, which
    arrive with `on_accept` or `on_offline_conversion`)."""
    app.extensions.setdefault(STAGE, []).append(hook)


def offline_conversion(recorded: OfflineConversion) -> None:
    for hook in current_app.extensions.get(OFFLINE, []):
        hook(recorded)


def stage_changed(lead: Lead, change: StageChange) -> None:
    for hook in current_app.extensions.get(STAGE, []):
        hook(lead, change)

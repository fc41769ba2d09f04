"""Opting in and out by e-mail: double opt-in confirmation, unsubscribe links, the
preference page."""

from __future__ import annotations

from flask import Flask

from capture.delivery.optin import confirmation, preferences, unsubscribe
from capture.delivery.optin.confirmation import (
    CONFIRM_MAX_AGE,
    confirm_submission,
    confirmation_url,
    delivery_held,
)
from capture.delivery.optin.person import unsubscribe_url
from capture.delivery.optin.unsubscribe import (
    enqueue_lead_email,
    marketing_status,
    may_send_marketing,
    withdraw_marketing,
)

__all__ = [
    "CONFIRM_MAX_AGE",
    "confirm_submission",
    "confirmation_url",
    "delivery_held",
    "enqueue_lead_email",
    "init_app",
    "marketing_status",
    "may_send_marketing",
    "unsubscribe_url",
    "withdraw_marketing",
]


def init_app(app: Flask) -> None:
    confirmation.init_app(app)
    unsubscribe.init_app(app)
    preferences.init_app(app)

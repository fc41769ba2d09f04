"""Webhook endpoints: where events go, which events, and the secret that signs them.

The secret is in the Standard Webhooks format (`whsec_` + base64 of 24 random bytes) and is
stored as is, because every delivery must be signed with it; it is shown once, when created.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterable
from datetime import datetime
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import (
    Mapped,
    Session,
    SessionTransaction,
    make_transient_to_detached,
    mapped_column,
)

from capture.base.db import JSONType, Model, db, new_public_id, utcnow
from capture.base.personal import NotPersonal
from capture.base.settled import settled, watch
from capture.delivery.webhooks.address import refusal_for_literal

EVENTS = (
    "lead.created",
    "conversion.recorded",
    "lead.stage_changed",
    "consent.changed",
    "lead.owner_changed",
    "lead.erased",
)


class EndpointError(ValueError):
    """The URL or the events cannot be used; the message says why, for people."""


class WebhookEndpoint(Model):
    __tablename__ = "webhook_endpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(
        sa.String(40), unique=True, default=lambda: new_public_id("whe")
    )
    url: Mapped[str] = mapped_column(sa.String(2048))
    # Event names this endpoint receives; empty means every event.
    events: Mapped[list[str]] = mapped_column(JSONType, default=list)
    secret: Mapped[str] = mapped_column(sa.String(100))
    active: Mapped[bool] = mapped_column(default=True)
    disabled_reason: Mapped[str | None] = mapped_column(sa.String(500))

    __privacy__ = NotPersonal(
        keep=("public_id", "url", "events", "secret", "disabled_reason"),
        why="receivers configured by an admin; events about people are outbox rows",
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    def wants(self, event: str) -> bool:
        return not self.events or event in self.events


watch(WebhookEndpoint)


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def check_url(url: str) -> str:
    """A usable http(s) URL, or `EndpointError`. Literal private addresses are refused here
    already; host names are checked again at every connection (DNS can change)."""
    url = url.strip()
    if len(url) > 2048:
        raise EndpointError("The URL is longer than 2048 characters.")
    if any(ch.isspace() or not ch.isprintable() for ch in url):
        raise EndpointError("The URL may not contain spaces or control characters.")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        raise EndpointError("The URL is not valid (check the host and the port).") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise EndpointError("Use an http:// or https:// URL with a host name.")
    if not current_app.config.get("WEBHOOK_ALLOW_PRIVATE_TARGETS"):
        refusal = refusal_for_literal(parts.hostname)
        if refusal:
            raise EndpointError(refusal)
    return url


def check_events(events: Iterable[str]) -> list[str]:
    chosen = []
    for name in events:
        name = name.strip()
        if not name:
            continue
        if name not in EVENTS:
            raise EndpointError(f"Unknown event {name!r}: use one of {', '.join(EVENTS)}.")
        if name not in chosen:
            chosen.append(name)
    return chosen


def create_endpoint(url: str, events: Iterable[str] = ()) -> WebhookEndpoint:
    """Add (not commit) an active endpoint with a fresh secret."""
    endpoint = WebhookEndpoint(
        public_id=new_public_id("whe"),
        url=check_url(url),
        events=check_events(events),
        secret=new_secret(),
        active=True,
        created_at=utcnow(),
    )
    db.session.add(endpoint)
    db.session.flush()
    return endpoint


def find_endpoint(public_id: str) -> WebhookEndpoint | None:
    return db.session.scalar(
        sa.select(WebhookEndpoint).where(WebhookEndpoint.public_id == public_id)
    )


ACTIVE_MEMO = "leadgate.active_endpoints"


def _endpoint_changes_pending(session: Session) -> bool:
    if any(isinstance(instance, WebhookEndpoint) for instance in session.new):
        return True
    # A changed or deleted endpoint is one the session holds by its identity: when it holds
    # none (a submission, asking once per event it publishes), the dirty rows need no look.
    if not any(state.class_ is WebhookEndpoint for state in session.identity_map.all_states()):
        return False
    return any(
        isinstance(instance, WebhookEndpoint) for instance in (*session.dirty, *session.deleted)
    )


def active_endpoints() -> list[WebhookEndpoint]:
    """The active endpoints, read once per transaction: one submission publishes several
    events, and each would otherwise ask again.

    Read without autoflush, so the caller's pending changes (a lead half-way through a
    submission) are not written out early and then again; pending endpoint changes are
    flushed first, so the answer is what autoflush would have given.
    """
    session = db.session()
    if _endpoint_changes_pending(session):
        session.flush()  # forgets the memo (before_flush, below)
    memo = session.info.get(ACTIVE_MEMO)
    if memo is None:
        with session.no_autoflush:
            memo = [_detached(row) for row in settled("webhook_endpoints", _active_rows)]
        session.info[ACTIVE_MEMO] = memo
    return list(memo)


def _active_rows() -> list[dict[str, object]]:
    """The active endpoints' columns, cached per process (`capture.base.settled`)."""
    table = WebhookEndpoint.__table__
    rows = db.session.execute(
        sa.select(table).where(table.c.active.is_(True)).order_by(table.c.id)
    ).mappings()
    return [dict(row) for row in rows]


def _detached(row: dict[str, object]) -> WebhookEndpoint:
    """A copy of its own for this transaction: read it; change endpoints through `find_endpoint`."""
    endpoint = WebhookEndpoint(**{**row, "events": list(row["events"] or [])})  # type: ignore[call-overload]
    make_transient_to_detached(endpoint)
    return endpoint


@sa.event.listens_for(Session, "after_transaction_end")
def _forget_active_endpoints(session: Session, transaction: SessionTransaction) -> None:
    session.info.pop(ACTIVE_MEMO, None)


@sa.event.listens_for(Session, "before_flush")
def _forget_flushed_endpoints(session: Session, context: object, instances: object) -> None:
    if ACTIVE_MEMO in session.info and _endpoint_changes_pending(session):
        session.info.pop(ACTIVE_MEMO, None)


def subscribed(event: str) -> list[WebhookEndpoint]:
    return [endpoint for endpoint in active_endpoints() if endpoint.wants(event)]

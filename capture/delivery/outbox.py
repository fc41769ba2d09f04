"""The outbox: e-mails and webhooks written in the same transaction as the change they report.

A row exists exactly when the change committed, so a crash between commit and send loses
nothing: `leadgate worker` (capture.ops.worker) delivers rows later, at least once. Helpers here
only add rows to the session; the caller's commit makes them real together with its change.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from flask import Flask, current_app
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from capture import extension_points
from capture.base.db import Model, db, new_public_id, utcnow
from capture.base.personal import ByMention, Export, Mask, Personal, iso
from capture.delivery import mail


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    DEAD = "dead"  # gave up: `last_error` says why


ERASED_NOTE = "the person was erased; this message's data was removed"
# What an erased row keeps of its payload: the envelope, never the content.
ENVELOPE_KEYS = ("template", "language", "webhook_id", "endpoint")


def erased_payload(row: OutboxMessage) -> dict[str, Any]:
    """The payload without the person: e-mails keep their template, webhook events their
    type, time and lead id (so the delivery log still lines up with `lead.erased`)."""
    payload = row.payload or {}
    kept: dict[str, Any] = {key: payload[key] for key in ENVELOPE_KEYS if key in payload}
    event = payload.get("event")
    if isinstance(event, dict):
        data: dict[str, Any] = event["data"] if isinstance(event.get("data"), dict) else {}
        lead: dict[str, Any] = data["lead"] if isinstance(data.get("lead"), dict) else {}
        kept["event"] = {
            "type": event.get("type"),
            "timestamp": event.get("timestamp"),
            "data": {"lead": {"id": lead.get("id")}, "erased": True},
        }
    kept["erased"] = True
    return kept


def _erased_status(row: OutboxMessage) -> str:
    # Not sent yet: it never will be (a webhook receiver hears `lead.erased` instead).
    return OutboxStatus.DEAD.value if row.status == OutboxStatus.PENDING.value else row.status


def _erased_error(row: OutboxMessage) -> str | None:
    # A bounce quotes the address, so the error goes; a cancelled row says why.
    if row.status == OutboxStatus.PENDING.value:
        return "cancelled: " + ERASED_NOTE
    return ERASED_NOTE if row.last_error else None


def _export(row: OutboxMessage) -> dict[str, Any]:
    payload = row.payload or {}
    message = {
        "id": row.public_id,
        "kind": row.kind,
        "status": row.status,
        "created_at": iso(row.created_at),
        "sent_at": iso(row.sent_at),
    }
    if "event" in payload:
        message["event"] = payload["event"]
    else:
        message |= {key: payload.get(key) for key in ("to", "subject", "text")}
    return message


class OutboxMessage(Model):
    __tablename__ = "outbox_messages"
    __table_args__ = (
        # The worker's only question: which pending rows are due? Sent rows stay out of it.
        sa.Index(
            "ix_outbox_messages_due",
            "next_attempt_at",
            postgresql_where=sa.text("status = 'pending'"),
            sqlite_where=sa.text("status = 'pending'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(
        sa.String(40), unique=True, default=lambda: new_public_id("msg")
    )
    kind: Mapped[str] = mapped_column(sa.String(30))
    payload: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(sa.String(10), default=OutboxStatus.PENDING.value)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    # Set by callers that must not queue the same thing twice (one confirmation per submission).
    dedupe_key: Mapped[str | None] = mapped_column(sa.String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]

    # E-mails to the person and about them (a sales hand-off), webhook events about them: the
    # payload mentions their address or lead id. Rows stay (the delivery log), emptied.
    __privacy__ = Personal(
        find=(ByMention("payload"),),
        erase={
            "payload": Mask(erased_payload),
            "status": Mask(_erased_status),
            "last_error": Mask(_erased_error),
        },
        keep=("public_id", "kind", "dedupe_key"),
        export=Export("messages", _export),
    )


@dataclass(frozen=True)
class Delivery:
    """What a sender gets: a claimed row, detached from any session or transaction."""

    public_id: str
    kind: str
    payload: dict[str, Any]
    attempts: int
    created_at: datetime


class PermanentFailure(Exception):
    """Raised by a sender when retrying cannot help (address refused, receiver says 410)."""


# Delivers rows of one kind (`extension_points.outbox_senders`); raises to fail (retried) or
# `PermanentFailure` (dead).
Sender = Callable[[Delivery], None]


def sender_for(kind: str) -> Sender | None:
    return extension_points.outbox_senders.get(kind)


def enqueue(kind: str, payload: dict[str, Any], *, dedupe_key: str | None = None) -> OutboxMessage:
    """Add a row for the worker to deliver; returns it (or the earlier row with `dedupe_key`).

    Adds and flushes only: the caller's transaction commits it together with its change.
    """
    if dedupe_key is not None:
        earlier = db.session.scalar(
            sa.select(OutboxMessage).where(OutboxMessage.dedupe_key == dedupe_key)
        )
        if earlier is not None:
            return earlier
    message = OutboxMessage(
        kind=kind, payload=payload, dedupe_key=dedupe_key, next_attempt_at=utcnow()
    )
    db.session.add(message)
    if dedupe_key is None:
        db.session.flush()
        return message
    try:
        with db.session.begin_nested():  # a concurrent twin may have queued it meanwhile
            db.session.flush()
    except IntegrityError:
        earlier = db.session.scalar(
            sa.select(OutboxMessage).where(OutboxMessage.dedupe_key == dedupe_key)
        )
        if earlier is None:
            raise
        return earlier
    return message


class NoUnsubscribe(ValueError):
    """An e-mail to a lead without an unsubscribe link: every one must carry it (RFC 8058)."""


def enqueue_email(
    to: str,
    template: str,
    language: str,
    context: dict[str, Any],
    *,
    dedupe_key: str | None = None,
    unsubscribe_url: str | None = None,
    staff: bool = False,
) -> OutboxMessage:
    """Render `email/<template>` in `language` now (links need the request) and queue it.

    Every e-mail that reaches a lead carries `unsubscribe_url` (use
    `capture.delivery.optin.enqueue_lead_email`, which makes it): the templates show it as a
    link and the message gets List-Unsubscribe and one-click List-Unsubscribe-Post headers.
    Only mail to staff (the sales hand-off) goes without, and must say so with `staff=True`;
    anything else raises `NoUnsubscribe`, so a new kind of lead e-mail cannot forget it.
    """
    context = dict(context)
    # RFC 3834: every message here is generated, so no vacation replies to it.
    headers = {"Message-ID": mail.message_id(), "Auto-Submitted": "auto-generated"}
    if unsubscribe_url:
        context["unsubscribe_url"] = unsubscribe_url
        headers.update(
            mail.list_unsubscribe_headers(
                unsubscribe_url, current_app.config.get("MAIL_UNSUBSCRIBE_MAILTO")
            )
        )
    elif not staff:
        raise NoUnsubscribe(f"e-mail {template!r} to a lead needs an unsubscribe_url")
    rendered = mail.render_email(template, language, **context)
    payload = {
        "to": to,
        "from": current_app.config["MAIL_FROM"],
        "subject": rendered.subject,
        "text": rendered.text,
        "html": rendered.html,
        "headers": headers,
        "template": template,
        "language": language,
    }
    return enqueue("email", payload, dedupe_key=dedupe_key)


def send_email(delivery: Delivery) -> None:
    try:
        mail.send(mail.compose(delivery.payload))
    except mail.Undeliverable as exc:
        raise PermanentFailure(str(exc)) from exc


def backlog(now: datetime | None = None) -> tuple[int, float]:
    """Pending rows, and how long the oldest of them has waited (seconds; 0 when none).

    The age grows while the worker is down or stuck, so it is the number to alert on.
    """
    count, oldest = db.session.execute(
        sa.select(sa.func.count(), sa.func.min(OutboxMessage.created_at)).where(
            OutboxMessage.status == OutboxStatus.PENDING.value
        )
    ).one()
    if oldest is None:
        return int(count), 0.0
    return int(count), max(0.0, ((now or utcnow()) - oldest).total_seconds())


def init_app(app: Flask) -> None:
    mail.init_app(app)
    extension_points.outbox_senders.register(app, "email", send_email)

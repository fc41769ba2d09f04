"""`leadgate webhooks add URL [--event NAME ...]` and `leadgate webhooks list`."""

from __future__ import annotations

import click
import sqlalchemy as sa
from flask.cli import AppGroup

from capture.base.db import db
from capture.delivery.webhooks.endpoint import (
    EVENTS,
    EndpointError,
    WebhookEndpoint,
    create_endpoint,
)

webhooks_cli = AppGroup("webhooks", help="Manage webhook endpoints.")


@webhooks_cli.command("add")
@click.argument("url")
@click.option(
    "--event",
    "events",
    multiple=True,
    type=click.Choice(EVENTS),
    help="An event to send (repeat for more); without it, every event.",
)
def add_command(url: str, events: tuple[str, ...]) -> None:
    """Add an endpoint and print its signing secret (whsec_...), shown only this once."""
    try:
        endpoint = create_endpoint(url, events)
    except EndpointError as exc:
        db.session.rollback()
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(1) from None
    db.session.commit()
    chosen = ", ".join(endpoint.events) or "all events"
    click.echo(f"added webhook {endpoint.public_id} -> {endpoint.url} ({chosen})", err=True)
    click.echo("signing secret (store it now, it is not shown again):", err=True)
    click.echo(endpoint.secret)


@webhooks_cli.command("list")
def list_command() -> None:
    """One line per endpoint: id, state, events, URL."""
    endpoints = db.session.scalars(sa.select(WebhookEndpoint).order_by(WebhookEndpoint.id)).all()
    if not endpoints:
        click.echo("no webhook endpoints", err=True)
        return
    for endpoint in endpoints:
        state = "active" if endpoint.active else f"disabled ({endpoint.disabled_reason})"
        events = ",".join(endpoint.events) or "all"
        click.echo(f"{endpoint.public_id}\t{state}\t{events}\t{endpoint.url}")

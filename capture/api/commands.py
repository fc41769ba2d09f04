"""`leadgate tokens create|list|revoke`: API tokens from the command line."""

from __future__ import annotations

import click
import sqlalchemy as sa
from flask import Flask
from flask.cli import AppGroup

from capture.api.token import ApiToken, Scope, create_token, revoke_token
from capture.base.db import db

tokens_cli = AppGroup("tokens", help="API tokens for /api/v1/.")


@tokens_cli.command("create")
@click.argument("name")
@click.option("--scope", type=click.Choice([s.value for s in Scope]), default=Scope.READ.value)
def create(name: str, scope: str) -> None:
    """Create a token and print it once, alone on its line; only its hash is kept."""
    name = name.strip()
    if not name or len(name) > 120:
        click.echo("the name must be 1-120 characters", err=True)
        raise SystemExit(1)
    row, secret = create_token(name, Scope(scope), created_by="cli")
    db.session.commit()
    click.echo(f"created token {row.public_id} ({row.scope}) for {row.name}; shown once:", err=True)
    click.echo(secret)


@tokens_cli.command("list")
def list_tokens() -> None:
    """One line per token: id, prefix, scope, name, last use, and whether it is revoked."""
    for row in db.session.scalars(sa.select(ApiToken).order_by(ApiToken.id)):
        used = row.last_used_at.isoformat() if row.last_used_at else "never"
        state = "revoked" if row.revoked_at else "active"
        click.echo(f"{row.public_id}\t{row.prefix}...\t{row.scope}\t{state}\t{used}\t{row.name}")


@tokens_cli.command("revoke")
@click.argument("token_id")
def revoke(token_id: str) -> None:
    """Revoke a token by its id (tok_...); it stops working at once."""
    row = db.session.scalar(sa.select(ApiToken).where(ApiToken.public_id == token_id))
    if row is None:
        click.echo(f"no token with id {token_id!r}", err=True)
        raise SystemExit(1)
    revoke_token(row)
    db.session.commit()
    click.echo(f"revoked {row.public_id}")


def init_app(app: Flask) -> None:
    app.cli.add_command(tokens_cli)

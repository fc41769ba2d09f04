"""`leadgate users create EMAIL --role ...`, and the demo's admin account.

The password comes from a confirmed prompt at a terminal, or from the first line of stdin when
piped (scripts, secrets managers); never from an argument, which would land in shell history.
"""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

from capture.accounts.user import AccountError, Role, create_user, find_user, password_problem
from capture.base.db import db

users_cli = AppGroup("users", help="Manage back-office accounts.")


def _read_password() -> str:
    if sys.stdin.isatty():
        return click.prompt("Password", hide_input=True, confirmation_prompt=True)
    line = sys.stdin.readline()
    return line.rstrip("\r\n")


@users_cli.command("create")
@click.argument("email")
@click.option(
    "--role",
    required=True,
    type=click.Choice([role.value for role in Role]),
    help="admin: everything; marketer: forms, magnets, leads; sales: leads.",
)
def create_command(email: str, role: str) -> None:
    """Create a back-office user; the password is asked for (or read from stdin)."""
    password = _read_password()
    try:
        user = create_user(email, role, password)
    except AccountError as exc:
        db.session.rollback()
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(1) from None
    db.session.commit()
    click.echo(f"created {user.role} user {user.email} ({user.public_id})")


@users_cli.command("password")
@click.argument("email")
def password_command(email: str) -> None:
    """Set a user's password (asked for, or read from stdin); every session of theirs ends."""
    user = find_user(email)
    if user is None:
        click.echo(f"error: no user with the e-mail address {email}", err=True)
        raise SystemExit(1)
    password = _read_password()
    problem = password_problem(password)
    if problem:
        click.echo(f"error: {problem}", err=True)
        raise SystemExit(1)
    user.change_password(password)
    db.session.commit()
    click.echo(f"password changed for {user.email}; every session of theirs has ended")

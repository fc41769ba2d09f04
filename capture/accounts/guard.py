"""Guarding back-office blueprints: one `before_request` per blueprint, never per view.

A check on each view is easy to forget on the next view someone adds; a blueprint that calls
`protect` once covers every route it will ever have.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from flask import Blueprint, abort, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from capture.accounts.user import Role

ALL_ROLES: tuple[Role, ...] = (Role.ADMIN, Role.MARKETER, Role.SALES)

# Blueprint name -> the roles `protect` let in, so pages can tell which links a user may follow.
GUARDED: dict[str, tuple[Role, ...]] = {}


def safe_next(target: str | None) -> str | None:
    """`target` when it is a path on this site, else None (no open redirect through `next=`)."""
    if not target or len(target) > 2000:
        return None
    if any(ch in target for ch in "\\\r\n\t") or not target.startswith("/"):
        return None
    if target.startswith("//"):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


def _requested_path() -> str:
    """The path and query asked for, without the bare `?` Werkzeug adds to `full_path`."""
    return request.full_path.rstrip("?") if request.query_string else request.path


def allows(role: str, roles: Iterable[Role | str]) -> bool:
    """Admins may do everything; anyone else needs one of `roles`."""
    return role == Role.ADMIN or role in {Role(r).value for r in roles}


def protect(bp: Blueprint, *roles: Role | str) -> None:
    """Require a logged-in, active user with one of `roles` on every route of `bp`.

    Anonymous visitors are sent to the login page with `next=` set to where they were going;
    a user without the role gets 403. Admins are always allowed, so `protect(bp)` with no roles
    makes an admin-only blueprint; pass `*ALL_ROLES` for pages every role may see.
    """
    allowed = tuple(Role(role) for role in roles)
    GUARDED[bp.name] = allowed

    @bp.before_request
    def require_login_and_role() -> ResponseReturnValue | None:
        if not current_user.is_authenticated or not current_user.is_active:
            return redirect(url_for("accounts.login", next=_requested_path()))
        if not allows(current_user.role, allowed):
            abort(403)
        return None


def may_open(endpoint: str) -> bool:
    """Whether the current user passes the guard of `endpoint`'s blueprint (for navigation:
    the same rule `protect` enforces, so a shown link never answers 403). Unguarded: False."""
    allowed = GUARDED.get(endpoint.rpartition(".")[0])
    if allowed is None or not current_user.is_authenticated or not current_user.is_active:
        return False
    return allows(current_user.role, allowed)

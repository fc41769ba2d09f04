"""API tokens: creation, bearer authentication and scopes (read, write).

A token is `lgt_` plus 32 random bytes (256 bits). Only its SHA-256 is stored: with that much
entropy a plain fast hash cannot be brute-forced, and unlike a password hash (argon2, scrypt) it
lets each request find its token with one indexed lookup. A leaked database yields no usable
token. The first characters are kept in clear as `prefix` so people can tell tokens apart.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, g, request
from flask_babel import gettext as _
from sqlalchemy.orm import Mapped, mapped_column

from capture.base.db import Model, db, new_public_id, utcnow
from capture.base.personal import NotPersonal
from capture.web.errors import ApiError

# A marker that makes leaked tokens greppable, not a secret.
TOKEN_PREFIX = "lgt_"  # noqa: S105  # nosec B105
# last_used_at is written at most this often per token, so reads do not all become writes.
LAST_USED_RESOLUTION = timedelta(minutes=1)
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class Scope(StrEnum):
    READ = "read"
    WRITE = "write"


class ApiToken(Model):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(
        sa.String(40), unique=True, default=lambda: new_public_id("tok")
    )
    name: Mapped[str] = mapped_column(sa.String(120))
    scope: Mapped[str] = mapped_column(sa.String(10))
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    prefix: Mapped[str] = mapped_column(sa.String(16))
    created_by: Mapped[str | None] = mapped_column(sa.String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    __privacy__ = NotPersonal(
        keep=("public_id", "name", "scope", "token_hash", "prefix", "created_by"),
        why="integration credentials; created_by is a staff account, not a lead",
    )

    @property
    def actor(self) -> str:
        """How this token appears in stage histories and audit trails."""
        return f"api:{self.name} ({self.prefix}...)"

    def allows(self, scope: Scope) -> bool:
        return self.scope == Scope.WRITE or scope == Scope.READ

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.public_id,
            "name": self.name,
            "scope": self.scope,
            "prefix": self.prefix,
            "created_at": self.created_at.isoformat(),
            "last_used_at": self.last_used_at.isoformat() if self.last_used_at else None,
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
        }


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(name: str, scope: Scope, created_by: str | None = None) -> tuple[ApiToken, str]:
    """A new token row and the token itself, which is shown once and never stored."""
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(
        name=name,
        scope=scope.value,
        token_hash=hash_token(secret),
        prefix=secret[: len(TOKEN_PREFIX) + 6],
        created_by=created_by,
    )
    db.session.add(row)
    db.session.flush()
    return row, secret


def revoke_token(row: ApiToken) -> None:
    if row.revoked_at is None:
        row.revoked_at = utcnow()


def find_token(secret: str) -> ApiToken | None:
    if not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
        return None
    digest = hash_token(secret)
    row = db.session.scalar(sa.select(ApiToken).where(ApiToken.token_hash == digest))
    # The lookup is by hash already; compare again in constant time for good measure.
    if row is None or not hmac.compare_digest(row.token_hash, digest) or row.revoked_at:
        return None
    return row


def _unauthorized(message: str) -> ApiError:
    return ApiError(401, "unauthorized", message, headers={"WWW-Authenticate": "Bearer"})


def authenticate() -> ApiToken:
    """The request's token, checked for the scope its method needs (GET read, others write)."""
    header = request.headers.get("Authorization", "")
    scheme, _sep, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise _unauthorized(_("Send an API token: Authorization: Bearer <token>."))
    token = find_token(secret.strip())
    if token is None:
        raise _unauthorized(_("This API token is not valid or was revoked."))
    needed = Scope.READ if request.method in READ_METHODS else Scope.WRITE
    if not token.allows(needed):
        raise ApiError(403, "forbidden", _("This API token may only read."))
    now = utcnow()
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        token.last_used_at = now
        db.session.commit()
    g.api_token = token
    return token


def current_token() -> ApiToken:
    return g.api_token


def protect(bp: Blueprint) -> Blueprint:
    """Require a token on every route of `bp`, once, so no view can forget it."""
    bp.before_request(_require_token)
    return bp


def _require_token() -> None:
    authenticate()

"""Idempotency keys for API writes: the same key and body replay the first answer, once stored.

Scoped per token and route. The row is inserted in the same transaction as the work, so a
retried request either finds the finished answer or (on PostgreSQL) waits for its twin's
commit on the unique index and then replays it.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from capture.base.db import Model, db, utcnow
from capture.base.personal import ByLead, Export, Personal, iso
from capture.web.errors import ApiError


class ApiRequest(Model):
    __tablename__ = "api_requests"
    __table_args__ = (sa.UniqueConstraint("token_id", "route", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    token_id: Mapped[int] = mapped_column(sa.ForeignKey("api_tokens.id", ondelete="CASCADE"))
    route: Mapped[str] = mapped_column(sa.String(80))
    key: Mapped[str] = mapped_column(sa.String(255))
    # The lead the request was about, so erasing the person removes their stored answers too.
    lead_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("leads.id", ondelete="CASCADE"), index=True
    )
    digest: Mapped[str] = mapped_column(sa.String(64))
    status: Mapped[int]
    response: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    # The stored answer names the lead and echoes what was sent about them: it goes with them.
    __privacy__ = Personal(
        find=(ByLead(),),
        delete=True,
        export=Export("api_requests", lambda r: {"route": r.route, "at": iso(r.created_at)}),
    )


def digest(payload: Any) -> str:
    canonical = json.dumps(payload, sort_keys=True, ensure_ascii=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def conflict() -> ApiError:
    return ApiError(
        409,
        "idempotency_conflict",
        _("This Idempotency-Key was already used with a different request."),
    )


def earlier(token_id: int, route: str, key: str, body_digest: str) -> ApiRequest | None:
    """The stored answer for this key, or None; 409 when the key came with another body."""
    row = db.session.scalar(
        sa.select(ApiRequest).where(
            ApiRequest.token_id == token_id, ApiRequest.route == route, ApiRequest.key == key
        )
    )
    if row is not None and row.digest != body_digest:
        raise conflict()
    return row


def remember(
    token_id: int,
    route: str,
    key: str,
    body_digest: str,
    status: int,
    response: dict[str, Any],
    lead_id: int | None = None,
) -> ApiRequest | None:
    """Store the answer with the work. Returns the twin's row if a concurrent request with the
    same key won (the caller's work is then rolled back and the twin's answer replayed)."""
    row = ApiRequest(
        token_id=token_id, route=route, key=key, digest=body_digest, status=status,
        response=response, lead_id=lead_id,
    )  # fmt: skip
    db.session.add(row)
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError:
        db.session.rollback()
        return earlier(token_id, route, key, body_digest)
    return None

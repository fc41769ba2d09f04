"""Finding leads: filters and keyset pagination shared by the API, exports and the back office.

Pages are ordered by the internal id, ascending, and continue with `id > last`: stable while
leads are added, and as fast on page 10,000 as on page 1 (no OFFSET). The cursor carries that
id signed, so clients see an opaque string and never a sequential database id.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, cast

import sqlalchemy as sa
from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer

from capture.base.db import db
from capture.forms.store import FormDefinition
from capture.leads.conversion import ConversionEvent
from capture.leads.lead import Lead
from capture.leads.owner import owner_join

CURSOR_SALT = "leadgate.cursor"


class InvalidCursor(ValueError):
    pass


class Filter(Protocol):
    """What selects the leads: the API's `LeadFilter` or the back office's `LeadSearch`."""

    def apply(self, statement: sa.Select[Any]) -> sa.Select[Any]: ...


@dataclass(frozen=True)
class LeadFilter:
    """Every filter optional; `since` means changed at or after (for incremental syncs)."""

    stages: tuple[str, ...] = ()
    temperatures: tuple[str, ...] = ()
    score_min: int | None = None
    score_max: int | None = None
    form: str | None = None
    partner: str | None = None
    since: datetime | None = None
    email: str | None = None  # normalised (capture.forms.values.normalise_email), so exact
    owner_id: int | None = None  # owned by this user (capture.routing resolves `?owner=`)
    unowned: bool = False  # owned by nobody

    def apply(self, statement: sa.Select[Any]) -> sa.Select[Any]:
        statement = statement.where(Lead.erased_at.is_(None))
        if self.stages:
            statement = statement.where(Lead.lifecycle_stage.in_(self.stages))
        if self.temperatures:
            statement = statement.where(Lead.temperature.in_(self.temperatures))
        if self.score_min is not None:
            statement = statement.where(Lead.score >= self.score_min)
        if self.score_max is not None:
            statement = statement.where(Lead.score <= self.score_max)
        if self.partner:
            statement = statement.where(Lead.partner == self.partner)
        if self.email is not None:
            statement = statement.where(Lead.email == self.email)
        if self.since is not None:
            statement = statement.where(Lead.updated_at >= self.since)
        if self.owner_id is not None:
            statement = statement.where(Lead.owner_id == self.owner_id)
        if self.unowned:
            statement = statement.where(Lead.owner_id.is_(None))
        if self.form:
            converted = (
                sa.select(ConversionEvent.id)
                .join(FormDefinition, FormDefinition.id == ConversionEvent.form_id)
                .where(ConversionEvent.lead_id == Lead.id, FormDefinition.slug == self.form)
            )
            statement = statement.where(converted.exists())
        return statement


def _signer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=CURSOR_SALT)


def encode_cursor(last_id: int) -> str:
    return _signer().dumps(last_id)


def decode_cursor(cursor: str) -> int:
    try:
        value = _signer().loads(cursor)
    except BadSignature as exc:
        raise InvalidCursor(cursor) from exc
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidCursor(cursor)
    return value


def page(where: LeadFilter, limit: int, after: int | None = None) -> tuple[list[Lead], str | None]:
    """One page of leads and the cursor of the next (None on the last page)."""
    statement = where.apply(sa.select(Lead)).order_by(Lead.id).limit(limit + 1)
    if after is not None:
        statement = statement.where(Lead.id > after)
    leads = list(db.session.scalars(statement))
    more = len(leads) > limit
    leads = leads[:limit]
    return leads, encode_cursor(leads[-1].id) if more and leads else None


def count(where: LeadFilter) -> int:
    return db.session.scalar(where.apply(sa.select(sa.func.count(Lead.id)))) or 0


def stream_rows(
    where: Filter, batch: int = 2000, json_as_text: bool = False
) -> Iterator[Mapping[str, Any]]:
    """Every matching lead as a plain row, a batch at a time: constant memory for any count.

    Plain rows (no ORM objects, no identity map) keep exports of a million leads fast;
    `json_as_text` hands JSON columns over as the database's text, unparsed (for CSV).
    """
    columns = Lead.__table__.c
    selected = [
        sa.cast(c, sa.Text).label(c.name) if json_as_text and isinstance(c.type, sa.JSON) else c
        for c in columns
    ]
    # With the owner's id and e-mail, joined: rows carry what `lead_payload` shows.
    joined, owner = owner_join(Lead.__table__)
    selected += [column.label(name) for name, column in owner.items()]
    connection = db.session.connection()  # Core rows: no ORM loading machinery per row
    last = 0
    while True:
        statement = (
            where.apply(sa.select(*selected).select_from(joined))
            .where(columns.id > last)
            .order_by(columns.id)
            .limit(batch)
        )
        rows = connection.execute(statement).mappings().all()
        if not rows:
            return
        # Keyed by the selected columns' names: RowMapping types its keys as str or Column.
        yield from cast("Sequence[Mapping[str, Any]]", rows)
        last = rows[-1]["id"]
        if len(rows) < batch:
            return

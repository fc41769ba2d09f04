"""The lead list's query: the API's filters plus text search and a period, newest first.

Keyset pagination on the primary key, descending (`id < last`), so every page costs the same
and leads arriving meanwhile never shift a page; no OFFSET anywhere.
"""

from __future__ import annotations

import sqlite3
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any

import sqlalchemy as sa
from flask import Flask
from flask_babel import gettext as _
from pydantic import ConfigDict, Field
from sqlalchemy.orm import selectinload
from werkzeug.datastructures import MultiDict

from capture.accounts import User
from capture.base.db import db, on_connect
from capture.base.lifecycle import Stage
from capture.leads.lead import SEARCHED_COLUMNS, Lead
from capture.leads.listing import InvalidCursor, LeadFilter, decode_cursor, encode_cursor
from capture.leads.query import LeadFilterQuery
from capture.leads.scoring import Temperature
from capture.routing import UnknownOwner, owner_filter
from capture.web.errors import ApiError
from capture.web.params import Day, Text, page_query

PAGE_SIZE = 50
# Shorter search text matches the start of a column only (see text_pattern).
MIN_CONTAINS = 3
LIKE_ESCAPE = "/"
LIKE_SPECIAL = ("%", "_", LIKE_ESCAPE)
STAGES = tuple(stage.value for stage in Stage)
TEMPERATURES = tuple(t.value for t in Temperature)


@dataclass(frozen=True)
class LeadSearch:
    """What the list shows: `where` (shared with the API and exports), text and period."""

    where: LeadFilter = field(default_factory=LeadFilter)
    text: str = ""
    created_from: date | None = None
    created_to: date | None = None
    owner: str = "any"  # as asked (`me`, `none`, `any`, a user id), for the filter's form

    def apply(self, statement: sa.Select[Any]) -> sa.Select[Any]:
        statement = self.where.apply(statement)
        if self.text:
            pattern = text_pattern(self.text)
            statement = statement.where(
                sa.or_(
                    *(
                        getattr(Lead, name).ilike(pattern, escape=LIKE_ESCAPE)
                        for name in SEARCHED_COLUMNS
                    )
                )
            )
        if self.created_from:
            statement = statement.where(Lead.created_at >= _midnight(self.created_from))
        if self.created_to:
            end = _midnight(self.created_to + timedelta(days=1))
            statement = statement.where(Lead.created_at < end)
        return statement


def text_pattern(text: str) -> str:
    """The ILIKE pattern for a search: contains `text`, or for 1-2 characters starts with it.

    On PostgreSQL each searched column has a trigram index (capture/leads/lead.py), which
    answers `ILIKE '%text%'` from text of 3 characters up; shorter text has no trigram, so
    "contains" would read every lead, and there a prefix (`ILIKE 'te%'`) still uses the index.
    One rule on every backend, so SQLite finds the same. ILIKE, not lower(...) LIKE: the
    index serves ILIKE, and on SQLite SQLAlchemy writes it as lower(...) LIKE lower(...).
    """
    escaped = "".join(LIKE_ESCAPE + c if c in LIKE_SPECIAL else c for c in text)
    return escaped + "%" if len(text) < MIN_CONTAINS else "%" + escaped + "%"


def _sqlite_lower(dbapi_connection: Any, connection_record: Any) -> None:
    """SQLite's own lower() folds ASCII only, so searching "ærø" would miss "Ærø" there;
    PostgreSQL folds every letter. Python's str.lower makes SQLite agree."""
    if isinstance(dbapi_connection, sqlite3.Connection):
        dbapi_connection.create_function("lower", 1, _lower, deterministic=True)


def _lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


class LeadSearchQuery(LeadFilterQuery):
    """The list's query string; names it does not know are ignored (bookmarks, tracking)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    q: Annotated[str | None, Text(200)] = None
    created_from: Day = Field(None, alias="from")
    created_to: Day = Field(None, alias="to")


def from_args(
    args: MultiDict[str, str], me: User | None = None, default_owner: str = "any"
) -> LeadSearch:
    """Read the query string strictly: a value that makes no sense is a 400 page naming it, so
    nothing odd reaches the database (a 40-digit score, the day after 9999-12-31).
    `?owner=me` means `me`; without `owner`, `default_owner` applies (sales: their own)."""
    wanted = page_query(LeadSearchQuery, args)
    owner = wanted.owner or default_owner
    try:
        owned = owner_filter(owner, me)
    except UnknownOwner:
        message = _("Use me, none, any or a user id (usr_...).")
        raise ApiError(400, "bad_request", f"owner: {message}") from None
    return LeadSearch(
        where=wanted.lead_filter(**owned),
        text=wanted.q or "",
        created_from=wanted.created_from,
        created_to=wanted.created_to,
        owner=owner,
    )


def page_statement(search: LeadSearch, cursor: str | None, size: int = PAGE_SIZE) -> sa.Select[Any]:
    """The query of one page (one more lead than shown, to know whether another page follows)."""
    statement = (
        search.apply(sa.select(Lead))
        .options(selectinload(Lead.owner))  # the owner column: one query for the page
        .order_by(Lead.id.desc())
        .limit(size + 1)
    )
    # A mangled link starts again at the first page.
    with suppress(InvalidCursor):
        if cursor:
            statement = statement.where(Lead.id < decode_cursor(cursor))
    return statement


def page(
    search: LeadSearch, cursor: str | None, size: int = PAGE_SIZE
) -> tuple[list[Lead], str | None]:
    """One page, newest first, and the cursor of the next (None on the last page)."""
    if search.text and db.session.get_bind().dialect.name == "postgresql":
        # Which plan is fast depends on the text: walking the primary key for text in many
        # leads, the trigram indexes for text in few. psycopg prepares a query run often, and
        # a prepared query may get one generic plan (the walk), which reads every lead when
        # the text is rare. Planned anew for each search, for this transaction only.
        db.session.execute(sa.text("SET LOCAL plan_cache_mode = force_custom_plan"))
    leads = list(db.session.scalars(page_statement(search, cursor, size)))
    more = len(leads) > size
    leads = leads[:size]
    return leads, encode_cursor(leads[-1].id) if more and leads else None


def init_app(app: Flask) -> None:
    on_connect(app, _sqlite_lower)

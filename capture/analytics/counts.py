"""Views and starts per day: aggregate counters, one upsert per view, nothing about the viewer.

A row holds two numbers for one day and one combination of dimensions (form, landing page,
partner, UTM source and medium, language, variant). No address, no identifier, no cookie is
read or stored, so counting needs no consent. The dimensions are hashed into `digest` so the
unique key stays short whatever the values; the values themselves are kept for grouping.

Counting never breaks a page: the write runs after the page is made, in its own commit, and a
failure is logged, not raised.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa
from flask import Response, after_this_request, request
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, mapped_column

from capture.analytics.visitors import counts_as_person
from capture.base.db import Model, db, utcnow
from capture.base.personal import NotPersonal
from capture.forms.values import is_clean_text, strip_format_characters

log = logging.getLogger(__name__)
KINDS = ("view", "start")
# Column sizes; values are cut to them (UTM values as the attribution keeps them).
LIMITS = {"form": 100, "page": 100, "partner": 80, "source": 200, "medium": 200,
          "language": 8, "variant": 40}  # fmt: skip


class PageCount(Model):
    """Views and starts of one day and one combination of dimensions."""

    __tablename__ = "page_counts"

    day: Mapped[date] = mapped_column(sa.Date, primary_key=True)
    digest: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    form: Mapped[str | None] = mapped_column(sa.String(LIMITS["form"]))
    page: Mapped[str | None] = mapped_column(sa.String(LIMITS["page"]))
    partner: Mapped[str | None] = mapped_column(sa.String(LIMITS["partner"]))
    source: Mapped[str | None] = mapped_column(sa.String(LIMITS["source"]))
    medium: Mapped[str | None] = mapped_column(sa.String(LIMITS["medium"]))
    language: Mapped[str | None] = mapped_column(sa.String(LIMITS["language"]))
    variant: Mapped[str | None] = mapped_column(sa.String(LIMITS["variant"]))
    views: Mapped[int] = mapped_column(default=0, server_default="0")
    starts: Mapped[int] = mapped_column(default=0, server_default="0")

    __privacy__ = NotPersonal(
        keep=("digest", "form", "page", "partner", "source", "medium", "language", "variant"),
        why="counters per day and page: no address, identifier or cookie of any viewer",
    )


@dataclass(frozen=True)
class Dimensions:
    """What a view or a start is counted by; None where it does not apply."""

    form: str | None = None
    page: str | None = None
    partner: str | None = None
    source: str | None = None
    medium: str | None = None
    language: str | None = None
    variant: str | None = None

    @classmethod
    def of(cls, **values: Any) -> Dimensions:
        return cls(**{name: clean(value, LIMITS[name]) for name, value in values.items()})

    def digest(self) -> str:
        canonical = json.dumps(asdict(self), sort_keys=True, ensure_ascii=True)
        return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def clean(value: Any, limit: int) -> str | None:
    """A dimension's value as the attribution keeps it; anything odd is no value."""
    if not isinstance(value, str) or not value.strip() or not is_clean_text(value):
        return None
    return strip_format_characters(value).strip()[:limit] or None


def add(kind: str, dimensions: Dimensions, day: date | None = None) -> None:
    """Add one view or start: a single INSERT .. ON CONFLICT DO UPDATE, not committed."""
    dialect = postgresql if db.session.get_bind().dialect.name == "postgresql" else sqlite
    column = "views" if kind == "view" else "starts"
    statement = dialect.insert(PageCount).values(
        day=day or utcnow().date(), digest=dimensions.digest(), **asdict(dimensions), **{column: 1}
    )
    table = PageCount.__table__
    db.session.execute(
        statement.on_conflict_do_update(
            index_elements=[table.c.day, table.c.digest],
            set_={column: table.c[column] + 1},
        )
    )


def record(kind: str, dimensions: Dimensions) -> None:
    """Add and commit now; a failure is logged and rolled back, never raised."""
    try:
        add(kind, dimensions)
        db.session.commit()
    except Exception:  # counting must never cost a page or a beacon its answer
        db.session.rollback()
        log.exception("could not count a %s", kind)


def count_view(
    form: str | None = None,
    page: str | None = None,
    partner: str | None = None,
    language: str | None = None,
    variant: str | None = None,
) -> None:
    """Count a view of the page being answered, once it is answered with 200.

    For pages we serve (hosted form, landing page): call it from the view. UTM source and
    medium come from the page's query; crawlers and prefetches are not counted.
    """
    if request.method != "GET" or not counts_as_person():
        return
    dimensions = Dimensions.of(
        form=form,
        page=page,
        partner=partner,
        source=request.args.get("utm_source"),
        medium=request.args.get("utm_medium"),
        language=language,
        variant=variant,
    )

    @after_this_request
    def counted(response: Response) -> Response:
        if response.status_code == 200:
            record("view", dimensions)
        return response

"""Stored form definitions: the `FormDefinition` model and saving a spec as a new version."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.orm.attributes import instance_state

from capture.base.db import Model, Timestamped, db, fresh
from capture.base.personal import NotPersonal
from capture.base.settled import settled, watch
from capture.forms.definition import parse_definition
from capture.forms.origins import is_allowed_origin
from capture.forms.spec import DefinitionError, FormSpec


class FormDefinition(Timestamped, Model):
    """A form as data. Not a WTForms class: the hosted page builds one from this per request."""

    __tablename__ = "forms"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(sa.String(80), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    conversion: Mapped[str] = mapped_column(sa.String(40))
    language: Mapped[str] = mapped_column(sa.String(5))
    status: Mapped[str] = mapped_column(sa.String(20), default="active")
    magnet: Mapped[str | None] = mapped_column(sa.String(80))
    partner: Mapped[str | None] = mapped_column(sa.String(80))
    # The whole canonical document; the columns above are copies for queries and joins.
    document: Mapped[dict[str, Any]]
    digest: Mapped[str] = mapped_column(sa.String(64))

    __privacy__ = NotPersonal(
        keep=("slug", "name", "conversion", "language", "status", "magnet", "partner",
              "document", "digest"),
        why="form definitions written by marketers",
    )  # fmt: skip
    version: Mapped[int] = mapped_column(default=1)

    @property
    def spec(self) -> FormSpec:
        cached = self.__dict__.get("_spec")
        if cached is None or cached[0] != self.digest:
            cached = (self.digest, _stored_spec(self.document))
            self.__dict__["_spec"] = cached
        return cached[1]

    @property
    def is_open(self) -> bool:
        return self.status == "active"


watch(FormDefinition)


def _stored_spec(document: dict[str, Any]) -> FormSpec:
    """The spec of a saved document. One saved under older, looser rules (an allowed origin
    like `https://*`) is read without the origins that no longer pass, so the form keeps
    working and embeds nowhere it should not; saving it again writes the cleaned document."""
    try:
        return parse_definition(document, kinds=None)
    except DefinitionError:
        origins = document.get("allowed_origins")
        if not isinstance(origins, list):
            raise
        kept = [o for o in origins if isinstance(o, str) and is_allowed_origin(o)]
        if len(kept) == len(origins):
            raise
        return parse_definition({**document, "allowed_origins": kept}, kinds=None)


def get_form(slug: str) -> FormDefinition | None:
    return db.session.scalar(sa.select(FormDefinition).where(FormDefinition.slug == slug))


COLUMNS = tuple(column.key for column in FormDefinition.__table__.columns)
_IDENTITY = sa.inspect(FormDefinition).identity_key_from_primary_key


def _all_forms() -> dict[str, tuple[dict[str, Any], list[FormSpec]]]:
    """Every form's columns by slug, each with a slot for its spec, parsed on first use."""
    rows = db.session.execute(sa.select(FormDefinition.__table__)).mappings()
    return {row["slug"]: (dict(row), []) for row in rows}


def settled_form(slug: str) -> FormDefinition | None:
    """The form as `get_form` would read it, from this process's cache (see
    `capture.base.settled`): one version check per transaction instead of a query and a parse.

    A detached copy of its own for each caller, so changing it cannot reach another request;
    read it, never save it (use `get_form` to edit).
    """
    held = settled("forms", _all_forms).get(slug)
    if held is None:
        return None
    columns, spec = held
    # As a query's loader makes it (no attribute events: a tenth of a millisecond a request),
    # detached with its identity, as `make_transient_to_detached` would leave it.
    form = fresh(FormDefinition, **columns)
    instance_state(form).key = _IDENTITY((columns["id"],))
    if not spec:
        try:
            spec.append(_stored_spec(columns["document"]))  # racing threads parse the same
        except DefinitionError:
            return form  # `form.spec` raises when read, as for a form from `get_form`
    form.__dict__["_spec"] = (columns["digest"], spec[0])
    return form


def save_spec(spec: FormSpec) -> tuple[FormDefinition, str]:
    """Create or update the form for `spec`; returns it and `created`, `updated` or `unchanged`.

    The version goes up only when the canonical document changes, so re-importing the same
    file is a no-op and every consent record can name the exact version it was given on.
    """
    digest = spec.digest()
    form = get_form(spec.slug)
    if form is not None and form.digest == digest:
        return form, "unchanged"
    outcome = "updated"
    if form is None:
        form = FormDefinition(slug=spec.slug, version=0)
        db.session.add(form)
        outcome = "created"
    form.name = spec.name
    form.conversion = spec.conversion
    form.language = spec.language
    form.status = spec.status
    form.magnet = spec.magnet
    form.partner = spec.partner
    form.document = spec.to_document()
    form.digest = digest
    form.version = (form.version or 0) + 1
    db.session.flush()
    return form, outcome

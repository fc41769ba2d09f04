"""The privacy map: what every table holds about a person, and what erasure and export do.

Each model declares `__privacy__` beside its columns, in the package that owns it:

- `Personal(find=..., erase=..., keep=..., export=...)`: the table can hold a person's data.
  `find` says how to find their rows (by lead id, by address, by a mention in a JSON payload);
  `erase` maps each personal column to what erasure does (`NULL`, `EMPTY`, `Mask(fn)`), or
  `delete=True` removes the rows; `keep` names the text columns that hold nothing about the
  person; `export` puts the rows in the person's access export.
- `NotPersonal(keep=..., why=...)`: the table holds nothing about leads (forms, staff users).

`capture.leads.privacy` derives erasure and export from these declarations by walking the
mappers, and `tests/test_privacy_map.py` fails when any text, JSON or address column of any
table is in neither `erase` nor `keep`, so a new column cannot forget the person.
This module imports no model: every package can use it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa


@dataclass(frozen=True)
class Person:
    """Who is being erased or exported: the lead's ids and their (normalised) address."""

    lead_id: int
    lead_public_id: str
    email: str


class Finder:
    """How to find a person's rows in one table: a WHERE clause for the model."""

    def where(self, model: Any, person: Person) -> sa.ColumnElement[bool]:
        raise NotImplementedError


@dataclass(frozen=True)
class ByLead(Finder):
    """Rows whose `column` is the lead's id."""

    column: str = "lead_id"

    def where(self, model: Any, person: Person) -> sa.ColumnElement[bool]:
        column: Any = getattr(model, self.column)
        clause: sa.ColumnElement[bool] = column == person.lead_id
        return clause


@dataclass(frozen=True)
class ByAddress(Finder):
    """Rows with the person's address in `column`, or in `column[key]` for a JSON column
    (rows held before any lead existed, such as quarantined submissions)."""

    column: str
    key: str | None = None

    def where(self, model: Any, person: Person) -> sa.ColumnElement[bool]:
        value = getattr(model, self.column)
        if self.key is not None:
            value = value[self.key].as_string()
        return sa.func.lower(value) == person.email.lower()


@dataclass(frozen=True)
class ByMention(Finder):
    """Rows whose JSON `column` mentions the lead's public id or address anywhere (outbox
    rows: e-mails to the person, e-mails and webhook events about them)."""

    column: str

    def where(self, model: Any, person: Person) -> sa.ColumnElement[bool]:
        text = sa.cast(getattr(model, self.column), sa.Text)
        needles = {person.lead_public_id, person.email}
        # As the JSON text has them: non-ASCII characters are stored \u-escaped.
        needles |= {json.dumps(n)[1:-1] for n in needles}
        return sa.or_(*(text.contains(n, autoescape=True) for n in sorted(needles)))


class Action:
    """What erasure writes into one column, computed from the row before any change."""

    def value(self, row: Any) -> Any:
        raise NotImplementedError


@dataclass(frozen=True)
class Set(Action):
    """A fixed value (a fresh copy each time, so JSON `{}` is never shared)."""

    to: Any

    def value(self, row: Any) -> Any:
        return json.loads(json.dumps(self.to))


@dataclass(frozen=True)
class Mask(Action):
    """`fn(row)` gives the new value: an anonymous placeholder, or the row's value stripped."""

    fn: Callable[[Any], Any]

    def value(self, row: Any) -> Any:
        return self.fn(row)


NULL = Set(None)
EMPTY = Set({})


@dataclass(frozen=True)
class Export:
    """The rows go into the person's export under `section`, each as `row(obj)`."""

    section: str
    row: Callable[[Any], dict[str, Any]]
    single: bool = False  # one object (the lead itself), not a list


@dataclass(frozen=True)
class Personal:
    find: tuple[Finder, ...]
    erase: Mapping[str, Action] = field(default_factory=dict)
    keep: tuple[str, ...] = ()
    delete: bool = False  # erasure deletes the rows: every column goes with them
    export: Export | None = None
    why: str = ""
    # IP address and user-agent columns that retention empties once the row's `created_at` is
    # older than RETENTION_NETWORK_DAYS (capture.ops.retention); each must be in `erase`.
    network: tuple[str, ...] = ()

    def classifies(self, column: str) -> bool:
        return self.delete or column in self.erase or column in self.keep


@dataclass(frozen=True)
class NotPersonal:
    """The table holds nothing about leads; `keep` lists its text columns, `why` says why."""

    keep: tuple[str, ...]
    why: str

    def classifies(self, column: str) -> bool:
        return column in self.keep


Declaration = Personal | NotPersonal


def iso(value: Any) -> Any:
    """Datetimes as ISO 8601 text, for exports."""
    return value.isoformat() if hasattr(value, "isoformat") else value


def columns_of(row: Any, *names: str) -> dict[str, Any]:
    """The named attributes of `row`, export-ready."""
    return {name: iso(getattr(row, name)) for name in names}

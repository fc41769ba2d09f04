"""Statements of the hot paths, built once per process with bound parameters.

Building a Core statement (`insert(...).values(...)`) and computing its cache key costs more
Python than sending it: SQLAlchemy coerces every value and walks the whole statement to find
its compiled form. A statement built once with `bindparam`s is cache-keyed once (the key is
memoised on the object) and compiled once, so each call only binds its parameters.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from typing import Any, TypeVar

import sqlalchemy as sa

T = TypeVar("T")

_BUILT: dict[Hashable, Any] = {}


def built(key: Hashable, build: Callable[[], T]) -> T:
    """The statement `build()` makes, made once per process for `key` (include the dialect
    and anything else the statement's shape depends on)."""
    statement = _BUILT.get(key)
    if statement is None:
        if len(_BUILT) >= 1000:  # shapes are few; never let an unusual mix grow it unbounded
            _BUILT.clear()
        statement = _BUILT[key] = build()
    return statement


def binds(table: sa.Table, names: Iterable[str], prefix: str = "") -> dict[str, Any]:
    """A typed bound parameter per column in `names`, named `prefix + column`, so values are
    converted as the column's type wants (JSON, UTC times)."""
    return {name: sa.bindparam(prefix + name, type_=table.c[name].type) for name in names}

"""A lead's owner: the sales user who works it, as a column, a payload and export cells.

Leads sit below accounts, so nothing here imports the `User` model: the relationship names it
by string and the users table is reached through the foreign key, which knows its target.
Who becomes the owner is decided by capture.routing; this module only stores and shows it.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, declared_attr, mapped_column, relationship

# The keys a plain lead row carries the owner under (`owner_columns`), and a `Lead` as
# properties: `lead_payload` reads both the same way.
OWNER_ID = "owner_public_id"
OWNER_EMAIL = "owner_email"


class Owned:
    """The owner column and relationship (a user; none until routing or a person assigns)."""

    owner_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL"), index=True
    )

    @declared_attr
    def owner(cls) -> Mapped[Any]:
        # Many-to-one by primary key: a lead whose owner is in the session loads no row.
        return relationship("User", lazy="select")

    @property
    def owner_public_id(self) -> str | None:
        owner = self.owner
        return owner.public_id if owner is not None else None

    @property
    def owner_email(self) -> str | None:
        owner = self.owner
        return owner.email if owner is not None else None


def owner_payload(value: Callable[[str], Any]) -> dict[str, Any] | None:
    """`{"id": "usr_...", "email": ...}` or None; `value(name)` reads a lead or a lead row
    (a row read without the owner join has no owner to show)."""
    try:
        public_id = value(OWNER_ID)
    except KeyError:
        return None
    return {"id": public_id, "email": value(OWNER_EMAIL)} if public_id else None


def users_table(owner_id: sa.Column[Any]) -> sa.Table:
    """The users table, from the owner column's foreign key."""
    (key,) = owner_id.foreign_keys
    table = key.column.table
    if not isinstance(table, sa.Table):  # pragma: no cover - a foreign key names a table
        raise TypeError("the owner's foreign key does not name a table")
    return table


@cache  # one alias, so expressions built apart refer to the same join
def owner_join(leads: sa.Table) -> tuple[sa.FromClause, dict[str, sa.ColumnElement[Any]]]:
    """`leads LEFT JOIN users` and the owner's columns by the names a lead row carries them
    under, for exports that read plain rows: one join, not a query per lead."""
    users = users_table(leads.c.owner_id).alias("owner")
    joined = leads.outerjoin(users, users.c.id == leads.c.owner_id)
    return joined, {OWNER_ID: users.c.public_id, OWNER_EMAIL: users.c.email}


def owner_json(owner: dict[str, sa.ColumnElement[Any]]) -> sa.ColumnElement[Any]:
    """`owner_payload` built by PostgreSQL from `owner_join`'s columns: an object or null."""
    return sa.case(
        (
            owner[OWNER_ID].is_not(None),
            sa.func.json_build_object(
                sa.literal("id"), owner[OWNER_ID], sa.literal("email"), owner[OWNER_EMAIL]
            ),
        ),
        else_=sa.null(),
    )

"""One lead per e-mail under any concurrency: the upsert every new conversion starts with.

One statement (`INSERT ... ON CONFLICT DO UPDATE ... RETURNING`), so concurrent submissions with
one e-mail serialise on the row instead of racing to create two leads. The update touches only
`updated_at`, which takes the row lock; the caller then applies its changes. The statement
returns the whole row, so no second query loads it. On PostgreSQL a submission sends it as a
CTE of its idempotency claim (`capture.submissions.record`), conditional on the claim.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, SessionTransaction
from sqlalchemy.orm.attributes import set_committed_value

from capture.base.built import built
from capture.base.db import db, new_public_id, table_of, utcnow
from capture.base.lifecycle import Stage
from capture.base.one_trip import as_loaded
from capture.leads.lead import INDEXED_PROFILE, Lead

CREATED_LEADS = "leadgate.created_leads"


def lead_values(
    email: str,
    touch: dict[str, Any],
    partner: str | None,
    prefix: str = "",
    *,
    profile: Mapping[str, Any] | None = None,
    stage: Stage = Stage.LEAD,
) -> dict[str, Any]:
    """The upsert's parameters: a new lead's public id, its e-mail, first touch and partner;
    `prefix` as given to `upsert_statement`. `profile` and `stage`: what the caller is about
    to give a lead this creates, in the indexed columns (see `upserted`)."""
    values: dict[str, Any] = {"public_id": new_public_id("lead"), "email": email}
    values["partner"] = partner
    values |= {"touch": touch, "now": utcnow(), "lifecycle_stage": stage.value}
    values |= {name: (profile or {}).get(name) for name in INDEXED_PROFILE}
    return {prefix + key: value for key, value in values.items()}


def upsert_statement(dialect: str, when: Any = None, prefix: str = "") -> Any:
    """The upsert, returning every column; `when`: a condition the INSERT needs (a CTE's);
    `prefix`: of its parameters' names, to share a statement with others."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = table_of(Lead)
    c = table.c
    now = sa.bindparam(f"{prefix}now", type_=c.created_at.type)
    touch = sa.bindparam(f"{prefix}touch", type_=c.first_touch.type)
    new: dict[str, Any] = {
        name: sa.bindparam(prefix + name, type_=c[name].type)
        for name in ("public_id", "email", "partner", "lifecycle_stage", *INDEXED_PROFILE)
    }
    new |= {"properties": {}, "score": 0}
    new |= {"temperature": "cold", "source": "inbound", "first_touch": touch, "last_touch": touch}
    new |= {"created_at": now, "updated_at": now, "last_activity_at": now}
    # Every column with a Python-side default, given: statements compiled once
    # (capture.base.driver) have no execution context to fill them in.
    new |= {"engagement_score": 0.0, "fit_score": 0, "engagement_at": now}
    if when is None:
        statement = insert(table).values(new)
    else:
        typed = [
            sa.literal(v, c[k].type) if not isinstance(v, sa.BindParameter) else v
            for k, v in new.items()
        ]
        statement = insert(table).from_select(list(new), sa.select(*typed).where(when))
    update = statement.on_conflict_do_update(index_elements=[c.email], set_={"updated_at": now})
    return update.returning(*table.c)


def upserted(
    row: Mapping[str, Any] | sa.RowMapping, values: dict[str, Any], prefix: str = ""
) -> tuple[Lead, bool]:
    """The upsert's returned row as the session's `Lead`, and whether it was created.

    A lead this created was written with the profile and stage the caller is about to give it
    (`lead_values`), so that its UPDATE at the end of the transaction changes no indexed
    column and PostgreSQL rewrites the row in place (a HOT update) instead of adding a second
    entry to each of the lead's twelve indexes, four of them trigram ones. Nothing outside
    this transaction ever sees those values before the UPDATE writes them (the row is not
    committed); the object starts from a blank lead (stage lead, no profile), so the caller's
    changes, their history and their events are those of any new lead. A wrong guess costs
    only the HOT update: the UPDATE writes what the caller set, whatever was inserted.
    """
    lead = as_loaded(Lead, row)
    created = lead.public_id == values[f"{prefix}public_id"]
    if created:
        db.session.info.setdefault(CREATED_LEADS, set()).add(lead.id)
        set_committed_value(lead, "lifecycle_stage", Stage.LEAD.value)
        for name in INDEXED_PROFILE:
            set_committed_value(lead, name, None)
    return lead, created


def upsert_lead(email: str, touch: dict[str, Any], partner: str | None) -> tuple[Lead, bool]:
    """The lead for `email`, created if needed, locked for this transaction; and whether it
    was created."""
    values = lead_values(email, touch, partner)
    dialect = db.session.get_bind().dialect.name
    statement = built(("upsert_lead", dialect), lambda: upsert_statement(dialect))
    return upserted(db.session.connection().execute(statement, values).mappings().one(), values)


def created_in_this_transaction(lead: Lead) -> bool:
    """Whether `upsert_lead` created `lead` in the session's current transaction: then no
    other transaction can have written rows that point at it (it is not committed), so its
    history is whatever this transaction added, and there is nothing to ask the database."""
    return lead.id in db.session.info.get(CREATED_LEADS, ())


@sa.event.listens_for(Session, "after_transaction_end")
def _forget_created_leads(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        session.info.pop(CREATED_LEADS, None)

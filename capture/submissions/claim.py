"""The idempotency claim: a submission's row is written first, once per key.

One statement, `INSERT ... ON CONFLICT DO NOTHING RETURNING`: on PostgreSQL a concurrent twin
with the same key waits on the unique index until the first commits, then inserts nothing, and
is answered with the first one's response, as if it had been a plain retry. No savepoint is
needed, and a request without a key never conflicts.

An accepted submission also needs its lead (`capture.leads.upsert`). On PostgreSQL the upsert
rides in the claim's statement as a second CTE that inserts only if the claim did: one round
trip for both, and a replayed key still writes nothing to `leads`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from capture.base.built import binds, built
from capture.base.db import db, new_public_id, table_of, utcnow
from capture.base.driver import compiled, fetch_mapping
from capture.base.lifecycle import Stage
from capture.base.one_trip import as_loaded
from capture.base.settled import VERSION_COLUMN, confirm
from capture.forms.store import FormDefinition
from capture.leads.consent import ConsentRecord
from capture.leads.conversion import ConversionEvent
from capture.leads.lead import Lead
from capture.leads.upsert import lead_values, upsert_lead, upsert_statement, upserted
from capture.submissions.consents import stored_ip
from capture.submissions.intake import Intake
from capture.submissions.submission import Submission, SubmissionStatus


@dataclass
class Outcome:
    submission: Submission
    body: dict[str, Any]
    status_code: int = 201
    replayed: bool = False

    @property
    def quarantined(self) -> bool:
        return self.submission.status == SubmissionStatus.QUARANTINED


class IdempotencyConflict(Exception):
    """The key was used before with another body."""


@dataclass
class LeadFor:
    """The lead an accepted submission upserts with its claim, and how many consent records
    it will write (their ids and the conversion's are drawn in the same statement); `profile`
    and `stage`: what the submission gives the lead if it is new (`upsert.upserted`)."""

    email: str
    touch: dict[str, Any]
    partner: str | None
    records: int = 0
    profile: dict[str, Any] = field(default_factory=dict)
    stage: Stage = Stage.LEAD


@dataclass(frozen=True)
class Ids:
    """Ids drawn from their sequences for rows not written yet, so that every row written
    after the claim can go in one statement (`capture.base.one_trip`)."""

    conversion: int
    records: tuple[int, ...]


def earlier(form: FormDefinition, intake: Intake) -> Outcome | None:
    """The answer already given for this request's idempotency key, if any."""
    first = db.session.scalar(
        sa.select(Submission).where(
            Submission.form_id == form.id, Submission.idempotency_key == intake.idempotency_key
        )
    )
    if first is None:
        return None
    if first.request_digest != intake.request_digest:
        raise IdempotencyConflict
    return Outcome(submission=first, body=first.response, replayed=True)


def claim(
    intake: Intake, lead_for: LeadFor | None = None, **row: Any
) -> tuple[Submission, tuple[Lead, bool] | None, Ids | None] | Outcome:
    """Insert the submission (and upsert `lead_for`'s lead, drawing the ids of its conversion
    and consent records on PostgreSQL), or answer with the earlier submission that holds its
    idempotency key."""
    form = intake.form
    values = {
        "public_id": new_public_id("sub"),
        "form_id": form.id,
        "form_version": form.version,
        "channel": intake.channel,
        "language": intake.language,
        "context": intake.context,
        "partner": intake.partner,
        "origin": intake.origin,
        "ip": stored_ip(intake.ip),
        "user_agent": intake.user_agent,
        "idempotency_key": intake.idempotency_key,
        "request_digest": intake.request_digest,
        # Given, not left to the columns' defaults: SQLAlchemy applies those to a top-level
        # INSERT only, not to one in a CTE.
        "response": {},
        "created_at": utcnow(),
        **row,
    }
    connection = db.session.connection()
    dialect = connection.dialect.name
    if lead_for is not None and dialect == "postgresql":
        lead = lead_values(
            lead_for.email,
            lead_for.touch,
            lead_for.partner,
            prefix="lead_",
            profile=lead_for.profile,
            stage=lead_for.stage,
        )
        count = lead_for.records
        key = ("claim+lead", count, *values)
        both = _run(connection, key, lambda: _with_lead(values, count), {**values, **lead})
        if both is not None:
            submission = as_loaded(Submission, {**values, **_part(both, "s_")})
            ids = Ids(both["conversion_id"], tuple(both["record_ids"] or ()))
            return submission, upserted(_part(both, "l_"), lead, prefix="lead_"), ids
    else:
        found = _run(connection, ("claim", *values), lambda: _claim(dialect, values), values)
        if found is not None:
            submission = as_loaded(Submission, {**values, **found})
            if lead_for is None:
                return submission, None, None
            lead_row = upsert_lead(lead_for.email, lead_for.touch, lead_for.partner)
            return submission, lead_row, None
    first = earlier(form, intake)
    if first is None:  # the holder of the key was erased in between: nothing to replay
        raise IdempotencyConflict
    return first


def _run(
    connection: sa.Connection, key: tuple[Any, ...], build: Any, values: dict[str, Any]
) -> dict[str, Any] | None:
    """The claim statement's row, None when the key was taken. On PostgreSQL straight through
    the driver, with the config version read beside its writes (`settled.confirm`)."""
    if connection.dialect.name == "postgresql":
        row = fetch_mapping(connection, compiled(key, build, connection.dialect), values)
        if row is not None:
            confirm(row.pop("config_version"))  # the form used was current (settled.assuming)
        return row
    statement = built((connection.dialect.name, *key), build)
    found = connection.execute(statement, values).mappings().one_or_none()
    return None if found is None else dict(found)


def _insert(dialect: str, values: dict[str, Any]) -> Any:
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = table_of(Submission)
    return (
        insert(table)
        .values(binds(table, values))
        .on_conflict_do_nothing(index_elements=["form_id", "idempotency_key"])
        # What the database decides (the id, the columns not given): the values given are
        # known, and reading back a JSON document just sent costs its parse.
        .returning(*(c for c in table.c if c.key not in values))
    )


def _claim(dialect: str, values: dict[str, Any]) -> Any:
    if dialect == "postgresql":
        return _insert(dialect, values).returning(VERSION_COLUMN)
    return _insert(dialect, values)


def _next_id(table: str) -> Any:
    return sa.func.nextval(sa.func.pg_get_serial_sequence(table, "id"))


def _with_lead(values: dict[str, Any], records: int) -> Any:
    claimed = _insert("postgresql", values).cte("claimed")
    exists = sa.exists(sa.select(claimed.c.id))
    lead = upsert_statement("postgresql", when=exists, prefix="lead_").cte("lead")
    columns = [c.label(f"s_{c.key}") for c in claimed.c]
    columns += [c.label(f"l_{c.key}") for c in lead.c]
    # Drawn only when the claim inserted (a replay returns no row); a rollback leaves a gap
    # in the sequences, as a failed INSERT would.
    columns.append(_next_id(table_of(ConversionEvent).name).label("conversion_id"))
    drawn = sa.select(sa.func.array_agg(_next_id(table_of(ConsentRecord).name))).select_from(
        sa.func.generate_series(1, records)
    )
    columns.append(drawn.scalar_subquery().label("record_ids"))
    columns.append(VERSION_COLUMN)
    return sa.select(*columns).select_from(claimed.outerjoin(lead, sa.true()))


def _part(row: Any, prefix: str) -> dict[str, Any]:
    return {key[len(prefix) :]: value for key, value in row.items() if key.startswith(prefix)}
